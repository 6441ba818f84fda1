import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlr


def test_lesson_forward_is_w_times_x():
    x, _ = jaxlr.lesson_data()
    np.testing.assert_allclose(jaxlr.predict(jaxlr.Params(w=2.0), x), 2.0 * np.asarray(x), rtol=0, atol=0)
    assert float(jaxlr.predict(jaxlr.Params(w=np.float32(0.0)), 5.0)) == 0.0


def test_matrix_model_with_bias():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 3))
    w, b = rng.normal(size=3), 0.5
    np.testing.assert_allclose(jaxlr.predict(jaxlr.Params(w, b), x), x @ w + b, rtol=1e-12, atol=0)
    np.testing.assert_allclose(jaxlr.predict(jaxlr.Params(w, b), x[0]), x[0] @ w + b, rtol=1e-12, atol=0)


def test_params_is_a_pytree():
    params = jaxlr.Params(jnp.ones(3), jnp.zeros(()))
    assert len(jax.tree.leaves(params)) == 2
    assert len(jax.tree.leaves(jaxlr.Params(1.0))) == 1


def test_dtype_follows_data_not_python_scalars():
    x32 = np.ones(4, np.float32)
    assert jaxlr.predict(jaxlr.Params(w=0.0), x32).dtype == jnp.float32
    assert jaxlr.predict(jaxlr.Params(w=0.0), np.ones(4)).dtype == jnp.float64  # x64 on in tests
    assert jaxlr.predict(jaxlr.Params(w=0.0), np.ones(4, np.int32)).dtype == jnp.float32
    assert jaxlr.predict(jaxlr.Params(w=0.0), np.ones(4, np.float16)).dtype == jnp.float32


def test_predict_jits():
    params = jaxlr.Params(jnp.ones(2), 1.0)
    np.testing.assert_allclose(jax.jit(jaxlr.predict)(params, jnp.ones((3, 2))), [3.0, 3.0, 3.0], rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_is_mse(dtype):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(10, 2)).astype(dtype), rng.normal(size=10).astype(dtype)
    params = jaxlr.Params(np.array([0.3, -0.2], dtype), dtype(0.1))
    expected = np.mean((x @ params.w + params.b - y) ** 2)
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(jaxlr.mse_loss(params, x, y), expected, rtol=rtol, atol=0)
