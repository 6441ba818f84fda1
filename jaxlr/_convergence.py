"""When ``jaxlr fit`` may say "converged": every coefficient agrees with float64 least squares.

On an ill-conditioned design the loss converges long before the weights, so the coefficients
themselves are compared with a float64 reference, solved on the host by an SVD of the columns
centred (with an intercept) and scaled to unit standard deviation (unit rms without one). With
those means ``m`` and scales ``s``, a model ``x @ w + b`` has standardized weights ``θ = w·s`` and
centred intercept ``c = b + m @ w``, comparable whatever the units:

    max_error = max(|θ - θ*|_∞, |c - c*|) / S,   S = max(|θ*|_∞, σ_y),
    tolerance = min(max(√eps, floor), 1e-3),

``σ_y`` being the target's std (rms without an intercept). ``√eps`` is half the training dtype's
digits. Gradient descent solves the normal equations ``AᵀA p = Aᵀy`` for the design ``A`` it ran on
with a gradient rounded at ``eps``, which leaves ``|δp| ≤ eps·κ·(|p*| + rms(y)/σ)`` (``κ`` of
``AᵀA``, ``σ`` the largest singular value of ``A/√n``); ``floor`` is that bound carried to the
standardized coefficients over ``S`` (or the reference's own float64 perturbation bound, if larger).
It is an upper bound: on 46 random polynomial, offset, badly scaled and collinear designs, float32
gradient descent stalled 4 to 40,000 times below it.

Converged when the answer is unique and ``max_error <= tolerance``. Otherwise the reason is
``"not_unique"`` (fewer rows than parameters, a constant or all-zero column, or columns dependent to
within float64 rounding, ``κ_std ≥ 1/eps64``), ``"ill_conditioned"`` (``floor > 1e-3``: more steps may
not help) or ``"too_few_steps"``: about ``ln(max_error / tolerance) / -ln ρ`` more, ``ρ`` being the
factor by which a step shrinks the slowest error component.
"""

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from jaxlr._lr import MOMENTUM

LOOSEST_TOLERANCE = 1e-3  # the largest relative coefficient error still reported as converged
_EPS64 = float(np.finfo(np.float64).eps)


class Reference(NamedTuple):
    """The float64 least-squares solution, in original units and in standardized coefficients."""

    weights: np.ndarray  # (d,) original units
    bias: float | None  # None without an intercept
    theta: np.ndarray  # (d,) standardized weights θ* = w* · scale
    centre: float  # c* = mean(y) with an intercept, 0 without
    shift: np.ndarray  # (d,) column means (zeros without an intercept)
    scale: np.ndarray  # (d,) column std (rms without an intercept), 1 where it is 0
    coefficient_scale: float  # S = max(|θ*|, σ_y)
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
    x: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    *,
    intercept: bool,
    sample_weight: np.ndarray | None = None,
    l2: float | np.ndarray = 0.0,
) -> Reference:
    """The float64 least-squares solution of ``y ≈ x @ w (+ b)``, solved on centred, scaled columns.

    Args:
      x: ``(n, d)`` features in their original units.
      y: ``(n,)`` target.
      names: the ``d`` feature names, for messages.
      intercept: whether the model has a bias.
      sample_weight: ``(n,)`` non-negative weights (the loss ``Σ sᵢ rᵢ² / Σ sᵢ``), or ``None``.
      l2: the ridge penalty ``l2·|w|²`` added to that loss (not on the bias); per weight, an array.

    Returns:
      A :class:`Reference`; without a unique answer, the minimum-norm solution, ``not_unique`` saying why.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    n, d = x.shape
    # row weights of mean 1: the weighted problem is the plain one on rows scaled by their square roots
    rows = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64) * n / np.sum(sample_weight)
    y_mean = float(np.mean(rows * y))
    shift = np.mean(rows[:, None] * x, axis=0) if intercept else np.zeros(d)
    spread = np.sqrt(np.mean(rows[:, None] * (x - shift) ** 2, axis=0))
    centred = y - y_mean if intercept else y
    y_spread = float(np.sqrt(np.mean(rows * centred**2)))
    # constant: the same rule as jaxlr.standardize, a spread at the level of float64 noise in the values
    degenerate = [j for j in range(d) if not spread[j] > 1e-12 * max(1.0, abs(shift[j]))]
    scale = np.where(spread > 0, spread, 1.0)
    root = np.sqrt(rows)
    design, target = root[:, None] * (x - shift) / scale, root * centred
    penalised = bool(np.any(np.asarray(l2) > 0))
    if penalised:  # n·l2·|w|² = Σ_j (√(n·l2)/scale_j · θ_j)²: one extra row per weight, target 0
        design = np.concatenate([design, np.diag(np.sqrt(n * l2) / scale)])
        target = np.concatenate([target, np.zeros(d)])
    u, s, vt = np.linalg.svd(design, full_matrices=False)
    keep = s > (s[0] if s.size else 0.0) * max(n, d) * _EPS64  # numpy's lstsq cut-off
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
    if penalised:
        not_unique = None  # the penalty makes the minimum unique
    coefficient_scale = max(float(np.max(np.abs(theta), initial=0.0)), y_spread) or abs(y_mean) or 1.0
    residual = root * (y - x @ weights - (bias or 0.0))
    return Reference(
        weights=weights,
        bias=bias,
        theta=theta,
        centre=y_mean if intercept else 0.0,
        shift=shift,
        scale=scale,
        coefficient_scale=coefficient_scale,
        target_rms=float(np.sqrt(np.mean(rows * y**2))),
        residual_rms=float(np.sqrt(np.mean(residual**2))),
        kappa=kappa,
        lipschitz=2.0 * float(eigenvalues.max()),
        not_unique=not_unique,
        collinear=collinear,
    )


def coefficient_error(reference: Reference, weights: np.ndarray, bias: float | None) -> float:
    """``max(|θ - θ*|, |c - c*|) / S``: the largest standardized-coefficient error, relative to the scale ``S``."""
    weights = np.asarray(weights, np.float64)
    errors = np.abs(weights * reference.scale - reference.theta)
    if reference.bias is not None:
        centre = (0.0 if bias is None else float(bias)) + float(reference.shift @ weights)
        errors = np.append(errors, abs(centre - reference.centre))
    return float(np.max(errors, initial=0.0)) / reference.coefficient_scale


def largest_curvature(design: np.ndarray, *, intercept: bool, sample_weight: np.ndarray | None = None) -> float:
    """``L``, the largest eigenvalue of the (weighted) MSE's Hessian ``2AᵀSA/Σs``, in float64 from the gram matrix."""
    a = np.asarray(design, np.float64)
    a = a[:, None] if a.ndim == 1 else a
    a = np.concatenate([a, np.ones((len(a), 1))], axis=1) if intercept else a
    s = np.ones(a.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        gram = (s[:, None] * a).T @ a / np.sum(s)
    return 2.0 * float(np.linalg.eigvalsh(gram)[-1]) if np.all(np.isfinite(gram)) else math.inf


def _rounding_bound(
    reference: Reference, eps: float, shift: np.ndarray, scale: np.ndarray, kappa: float, lipschitz: float, svd: bool
) -> float:
    """How far rounding at ``eps`` keeps the solution on ``(x - shift) / scale`` from the answer, over ``S``.

    Gradient descent: ``|δp| ≤ eps κ (|p*| + rms(y)/σ)``; the SVD (``svd``), backward stable:
    ``eps (√κ (rms(y)/σ + |p*|) + κ rms(r*)/σ)``; ``σ² = L/2``. Times the largest row norm of the
    map from those parameters to the standardized coefficients ``(θ, c)``.
    """
    if not (math.isfinite(kappa) and math.isfinite(lipschitz) and lipschitz > 0.0):
        return math.inf
    parameters = reference.weights * scale
    carry = float(np.max(reference.scale / scale, initial=0.0))
    if reference.bias is not None:
        parameters = np.append(parameters, reference.bias + float(shift @ reference.weights))
        carry = max(carry, math.sqrt(1.0 + float(np.sum(((reference.shift - shift) / scale) ** 2))))
    norm, sigma = float(np.linalg.norm(parameters)), math.sqrt(lipschitz / 2.0)
    if svd:
        spread = math.sqrt(kappa) * (reference.target_rms / sigma + norm) + kappa * reference.residual_rms / sigma
    else:
        spread = kappa * (norm + reference.target_rms / sigma)
    return carry * eps * spread / reference.coefficient_scale


def precision_floor(
    reference: Reference, dtype: np.dtype | str, trained: tuple[np.ndarray, np.ndarray, float, float] | None = None
) -> float:
    """The larger rounding bound: gradient descent's in ``dtype`` or the float64 reference's.

    ``trained``: ``(shift, scale, kappa, lipschitz)`` of the design it ran on (``None``: the standardized one).
    """
    standardized = (reference.shift, reference.scale, reference.kappa, reference.lipschitz)
    fit = _rounding_bound(reference, float(np.finfo(np.dtype(dtype)).eps), *(trained or standardized), svd=False)
    return max(fit, _rounding_bound(reference, _EPS64, *standardized, svd=True))


def contraction(
    *, optimizer: str, learning_rate: float, lipschitz: float, kappa: float, momentum: float = MOMENTUM
) -> float | None:
    """The factor by which the slowest error component (``λ_min = L/κ``) shrinks per step; ``None`` for Adam."""
    if not (math.isfinite(kappa) and kappa >= 1.0 and math.isfinite(lipschitz) and lipschitz > 0.0):
        return None
    if not learning_rate > 0.0:  # not NaN either
        return None
    slowest, fastest = learning_rate * lipschitz / kappa, learning_rate * lipschitz
    if optimizer == "sgd":
        rate = max(abs(1.0 - slowest), abs(1.0 - fastest))
    elif optimizer == "momentum":
        # heavy ball with a fixed β: a slow mode decays like 1 - lr λ / (1 - β); none faster than √β
        rate = max(1.0 - slowest / (1.0 - momentum), math.sqrt(momentum))
    elif optimizer == "heavy-ball":
        # Polyak's optimal step and momentum for the quadratic: (√κ - 1)/(√κ + 1) per step
        rate = (math.sqrt(kappa) - 1.0) / (math.sqrt(kappa) + 1.0)
    else:
        return None
    return rate if 0.0 < rate < 1.0 else None


def judge(
    reference: Reference,
    weights: np.ndarray,
    bias: float | None,
    *,
    design: np.ndarray,
    shift: np.ndarray,
    scale: np.ndarray,
    kappa: float,
    lipschitz: float | None = None,
    learning_rate: float,
    optimizer: str,
    steps: int,
    sample_weight: np.ndarray | None = None,
) -> Verdict:
    """Whether ``weights``/``bias`` are the least-squares answer, and if not, why and what to do.

    Args:
      reference: from :func:`least_squares_reference`.
      weights, bias: the fitted model in original units (``bias`` None without an intercept).
      design, shift, scale: the features gradient descent ran on, ``(x - shift) / scale``, in its dtype.
      kappa, lipschitz: that design's Hessian's condition number and largest eigenvalue ``L`` (``None``:
        computed by :func:`largest_curvature`, slow for wide designs).
      learning_rate, optimizer, steps: how it ran (the optimizer by name: ``"sgd"``, ``"adam"``, ...).
      sample_weight: the fit's sample weights (``None``: none), for the curvature of its loss.
    """
    dtype = np.asarray(design).dtype
    error = coefficient_error(reference, weights, bias)
    if lipschitz is None:
        lipschitz = largest_curvature(design, intercept=reference.bias is not None, sample_weight=sample_weight)
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
    rate = contraction(optimizer=optimizer, learning_rate=learning_rate, lipschitz=lipschitz, kappa=kappa)
    more = None
    if rate is not None:
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
