"""The closed-form answer gradient descent should reach: (weighted, ridge-penalised) least squares."""

import functools
import math
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxlr._model import PRECISION
from jaxlr._types import Params
from jaxlr._validate import checked_data, is_traced


class Centred(NamedTuple):
    """A design centred and scaled for an accurate solve (see :func:`centre`)."""

    x_mean: jax.Array  # (d,) the (weighted) column means; zeros without an intercept
    y_mean: jax.Array  # () the (weighted) mean of y; zero without an intercept
    x: jax.Array  # (n, d) x - x_mean
    y: jax.Array  # (n,) y - y_mean
    scale: jax.Array  # (d,) each centred column's (weighted) root mean square, 1 where it is 0
    weight: jax.Array | None  # (n,) the sample weights, or None for equal weights
    total_weight: jax.Array  # () sum of the weights (n without weights)


def centre(x: jax.Array, y: jax.Array, weight: jax.Array | None, *, bias: bool) -> Centred:
    """``x`` and ``y`` centred on their (weighted) means when ``bias``, and the columns' scales.

    With weights ``s``, the means are ``sum(s x) / sum(s)``: the centred columns are
    then orthogonal to the intercept in the weighted inner product, which is what
    makes ``b = mean(y) - mean(x) @ w`` exact for weighted least squares too.
    Traceable; ``x`` is ``(n, d)``.
    """
    if weight is None:
        total = jnp.asarray(x.shape[0], x.dtype)
        x_mean = jnp.mean(x, axis=0) if bias else jnp.zeros(x.shape[1:], x.dtype)
        y_mean = jnp.mean(y) if bias else jnp.zeros((), y.dtype)
        centred = x - x_mean[None, :]
        scale = jnp.sqrt(jnp.mean(centred**2, axis=0))
    else:
        total = jnp.sum(weight)
        if bias:
            x_mean = jnp.sum(weight[:, None] * x, axis=0) / total
            y_mean = jnp.sum(weight * y) / total
        else:
            x_mean, y_mean = jnp.zeros(x.shape[1:], x.dtype), jnp.zeros((), y.dtype)
        centred = x - x_mean[None, :]
        scale = jnp.sqrt(jnp.sum(weight[:, None] * centred**2, axis=0) / total)
    scale = jnp.where(scale > 0, scale, 1.0)
    return Centred(x_mean, y_mean, centred, y - y_mean, scale, weight, total)


def scaled_design(c: Centred) -> tuple[jax.Array, jax.Array]:
    """``(sqrt(s) * x_centred / scale, sqrt(s) * y_centred)``: the rows of the weighted problem."""
    z = c.x / c.scale[None, :]
    if c.weight is None:
        return z, c.y
    root = jnp.sqrt(c.weight)
    return root[:, None] * z, root * c.y


def _solve(c: Centred, l2: jax.Array | None) -> tuple[jax.Array, jax.Array]:
    """``(w, b)`` for the centred problem; ``l2`` adds ``l2 * |w|²`` to the weighted mean of squares."""
    a, target = scaled_design(c)
    if l2 is not None:
        # min sum(s r²)/sum(s) + l2 |w|² = min |a v - target|² + l2 sum(s) |v / scale|² with w = v / scale:
        # the penalty is d extra rows sqrt(l2 sum(s)) / scale_j · e_j with target 0.
        penalty = jnp.sqrt(l2 * c.total_weight) / c.scale
        a = jnp.concatenate([a, jnp.diag(penalty)])
        target = jnp.concatenate([target, jnp.zeros(c.x.shape[1], target.dtype)])
    solution, _, _, _ = jnp.linalg.lstsq(a, target)
    w = solution / c.scale
    return w, c.y_mean - jnp.dot(c.x_mean, w, precision=PRECISION)


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
    return _solve(centre(x, y, None, bias=bias), None)


@functools.partial(jax.jit, static_argnames="bias")
def _lstsq_general(
    x: jax.Array, y: jax.Array, weight: jax.Array | None, l2: jax.Array | None, *, bias: bool
) -> tuple[jax.Array, jax.Array]:
    """:func:`_lstsq` with sample weights (``None``: equal) and a ridge penalty (``None``: none)."""
    return _solve(centre(x, y, weight, bias=bias), l2)


def check_sample_weight(fn: str, sample_weight: Any, n: int, dtype: Any) -> jax.Array | None:
    """``sample_weight`` as an ``(n,)`` array of ``dtype``, or ``None``.

    Shapes and dtypes are checked always; the values (finite, non-negative, not
    all zero) only when they are concrete, not traced.
    """
    if sample_weight is None:
        return None
    if not isinstance(sample_weight, jax.Array):
        try:
            sample_weight = np.asarray(sample_weight)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{fn}: sample_weight must be an array of {n} numbers, got {e}") from None
    kind = np.dtype(sample_weight.dtype).kind
    if kind not in "fiu":
        raise ValueError(f"{fn}: sample_weight must hold real numbers (float or int), got dtype {sample_weight.dtype}")
    if tuple(sample_weight.shape) != (n,):
        raise ValueError(
            f"{fn}: sample_weight must have shape ({n},), one weight per sample; got shape {tuple(sample_weight.shape)}"
        )
    if not is_traced(sample_weight):
        values = np.asarray(sample_weight, np.float64)
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{fn}: sample_weight contains NaN or inf; weights must be finite numbers")
        if np.any(values < 0):
            raise ValueError(f"{fn}: sample_weight must be non-negative, got a minimum of {values.min():g}")
        if not np.any(values > 0):
            raise ValueError(f"{fn}: sample_weight is all zeros; at least one sample needs a positive weight")
    return jnp.asarray(sample_weight, dtype)


def check_l2(fn: str, l2: Any, dtype: Any) -> jax.Array | None:
    """``l2`` as a scalar array of ``dtype``, or ``None`` for a Python zero (no penalty, no extra work).

    A concrete value must be finite and non-negative; a traced one is used as it is.
    """
    if isinstance(l2, (int, float)) and not isinstance(l2, bool) and l2 == 0:
        return None
    if isinstance(l2, jax.Array):  # a concrete jax array or a tracer
        array = l2
    elif isinstance(l2, (numbers.Real, np.ndarray, np.generic)) and not isinstance(l2, (bool, np.bool_)):
        array = np.asarray(l2)
    else:
        raise ValueError(f"{fn}: l2 must be a non-negative real number, got {type(l2).__name__} {l2!r}"[:200])
    if array.ndim != 0:
        raise ValueError(f"{fn}: l2 must be a scalar, got shape {tuple(array.shape)}")
    if np.dtype(array.dtype).kind not in "fiu":
        raise ValueError(f"{fn}: l2 must be a non-negative real number, got dtype {array.dtype}")
    if not is_traced(array):
        value = float(array)
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{fn}: l2 must be non-negative and finite, got {value!r}")
    return jnp.asarray(array, dtype)


class Problem(NamedTuple):
    """A checked least-squares problem: ``x`` as ``(n, d)``, and whether it was ``(n,)``."""

    params: Params
    x: jax.Array
    y: jax.Array
    weight: jax.Array | None
    l2: jax.Array | None
    one_feature: bool


def check_problem(
    fn: str, x: ArrayLike, y: ArrayLike, *, bias: bool, sample_weight: Any, l2: Any, params: Any = None
) -> Problem:
    """Checks the data, weights and penalty of a least-squares problem (and ``params``, when given)."""
    if params is None:
        x_shape = np.shape(x)
        w0 = 0.0 if len(x_shape) == 1 else np.zeros(x_shape[-1:], np.float32)
        params = Params(w0, 0.0 if bias else None)
    elif isinstance(params, Params) and (params.b is not None) != bias:
        given = "has no bias (params.b is None)" if params.b is None else "has a bias"
        raise ValueError(
            f"{fn}: params {given} but intercept={bias}; pass params with b "
            f"{'set' if bias else 'None'}, or intercept={not bias}"
        )
    params, x, y = checked_data(fn, params, x, y)
    weight = check_sample_weight(fn, sample_weight, x.shape[0], x.dtype)
    penalty = check_l2(fn, l2, x.dtype)
    one_feature = x.ndim == 1
    return Problem(params, x[:, None] if one_feature else x, y, weight, penalty, one_feature)


def least_squares(
    x: ArrayLike, y: ArrayLike, *, bias: bool = True, sample_weight: ArrayLike | None = None, l2: ArrayLike = 0.0
) -> Params:
    """The parameters minimizing the (weighted, penalised) MSE exactly: ``lstsq`` on ``[X 1]`` (or ``X``).

    What :func:`fit` converges to, computed by an SVD-based solver in one step, to
    check a gradient-descent fit against. The columns are centred (on the weighted
    means, with weights) and scaled before the solve, and the answer mapped back,
    so features with large offsets, such as ``x ≈ 1e4``, are solved accurately
    even in float32. Traceable: it works under ``jax.jit`` (the values of
    ``sample_weight`` and ``l2`` are checked only when they are not traced).

    The objective, with weights ``s`` (all 1 by default)::

        sum(s * (x @ w + b - y)**2) / sum(s)  +  l2 * sum(w**2)

    the weighted *mean* of squares plus the ridge penalty on the weights, never on
    the bias. scikit-learn's ``Ridge(alpha=)`` penalises the weighted *sum* of
    squares, so ``Ridge(alpha=a)`` is ``l2 = a / sum(s)`` (``a / n`` unweighted),
    and ``LinearRegression().fit(x, y, sample_weight=s)`` is ``sample_weight=s``.

    Args:
      x: features, ``(n,)`` (then ``w`` is a scalar) or ``(n, d)``.
      y: targets, ``(n,)``.
      bias: fit an intercept (``b``) as well.
      sample_weight: ``None`` or ``(n,)`` non-negative weights, not all zero.
        Scaling them all by one factor changes nothing.
      l2: the ridge penalty, ``>= 0``.

    Returns:
      :class:`Params` in the data's floating dtype; ``b`` is ``None`` without a bias.
      When the design is rank-deficient (and ``l2 = 0``), the minimum-norm solution
      in the centred, scaled coordinates.

    Examples:
      >>> import jaxlr
      >>> x, y = jaxlr.lesson_data()
      >>> p = jaxlr.least_squares(x, y + 1.0)
      >>> print(f"w = {p.w:.4f}, b = {p.b:.4f}")
      w = 2.0000, b = 1.0000
      >>> p = jaxlr.least_squares(x, y, bias=False, l2=1.0)  # (sum x y / n) / (sum x² / n + 1)
      >>> print(f"w = {p.w:.4f}")
      w = 1.7647
    """
    problem = check_problem("least_squares", x, y, bias=bias, sample_weight=sample_weight, l2=l2)
    if problem.weight is None and problem.l2 is None:
        w, b = _lstsq(problem.x, problem.y, bias=bias)
    else:
        w, b = _lstsq_general(problem.x, problem.y, problem.weight, problem.l2, bias=bias)
    return Params(w[0] if problem.one_feature else w, b if bias else None)
