"""Least squares (the answer gradient descent should reach), its statistics as statsmodels reports them, and the
rule for ``jaxlr fit``'s "converged". The columns are centred and scaled before any SVD, never squared into ``XᵀX``:
``lstsq`` on ``[X 1]`` loses the answer for large offsets (κ grows like ``offset⁴``)."""

import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import betainc, ndtri
from jax.typing import ArrayLike

from jaxlr import _validate
from jaxlr._curvature import MOMENTUM
from jaxlr._model import PRECISION
from jaxlr._types import Params

LOOSEST_TOLERANCE = 1e-3  # the largest relative coefficient error still reported as converged
_EPS64 = float(np.finfo(np.float64).eps)


class Centred(NamedTuple):
    x_mean: Any  # (d,) the (weighted) column means; zeros without an intercept
    y_mean: Any  # () the (weighted) mean of y; zero without an intercept
    x: Any  # (n, d) x - x_mean
    y: Any  # (n,) y - y_mean
    scale: Any  # (d,) each centred column's (weighted) root mean square, 1 where it is 0
    total_weight: Any  # () sum of the weights (n without weights)
    a: Any  # (n, d) sqrt(s) · x / scale, the rows of the weighted problem; given l2, d ridge rows below
    target: Any  # (n,) sqrt(s) · y; given l2, d zeros below


def centre(x: Any, y: Any, weight: Any, *, bias: bool, l2: Any = None, xp: Any = jnp) -> Centred:
    """``x`` and ``y`` centred (when ``bias``) on their means ``sum(s x) / sum(s)``, and scaled; ``xp``: jnp or np."""
    s = xp.ones_like(y) if weight is None else weight
    total = xp.asarray(x.shape[0], x.dtype) if weight is None else xp.sum(weight)
    x_mean = xp.sum(s[:, None] * x, axis=0) / total if bias else xp.zeros(x.shape[1:], x.dtype)
    y_mean = xp.sum(s * y) / total if bias else xp.zeros((), y.dtype)
    xc, yc = x - x_mean[None, :], y - y_mean
    scale = xp.sqrt(xp.sum(s[:, None] * xc**2, axis=0) / total)
    scale = xp.where(scale > 0, scale, 1.0)
    root = xp.sqrt(s)
    a, target = root[:, None] * (xc / scale[None, :]), root * yc
    if l2 is not None:  # with w = v / scale, l2·sum(s)·|w|² is d extra rows sqrt(l2·sum(s)) / scale_j · e_j, target 0
        a = xp.concatenate([a, xp.diag(xp.sqrt(l2 * total) / scale)])
        target = xp.concatenate([target, xp.zeros(x.shape[1], target.dtype)])
    return Centred(x_mean, y_mean, xc, yc, scale, total, a, target)


@functools.partial(jax.jit, static_argnames="bias")
def _lstsq(x: jax.Array, y: jax.Array, weight: jax.Array | None, l2: jax.Array | None, *, bias: bool):
    """``(w, b)`` by the centred problem; ``l2`` adds ``l2 * |w|²`` to the weighted mean of squares."""
    c = centre(x, y, weight, bias=bias, l2=l2)
    solution, _, _, _ = jnp.linalg.lstsq(c.a, c.target)
    w = solution / c.scale
    return w, c.y_mean - jnp.dot(c.x_mean, w, precision=PRECISION)


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
    params, x, y = _validate.checked_data(fn, params, x, y)
    weight = _validate.checked_sample_weight(fn, sample_weight, x.shape[0], x.dtype)
    penalty = _validate.check_l2(fn, l2, x.dtype)
    return params, (x[:, None] if x.ndim == 1 else x), y, weight, penalty, x.ndim == 1


def least_squares(
    x: ArrayLike, y: ArrayLike, *, bias: bool = True, sample_weight: ArrayLike | None = None, l2: ArrayLike = 0.0
) -> Params:
    """The :class:`Params` (data's dtype) minimizing ``sum(s * (x @ w + b - y)**2) / sum(s) + l2 * sum(w**2)``, by an
    SVD of the centred, scaled columns (minimum-norm in them if rank-deficient), accurate in float32. Traceable.

    Args:
      x: features, ``(n,)`` (then ``w`` is a scalar) or ``(n, d)``; ``y``: targets, ``(n,)``.
      sample_weight: ``None`` or ``(n,)`` non-negative weights, not all zero.
      l2: the ridge penalty on ``w`` (never on ``b``), ``>= 0``; scikit-learn's ``Ridge(alpha=a)`` is ``a / sum(s)``.

    Examples:
      >>> import jaxlr
      >>> p = jaxlr.least_squares([1.0, 2.0, 3.0], [3.0, 5.0, 7.0])
      >>> print(f"w = {p.w:.4f}, b = {p.b:.4f}")
      w = 2.0000, b = 1.0000
    """
    _, x, y, weight, ridge, is_1d = check_problem("least_squares", x, y, bias=bias, sample_weight=sample_weight, l2=l2)
    w, b = _lstsq(x, y, weight, ridge, bias=bias)
    return Params(w[0] if is_1d else w, b if bias else None)


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
    """scipy's ``t.ppf(1 - alpha/2, df)`` (NaN for ``df < 1``): 64 bisections in ``log t``, normal to Cauchy."""
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
        w, b = _lstsq(x, y, weight, l2, bias=intercept)
    else:
        w, b = jnp.reshape(params.w, (d,)), jnp.zeros((), x.dtype) if params.b is None else jnp.asarray(params.b)
    offset = b + jnp.dot(c.x_mean, w, precision=PRECISION) - c.y_mean  # x @ w + b - y, centred: no cancellation
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
    std_errors = sigma * norms if l2 is None else jnp.where(l2 > 0, jnp.nan, sigma * norms)  # no inference if penalised
    t_values = coef / std_errors
    critical = jnp.where(valid, t_two_sided_critical(0.05, df), jnp.nan)
    r2 = 1 - ssr / tss
    adj_r2 = jnp.where(valid, 1 - (nobs - intercept) / df * (1 - r2), jnp.nan)
    p_values = jnp.where(valid, t_two_sided_p(t_values, df), jnp.nan)
    conf_int = jnp.stack([coef - critical * std_errors, coef + critical * std_errors], axis=1)
    rmse = jnp.sqrt(ssr / c.total_weight)
    return RegressionStats(
        r2, adj_r2, rmse, sigma, std_errors, t_values, p_values, conf_int, coef, nobs, rank, df_resid
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
    """A :class:`RegressionStats` (data's dtype) as statsmodels' ``OLS``/``WLS`` on ``add_constant(x)`` reports it,
    accurate when ill-conditioned; ``NaN`` inference if ``l2 > 0`` or ``df_resid = 0``.

    Args:
      params: the :class:`Params` to describe (e.g. a gradient-descent fit); ``None``: :func:`least_squares`'s.
      intercept: the model has an intercept (``params.b``); without one R² is about zero (uncentred).
      x, y, sample_weight, l2: as in :func:`least_squares` (the weights are ``WLS``'s inverse variances).

    Examples:
      >>> import jaxlr
      >>> stats = jaxlr.regression_stats([1.0, 2.0, 3.0, 4.0, 5.0], [3.1, 4.9, 7.0, 9.1, 10.9])
      >>> print(f"R² = {stats.r2:.5f}, slope {stats.coef[0]:.3f} ± {stats.std_errors[0]:.4f}")
      R² = 0.99908, slope 1.980 ± 0.0346
    """
    checked, x, y, weight, penalty, _ = check_problem(
        "regression_stats", x, y, bias=intercept, sample_weight=sample_weight, l2=l2, params=params
    )
    return _regression_stats(x, y, weight, penalty, None if params is None else checked, intercept=intercept)


class Reference(NamedTuple):
    weights: np.ndarray  # (d,) the float64 least-squares weights, in the original units
    bias: float | None  # None without an intercept
    shift: np.ndarray  # (d,) column means (zeros without an intercept)
    scale: np.ndarray  # (d,) column std (rms without an intercept), 1 where it is 0
    coefficient_scale: float  # S = max(|θ*|, σ_y), σ_y the target's std (rms without an intercept)
    target_rms: float  # rms(y), uncentred
    residual_rms: float  # rms of y - x @ w* - b*
    kappa: float  # condition number of the standardized design's Hessian (inf if singular)
    lipschitz: float  # L of the standardized design
    not_unique: str | None  # why the answer is not unique, or None
    collinear: tuple[str, ...]  # the columns of the weakest direction (for messages)


class Verdict(NamedTuple):
    converged: bool  # whether the fitted coefficients are the least-squares answer
    reason: str | None  # None, "too_few_steps", "ill_conditioned" or "not_unique"
    tolerance: float
    max_error: float
    more_steps: int | None  # for "too_few_steps": the estimated number of further steps, if it can be estimated
    message: str | None  # why, and what to do (one sentence, no program prefix)


def least_squares_reference(
    x: np.ndarray, y: np.ndarray, names: Sequence[str], *, intercept: bool, sample_weight: Any = None, l2: Any = 0.0
) -> Reference:
    """The float64 (weighted, ridge) least squares of ``y ≈ x @ w (+ b)``; if not unique, the minimum-norm one."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    n, d = x.shape
    # row weights of mean 1: the weighted problem is the plain one on rows scaled by their square roots
    rows = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64) * n / np.sum(sample_weight)
    penalised = bool(np.any(np.asarray(l2) > 0))
    c = centre(x, y, rows, bias=intercept, l2=l2 if penalised else None, xp=np)
    shift, scale, y_mean = c.x_mean, c.scale, float(c.y_mean)
    spread = np.sqrt(np.mean(rows[:, None] * c.x**2, axis=0))
    degenerate = [j for j in range(d) if not spread[j] > 1e-12 * max(1.0, abs(shift[j]))]  # jaxlr.standardize's rule
    u, s, vt = np.linalg.svd(c.a, full_matrices=False)
    keep = s > s.max(initial=0.0) * max(n, d) * _EPS64  # numpy's lstsq cut-off
    theta = vt[keep].T @ ((u[:, keep].T @ c.target) / s[keep])
    weights = theta / scale
    bias = y_mean - float(shift @ weights) if intercept else None
    eigenvalues = np.append(s**2 / n, 1.0) if intercept else s**2 / n  # of AᵀA/n (half the Hessian); 1: intercept
    kappa = math.inf if int(np.sum(keep)) < d else float(eigenvalues.max() / eigenvalues.min())
    weakest = np.abs(vt[-1]) if vt.shape[0] == d else np.ones(d)
    collinear = tuple(names[int(j)] for j in np.flatnonzero(weakest >= 0.1 * weakest.max(initial=0.0)))
    not_unique = None
    if n < d + intercept:
        not_unique = (
            f"{n} data row{'s' * (n != 1)} for {d + intercept} parameters ({d} weight{'s' * (d != 1)}"
            f"{' and the bias' if intercept else ''}): many coefficient vectors fit equally well; give more rows "
            "or fewer features"
        )
    elif degenerate and intercept:
        not_unique = (
            f"feature {names[degenerate[0]]!r} is constant, so it duplicates the intercept: leave it out, or fit "
            "without a bias (--no-intercept)"
        )
    elif degenerate:
        not_unique = f"feature {names[degenerate[0]]!r} is all zeros, so its weight is arbitrary: leave it out"
    elif kappa * _EPS64 >= 1.0:  # singular, or so nearly that float64 rounding of the data decides the weights
        not_unique = (
            f"the features {', '.join(map(repr, collinear))} are linearly dependent (one is a combination of the "
            f"others{', up to a constant' if intercept else ''}, to within float64 rounding: condition number "
            f"{kappa:.3g}), so their weights are not determined: leave one out"
        )
    y_spread = float(np.sqrt(np.mean(c.target[:n] ** 2)))
    magnitude = max(float(np.max(np.abs(theta), initial=0.0)), y_spread) or abs(y_mean) or 1.0
    target_rms = float(np.sqrt(np.mean(rows * y**2)))
    residual_rms = float(np.sqrt(np.mean(rows * (y - x @ weights - (bias or 0.0)) ** 2)))
    lipschitz = 2.0 * float(eigenvalues.max())
    not_unique = None if penalised else not_unique  # the penalty makes the minimum unique
    return Reference(
        weights, bias, shift, scale, magnitude, target_rms, residual_rms, kappa, lipschitz, not_unique, collinear
    )


def precision_floor(reference: Reference, dtype: np.dtype | str, trained: Any = None) -> float:
    """How far rounding may move the coefficients, over ``S``: GD in ``dtype`` on ``trained`` or the float64 SVD."""

    def bound(eps: float, shift, scale, kappa, lipschitz, svd: bool) -> float:
        if not (math.isfinite(kappa) and math.isfinite(lipschitz) and lipschitz > 0.0):
            return math.inf
        parameters = reference.weights * scale
        carry = float(np.max(reference.scale / scale, initial=0.0))
        if reference.bias is not None:
            parameters = np.append(parameters, reference.bias + float(shift @ reference.weights))
            carry = max(carry, math.sqrt(1.0 + float(np.sum(((reference.shift - shift) / scale) ** 2))))
        norm, sigma = float(np.linalg.norm(parameters)), math.sqrt(lipschitz / 2.0)
        # |δp| of the solution p of AᵀA p = Aᵀy, carried to (θ, c) by the largest row norm of the map from p
        target, residual = reference.target_rms / sigma, reference.residual_rms / sigma
        spread = math.sqrt(kappa) * (target + norm) + kappa * residual if svd else kappa * (norm + target)
        return carry * eps * spread / reference.coefficient_scale

    standardized = (reference.shift, reference.scale, reference.kappa, reference.lipschitz)
    fit = bound(float(np.finfo(np.dtype(dtype)).eps), *(trained or standardized), svd=False)
    return max(fit, bound(_EPS64, *standardized, svd=True))


def judge(
    reference: Reference,
    weights: np.ndarray,
    bias: float | None,
    *,
    dtype: np.dtype,
    shift: np.ndarray,
    scale: np.ndarray,
    kappa: float,
    lipschitz: float,
    learning_rate: float,
    optimizer: str,
    steps: int,
) -> Verdict:
    """Whether ``max|Δ(θ = w·scale, c = b + mean @ w)| / S ≤ min(max(√eps, floor), 1e-3)``; if not, why and the fix."""
    dtype = np.dtype(dtype)
    delta = np.asarray(weights, np.float64) - reference.weights
    errors = np.abs(delta * reference.scale)
    if reference.bias is not None:  # the centred intercepts' difference
        errors = np.append(errors, abs((bias or 0.0) - reference.bias + float(reference.shift @ delta)))
    error = float(np.max(errors, initial=0.0)) / reference.coefficient_scale
    floor = precision_floor(reference, dtype, (shift, scale, kappa, lipschitz))
    tol = min(max(math.sqrt(float(np.finfo(dtype).eps)), floor), LOOSEST_TOLERANCE)
    if reference.not_unique is not None:
        return Verdict(False, "not_unique", tol, error, None, f"there is no unique answer: {reference.not_unique}")
    if error <= tol:
        return Verdict(True, None, tol, error, None, None)
    head = (
        f"gradient descent has not converged: its coefficients differ from least squares by {error:.3g} "
        f"(relative to their scale {reference.coefficient_scale:.4g}; tolerance {tol:.3g})"
    )
    standardized = bool(np.any(scale != 1.0) or np.any(shift != 0.0))
    unscaled_hint = (
        f"use --standardize, which centres and scales the features (condition number then {reference.kappa:.3g}) "
        "and reports the weights in the original units"
    )
    helps = not standardized and reference.kappa < kappa / 10
    if floor > LOOSEST_TOLERANCE:
        fixes = [unscaled_hint] if helps and precision_floor(reference, dtype) <= LOOSEST_TOLERANCE else []
        if dtype != np.float64 and precision_floor(reference, "float64") <= LOOSEST_TOLERANCE:
            fixes.append("use --dtype float64" + ("" if standardized else " with --standardize"))
        fixes = fixes or [
            f"even in float64 the nearly collinear features {', '.join(map(repr, reference.collinear))} are "
            "not determined by this data: drop or combine them"
        ]
        message = (
            f"{head}; the design is too ill-conditioned for {dtype.name} (condition number {kappa:.3g}): its "
            f"rounding alone may move the coefficients by up to {floor:.2g} of their scale, more than "
            f"{LOOSEST_TOLERANCE:g}, so more steps may not help: {'; or '.join(fixes)}"
        )
        return Verdict(False, "ill_conditioned", tol, error, None, message)
    rate = math.nan  # the factor by which the slowest error component (λ_min = L/κ) shrinks per step
    if learning_rate > 0.0 and lipschitz > 0.0 and math.isfinite(kappa * lipschitz):
        slowest, fastest = learning_rate * lipschitz / kappa, learning_rate * lipschitz
        rate = {
            "sgd": max(abs(1.0 - slowest), abs(1.0 - fastest)),
            # heavy ball with a fixed β: a slow mode decays like 1 - lr λ / (1 - β); none faster than √β
            "momentum": max(1.0 - slowest / (1.0 - MOMENTUM), math.sqrt(MOMENTUM)),
            # Polyak's optimal step and momentum for the quadratic: (√κ - 1)/(√κ + 1) per step
            "heavy-ball": (math.sqrt(kappa) - 1.0) / (math.sqrt(kappa) + 1.0),
        }.get(optimizer, math.nan)
    more = None
    if 0.0 < rate < 1.0:
        more = max(1, math.ceil(math.log(error / tol) / -math.log(rate)))
        total = steps + more
        count = f"{more} more (--steps {total})" if total < 10_000_000 else f"{more:.2g} more (--steps {total:.2g})"
        message = (
            f"{head}; too few steps: about {count} are needed at this rate (condition number {kappa:.3g}: "
            f"each step shrinks the error by a factor of about 1 - {1.0 - rate:.3g})"
        )
    else:
        adam = " or a smaller --lr" if optimizer == "adam" else ""
        message = f"{head}; too few steps for {optimizer} (condition number {kappa:.3g}): try more --steps{adam}"
    if helps:
        message += f"; or {unscaled_hint}"
    return Verdict(False, "too_few_steps", tol, error, more, message)
