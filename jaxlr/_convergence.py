"""When ``jaxlr fit`` may say "converged": every coefficient agrees with float64 least squares.

The loss converges long before the weights on an ill-conditioned design, so the standardized coefficients
(``θ = w·scale``, the centred intercept ``c = b + mean @ w``) are compared with a float64 SVD solution: converged
when it is unique and ``max|Δ(θ, c)| / S ≤ min(max(√eps, floor), 1e-3)``, ``floor`` being rounding's reach.
"""

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from jaxlr._curvature import MOMENTUM
from jaxlr._least_squares import centre

LOOSEST_TOLERANCE = 1e-3  # the largest relative coefficient error still reported as converged
_EPS64 = float(np.finfo(np.float64).eps)


class Reference(NamedTuple):
    """The float64 least-squares solution, and what judging a fit against it needs."""

    weights: np.ndarray  # (d,) original units
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
    """Whether the fitted coefficients are the least-squares answer, and if not, why."""

    converged: bool
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
    c = centre(x, y, rows, bias=intercept, xp=np)
    shift, scale, y_mean, design, target = c.x_mean, c.scale, float(c.y_mean), c.a, c.target
    spread = np.sqrt(np.mean(rows[:, None] * c.x**2, axis=0))
    # constant: the same rule as jaxlr.standardize, a spread at the level of float64 noise in the values
    degenerate = [j for j in range(d) if not spread[j] > 1e-12 * max(1.0, abs(shift[j]))]
    penalised = bool(np.any(np.asarray(l2) > 0))
    if penalised:  # n·l2·|w|² = Σ_j (√(n·l2)/scale_j · θ_j)²: one extra row per weight, target 0
        design = np.concatenate([design, np.diag(np.sqrt(n * l2) / scale)])
        target = np.concatenate([target, np.zeros(d)])
    u, s, vt = np.linalg.svd(design, full_matrices=False)
    keep = s > s.max(initial=0.0) * max(n, d) * _EPS64  # numpy's lstsq cut-off
    theta = vt[keep].T @ ((u[:, keep].T @ target) / s[keep])
    weights = theta / scale
    bias = y_mean - float(shift @ weights) if intercept else None
    # eigenvalues of AᵀA/n (half the Hessian): s²/n, and 1 for the intercept, orthogonal to centred columns
    eigenvalues = np.append(s**2 / n, 1.0) if intercept else s**2 / n
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
    y_spread = float(np.sqrt(np.mean(c.target**2)))
    return Reference(
        weights=weights,
        bias=bias,
        shift=shift,
        scale=scale,
        coefficient_scale=max(float(np.max(np.abs(theta), initial=0.0)), y_spread) or abs(y_mean) or 1.0,
        target_rms=float(np.sqrt(np.mean(rows * y**2))),
        residual_rms=float(np.sqrt(np.mean(rows * (y - x @ weights - (bias or 0.0)) ** 2))),
        kappa=kappa,
        lipschitz=2.0 * float(eigenvalues.max()),
        not_unique=None if penalised else not_unique,  # the penalty makes the minimum unique
        collinear=collinear,
    )


def precision_floor(
    reference: Reference, dtype: np.dtype | str, trained: tuple[np.ndarray, np.ndarray, float, float] | None = None
) -> float:
    """How far rounding alone may move the standardized coefficients, over ``S``: the larger of the bounds for gradient
    descent in ``dtype`` on ``trained`` (``(shift, scale, κ, L)``; ``None``: standardized) and the float64 SVD."""

    def bound(eps: float, shift: np.ndarray, scale: np.ndarray, kappa: float, lipschitz: float, svd: bool) -> float:
        if not (math.isfinite(kappa) and math.isfinite(lipschitz) and lipschitz > 0.0):
            return math.inf
        parameters = reference.weights * scale
        carry = float(np.max(reference.scale / scale, initial=0.0))
        if reference.bias is not None:
            parameters = np.append(parameters, reference.bias + float(shift @ reference.weights))
            carry = max(carry, math.sqrt(1.0 + float(np.sum(((reference.shift - shift) / scale) ** 2))))
        norm, sigma = float(np.linalg.norm(parameters)), math.sqrt(lipschitz / 2.0)
        # |δp| of the solution p of AᵀA p = Aᵀy, carried to (θ, c) by the largest row norm of the map from p
        if svd:
            spread = math.sqrt(kappa) * (reference.target_rms / sigma + norm) + kappa * reference.residual_rms / sigma
        else:
            spread = kappa * (norm + reference.target_rms / sigma)
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
    """Whether ``weights``/``bias`` are the least-squares answer, and if not, why and what to do."""
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
        if not fixes:
            fixes.append(
                f"even in float64 the nearly collinear features {', '.join(map(repr, reference.collinear))} are "
                "not determined by this data: drop or combine them"
            )
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
        message = f"{head}; too few steps for {optimizer} (condition number {kappa:.3g}): try more --steps" + (
            " or a smaller --lr" if optimizer == "adam" else ""
        )
    if helps:
        message += f"; or {unscaled_hint}"
    return Verdict(False, "too_few_steps", tol, error, more, message)
