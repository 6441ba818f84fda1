"""The closed-form answer gradient descent should reach: ordinary least squares."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxlr._model import PRECISION
from jaxlr._types import Params
from jaxlr._validate import checked_data


@functools.partial(jax.jit, static_argnames="bias")
def _lstsq(x: jax.Array, y: jax.Array, *, bias: bool) -> tuple[jax.Array, jax.Array]:
    """``(w, b)`` minimizing ``|x @ w + b - y|``, solved on centred, unit-scale columns.

    ``lstsq`` on ``[X 1]`` as given loses the answer when the features have large
    offsets: the augmented design's condition number grows like ``offset⁴``, and the
    SVD's cut-off drops the small singular value (for ``x ≈ 1e4 ± 1`` in float32 it
    returns a slope of 0.001 for a true slope of 3). Centring makes the columns
    orthogonal to the intercept and scaling equalises them; the intercept is then
    ``mean(y) - mean(x) @ w``, which is exact algebra, not an approximation.
    """
    x_mean = jnp.mean(x, axis=0) if bias else jnp.zeros(x.shape[1:], x.dtype)
    y_mean = jnp.mean(y) if bias else jnp.zeros((), y.dtype)
    centred = x - x_mean[None, :]
    scale = jnp.sqrt(jnp.mean(centred**2, axis=0))
    scale = jnp.where(scale > 0, scale, 1.0)
    solution, _, _, _ = jnp.linalg.lstsq(centred / scale[None, :], y - y_mean)
    w = solution / scale
    return w, y_mean - jnp.dot(x_mean, w, precision=PRECISION)


def least_squares(x: ArrayLike, y: ArrayLike, *, bias: bool = True) -> Params:
    """The parameters minimizing the MSE exactly: ``jnp.linalg.lstsq`` on ``[X 1]`` (or ``X``).

    What :func:`fit` converges to, computed by an SVD-based solver in one step, to
    check a gradient-descent fit against. The columns are centred and scaled before
    the solve (and the answer mapped back), so features with large offsets, such as
    ``x ≈ 1e4``, are solved accurately even in float32.

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
    params, x, y = checked_data("least_squares", Params(w0, 0.0 if bias else None), x, y)
    w, b = _lstsq(x[:, None] if x.ndim == 1 else x, y, bias=bias)
    return Params(w[0] if x.ndim == 1 else w, b if bias else None)
