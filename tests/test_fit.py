import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import count_traces

import jaxlr


def _lesson():
    return jaxlr.lesson_data()


@pytest.mark.parametrize("gradient, n_iters", [("autograd", 100), ("manual", 100), ("lesson", 20)])
def test_lesson_converges(gradient, n_iters):
    x, y = _lesson()
    result = jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=0.01, n_iters=n_iters, gradient=gradient)
    assert not result.diverged and int(result.diverged_at) == -1
    np.testing.assert_allclose(result.params.w, 2.0, rtol=0, atol=1e-5)
    np.testing.assert_allclose(jaxlr.predict(result.params, 5.0), 10.0, rtol=0, atol=5e-5)
    assert result.params.w.dtype == jnp.float32


def test_history_semantics_match_the_lesson_prints():
    """loss[i] is computed before step i's update, params[i] is after it."""
    x, y = (np.asarray(a, np.float64) for a in _lesson())
    lr, n = 0.01, 5
    result = jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=lr, n_iters=n)
    w, expected_w, expected_loss = 0.0, [], []
    for _ in range(n):
        y_pred = w * x
        expected_loss.append(np.mean((y_pred - y) ** 2))
        w -= lr * np.mean(2 * x * (y_pred - y))
        expected_w.append(w)
    np.testing.assert_allclose(result.history.loss, expected_loss, rtol=1e-14, atol=0)
    np.testing.assert_allclose(result.history.params.w, expected_w, rtol=1e-14, atol=0)
    assert result.history.params.b is None
    np.testing.assert_allclose(result.params.w, expected_w[-1], rtol=1e-14)
    assert result.history.loss[0] == 30.0


def test_bias_model_matches_plain_float64_gradient_descent_step_by_step():
    rng = np.random.default_rng(0)
    n, d, lr, steps = 64, 5, 0.05, 40
    x = rng.normal(size=(n, d))
    y = x @ rng.normal(size=d) + 0.7 + 0.1 * rng.normal(size=n)
    w0, b0 = rng.normal(size=d), 0.3
    result = jaxlr.fit(jaxlr.Params(w0, b0), x, y, learning_rate=lr, n_iters=steps)
    w, b = w0.copy(), b0
    for step in range(steps):
        r = x @ w + b - y
        np.testing.assert_allclose(result.history.loss[step], np.mean(r**2), rtol=1e-12, atol=0)
        w, b = w - lr * 2 * x.T @ r / n, b - lr * 2 * np.mean(r)
        np.testing.assert_allclose(result.history.params.w[step], w, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(result.history.params.b[step], b, rtol=1e-12, atol=1e-14)


def test_second_call_does_not_recompile():
    x, y = _lesson()
    other_x = x + 1
    jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=0.01, n_iters=7)
    with count_traces() as traces:
        jaxlr.fit(jaxlr.Params(w=1.0), other_x, y, learning_rate=0.02, n_iters=7)
        jaxlr.fit(jaxlr.Params(w=0.5), x, y, learning_rate=0.03, n_iters=7)
    assert traces[0] == 0
    with count_traces() as traces:
        jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=0.01, n_iters=8)  # a new shape of the loop
    assert traces[0] > 0


def test_same_optax_object_does_not_recompile():
    x, y = _lesson()
    tx = optax.adam(0.1)
    jaxlr.fit(jaxlr.Params(w=0.0), x, y, optimizer=tx, n_iters=5)
    with count_traces() as traces:
        jaxlr.fit(jaxlr.Params(w=0.0), x, y, optimizer=tx, n_iters=5)
    assert traces[0] == 0


@pytest.mark.parametrize(
    "name, make",
    [
        ("sgd", lambda lr: optax.sgd(lr)),
        ("momentum", lambda lr: optax.sgd(lr, momentum=0.9)),
        ("adam", lambda lr: optax.adam(lr)),
    ],
)
def test_named_optimizers_are_their_optax_equivalents_step_by_step(name, make):
    """Each name is its optax transformation: the same iterates as a hand-written optax loop (float64)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 2))
    y = x @ np.array([1.0, -1.0]) + 0.5
    params = jaxlr.Params(np.zeros(2), 0.0)
    result = jaxlr.fit(params, x, y, learning_rate=0.05, n_iters=30, optimizer=name)
    tx, p = make(0.05), jaxlr.Params(jnp.zeros(2), jnp.float64(0.0))
    state = tx.init(p)
    for i in range(30):
        grads = jaxlr.autograd_gradient(p, x, y)
        updates, state = tx.update(grads, state, p)
        p = optax.apply_updates(p, updates)
        # float64: the same operations, up to XLA's fusion inside the compiled loop (a few ulps)
        np.testing.assert_allclose(result.history.params.w[i], p.w, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(result.history.params.b[i], p.b, rtol=1e-12, atol=1e-15)


def test_heavy_ball_is_sgd_with_polyak_constants():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 3)) * np.array([1.0, 3.0, 10.0])
    y = x @ np.ones(3) + 1.0
    params = jaxlr.Params(np.zeros(3), 0.0)
    design = np.column_stack([x, np.ones(50)])
    eigenvalues = np.linalg.eigvalsh(2 * design.T @ design / 50)
    big, small = eigenvalues[-1], eigenvalues[0]
    lr = 4 / (np.sqrt(big) + np.sqrt(small)) ** 2
    beta = ((np.sqrt(big / small) - 1) / (np.sqrt(big / small) + 1)) ** 2
    result = jaxlr.fit(params, x, y, optimizer="heavy-ball", n_iters=40)
    want = jaxlr.fit(params, x, y, optimizer=optax.sgd(lr, momentum=beta), n_iters=40)
    np.testing.assert_allclose(float(result.learning_rate), lr, rtol=1e-10)  # from the gram eigenvalues
    np.testing.assert_allclose(result.history.params.w, want.history.params.w, rtol=1e-8, atol=1e-10)


def test_custom_optax_transformation_is_used():
    x, y = _lesson()
    result = jaxlr.fit(jaxlr.Params(w=0.0), x, y, optimizer=optax.sgd(0.001), n_iters=1)
    np.testing.assert_allclose(result.params.w, 0.001 * 30.0, rtol=1e-6)  # the optimizer's own rate
    assert result.learning_rate is None


@pytest.mark.parametrize("history", ["loss", "none"])
def test_history_can_be_dropped(history):
    x, y = _lesson()
    full = jaxlr.fit(jaxlr.Params(w=0.0), x, y, n_iters=10)
    result = jaxlr.fit(jaxlr.Params(w=0.0), x, y, n_iters=10, history=history)
    assert result.history.params is None
    if history == "loss":
        np.testing.assert_array_equal(result.history.loss, full.history.loss)
    else:
        assert result.history.loss is None
    np.testing.assert_array_equal(result.params.w, full.params.w)


@pytest.mark.parametrize("learning_rate", [1.0, 0.3])
def test_divergence_is_flagged(learning_rate):
    x, y = _lesson()  # stable below lr = 2/L = 2/15
    with pytest.warns(jaxlr.DivergenceWarning, match="above the stability bound"):
        result = jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=learning_rate, n_iters=300)
    # by hand, in float64: w - 2 shrinks by (1 - lr·mean(2x²)) a step; the first step whose loss (before its
    # update) is 1e10 times the starting one is where the README's rule flags it (5 for lr 1, 10 for lr 0.3)
    xs, ys, w, expected = np.asarray(x, np.float64), np.asarray(y, np.float64), 0.0, None
    start = np.mean((w * xs - ys) ** 2)
    for step in range(300):
        if np.mean((w * xs - ys) ** 2) > 1e10 * start:
            expected = step
            break
        w -= learning_rate * np.mean(2 * xs * (w * xs - ys))
    assert result.diverged
    assert expected is not None and int(result.diverged_at) == expected
    loss = np.asarray(result.history.loss)
    assert np.all(np.isfinite(loss[: result.diverged_at]))


def test_stable_run_is_not_flagged():
    x, y = _lesson()
    result = jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=0.13, n_iters=300)  # just below 2/L
    assert not result.diverged


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "params, d, options",
    [
        (jaxlr.Params(w=0.0), 0, {}),
        (jaxlr.Params(w=0.5, b=1), 0, dict(gradient="manual", history="loss")),
        (jaxlr.Params(np.zeros(3), 0.0), 3, dict(optimizer="adam", method="gram")),
        (jaxlr.Params(np.ones(3, np.float32)), 3, dict(gradient="lesson", history="none", n_iters=7)),
    ],
)
def test_device_and_host_data_give_identical_fits(dtype, params, d, options):
    """NumPy and jax.Array data take the one path and compute the same bits."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, d) if d else 16).astype(dtype)
    y = (x @ np.arange(1.0, d + 1) if d else 2 * x).astype(dtype) + 0.5
    kwargs = dict(dict(learning_rate=0.05, n_iters=30), **options)
    host = jaxlr.fit(params, x, y, **kwargs)
    device = jaxlr.fit(params, jnp.asarray(x), jnp.asarray(y), **kwargs)
    for a, b in zip(jax.tree.leaves(host), jax.tree.leaves(device), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
