"""Sharded fits on 8 devices equal single-device fits.

The device count is fixed when JAX starts, so ``tests/test_sharded.py`` runs this
file in a fresh process: ``JAX_PLATFORMS=cpu JAX_NUM_CPU_DEVICES=8 python -m pytest
tests/multidevice/check_sharded.py``. Run alone without 8 devices, it skips.
"""

import re
from pathlib import Path

import jax
import numpy as np
import pytest
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

import jaxlr

ROOT = Path(__file__).resolve().parents[2]
N_DEVICES = 8
F32_ULP = float(np.finfo(np.float32).eps)

pytestmark = pytest.mark.skipif(jax.device_count() != N_DEVICES, reason=f"needs {N_DEVICES} devices")


def _data(n, d, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = x @ rng.normal(size=d) + 0.7 + 0.1 * rng.normal(size=n)
    return x.astype(dtype), y.astype(dtype), jaxlr.Params(np.zeros(d, dtype), dtype(0.0))


def _mesh(axis_type, shape=(N_DEVICES,), names=("data",)):
    return jax.make_mesh(shape, names, axis_types=(axis_type,) * len(shape))


def _shard(mesh, x, y):
    rows = tuple(mesh.axis_names) if len(mesh.axis_names) > 1 else mesh.axis_names[0]
    return jax.device_put(x, NamedSharding(mesh, P(rows, None))), jax.device_put(y, NamedSharding(mesh, P(rows)))


def assert_same_fit(got, want, dtype):
    """The sharded fit's record equals the single-device one up to the order of float additions.

    float64: every step's loss and params within 1e-12 relative. float32: every
    step's params within 4 ulps of that step's largest parameter (a component
    near zero is a sum of O(1) terms, so its error is relative to them, not to
    itself) and the loss within 4 ulps of the starting loss.
    """
    assert got.diverged == want.diverged and got.diverged_at == want.diverged_at
    assert (got.history.params.b is None) == (want.history.params.b is None)
    if dtype == np.float64:
        for a, b in zip(jax.tree.leaves(got.history), jax.tree.leaves(want.history), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
        return
    loss_scale = float(want.history.loss[0])
    np.testing.assert_allclose(got.history.loss, want.history.loss, rtol=0, atol=4 * F32_ULP * loss_scale)
    steps = len(want.history.loss)
    params = [np.reshape(p, (steps, -1)) for p in jax.tree.leaves(want.history.params)]
    scale = np.max(np.abs(np.concatenate(params, 1)), 1)
    for a, b in zip(jax.tree.leaves(got.history.params), params, strict=True):
        a, b = np.reshape(a, (steps, -1)), np.reshape(b, (steps, -1))
        assert np.all(np.abs(a - b) <= 4 * F32_ULP * scale[:, None]), np.max(np.abs(a - b) / scale[:, None]) / F32_ULP


@pytest.mark.parametrize(
    "gradient, dtype, axis_type",
    [
        ("autograd", np.float64, AxisType.Explicit),  # jax.make_mesh's default since jax 0.9
        ("autograd", np.float64, AxisType.Auto),
        ("autograd", np.float32, AxisType.Explicit),
        ("manual", np.float64, AxisType.Explicit),
        ("manual", np.float32, AxisType.Auto),
        ("lesson", np.float64, AxisType.Auto),
    ],
)
def test_row_sharded_inputs_match_one_device(dtype, axis_type, gradient):
    x, y, params = _data(64, 3, dtype)
    lr = 0.002 if gradient == "lesson" else 0.05
    want = jaxlr.fit(params, x, y, learning_rate=lr, n_iters=25, gradient=gradient)
    mesh = _mesh(axis_type)
    xs, ys = _shard(mesh, x, y)
    got = jaxlr.fit(params, xs, ys, learning_rate=lr, n_iters=25, gradient=gradient)
    assert_same_fit(got, want, dtype)
    assert not np.allclose(want.history.params.w[0], want.history.params.w[-1])  # it moved: a real comparison
    for leaf in [*got.params, got.history.loss]:
        assert leaf.is_fully_replicated and leaf.sharding.mesh == mesh  # on the caller's mesh, axis types and all


@pytest.mark.parametrize("axis_type", [AxisType.Explicit, AxisType.Auto])
def test_gram_method_on_row_sharded_inputs(axis_type):
    """The gram path's products over the rows (Xᵀ X, Xᵀ y) name their replicated output for Explicit axes."""
    x, y, params = _data(64, 3, np.float64)
    want = jaxlr.fit(params, x, y, learning_rate=0.05, n_iters=25, method="gram")
    got = jaxlr.fit(params, *_shard(_mesh(axis_type), x, y), learning_rate=0.05, n_iters=25, method="gram")
    assert_same_fit(got, want, np.float64)


@pytest.mark.parametrize("option", ["sharded", "devices", "mesh"])
def test_fit_inside_set_mesh_with_explicit_axes(option):
    """jax.set_mesh (which replaces `with mesh:`): the fit runs, and its results mix with the caller's arrays."""
    x, y, params = _data(64, 3, np.float64)
    want = jaxlr.fit(params, x, y, learning_rate=0.05, n_iters=10)
    mesh = _mesh(AxisType.Explicit)
    with jax.set_mesh(mesh):
        if option == "sharded":
            xs, ys = jax.device_put(x, P("data", None)), jax.device_put(y, P("data"))
            got = jaxlr.fit(params, xs, ys, learning_rate=0.05, n_iters=10)
        else:
            kwargs = {"devices": N_DEVICES} if option == "devices" else {"mesh": mesh}
            got = jaxlr.fit(params, x, y, learning_rate=0.05, n_iters=10, **kwargs)
        w = jax.device_put(np.asarray(want.params.w), P())
        np.testing.assert_allclose(got.params.w - w, 0.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "option, dtype",
    [
        ("devices=8", np.float64),
        ("devices=8", np.float32),
        ("devices=3", np.float64),
        ("devices=list", np.float64),
        ("mesh=2x4", np.float32),
    ],
)
def test_devices_option_pads_uneven_rows_exactly(dtype, option):
    x, y, params = _data(61, 3, dtype, seed=1)  # 61 rows: 3 of padding on 8 devices, 2 on 3
    kind, value = option.split("=")
    if value == "list":
        kwargs = {"devices": jax.devices()[::-1][:5]}
    elif value == "2x4":
        kwargs = {"mesh": _mesh(AxisType.Explicit, (2, 4), ("a", "b"))}
    else:
        kwargs = {"devices": int(value)}
    want = jaxlr.fit(params, x, y, learning_rate=0.05, n_iters=25, optimizer="momentum")
    got = jaxlr.fit(params, x, y, learning_rate=0.05, n_iters=25, optimizer="momentum", **kwargs)
    assert_same_fit(got, want, dtype)


@pytest.mark.parametrize("gradient", ["manual", "lesson"])
def test_padding_is_exact_for_every_gradient_and_a_scalar_model(gradient):
    rng = np.random.default_rng(2)
    x = rng.normal(size=13)
    y = 3 * x + 0.1 * rng.normal(size=13)
    lr = 0.005 if gradient == "lesson" else 0.1
    for params in (jaxlr.Params(w=0.0), jaxlr.Params(w=0.0, b=1.0)):
        want = jaxlr.fit(params, x, y, learning_rate=lr, n_iters=10, gradient=gradient)
        got = jaxlr.fit(params, x, y, learning_rate=lr, n_iters=10, gradient=gradient, devices=N_DEVICES)
        assert_same_fit(got, want, np.float64)


def _step_all_reduce_sizes(hlo):
    """The all-reduces in the body of the training loop (the while), each as its operands' element counts."""
    computations = dict(re.findall(r"^(?:ENTRY )?%(\S+) [^\n]*\{\n(.*?)^\}", hlo, flags=re.M | re.S))
    (body,) = re.findall(r"while\(.*body=%([\w.\-]+)", hlo)
    sizes = []
    for line in computations[body].splitlines():
        match = re.search(r"= \(?(.*?)\)? all-reduce(?:-start)?\(", line)
        if match:
            shapes = re.findall(r"\w+\[([\d,]*)\]", match.group(1))
            sizes.append([int(np.prod([int(k) for k in s.split(",") if k])) for s in shapes])
    return sizes


def test_compiled_fit_all_reduces_and_never_gathers_x():
    x, y, params = _data(64, 3, np.float64)
    xs, ys = _shard(_mesh(AxisType.Auto), x, y)
    fit = jax.jit(lambda p, x, y: jaxlr.fit(p, x, y, learning_rate=0.1, n_iters=5, history="loss", method="plain"))
    hlo = fit.lower(params, xs, ys).compile().as_text()
    assert re.search(r"all-reduce(-start)?\(", hlo)
    assert "all-gather" not in hlo and "all-to-all" not in hlo
    # the README: a step's loss and gradient sums travel in a single all-reduce of d + 2 numbers
    assert _step_all_reduce_sizes(hlo) == [[3, 1, 1]], _step_all_reduce_sizes(hlo)
    assert "f64[8,3]" in hlo and "f64[64,3]" not in hlo  # each device holds its own 8 rows of x, never all 64


def _sweep(params, x, y, rates, n_iters):
    result = jaxlr.sweep(params, x, y, learning_rates=rates, n_iters=n_iters)
    return result.params.w, result.history.loss


def test_sweep_over_sharded_rows():
    x, y, params = _data(64, 3, np.float64)
    xs, ys = _shard(_mesh(AxisType.Explicit), x, y)
    rates = [0.01, 0.05, 0.2]
    w, loss = _sweep(params, xs, ys, rates, 20)
    for i, lr in enumerate(rates):
        want = jaxlr.fit(params, x, y, learning_rate=lr, n_iters=20, history="loss")
        np.testing.assert_allclose(w[i], want.params.w, rtol=1e-12, atol=0)
        np.testing.assert_allclose(loss[i], want.history.loss, rtol=1e-12, atol=0)


def test_fit_distributed_in_one_process_with_8_devices():
    x, y, params = _data(61, 3, np.float64, seed=3)
    want = jaxlr.fit(params, x, y, learning_rate=0.05, n_iters=25)
    got = jaxlr.fit_distributed(params, x, y, learning_rate=0.05, n_iters=25)
    assert_same_fit(got, want, np.float64)


def test_nan_in_sharded_data_is_reported():
    x, y, params = _data(64, 3, np.float64)
    x[37, 1] = np.nan
    xs, ys = _shard(_mesh(AxisType.Explicit), x, y)
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        jaxlr.fit(params, xs, ys)
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        jaxlr.fit(params, x, y, devices=N_DEVICES)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"devices": 0}, ValueError, "devices=0 but 8 cpu device"),
        ({"devices": 9}, ValueError, "expected 1 to 8"),
        ({"devices": "gpu"}, TypeError, "devices must be a positive int"),
        ({"devices": [0, 1]}, TypeError, "devices must be a positive int"),
        ({"mesh": "data"}, TypeError, "mesh must be a jax.sharding.Mesh"),
        ({"devices": 2, "mesh": "m"}, ValueError, "not both"),
    ],
)
def test_bad_devices_or_mesh(kwargs, error, match):
    x, y, params = _data(16, 2, np.float64)
    with pytest.raises(error, match=match):
        jaxlr.fit(params, x, y, **kwargs)


def test_bad_data_with_devices_gets_the_usual_errors():
    x, y, params = _data(16, 2, np.float64)
    with pytest.raises(ValueError, match="same number of samples"):
        jaxlr.fit(params, x, y[:-1], devices=N_DEVICES)
    with pytest.raises(TypeError, match="dtype bool"):
        jaxlr.fit(params, x > 0, y, devices=N_DEVICES)
    with pytest.raises(ValueError, match="the data is empty"):
        jaxlr.fit(params, x[:0], y[:0], devices=N_DEVICES)


def test_readme_example_runs_and_matches():
    """The README's "several GPUs in one machine" example, exactly as printed there."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- scaling-out: one machine -->\n```python\n(.*?)```", text, re.S)
    assert block, "README.md lost its scaling-out example"
    namespace = {}
    exec(compile(block.group(1), "README.md", "exec"), namespace)  # noqa: S102
    result, sharded, params, x, y = (namespace[k] for k in ("result", "sharded", "params", "x", "y"))
    want = jaxlr.fit(params, x, y, learning_rate=0.1, n_iters=200)
    np.testing.assert_allclose(result.params.w, want.params.w, rtol=1e-12)
    np.testing.assert_allclose(result.params.b, want.params.b, rtol=1e-12)
    n = namespace["n"]
    want = jaxlr.fit(params, x[:n], y[:n], learning_rate=0.1, n_iters=200)
    np.testing.assert_allclose(sharded.params.w, want.params.w, rtol=1e-12)


@pytest.mark.parametrize("gradient", ["autograd", "lesson"])
def test_auto_learning_rate_ignores_the_padding(gradient):
    """13 rows on 8 devices are padded to 16: L, and so 1/L, must come from the 13 real rows."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(13, 3)) + 2.0
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.3
    params = jaxlr.Params(np.zeros(3), 0.0)
    expected = jaxlr.fit(params, x, y, learning_rate="auto", n_iters=5, gradient=gradient)
    sharded = jaxlr.fit(params, x, y, learning_rate="auto", n_iters=5, gradient=gradient, devices=8)
    np.testing.assert_allclose(sharded.learning_rate, expected.learning_rate, rtol=1e-12)
    np.testing.assert_allclose(sharded.params.w, expected.params.w, rtol=1e-10)
