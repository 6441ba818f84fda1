"""Every bad input gets a TypeError/ValueError that names the problem."""

import math

import jax
import numpy as np
import pytest

import jaxlr

X, Y = np.arange(1.0, 5.0, dtype=np.float32), 2 * np.arange(1.0, 5.0, dtype=np.float32)
P = jaxlr.Params(w=0.0)
XM = np.ones((4, 3), np.float32)
PM = jaxlr.Params(np.zeros(3, np.float32), 0.0)


def _fit(params=P, x=X, y=Y, **kwargs):
    return jaxlr.fit(params, x, y, **kwargs)


CASES = [
    # (description, call, exception, words the message must contain)
    ("x/y length mismatch", lambda: _fit(y=Y[:3]), ValueError, ["same number of samples", "(4,)", "(3,)"]),
    ("x rank 3", lambda: _fit(PM, np.ones((4, 3, 1)), Y), ValueError, ["x", "(4, 3, 1)"]),
    ("y rank 2", lambda: _fit(y=np.stack([Y, Y], 1)), ValueError, ["y must have shape (n,) or (n, 1)", "(4, 2)"]),
    ("scalar w with a matrix", lambda: _fit(P, XM, Y), ValueError, ["params.w is a scalar", "(4, 3)"]),
    ("w too short", lambda: _fit(jaxlr.Params(np.zeros(2)), XM, Y), ValueError, ["params do not fit x", "(2,)"]),
    ("w matrix", lambda: _fit(jaxlr.Params(np.zeros((3, 1))), XM, Y), ValueError, ["params.w", "(3, 1)"]),
    ("b vector", lambda: _fit(jaxlr.Params(0.0, np.zeros(4)), X, Y), ValueError, ["params.b", "(4,)"]),
    ("params not Params", lambda: _fit((0.0, None)), TypeError, ["jaxlr.Params"]),
    ("empty", lambda: _fit(x=X[:0], y=Y[:0]), ValueError, ["empty", "(0,)"]),
    ("no features", lambda: _fit(jaxlr.Params(np.zeros(0)), np.ones((4, 0)), Y), ValueError, ["no features"]),
    ("NaN in x", lambda: _fit(x=np.array([1, np.nan, 3, 4], np.float32)), ValueError, ["x contains NaN or inf"]),
    ("inf in y", lambda: _fit(y=np.array([1, 2, np.inf, 4], np.float32)), ValueError, ["y contains NaN or inf"]),
    ("NaN in w", lambda: _fit(jaxlr.Params(np.nan)), ValueError, ["params.w contains NaN or inf"]),
    ("inf in b", lambda: _fit(jaxlr.Params(0.0, np.inf)), ValueError, ["params.b contains NaN or inf"]),
    ("complex x", lambda: _fit(x=X.astype(np.complex64)), ValueError, ["x", "complex"]),
    ("object x", lambda: _fit(x=np.array([1, "a", 3, 4], object)), TypeError, ["x", "object", "not numbers"]),
    ("bool y", lambda: _fit(y=Y > 3), TypeError, ["y", "bool"]),
    ("string x", lambda: _fit(x=np.array(["1", "2", "3", "4"])), TypeError, ["x", "<U1"]),
    ("ragged x", lambda: _fit(x=[[1.0], [2.0, 3.0], [4.0], [5.0]]), TypeError, ["x", "rectangular"]),
    ("None y", lambda: _fit(y=None), ValueError, ["y", "None"]),
    ("lr zero", lambda: _fit(learning_rate=0.0), ValueError, ["learning_rate", "0.0"]),
    ("lr negative", lambda: _fit(learning_rate=-0.1), ValueError, ["learning_rate", "-0.1"]),
    ("lr NaN", lambda: _fit(learning_rate=math.nan), ValueError, ["learning_rate", "nan"]),
    ("lr inf", lambda: _fit(learning_rate=math.inf), ValueError, ["learning_rate", "inf"]),
    ("lr string", lambda: _fit(learning_rate="0.1"), TypeError, ["learning_rate", "str"]),
    ("lr vector", lambda: _fit(learning_rate=np.array([0.1, 0.2])), ValueError, ["learning_rate", "sweep"]),
    ("n_iters zero", lambda: _fit(n_iters=0), ValueError, ["n_iters", "at least 1", "0"]),
    ("n_iters negative", lambda: _fit(n_iters=-5), ValueError, ["n_iters", "-5"]),
    ("n_iters float", lambda: _fit(n_iters=10.5), TypeError, ["n_iters", "float"]),
    ("n_iters bool", lambda: _fit(n_iters=True), TypeError, ["n_iters"]),
    ("unknown gradient", lambda: _fit(gradient="numerical"), ValueError, ["gradient", "'numerical'", "autograd"]),
    ("unknown optimizer", lambda: _fit(optimizer="rmsprop"), ValueError, ["optimizer", "'rmsprop'", "adam"]),
    ("bad optimizer type", lambda: _fit(optimizer=0.1), TypeError, ["optimizer", "GradientTransformation"]),
    ("unknown history", lambda: _fit(history="some"), ValueError, ["history", "'some'"]),
    ("predict mismatch", lambda: jaxlr.predict(PM, np.ones((2, 4))), ValueError, ["params do not fit x"]),
    ("loss mismatch", lambda: jaxlr.mse_loss(P, X, Y[:2]), ValueError, ["mse_loss", "same number"]),
    ("gradient mismatch", lambda: jaxlr.manual_gradient(P, XM, Y), ValueError, ["manual_gradient", "scalar"]),
]


@pytest.mark.parametrize("call, exception, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_a_clear_error(call, exception, words):
    with pytest.raises(exception) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_errors_are_raised_before_any_jax_internals():
    with pytest.raises(ValueError) as info:
        _fit(y=Y[:3])
    assert not any("jax/_src" in str(frame.path) for frame in info.traceback)


def test_ints_are_accepted_as_numbers():
    result = jaxlr.fit(jaxlr.Params(w=0), np.array([1, 2, 3, 4]), np.array([2, 4, 6, 8]), n_iters=100)
    np.testing.assert_allclose(result.params.w, 2.0, atol=1e-5)


def test_validation_works_under_jit_tracing():
    """Shape checks are trace-time only, so they also guard jitted use of the public functions."""
    with pytest.raises(ValueError, match="params do not fit x"):
        jax.jit(jaxlr.mse_loss)(PM, np.ones((4, 2)), Y)


@pytest.mark.parametrize("position", [0, 1, 4097, 99_999])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_single_non_finite_value_anywhere_in_large_data_is_found(position, bad):
    """The on-device check must not miss a NaN: XLA's vectorized float max on the CPU can drop one."""
    x = np.ones(100_000, np.float32)
    x[position] = bad
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        jaxlr.fit(jaxlr.Params(np.float32(0)), x, np.ones_like(x), n_iters=1, method="plain")


JX, JY = jax.numpy.asarray(X), jax.numpy.asarray(Y)
JXM = jax.numpy.asarray(XM)

# fit's common call (data already a jax.Array on one device) checks while tracing; the
# errors must be the ones the eager checks raise for the same data held in NumPy.
JAX_ARRAY_CASES = [
    ("x/y length mismatch", dict(y=JY[:3])),
    ("x rank 3", dict(params=PM, x=jax.numpy.ones((4, 3, 1)))),
    ("y rank 2", dict(y=jax.numpy.stack([JY, JY], 1))),
    ("scalar w with a matrix", dict(x=JXM)),
    ("w too short", dict(params=jaxlr.Params(jax.numpy.zeros(2)), x=JXM)),
    ("b vector", dict(params=jaxlr.Params(0.0, jax.numpy.zeros(4)))),
    ("empty", dict(x=JX[:0], y=JY[:0])),
    ("NaN in x", dict(x=JX.at[1].set(np.nan))),
    ("inf in y", dict(y=JY.at[2].set(np.inf))),
    ("NaN in w", dict(params=jaxlr.Params(math.nan))),
    ("inf in b", dict(params=jaxlr.Params(0.0, math.inf))),
    ("complex x", dict(x=JX.astype(np.complex64))),
    ("bool y", dict(y=JY > 3)),
    ("n_iters zero", dict(n_iters=0)),
    ("n_iters too large", dict(n_iters=2**31)),
    ("unknown gradient", dict(gradient="numerical")),
    ("unknown optimizer", dict(optimizer="rmsprop")),
    ("unknown history", dict(history="some")),
    ("unknown method", dict(method="fast")),
    ("history too large", dict(n_iters=2**31 - 1, history="full")),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in JAX_ARRAY_CASES], ids=[c[0] for c in JAX_ARRAY_CASES])
def test_jax_array_data_gets_the_errors_numpy_data_gets(kwargs):
    kwargs = dict(dict(params=P, x=JX, y=JY), **kwargs)
    with pytest.raises((TypeError, ValueError)) as fast:
        jaxlr.fit(**kwargs)
    on_host = {k: np.asarray(v) if isinstance(v, jax.Array) else v for k, v in kwargs.items()}
    with pytest.raises((TypeError, ValueError)) as eager:
        jaxlr.fit(**on_host)
    assert type(fast.value) is type(eager.value)
    assert str(fast.value) == str(eager.value)
    assert not any("jax/_src" in str(frame.path) for frame in fast.traceback)


def test_a_column_vector_target_is_accepted():
    flat = jaxlr.fit(P, X, Y, n_iters=10)
    column = jaxlr.fit(P, X, Y[:, None], n_iters=10)
    np.testing.assert_array_equal(flat.params.w, column.params.w)


def test_object_arrays_of_numbers_are_numbers():
    as_objects = np.array([1.0, 2, 3, 4], dtype=object)
    result = jaxlr.fit(P, as_objects, Y, n_iters=10)
    np.testing.assert_array_equal(result.params.w, jaxlr.fit(P, X.astype(np.float64), Y, n_iters=10).params.w)


def test_sparse_input_is_refused_by_name():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match=r"fit: x is a sparse matrix .*; jaxlr needs dense arrays: convert it with"):
        jaxlr.fit(PM, sparse.csr_matrix(XM), Y)
