"""Three ways to get dloss/dparams, one signature: ``gradient(params, x, y) -> Params``.

* :func:`autograd_gradient`: ``jax.grad`` of the loss, what PyTorch's
  ``loss.backward()`` computes.
* :func:`manual_gradient`: the same gradient written out by hand.
* :func:`lesson_gradient_n_times_too_large`: the lesson's original hand-written
  gradient, kept so the NumPy program can be reproduced to the digit.
"""

from collections.abc import Callable

import chex
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxlr._loss import _mse_loss
from jaxlr._model import PRECISION, Params, _predict
from jaxlr._validate import check_data, check_finite_result

GradientFn = Callable[[Params, jax.Array, jax.Array], Params]

_autograd_gradient: GradientFn = jax.grad(_mse_loss)


def _manual_gradient(params: Params, x: jax.Array, y: jax.Array) -> Params:
    n = y.shape[0]
    residual = _predict(params, x) - y  # (n,)
    if jnp.ndim(params.w) == 0:
        dw = jnp.mean(2 * x * residual)  # dJ/dw = 1/N * sum(2x(w*x - y))
    else:
        dw = 2 * jnp.matmul(residual, x, precision=PRECISION) / n  # 2/N * X^T r, (d,)
    db = None if params.b is None else 2 * jnp.mean(residual)
    grads = Params(dw, db)
    chex.assert_trees_all_equal_shapes(grads, params)
    return grads


def _lesson_gradient_n_times_too_large(params: Params, x: jax.Array, y: jax.Array) -> Params:
    residual = _predict(params, x) - y
    if jnp.ndim(params.w) == 0:
        dw = jnp.dot(2 * x, residual, precision=PRECISION)  # np.dot(2*x, y_pred - y).mean()
    else:
        dw = jnp.matmul(residual, 2 * x, precision=PRECISION)
    db = None if params.b is None else 2 * jnp.sum(residual)
    grads = Params(dw, db)
    chex.assert_trees_all_equal_shapes(grads, params)
    return grads


def autograd_gradient(params: Params, x: ArrayLike, y: ArrayLike) -> Params:
    """The MSE gradient by automatic differentiation: ``jax.grad(mse_loss)``.

    Where PyTorch records the forward pass (``requires_grad=True``) and fills
    ``w.grad`` on ``loss.backward()``, JAX transforms the loss function itself into
    its gradient function; nothing is stored on the parameters, so there is no
    ``grad.zero_()`` to forget.

    Examples:
      >>> import jaxlr
      >>> x, y = jaxlr.lesson_data()
      >>> print(f"{jaxlr.autograd_gradient(jaxlr.Params(w=0.0), x, y).w:.3f}")
      -30.000
    """
    params, x, y = check_data("autograd_gradient", params, x, y)
    return check_finite_result("autograd_gradient", _autograd_gradient(params, x, y))


def manual_gradient(params: Params, x: ArrayLike, y: ArrayLike) -> Params:
    """The MSE gradient written out by hand: ``dJ/dw = 2/N · Xᵀ(Xw + b − y)``, ``dJ/db = 2·mean(r)``.

    This is the lesson's ``dJ/dw = 1/N * 2x(w*x - y)`` done right: the upstream
    tutorial's later fix ``np.mean(2*x*(y_pred - y))``. It equals
    :func:`autograd_gradient` up to float rounding.

    Examples:
      >>> import jaxlr
      >>> x, y = jaxlr.lesson_data()
      >>> print(f"{jaxlr.manual_gradient(jaxlr.Params(w=0.0), x, y).w:.3f}")
      -30.000
    """
    params, x, y = check_data("manual_gradient", params, x, y)
    return check_finite_result("manual_gradient", _manual_gradient(params, x, y))


def lesson_gradient_n_times_too_large(params: Params, x: ArrayLike, y: ArrayLike) -> Params:
    """The lesson's original hand-written gradient, which is N times the true one.

    The NumPy program computes ``np.dot(2*x, y_pred - y).mean()``. ``np.dot``
    already sums to a scalar, so ``.mean()`` divides by nothing, and the result is
    ``N`` (the number of samples) times the MSE gradient. That is why the NumPy
    program converges in 20 steps at learning rate 0.01 while the autograd one
    needs 100: its effective learning rate is ``N * 0.01``.

    It exists so that ``scripts/gradient_descent_manual.py`` reproduces the
    lesson's printed trace. Do not use it to fit anything: use
    :func:`manual_gradient` or :func:`autograd_gradient`. With a bias and
    ``x`` of shape ``(n, d)`` it is extended the same way: ``2·Xᵀr`` and ``2·sum(r)``.

    Examples:
      >>> import jaxlr
      >>> x, y = jaxlr.lesson_data()  # N = 4
      >>> print(f"{jaxlr.lesson_gradient_n_times_too_large(jaxlr.Params(w=0.0), x, y).w:.3f}")
      -120.000
    """
    params, x, y = check_data("lesson_gradient_n_times_too_large", params, x, y)
    return check_finite_result("lesson_gradient_n_times_too_large", _lesson_gradient_n_times_too_large(params, x, y))


# The names fit(..., gradient=...) accepts, and the core functions they select.
GRADIENTS: dict[str, GradientFn] = {
    "autograd": _autograd_gradient,
    "manual": _manual_gradient,
    "lesson": _lesson_gradient_n_times_too_large,
}
