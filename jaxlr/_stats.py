"""Regression statistics as statsmodels reports them: R², standard errors, t, p and confidence intervals.

Computed from an SVD of the centred, scaled design that :func:`jaxlr.least_squares` solves, never from
``XᵀX``, whose condition number is the square of the design's (large offsets, polynomial columns).
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import betainc, ndtri
from jax.typing import ArrayLike

from jaxlr._least_squares import _solve, centre, check_problem
from jaxlr._model import PRECISION
from jaxlr._types import Params


class RegressionStats(NamedTuple):
    """statsmodels' ``OLS``/``WLS`` results; ``k`` per-coefficient entries: the weights, then the intercept if any."""

    r2: jax.Array  # 1 - SSR/TSS, TSS about the (weighted) mean, or about zero without an intercept
    adj_r2: jax.Array  # 1 - (nobs - 1)/df_resid · (1 - R²) (nobs without an intercept)
    rmse: jax.Array  # sqrt(SSR / sum(s)), scikit-learn's root_mean_squared_error
    residual_std_error: jax.Array  # sqrt(SSR / df_resid), the estimate of σ
    std_errors: jax.Array  # (k,) standard errors of the coefficients (statsmodels' bse)
    t_values: jax.Array  # (k,) coef / std_errors
    p_values: jax.Array  # (k,) two-sided, from Student's t with df_resid degrees of freedom
    conf_int_95: jax.Array  # (k, 2) 95% confidence intervals, coef ± t₀.₉₇₅ · std_errors
    coef: jax.Array  # (k,) the coefficients described (statsmodels' params)
    nobs: jax.Array  # the number of rows (zero-weight rows count, as in statsmodels' WLS)
    df_model: jax.Array  # the rank of the design less the intercept
    df_resid: jax.Array  # nobs less the rank of the design with its intercept


def t_two_sided_p(t: jax.Array, df: jax.Array) -> jax.Array:
    """``P(|T| > |t|)`` for Student's t: ``I_{df/(df+t²)}(df/2, 1/2)``, the small tail without cancellation."""
    return betainc(df / 2, jnp.asarray(0.5, t.dtype), df / (df + t * t))


def t_two_sided_critical(alpha: float, df: jax.Array) -> jax.Array:
    """scipy's ``t.ppf(1 - alpha/2, df)`` (``NaN`` for ``df < 1``), which jax.scipy lacks, by bisection.

    64 halvings in ``log t`` between the normal and the Cauchy (``df = 1``) quantiles reach float64 rounding.
    """
    lo = jnp.broadcast_to(ndtri(jnp.asarray(1 - alpha / 2, df.dtype)), df.shape)
    hi = jnp.broadcast_to(1 / jnp.tan(jnp.asarray(jnp.pi * alpha / 2, df.dtype)), df.shape)

    def halve(_, bracket):
        lo, hi = bracket
        mid = jnp.sqrt(lo * hi)
        above = t_two_sided_p(mid, df) > alpha  # the tail beyond mid is too heavy: the quantile is above mid
        return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

    lo, hi = jax.lax.fori_loop(0, 64, halve, (lo, hi))
    return jnp.where(df >= 1, jnp.sqrt(lo * hi), jnp.nan)


@functools.partial(jax.jit, static_argnames="intercept")
def _regression_stats(x, y, weight, l2, params: Params | None, *, intercept: bool) -> RegressionStats:
    n, d = x.shape
    c = centre(x, y, weight, bias=intercept)
    if params is None:
        w, b = _solve(c, l2)
    else:
        w, b = jnp.reshape(params.w, (d,)), jnp.zeros((), x.dtype) if params.b is None else jnp.asarray(params.b)
    # The residual from the centred data: x @ w + b - y without the offsets' cancellation.
    offset = b + jnp.dot(c.x_mean, w, precision=PRECISION) - c.y_mean
    residual = c.y - jnp.matmul(c.x, w, precision=PRECISION) - offset
    s = jnp.ones_like(y) if weight is None else weight
    ssr, tss = jnp.sum(s * residual * residual), jnp.sum(s * c.y * c.y)

    _, sv, vt = jnp.linalg.svd(c.a, full_matrices=False)
    keep = sv > sv[0] * jnp.finfo(x.dtype).eps * max(n, d)  # numpy.linalg.matrix_rank's tolerance
    rank = jnp.sum(keep).astype(x.dtype)
    # (AᵀA)⁺ = M Mᵀ with M = V Σ⁺: the slopes' covariance is σ² diag(1/scale) M Mᵀ diag(1/scale).
    m = vt.T * jnp.where(keep, 1 / jnp.where(keep, sv, 1), 0)[None, :]
    coef, norms = w, jnp.sqrt(jnp.sum(m * m, axis=1)) / c.scale
    if intercept:
        through = jnp.matmul(c.x_mean / c.scale, m, precision=PRECISION)
        coef, norms = jnp.append(w, b), jnp.append(norms, jnp.sqrt(1 / c.total_weight + jnp.sum(through * through)))
    nobs = jnp.asarray(n, x.dtype)
    df_resid = nobs - rank - intercept
    valid, df = df_resid >= 1, jnp.maximum(df_resid, 1)
    sigma = jnp.where(valid, jnp.sqrt(ssr / df), jnp.nan)
    std_errors = sigma * norms
    if l2 is not None:  # no classical inference for a penalised fit (see regression_stats)
        std_errors = jnp.where(l2 > 0, jnp.nan, std_errors)
    t_values = coef / std_errors
    critical = jnp.where(valid, t_two_sided_critical(0.05, df), jnp.nan)
    r2 = 1 - ssr / tss
    return RegressionStats(
        r2=r2,
        adj_r2=jnp.where(valid, 1 - (nobs - intercept) / df * (1 - r2), jnp.nan),
        rmse=jnp.sqrt(ssr / c.total_weight),
        residual_std_error=sigma,
        std_errors=std_errors,
        t_values=t_values,
        p_values=jnp.where(valid, t_two_sided_p(t_values, df), jnp.nan),
        conf_int_95=jnp.stack([coef - critical * std_errors, coef + critical * std_errors], axis=1),
        coef=coef,
        nobs=nobs,
        df_model=rank,
        df_resid=df_resid,
    )


def regression_stats(
    x: ArrayLike,
    y: ArrayLike,
    params: Params | None = None,
    *,
    intercept: bool = True,
    sample_weight: ArrayLike | None = None,
    l2: ArrayLike = 0.0,
) -> RegressionStats:
    """R², standard errors, t-statistics, p-values and confidence intervals of a linear fit. Traceable.

    The numbers of statsmodels' ``OLS(y, add_constant(x)).fit()`` (``WLS(..., weights=sample_weight)``),
    accurate on ill-conditioned data; a rank-deficient design gets the pseudo-inverse, its rank in
    ``df_model``/``df_resid``. With ``l2 > 0`` or ``df_resid = 0``, the inference is ``NaN``.

    Args:
      x: features, ``(n,)`` or ``(n, d)``.
      y: targets, ``(n,)``.
      params: the :class:`Params` to describe (e.g. a gradient-descent fit); ``None``: :func:`least_squares`'s.
      intercept: the model has an intercept (``params.b``); without one R² is about zero (uncentred).
      sample_weight: ``None`` or ``(n,)`` non-negative weights (``WLS``'s inverse variances).
      l2: a ridge penalty, as in :func:`least_squares`.

    Returns:
      A :class:`RegressionStats` of arrays in the data's floating dtype.

    Examples:
      >>> import numpy as np
      >>> import jaxlr
      >>> x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
      >>> stats = jaxlr.regression_stats(x, 2 * x + 1 + np.array([0.1, -0.1, 0.0, 0.1, -0.1]))
      >>> print(f"R² = {stats.r2:.5f}, slope {stats.coef[0]:.3f} ± {stats.std_errors[0]:.4f}")
      R² = 0.99908, slope 1.980 ± 0.0346
    """
    checked, x, y, weight, penalty, _ = check_problem(
        "regression_stats", x, y, bias=intercept, sample_weight=sample_weight, l2=l2, params=params
    )
    return _regression_stats(x, y, weight, penalty, None if params is None else checked, intercept=intercept)
