"""Regression statistics as statsmodels reports them: R², standard errors, t, p and confidence intervals.

Everything is computed from the centred, scaled design that :func:`jaxlr.least_squares`
solves, never from ``XᵀX``: with ``A = sqrt(s) · (X - mean) / scale = U Σ Vᵀ``, the
classical covariance of the slopes is ``σ² · diag(1/scale) V Σ⁻² Vᵀ diag(1/scale)``
and the intercept's variance is ``σ² (1/sum(s) + |Σ⁻¹ Vᵀ (mean / scale)|²)``. Both are
sums of squares, without cancellation, so they keep their accuracy when the raw
design ``[X 1]`` is ill-conditioned (features with large offsets, polynomial
columns), where forming ``XᵀX`` would square its condition number.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import betainc, ndtri
from jax.typing import ArrayLike

from jaxlr._least_squares import _solve, centre, check_problem, scaled_design
from jaxlr._model import PRECISION
from jaxlr._types import Params

# Geometric bisection steps for the t quantile: the bracket's log-width halves each step,
# from at most log(hi/lo) ≈ 40 (alpha = 1e-15) to below float64 rounding well within 64 steps.
_QUANTILE_STEPS = 64


class RegressionStats(NamedTuple):
    """What :func:`regression_stats` returns: statsmodels' ``OLS``/``WLS`` results, as arrays.

    Per-coefficient fields have ``k`` entries, the ``d`` weights in the order of the
    columns of ``x`` and then the intercept (when there is one); statsmodels'
    ``add_constant`` puts the constant first instead.

    Attributes:
      r2: R², ``1 - SSR/TSS`` (statsmodels' ``rsquared``): TSS about the (weighted)
        mean with an intercept, about zero without one, as statsmodels does.
      adj_r2: adjusted R², ``1 - (nobs - 1)/df_resid · (1 - R²)`` (``nobs`` without an
        intercept; statsmodels' ``rsquared_adj``).
      rmse: root of the (weighted) mean squared residual, ``sqrt(SSR / sum(s))``,
        scikit-learn's ``root_mean_squared_error``.
      residual_std_error: ``sqrt(SSR / df_resid)``, the estimate of σ
        (statsmodels' ``sqrt(scale)``).
      std_errors: ``(k,)`` standard errors of the coefficients (``bse``).
      t_values: ``(k,)`` ``coef / std_errors`` (``tvalues``).
      p_values: ``(k,)`` two-sided p-values from Student's t with ``df_resid``
        degrees of freedom (``pvalues``).
      conf_int_95: ``(k, 2)`` 95% confidence intervals, ``coef ± t₀.₉₇₅ · std_errors``
        (``conf_int()``).
      coef: ``(k,)`` the coefficients described (``params``).
      nobs: the number of rows (zero-weight rows count, as in statsmodels' WLS).
      df_model: the rank of the design less the intercept (``df_model``).
      df_resid: ``nobs`` less the rank of the design with its intercept (``df_resid``).
    """

    r2: jax.Array
    adj_r2: jax.Array
    rmse: jax.Array
    residual_std_error: jax.Array
    std_errors: jax.Array
    t_values: jax.Array
    p_values: jax.Array
    conf_int_95: jax.Array
    coef: jax.Array
    nobs: jax.Array
    df_model: jax.Array
    df_resid: jax.Array


def t_two_sided_p(t: jax.Array, df: jax.Array) -> jax.Array:
    """``P(|T| > |t|)`` for Student's t with ``df`` degrees of freedom: ``I_{df/(df+t²)}(df/2, 1/2)``.

    The regularized incomplete beta function gives the small tail directly (no
    ``1 - cdf`` cancellation), so tiny p-values keep their relative accuracy.
    """
    return betainc(df / 2, jnp.asarray(0.5, t.dtype), df / (df + t * t))


def t_two_sided_critical(alpha: float, df: jax.Array) -> jax.Array:
    """The ``t > 0`` with ``P(|T| > t) = alpha`` (``scipy.stats.t.ppf(1 - alpha/2, df)``), for ``df >= 1``.

    jax.scipy has no inverse incomplete beta function or ``t.ppf``, so this solves
    :func:`t_two_sided_p` by bisection in ``log t``, traceable in a ``lax.fori_loop``.
    The bracket: the normal quantile (t's tails are heavier, so its quantile is
    larger) and the Cauchy quantile ``1/tan(π alpha/2)`` (t with ``df = 1``, the
    heaviest tails of any ``df >= 1``). ``NaN`` for ``df < 1``.
    """
    dtype = df.dtype
    lo = jnp.broadcast_to(ndtri(jnp.asarray(1 - alpha / 2, dtype)), df.shape)
    hi = jnp.broadcast_to(1 / jnp.tan(jnp.asarray(jnp.pi * alpha / 2, dtype)), df.shape)

    def halve(_, bracket):
        lo, hi = bracket
        mid = jnp.sqrt(lo * hi)
        above = t_two_sided_p(mid, df) > alpha  # the tail beyond mid is too heavy: the quantile is above mid
        return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

    lo, hi = jax.lax.fori_loop(0, _QUANTILE_STEPS, halve, (lo, hi))
    return jnp.where(df >= 1, jnp.sqrt(lo * hi), jnp.nan)


@functools.partial(jax.jit, static_argnames=("intercept", "given"))
def _regression_stats(
    x: jax.Array,
    y: jax.Array,
    weight: jax.Array | None,
    l2: jax.Array | None,
    params: Params,
    *,
    intercept: bool,
    given: bool,
) -> RegressionStats:
    n, d = x.shape
    dtype = x.dtype
    c = centre(x, y, weight, bias=intercept)
    if given:
        w = jnp.reshape(params.w, (d,))
        b = jnp.zeros((), dtype) if params.b is None else jnp.asarray(params.b)
    else:
        w, b = _solve(c, l2)
    # The residual from the centred data: x @ w + b - y without the offsets' cancellation.
    offset = b + jnp.dot(c.x_mean, w, precision=PRECISION) - c.y_mean
    residual = c.y - jnp.matmul(c.x, w, precision=PRECISION) - offset
    s = jnp.ones_like(y) if weight is None else weight
    ssr = jnp.sum(s * residual * residual)
    tss = jnp.sum(s * c.y * c.y)  # about the weighted mean, or about 0 without an intercept

    a, _ = scaled_design(c)
    _, sv, vt = jnp.linalg.svd(a, full_matrices=False)
    cutoff = sv[0] * jnp.finfo(dtype).eps * max(n, d)  # numpy.linalg.matrix_rank's tolerance
    keep = sv > cutoff
    rank = jnp.sum(keep).astype(dtype)
    # (AᵀA)⁺ = M Mᵀ with M = V Σ⁺: the slopes' covariance is σ² diag(1/scale) M Mᵀ diag(1/scale).
    m = vt.T * jnp.where(keep, 1 / jnp.where(keep, sv, 1), 0)[None, :]
    slope_norms = jnp.sqrt(jnp.sum(m * m, axis=1)) / c.scale
    nobs = jnp.asarray(n, dtype)
    df_resid = nobs - rank - intercept
    valid = df_resid >= 1
    sigma = jnp.where(valid, jnp.sqrt(ssr / jnp.maximum(df_resid, 1)), jnp.nan)
    if intercept:
        through = jnp.matmul(c.x_mean / c.scale, m, precision=PRECISION)
        intercept_norm = jnp.sqrt(1 / c.total_weight + jnp.sum(through * through))
        coef = jnp.append(w, b)
        norms = jnp.append(slope_norms, intercept_norm)
    else:
        coef, norms = w, slope_norms
    std_errors = sigma * norms
    if l2 is not None:  # no classical inference for a penalised fit (see regression_stats)
        std_errors = jnp.where(l2 > 0, jnp.nan, std_errors)
    t_values = coef / std_errors
    p_values = jnp.where(valid, t_two_sided_p(t_values, jnp.maximum(df_resid, 1)), jnp.nan)
    critical = t_two_sided_critical(0.05, jnp.maximum(df_resid, 1))
    critical = jnp.where(valid, critical, jnp.nan)
    conf_int = jnp.stack([coef - critical * std_errors, coef + critical * std_errors], axis=1)
    r2 = 1 - ssr / tss
    adj_r2 = jnp.where(valid, 1 - (nobs - intercept) / jnp.maximum(df_resid, 1) * (1 - r2), jnp.nan)
    return RegressionStats(
        r2=r2,
        adj_r2=adj_r2,
        rmse=jnp.sqrt(ssr / c.total_weight),
        residual_std_error=sigma,
        std_errors=std_errors,
        t_values=t_values,
        p_values=p_values,
        conf_int_95=conf_int,
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
    """R², standard errors, t-statistics, p-values and confidence intervals of a linear fit.

    The numbers statsmodels' ``OLS(y, add_constant(x)).fit()`` (or ``WLS(...,
    weights=sample_weight)``) reports, computed in JAX from the centred, scaled
    design, so they stay accurate on ill-conditioned data. Traceable: it works
    under ``jax.jit`` and ``jax.vmap`` (the values of ``sample_weight`` and ``l2``
    are checked only when they are not traced).

    Args:
      x: features, ``(n,)`` or ``(n, d)``.
      y: targets, ``(n,)``.
      params: the coefficients to describe, a :class:`Params`; ``None`` (default)
        means the (weighted, penalised) least-squares solution,
        :func:`least_squares` with the same arguments. Given ``params`` (e.g. a
        gradient-descent fit), the residuals, R², RMSE and σ are those of
        ``params``, and the covariance is the classical one below; at the
        least-squares solution they are statsmodels' numbers.
      intercept: the model has an intercept (``params.b``). Without one, R² is
        about zero (statsmodels' uncentred R²).
      sample_weight: ``None`` or ``(n,)`` non-negative weights (statsmodels'
        ``WLS(weights=)``: inverse variances, up to a common factor).
      l2: a ridge penalty, with :func:`least_squares`'s convention:
        ``sum(s r²)/sum(s) + l2 · |w|²`` (scikit-learn's ``Ridge(alpha=a)`` is
        ``l2 = a / sum(s)``); the intercept is not penalised.

    Returns:
      A :class:`RegressionStats` of arrays in the data's floating dtype. The
      covariance is the classical ``σ² (Xᵀ S X)⁻¹`` of the design with its intercept
      column, ``S = diag(sample_weight)``, ``σ² = sum(s r²) / df_resid``;
      ``df_resid = n - rank``. A rank-deficient design gets the pseudo-inverse (as
      statsmodels' default ``pinv``) and its rank in ``df_model``/``df_resid``.

      With ``l2 > 0`` the coefficients are the ridge solution and R², adjusted R²,
      RMSE and the residual standard error are computed from its residuals (the
      last two with the nominal ``df_resid``, which ignores the shrinkage); the
      standard errors, t, p-values and intervals are ``NaN``: the classical ones
      assume an unbiased estimator, and ridge's are not standard (statsmodels'
      ``fit_regularized`` reports none either).

      With as many coefficients as rows (``df_resid = 0``) σ is undefined: the
      residual standard error, adjusted R², standard errors, t, p-values and
      intervals are ``NaN``.

      p-values and quantiles come from ``jax.scipy.special.betainc``: about 1e-12
      relative to scipy for ``df_resid`` up to 1e4, 1e-8 up to 1e6.

    Raises:
      TypeError, ValueError: for inputs that cannot be fitted, as :func:`fit`.

    Examples:
      >>> import numpy as np
      >>> import jaxlr
      >>> x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
      >>> stats = jaxlr.regression_stats(x, 2 * x + 1 + np.array([0.1, -0.1, 0.0, 0.1, -0.1]))
      >>> print(f"R² = {stats.r2:.5f}, slope {stats.coef[0]:.3f} ± {stats.std_errors[0]:.4f}")
      R² = 0.99908, slope 1.980 ± 0.0346
      >>> print(f"p = {stats.p_values[0]:.2g}; 95% CI {stats.conf_int_95[0, 0]:.3f} to {stats.conf_int_95[0, 1]:.3f}")
      p = 1.2e-05; 95% CI 1.870 to 2.090
    """
    problem = check_problem("regression_stats", x, y, bias=intercept, sample_weight=sample_weight, l2=l2, params=params)
    given = params is not None
    p = problem.params if given else Params(jnp.zeros((problem.x.shape[1],), problem.x.dtype), None)
    if not intercept:
        p = Params(p.w, None)
    return _regression_stats(problem.x, problem.y, problem.weight, problem.l2, p, intercept=intercept, given=given)
