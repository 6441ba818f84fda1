"""The closed-form answer gradient descent should reach: ordinary least squares."""

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxlr._model import Params
from jaxlr._validate import check_data


@jax.jit
def _lstsq(design: jax.Array, y: jax.Array) -> jax.Array:
    solution, _, _, _ = jnp.linalg.lstsq(design, y)
    return solution


def least_squares(x: ArrayLike, y: ArrayLike, *, bias: bool = True) -> Params:
    """The parameters minimizing the MSE exactly: ``jnp.linalg.lstsq`` on ``[X 1]`` (or ``X``).

    What :func:`fit` converges to, computed by an SVD-based solver in one step, to
    check a gradient-descent fit against.

    Args:
      x: features, ``(n,)`` (then ``w`` is a scalar) or ``(n, d)``.
      y: targets, ``(n,)``.
      bias: fit an intercept (``b``) as well.

    Returns:
      :class:`Params` in the data's floating dtype; ``b`` is ``None`` without a bias.

    Examples:
      >>> import jaxlr
      >>> x, y = jaxlr.lesson_data()
      >>> p = jaxlr.least_squares(x, y + 1.0)
      >>> print(f"w = {p.w:.4f}, b = {p.b:.4f}")
      w = 2.0000, b = 1.0000
    """
    x_shape = np.shape(x)
    w0 = 0.0 if len(x_shape) == 1 else np.zeros(x_shape[-1:], np.float32)
    params, x, y = check_data("least_squares", Params(w0, 0.0 if bias else None), x, y)
    design = x[:, None] if x.ndim == 1 else x
    if bias:
        design = jnp.concatenate([design, jnp.ones((design.shape[0], 1), design.dtype)], axis=1)
    solution = _lstsq(design, y)
    d = design.shape[1] - int(bias)
    w = solution[0] if x.ndim == 1 else solution[:d]
    return Params(w, solution[d] if bias else None)
