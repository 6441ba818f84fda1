"""The model: ``f = w * x`` (the lesson) and ``f = x @ w + b`` (its multi-feature sequel)."""

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

# Full float32 matmuls on every backend. XLA's GPU default (TF32) would make the
# port disagree with PyTorch, which computes float32 matmuls in full precision.
PRECISION = jax.lax.Precision.HIGHEST


class Params(NamedTuple):
    """Parameters of the linear model, a PyTree.

    Attributes:
      w: the weight. A scalar for the lesson's model ``f = w * x`` on ``x`` of
        shape ``(n,)``; a vector of shape ``(d,)`` for ``f = x @ w`` on ``x`` of
        shape ``(n, d)``.
      b: the bias, a scalar, or ``None`` for no bias (the lesson's model).

    Examples:
      >>> import jaxlr
      >>> jaxlr.Params(w=0.0)  # the lesson's w = 0.0, no bias
      Params(w=0.0, b=None)
    """

    w: ArrayLike
    b: ArrayLike | None = None


def _predict(params: Params, x: jax.Array) -> jax.Array:
    """``predict`` without input checks, for use inside compiled code."""
    w, b = params
    if jnp.ndim(w) == 0:
        y_pred = w * x
    else:
        chex.assert_axis_dimension(x, -1, jnp.shape(w)[0])
        y_pred = jnp.matmul(x, w, precision=PRECISION)
    if b is not None:
        y_pred = y_pred + b
    return y_pred


def predict(params: Params, x: ArrayLike) -> jax.Array:
    """The model's output, the lesson's ``forward(x)``.

    ``w * x`` for a scalar ``w``, ``x @ w`` for a vector ``w``, plus ``b`` when
    ``params.b`` is not ``None``. Matrix products run at full float32 precision.

    Args:
      params: the model's :class:`Params`.
      x: inputs: a scalar or ``(n,)`` for a scalar ``w``; ``(d,)`` or ``(n, d)``
        for ``w`` of shape ``(d,)``.

    Returns:
      The predictions, of shape ``x.shape`` (scalar ``w``) or ``x.shape[:-1]``.

    Examples:
      >>> import jaxlr
      >>> print(f"{jaxlr.predict(jaxlr.Params(w=2.0), 5.0):.3f}")
      10.000
      >>> jaxlr.predict(jaxlr.Params(w=[1.0, -1.0], b=0.5), [[3.0, 1.0]]).tolist()
      [2.5]
    """
    from jaxlr._validate import check_finite_result, check_predict_inputs

    params, x = check_predict_inputs("predict", params, x)
    return check_finite_result("predict", _predict(params, x))
