"""The mean squared error, the lesson's ``loss``."""

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxlr._model import Params, _predict
from jaxlr._validate import check_data, check_finite_result


def _mse_loss(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
    """``mse_loss`` without input checks, for use inside compiled code."""
    return jnp.mean((_predict(params, x) - y) ** 2)


def mse_loss(params: Params, x: ArrayLike, y: ArrayLike) -> jax.Array:
    """Mean squared error of the model on ``(x, y)``: ``mean((predict(params, x) - y)**2)``.

    A pure function of the parameters, so ``jax.grad(mse_loss)`` is the gradient
    that PyTorch's ``loss.backward()`` leaves in ``w.grad``.

    Args:
      params: the model's :class:`Params`.
      x: inputs, ``(n,)`` or ``(n, d)``.
      y: targets, ``(n,)``.

    Returns:
      A scalar.

    Examples:
      >>> import jaxlr
      >>> x, y = jaxlr.lesson_data()
      >>> print(f"{jaxlr.mse_loss(jaxlr.Params(w=0.0), x, y):.8f}")
      30.00000000
    """
    params, x, y = check_data("mse_loss", params, x, y)
    return check_finite_result("mse_loss", _mse_loss(params, x, y))
