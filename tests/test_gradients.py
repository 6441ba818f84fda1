import jax
import numpy as np
import pytest

import jaxlr

GRADIENTS = [jaxlr.autograd_gradient, jaxlr.manual_gradient, jaxlr.lesson_gradient_n_times_too_large]


def _problem(seed, n, d, bias, dtype):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) if d is None else (n, d)).astype(dtype)
    y = rng.normal(size=n).astype(dtype)
    w = dtype(rng.normal()) if d is None else rng.normal(size=d).astype(dtype)
    return jaxlr.Params(w, dtype(rng.normal()) if bias else None), x, y


def _flat(params):
    return np.concatenate([np.ravel(leaf) for leaf in jax.tree.leaves(params)])


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-6)])
@pytest.mark.parametrize("d, bias", [(None, False), (None, True), (3, False), (5, True)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_manual_equals_autograd(seed, d, bias, dtype, rtol):
    params, x, y = _problem(seed, 50, d, bias, dtype)
    manual, auto = jaxlr.manual_gradient(params, x, y), jaxlr.autograd_gradient(params, x, y)
    assert jax.tree.structure(manual) == jax.tree.structure(auto)
    # relative to the gradient's norm: float32 sums of 50 terms round differently
    scale = np.linalg.norm(_flat(auto))
    np.testing.assert_allclose(_flat(manual), _flat(auto), rtol=0, atol=rtol * scale)


@pytest.mark.parametrize("d, bias", [(None, False), (4, True)])
@pytest.mark.parametrize("n", [1, 4, 33])
def test_lesson_gradient_is_n_times_the_true_one(n, d, bias):
    params, x, y = _problem(n, n, d, bias, np.float64)
    lesson, auto = jaxlr.lesson_gradient_n_times_too_large(params, x, y), jaxlr.autograd_gradient(params, x, y)
    np.testing.assert_allclose(_flat(lesson), n * _flat(auto), rtol=1e-12, atol=1e-12)


def test_lesson_gradient_matches_the_numpy_original():
    x, y = (np.asarray(a) for a in jaxlr.lesson_data())
    w = np.float32(0.5)
    original = np.dot(2 * x, w * x - y).mean()  # the lesson's line, verbatim
    ours = jaxlr.lesson_gradient_n_times_too_large(jaxlr.Params(w), x, y).w
    np.testing.assert_allclose(ours, original, rtol=1e-6, atol=0)


@pytest.mark.parametrize("gradient", GRADIENTS)
def test_gradients_jit(gradient):
    params, x, y = _problem(0, 8, 2, True, np.float64)
    np.testing.assert_allclose(_flat(jax.jit(gradient)(params, x, y)), _flat(gradient(params, x, y)), rtol=1e-14)
