"""The closed-form answer gradient descent should reach: (weighted, ridge-penalised) least squares.

``lstsq`` on ``[X 1]`` loses the answer for features with large offsets (κ grows like ``offset⁴``), so the
columns are centred, orthogonal to the intercept ``mean(y) - mean(x) @ w``, and scaled to equal size.
"""

import functools
import math
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxlr import _validate
from jaxlr._model import PRECISION
from jaxlr._types import Params
from jaxlr._validate import checked_data, is_traced

Array = Any  # jax.Array, or np.ndarray from centre(..., xp=np)


class Centred(NamedTuple):
    """A design centred on its (weighted) means and scaled for an accurate solve."""

    x_mean: Array  # (d,) the (weighted) column means; zeros without an intercept
    y_mean: Array  # () the (weighted) mean of y; zero without an intercept
    x: Array  # (n, d) x - x_mean
    y: Array  # (n,) y - y_mean
    scale: Array  # (d,) each centred column's (weighted) root mean square, 1 where it is 0
    total_weight: Array  # () sum of the weights (n without weights)
    a: Array  # (n, d) sqrt(s) · x / scale, the rows of the weighted problem
    target: Array  # (n,) sqrt(s) · y


def centre(x: Any, y: Any, weight: Any, *, bias: bool, xp: Any = jnp) -> Centred:
    """``x`` and ``y`` centred (when ``bias``) on their means ``sum(s x) / sum(s)``, and scaled; ``xp``: jnp or np."""
    s = xp.ones_like(y) if weight is None else weight
    total = xp.asarray(x.shape[0], x.dtype) if weight is None else xp.sum(weight)
    x_mean = xp.sum(s[:, None] * x, axis=0) / total if bias else xp.zeros(x.shape[1:], x.dtype)
    y_mean = xp.sum(s * y) / total if bias else xp.zeros((), y.dtype)
    xc, yc = x - x_mean[None, :], y - y_mean
    scale = xp.sqrt(xp.sum(s[:, None] * xc**2, axis=0) / total)
    scale = xp.where(scale > 0, scale, 1.0)
    root = xp.sqrt(s)
    return Centred(x_mean, y_mean, xc, yc, scale, total, root[:, None] * (xc / scale[None, :]), root * yc)


def _solve(c: Centred, l2: jax.Array | None) -> tuple[jax.Array, jax.Array]:
    """``(w, b)`` for the centred problem; ``l2`` adds ``l2 * |w|²`` to the weighted mean of squares."""
    a, target = c.a, c.target
    if l2 is not None:
        # With w = v / scale the penalty l2 sum(s) |v / scale|² is d extra rows sqrt(l2 sum(s)) / scale_j · e_j.
        a = jnp.concatenate([a, jnp.diag(jnp.sqrt(l2 * c.total_weight) / c.scale)])
        target = jnp.concatenate([target, jnp.zeros(c.x.shape[1], target.dtype)])
    solution, _, _, _ = jnp.linalg.lstsq(a, target)
    w = solution / c.scale
    return w, c.y_mean - jnp.dot(c.x_mean, w, precision=PRECISION)


@functools.partial(jax.jit, static_argnames="bias")
def _lstsq(x: jax.Array, y: jax.Array, weight: jax.Array | None, l2: jax.Array | None, *, bias: bool):
    return _solve(centre(x, y, weight, bias=bias), l2)


def check_sample_weight(fn: str, sample_weight: Any, n: int, dtype: Any) -> jax.Array | None:
    """:func:`jaxlr._validate.check_sample_weight`, and concrete values checked: finite, non-negative, not all 0."""
    if sample_weight is None:
        return None
    try:
        values = sample_weight if isinstance(sample_weight, jax.Array) else np.asarray(sample_weight)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{fn}: sample_weight must be an array of {n} numbers, got {e}") from None
    if np.dtype(values.dtype).kind not in "fiu":
        raise ValueError(f"{fn}: sample_weight must hold real numbers (float or int), got dtype {values.dtype}")
    weight = _validate.check_sample_weight(fn, values, n, dtype)
    if not is_traced(values):
        values = np.asarray(values, np.float64)
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{fn}: sample_weight contains NaN or inf; weights must be finite numbers")
        if np.any(values < 0):
            raise ValueError(f"{fn}: sample_weight must be non-negative, got a minimum of {values.min():g}")
        if not np.any(values > 0):
            raise ValueError(f"{fn}: sample_weight is all zeros; at least one sample needs a positive weight")
    return weight


def check_l2(fn: str, l2: Any, dtype: Any) -> jax.Array | None:
    """``l2`` as a scalar array of ``dtype``, or ``None`` for a Python zero; checked when concrete."""
    if isinstance(l2, (int, float)) and not isinstance(l2, bool) and l2 == 0:
        return None
    if isinstance(l2, (bool, np.bool_)) or not isinstance(l2, (numbers.Real, np.ndarray, np.generic, jax.Array)):
        raise ValueError(f"{fn}: l2 must be a non-negative real number, got {type(l2).__name__} {l2!r}"[:200])
    array = l2 if isinstance(l2, jax.Array) else np.asarray(l2)
    if array.ndim != 0:
        raise ValueError(f"{fn}: l2 must be a scalar, got shape {tuple(array.shape)}")
    if np.dtype(array.dtype).kind not in "fiu":
        raise ValueError(f"{fn}: l2 must be a non-negative real number, got dtype {array.dtype}")
    if not is_traced(array) and not (math.isfinite(float(array)) and float(array) >= 0):
        raise ValueError(f"{fn}: l2 must be non-negative and finite, got {float(array)!r}")
    return jnp.asarray(array, dtype)


def check_problem(fn: str, x: ArrayLike, y: ArrayLike, *, bias: bool, sample_weight: Any, l2: Any, params: Any = None):
    """The checked ``(params, x as (n, d), y, weight, l2, whether x was (n,))`` of a least-squares problem."""
    if params is None:
        params = Params(0.0 if np.ndim(x) == 1 else np.zeros(np.shape(x)[-1:], np.float32), 0.0 if bias else None)
    elif isinstance(params, Params) and (params.b is not None) != bias:
        given = "has no bias (params.b is None)" if params.b is None else "has a bias"
        raise ValueError(
            f"{fn}: params {given} but intercept={bias}; pass params with b {'set' if bias else 'None'}, "
            f"or intercept={not bias}"
        )
    params, x, y = checked_data(fn, params, x, y)
    weight, penalty = check_sample_weight(fn, sample_weight, x.shape[0], x.dtype), check_l2(fn, l2, x.dtype)
    return params, (x[:, None] if x.ndim == 1 else x), y, weight, penalty, x.ndim == 1


def least_squares(
    x: ArrayLike, y: ArrayLike, *, bias: bool = True, sample_weight: ArrayLike | None = None, l2: ArrayLike = 0.0
) -> Params:
    """The parameters minimizing ``sum(s * (x @ w + b - y)**2) / sum(s) + l2 * sum(w**2)`` exactly. Traceable.

    What :func:`fit` converges to, by an SVD of the centred, scaled columns: accurate in float32 even for
    features with large offsets. scikit-learn's ``Ridge(alpha=a)`` is ``l2 = a / sum(s)``.

    Args:
      x: features, ``(n,)`` (then ``w`` is a scalar) or ``(n, d)``.
      y: targets, ``(n,)``.
      bias: fit an intercept ``b`` (else ``b`` is ``None``).
      sample_weight: ``None`` or ``(n,)`` non-negative weights, not all zero.
      l2: the ridge penalty on ``w`` (never on ``b``), ``>= 0``.

    Returns:
      :class:`Params` in the data's floating dtype; for a rank-deficient design with ``l2 = 0``, the
      minimum-norm solution in the centred, scaled columns.

    Examples:
      >>> import jaxlr
      >>> x, y = jaxlr.lesson_data()
      >>> p = jaxlr.least_squares(x, y + 1.0)
      >>> print(f"w = {p.w:.4f}, b = {p.b:.4f}")
      w = 2.0000, b = 1.0000
    """
    _, x, y, weight, penalty, one_feature = check_problem(
        "least_squares", x, y, bias=bias, sample_weight=sample_weight, l2=l2
    )
    w, b = _lstsq(x, y, weight, penalty, bias=bias)
    return Params(w[0] if one_feature else w, b if bias else None)
