"""Property-based tests: every input to the public API gives one of three outcomes.

1. a finite, valid result;
2. a result flagged ``diverged=True`` with ``diverged_at`` (fits only), for finite inputs only;
3. a ``ValueError``/``TypeError`` raised by jaxlr, one line, naming the function; NaN or inf in
   otherwise valid input is always the ``ValueError`` "… contains NaN or inf", never a divergence flag.

Never an internal JAX/XLA traceback, a hang, or a NaN result without the flag.
The number of examples per property is fixed below and reported by
``pytest --hypothesis-show-statistics``.
"""

import math
import traceback
import warnings

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import jaxlr

# Divergence is one of the allowed outcomes; its warning is checked in tests/test_lr.py.
pytestmark = pytest.mark.filterwarnings("ignore::jaxlr.DivergenceWarning")

EXAMPLES = 300
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

# Weighted towards valid input, so that results, not only errors, are exercised.
DTYPES = [np.float32, np.float64] * 4 + [np.int32, np.bool_, np.float16, ml_dtypes.bfloat16, np.complex64]
EXTREME = [0.0, 1e30, -1e30, 1e-30, -1e-30]
NON_FINITE = [math.nan, math.inf, -math.inf]
ORDINARY = st.floats(-10, 10, allow_nan=False, width=32)
FINITE_VALUES = st.one_of(ORDINARY, ORDINARY, ORDINARY, st.sampled_from(EXTREME))
VALUES = st.one_of(FINITE_VALUES, FINITE_VALUES, FINITE_VALUES, st.sampled_from(NON_FINITE))


def _array(draw, shape, dtype):
    elements = draw(st.sampled_from([FINITE_VALUES] * 6 + [VALUES]))
    values = draw(st.lists(elements, min_size=math.prod(shape), max_size=math.prod(shape)))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(values, np.float64).reshape(shape).astype(dtype)


def _large_array(draw, shape, dtype):
    """A few hundred values from a drawn seed (hypothesis lists that long are slow), now and then one non-finite."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    values = rng.normal(size=shape) * draw(st.sampled_from([1.0, 1.0, 100.0, 1e-3]))
    poison = draw(st.sampled_from([None] * 6 + NON_FINITE + [1e30]))
    if poison is not None and values.size:
        values.flat[rng.integers(values.size)] = poison
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return values.astype(dtype)


@st.composite
def problems(draw):
    """(params, x, y): mostly well-formed, sometimes mismatched or of the wrong rank; up to 300 rows."""
    scalar_model = draw(st.sampled_from([True, False]))
    n = draw(st.sampled_from([3, 1, 3, 3, 0, 40, 300]))
    d = None if scalar_model else draw(st.sampled_from([2, 1, 2, 2, 0]))
    x_shape = (n,) if scalar_model else (n, d)
    y_shape = (n,)
    defect = draw(st.sampled_from([None] * 16 + ["y_len", "x_rank", "y_rank", "w_shape"]))
    if defect == "y_len":
        y_shape = (n + 1,)
    elif defect == "x_rank":
        x_shape = (*x_shape, 1)
    elif defect == "y_rank":
        y_shape = (n, 1)
    dtype = draw(st.sampled_from(DTYPES))
    array = _large_array if n > 3 else _array
    x = array(draw, x_shape, dtype)
    y = array(draw, y_shape, draw(st.sampled_from([dtype, dtype, np.float32])))
    w_shape = () if scalar_model else (d,)
    if defect == "w_shape":
        w_shape = (2,) if w_shape == () else (w_shape[0] + 1,)
    w = _array(draw, w_shape, np.float32)
    b = draw(st.one_of(st.none(), FINITE_VALUES, VALUES))
    if draw(st.booleans()):  # already on the device: fit and sweep check such data while tracing
        x, y = jnp.asarray(x), jnp.asarray(y)
        w = jnp.asarray(w) if draw(st.booleans()) else w
    return jaxlr.Params(w, b), x, y


def _outcome(call, fn):
    """Runs ``call`` and classifies it, asserting it is one of the three allowed outcomes."""
    try:
        result = call()
    except (ValueError, TypeError) as e:
        message = str(e)
        assert message.startswith(f"{fn}:") and "\n" not in message, message
        origin = traceback.extract_tb(e.__traceback__)[-1].filename
        assert "/jaxlr/" in origin.replace("\\", "/") and "/jax/" not in origin.replace("\\", "/"), origin
        event(f"{fn}: {type(e).__name__}: {message.split(';')[0].split(',')[0][len(fn) + 2 : len(fn) + 40]}")
        return "error", message
    return "result", result


def _all_finite(tree):
    return all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(tree))


def _inputs_finite(params, x, y):
    """Whether the data and params, as given, hold only finite numbers (ints always do)."""
    leaves = [leaf for leaf in (params.w, params.b, x, y) if leaf is not None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return all(bool(np.all(np.isfinite(np.asarray(leaf, np.float64)))) for leaf in leaves)


def _require_documented_outcome(kind, result, fn, problem):
    """Non-finite inputs never give a result: the NaN/inf ValueError, or an earlier error about the input."""
    if kind == "result":
        assert _inputs_finite(*problem), f"{fn}: a result from NaN or inf input: {result}"


@SETTINGS
@given(problems())
def test_predict_loss_and_gradients(problem):
    params, x, y = problem
    calls = {
        "predict": lambda: jaxlr.predict(params, x),
        "mse_loss": lambda: jaxlr.mse_loss(params, x, y),
        "autograd_gradient": lambda: jaxlr.autograd_gradient(params, x, y),
        "manual_gradient": lambda: jaxlr.manual_gradient(params, x, y),
        "lesson_gradient_n_times_too_large": lambda: jaxlr.lesson_gradient_n_times_too_large(params, x, y),
    }
    for fn, call in calls.items():
        kind, result = _outcome(call, fn)
        inputs = (params, x, None) if fn == "predict" else problem  # predict does not read y
        _require_documented_outcome(kind, result, fn, inputs)
        if kind == "result":
            assert _all_finite(result), (fn, result)
            event(f"{fn}: finite result")


# A clean problem and options whose only defect is the NaN/inf: then nothing but that error is right.
GOOD_DTYPES = (np.float32, np.float64, np.float16, ml_dtypes.bfloat16)


def _only_defect_is_non_finite(problem, learning_rate, n_iters):
    params, x, y = problem
    x_ok = np.ndim(x) in (1, 2) and np.shape(x)[0] > 0 and (np.ndim(x) == 1 or np.shape(x)[1] > 0)
    shapes_ok = x_ok and np.shape(y) == np.shape(x)[:1] and np.shape(params.w) == np.shape(x)[1:]
    dtypes_ok = all(np.asarray(a).dtype in GOOD_DTYPES for a in (x, y))
    rate_ok = learning_rate == "auto" or (isinstance(learning_rate, float) and 0 < learning_rate < 1e30)
    return shapes_ok and dtypes_ok and rate_ok and n_iters in (1, 6) and not _inputs_finite(*problem)


@SETTINGS
@given(
    problems(),
    st.sampled_from([1e-3, 0.05, 0.05, 0.3, "auto", "auto", 1e30, 0.0, -1.0, math.nan, math.inf, "0.1", None]),
    st.sampled_from([1, 6, 6, 6, 0, -3, 10**12, 2.5]),
    st.sampled_from(["autograd", "manual", "lesson"]),
    st.sampled_from([None, "sgd", "momentum", "adam", "heavy-ball"]),
    st.sampled_from(["full", "loss", "none"]),
    st.sampled_from(["auto", "plain", "gram"]),
)
def test_fit(problem, learning_rate, n_iters, gradient, optimizer, history, method):
    params, x, y = problem
    options = dict(learning_rate=learning_rate, n_iters=n_iters, gradient=gradient, optimizer=optimizer)
    kind, result = _outcome(lambda: jaxlr.fit(params, x, y, **options, history=history, method=method), "fit")
    _require_documented_outcome(kind, result, "fit", problem)
    if _only_defect_is_non_finite(problem, learning_rate, n_iters):
        assert kind == "error" and "contains NaN or inf" in result, result
        event("fit: NaN/inf input, the ValueError")
    if kind == "error":
        return
    if result.diverged:
        assert 0 <= int(result.diverged_at) < n_iters
        event("fit: diverged, flagged")
    else:
        assert int(result.diverged_at) == -1
        assert _all_finite(result.params) and _all_finite(result.history), result
        event("fit: finite result")


@pytest.mark.parametrize("history", ["full", "loss", "none"])
def test_huge_n_iters_is_refused_before_allocating(history):
    x, y = jaxlr.lesson_data()
    n_iters = 10**12 if history == "none" else 2 * 10**9
    with pytest.raises(ValueError, match="n_iters|GiB"):
        jaxlr.fit(jaxlr.Params(0.0), x, y, n_iters=n_iters, history=history)


@pytest.mark.filterwarnings("error::jaxlr.DivergenceWarning")  # the warning's text is the README's claim
def test_overflow_from_finite_inputs_is_an_error_not_inf():
    x = np.array([1e30, 2e30], np.float32)
    with pytest.raises(ValueError, match="overflowed float32"):
        jaxlr.mse_loss(jaxlr.Params(np.float32(1e10)), x, x)
    no_stable_rate = (
        r"^fit: training diverged at step 0 .*: the data's squares overflow this precision \(L is not finite\), "
        r"so no learning rate is stable; standardize the features or compute in float64$"
    )
    with pytest.warns(jaxlr.DivergenceWarning, match=no_stable_rate):
        result = jaxlr.fit(jaxlr.Params(np.float32(0)), x, x, n_iters=3)
    assert result.diverged and result.diverged_at == 0


@SETTINGS
@given(
    problems(),
    st.lists(st.sampled_from([1e-3, 0.05, 0.3, 5.0, 1e30, 0.0, -1.0, math.nan, math.inf]), min_size=1, max_size=3)
    | st.sampled_from([[], "0.1", None, [[0.1]]]),
    st.sampled_from([1, 6, 6, 0, -3, 10**12]),
)
def test_sweep(problem, learning_rates, n_iters):
    params, x, y = problem
    kind, result = _outcome(
        lambda: jaxlr.sweep(params, x, y, learning_rates=learning_rates, n_iters=n_iters, history="loss"), "sweep"
    )
    _require_documented_outcome(kind, result, "sweep", problem)
    if kind == "error":
        return
    for run, diverged in enumerate(result.diverged):
        if diverged:
            assert 0 <= result.diverged_at[run] < n_iters
            event("sweep: run diverged, flagged")
        else:
            assert result.diverged_at[run] == -1
            run_params = jax.tree.map(lambda leaf, i=run: leaf[i], result.params)
            assert _all_finite(run_params) and np.all(np.isfinite(result.history.loss[run]))
            assert np.isfinite(result.final_loss[run])
            event("sweep: run finite")


_CLI_OPTIONS = {
    "--lr": ["auto", "auto", "0.1", "1e-4", "1e-3:1:4", "-1", "nan", "inf", "abc", "1:0:3", "1e-3:1:0", ""],
    "--steps": ["5", "20", "20", "0", "-3", "x", "2.5"],
    "--optimizer": ["sgd", "momentum", "adam", "rmsprop"],
    "--dtype": ["float32", "float64", "float16"],
    "--features": ["area_m2", "area_m2,rooms", "area_m2,rooms", "nope", "price_k", ""],
    "--target": ["price_k", "price_k", "rooms", "missing"],
    "--sep": [",", ",", ";", "ab", ""],
    "--encoding": ["utf-8", "latin-1", "klingon"],
}


@st.composite
def command_lines(draw):
    command = draw(st.sampled_from(["fit", "sweep", "fit", "sweep", "bogus"]))
    source = draw(
        st.sampled_from(["csv", "csv", "csv", "lesson", "unknown_dataset", "missing_file", "empty_file", "none"])
    )
    argv = [command]
    if source == "csv":
        argv.append("{example}")
    elif source == "lesson":
        argv += ["--dataset", "lesson"]
    elif source == "unknown_dataset":
        argv += ["--dataset", "nope"]
    elif source == "missing_file":
        argv.append("{tmp}/missing.csv")
    elif source == "empty_file":
        argv.append("{tmp}/empty.csv")
    for option in draw(st.lists(st.sampled_from(sorted(_CLI_OPTIONS)), unique=True, max_size=4)):
        argv += [option, draw(st.sampled_from(_CLI_OPTIONS[option]))]
    flags = ["--standardize", "--quiet", "--standardize", "--bogus-flag", "--dropna"]
    for flag in draw(st.lists(st.sampled_from(flags), unique=True, max_size=2)):
        argv.append(flag)
    if draw(st.booleans()):
        argv += ["--json", draw(st.sampled_from(["{tmp}/out.json", "{tmp}/out.json", "{tmp}/no/such/dir/out.json"]))]
    if source == "csv" and "--target" not in argv:
        argv += ["--target", "price_k"]
    return argv


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory):
    from helpers import ROOT

    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "empty.csv").write_text("")
    return {"example": str(ROOT / "docs" / "example.csv"), "tmp": str(tmp)}


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(command_lines())
def test_cli_argument_parsing(cli_files, argv):
    """Any command line ends with exit 0-3; a 2 is exactly one line on stderr; never a traceback."""
    import contextlib
    import io

    from jaxlr._cli import main

    argv = [a.format(**cli_files) for a in argv]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's errors
            code = e.code
    err = stderr.getvalue()
    assert code in (0, 1, 2, 3), (argv, code, err)
    assert "Traceback" not in err + stdout.getvalue(), (argv, err)
    if code == 2:
        lines = [
            line
            for line in err.splitlines()
            if line.strip() and not line.startswith("jaxlr fit: warning") and "(--dropna)" not in line
        ]
        assert len(lines) == 1, (argv, err)
    if code == 1:
        assert "diverged" in err, (argv, err)
    event(f"cli: exit {code}")
