"""When ``jaxlr fit`` may say "converged": every coefficient agrees with float64 least squares.

A loss close to the least-squares loss says little about the coefficients: on an
ill-conditioned design the loss is flat along the slow directions, so it converges
long before the weights do. The command therefore compares the coefficients
themselves with a float64 least-squares reference, and says why when they differ.

**The reference.** Solved on the host in float64 with NumPy, whatever the training
dtype: the columns are centred (with an intercept) and scaled to unit standard
deviation (to unit root mean square without an intercept, where nothing may be
centred), and an SVD solves that matrix, so large offsets do not spoil it.

**The comparison, in standardized coefficients.** With the column means ``m`` and
scales ``s`` above, a model ``x @ w + b`` has standardized weights ``θ_j = w_j s_j``
and, with an intercept, the centred intercept ``c = b + m @ w`` (the prediction at
the mean row; for least squares ``c = mean(y)``). These are the coefficients of the
same model on standardized columns, so they are comparable whatever the units:

    max_error = max(|θ - θ*|_∞, |c - c*|) / S,   S = max(|θ*|_∞, σ_y),

``σ_y`` being ``std(y)`` with an intercept and ``rms(y)`` without: the largest
coefficient error relative to the size of the coefficients (or of the target's
spread, when every coefficient is small). A target far from zero does not enlarge
the allowance: the intercept is judged against ``S`` like every weight.

**The tolerance, from the dtype and the conditioning.**

    tolerance = min(max(√eps, floor), 1e-3)

``√eps`` (3.5e-4 in float32, 1.5e-8 in float64) is the usual target of an iterative
method stopped in working precision: half the digits. ``floor`` is how far rounding
can keep the coefficients from the answer. Gradient descent on least squares solves
the normal equations ``AᵀA p = Aᵀy`` iteratively, for the design ``A`` it ran on
(``[X 1]``, standardized or not): its gradient is rounded at ``eps`` (the training
dtype's), which leaves the normal-equations error

    |δp| ≤ eps · κ · (|p*| + rms(y)/σ),

``κ`` being the condition number of ``AᵀA``, ``p*`` the least-squares parameters in
the trained coordinates and ``σ`` the largest singular value of ``A/√n``. ``floor``
is that bound carried to the standardized coefficients and divided by ``S`` (or the
float64 reference's own, smaller, least-squares perturbation bound, if larger). A
target whose mean is large against its spread raises it through ``rms(y)``. It is
an upper bound: on 46 random polynomial, offset, badly scaled and nearly collinear
designs, the error at which float32 gradient descent stalled sat 4 to 40,000 times
below it (furthest below for unstandardized designs). So a fit may well converge
beyond it; what it decides is only the tolerance and whether more steps are sure
to help. ``1e-3`` is the loosest agreement still called converged.

**The verdict.** Converged when the problem has a unique answer and
``max_error <= tolerance``. Otherwise the cause is one of

* ``"not_unique"``: fewer rows than parameters, a constant column (with an
  intercept: it duplicates the intercept), an all-zero column (without one), or
  columns that are linearly dependent: the standardized design is singular, or so
  nearly (``κ_std ≥ 1/eps64``) that float64 rounding of the data decides the weights.
  Every coefficient vector along the null space fits equally well.
* ``"ill_conditioned"``: ``floor > 1e-3``: at this precision rounding may keep the
  coefficients further than 1e-3 from the answer, so more steps may not help (use
  ``--standardize``, ``--dtype float64``, or drop nearly collinear columns).
* ``"too_few_steps"``: otherwise. Gradient descent shrinks the slowest error
  component by a factor ``ρ`` per step (``max(|1 - lr λ_min|, |1 - lr λ_max|)`` for
  sgd, ``1 - 1/κ`` at the auto rate ``1/L``), so reaching the tolerance from
  ``max_error`` takes about ``ln(max_error / tolerance) / -ln ρ`` more steps.
"""

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

LOOSEST_TOLERANCE = 1e-3  # the largest relative coefficient error still reported as converged
MOMENTUM = 0.9  # the "momentum" optimizer's β (optax.sgd(lr, momentum=0.9))
REASONS = ("too_few_steps", "ill_conditioned", "not_unique")
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
    reason: str | None  # None when converged, else one of REASONS
    tolerance: float
    max_error: float
    more_steps: int | None  # for "too_few_steps": the estimated number of further steps, if it can be estimated
    message: str | None  # why, and what to do (one sentence, no program prefix)


def _constant(mean: float, spread: float) -> bool:
    # the same rule as jaxlr.standardize: a spread at the level of float64 noise in the values
    return not spread > 1e-12 * max(1.0, abs(mean))


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
      A :class:`Reference`; for a problem without a unique answer, the minimum-norm
      solution, with ``not_unique`` saying why.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    n, d = x.shape
    # row weights of mean 1: the weighted problem is the plain one on rows scaled by their square roots
    rows = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64) * n / np.sum(sample_weight)
    y_mean = float(np.mean(rows * y))
    if intercept:
        shift = np.mean(rows[:, None] * x, axis=0)
        spread = np.sqrt(np.mean(rows[:, None] * (x - shift) ** 2, axis=0))
        y_spread, centred = float(np.sqrt(np.mean(rows * (y - y_mean) ** 2))), y - y_mean
    else:
        shift, spread = np.zeros(d), np.sqrt(np.mean(rows[:, None] * x**2, axis=0))
        y_spread, centred = float(np.sqrt(np.mean(rows * y**2))), y
    degenerate = [j for j in range(d) if _constant(shift[j], spread[j])]
    scale = np.where(spread > 0, spread, 1.0)
    root = np.sqrt(rows)
    design, target = root[:, None] * (x - shift) / scale, root * centred
    penalised = bool(np.any(np.asarray(l2) > 0))
    if penalised:  # n·l2·|w|² = Σ_j (√(n·l2)/scale_j · θ_j)²: one extra row per weight, target 0
        design = np.concatenate([design, np.diag(np.sqrt(n * l2) / scale)])
        target = np.concatenate([target, np.zeros(d)])
    centred = target
    u, s, vt = np.linalg.svd(design, full_matrices=False)
    keep = s > (s[0] if s.size else 0.0) * max(n, d) * _EPS64  # numpy's lstsq cut-off
    theta = vt[keep].T @ ((u[:, keep].T @ centred) / s[keep])
    weights = theta / scale
    bias = y_mean - float(shift @ weights) if intercept else None
    # eigenvalues of AᵀA/n (half the Hessian): s²/n, and 1 for the intercept, orthogonal to centred columns
    eigenvalues = np.append(s**2 / n, 1.0) if intercept else s**2 / n
    kappa = math.inf if int(np.sum(keep)) < d else float(eigenvalues.max() / eigenvalues.min())
    weakest = np.abs(vt[-1]) if vt.shape[0] == d else np.ones(d)
    collinear = tuple(names[int(j)] for j in np.flatnonzero(weakest >= 0.1 * weakest.max(initial=0.0)))
    parameters = d + intercept
    not_unique = None
    if n < parameters:
        not_unique = (
            f"{n} data row{'s' * (n != 1)} for {parameters} parameters ({d} weight{'s' * (d != 1)}"
            f"{' and the bias' if intercept else ''}): many coefficient vectors fit equally well; give more rows "
            "or fewer features"
        )
    elif degenerate:
        name = names[degenerate[0]]
        if intercept:
            not_unique = (
                f"feature {name!r} is constant, so it duplicates the intercept: leave it out, or fit without "
                "a bias (--no-intercept)"
            )
        else:
            not_unique = f"feature {name!r} is all zeros, so its weight is arbitrary: leave it out"
    elif kappa * _EPS64 >= 1.0:
        # singular, or so close that float64 rounding of the data decides the weights (κ ≥ 1/eps64)
        not_unique = (
            f"the features {', '.join(map(repr, collinear))} are linearly dependent (one is a combination of the "
            f"others{', up to a constant' if intercept else ''}, to within float64 rounding: condition number "
            f"{kappa:.3g}), so their weights are not determined: leave one out"
        )
    if penalised:
        not_unique = None  # the penalty makes the minimum unique
    coefficient_scale = max(float(np.max(np.abs(theta), initial=0.0)), y_spread)
    if coefficient_scale == 0.0:
        coefficient_scale = abs(y_mean) if y_mean != 0.0 else 1.0
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
    """``L``: the largest eigenvalue of the MSE's Hessian ``2AᵀA/n``, ``A = [X 1]`` (or ``X``), in float64 on the host.

    From the ``(d+1) × (d+1)`` gram matrix: its largest eigenvalue is accurate to
    float64 rounding however ill-conditioned the design (only the small ones suffer).
    With ``sample_weight`` ``s``: the weighted MSE's, ``2AᵀSA/Σs``.
    """
    a = np.asarray(design, np.float64)
    a = a[:, None] if a.ndim == 1 else a
    if intercept:
        a = np.concatenate([a, np.ones((a.shape[0], 1))], axis=1)
    s = np.ones(a.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        gram = (s[:, None] * a).T @ a / np.sum(s)
    return 2.0 * float(np.linalg.eigvalsh(gram)[-1]) if np.all(np.isfinite(gram)) else math.inf


def _trained(reference: Reference, shift: np.ndarray, scale: np.ndarray) -> tuple[float, float]:
    """``|p*|`` in the coordinates ``(x - shift) / scale``, and the largest row 2-norm of the map back.

    The map takes parameters in those coordinates to the standardized coefficients
    ``(θ, c)``; its largest row norm bounds how much an error of a given size there
    can become in any one standardized coefficient.
    """
    parameters = reference.weights * scale
    rows = reference.scale / scale
    largest = float(np.max(rows, initial=0.0))
    if reference.bias is not None:
        parameters = np.append(parameters, reference.bias + float(shift @ reference.weights))
        largest = max(largest, math.sqrt(1.0 + float(np.sum(((reference.shift - shift) / scale) ** 2))))
    return float(np.linalg.norm(parameters)), largest


def gradient_descent_bound(
    reference: Reference, *, eps: float, shift: np.ndarray, scale: np.ndarray, kappa: float, lipschitz: float
) -> float:
    """How far rounding at ``eps`` can keep gradient descent from the answer, relative to ``S``.

    Gradient descent solves the normal equations ``AᵀA p = Aᵀy`` iteratively: its
    gradient is rounded at ``eps`` relative to ``|A|ᵀ(|A||p| + |y|)/n``, and the error
    that leaves in ``p`` is that times ``(AᵀA/n)⁻¹``, the normal-equations bound
    ``|δp| ≤ eps κ (|p*| + rms(y)/σ)``, with ``σ² = L/2`` the largest eigenvalue of
    ``AᵀA/n`` for the design trained on, ``(x - shift) / scale``. Carried to the
    standardized coefficients and divided by ``S``, like :func:`coefficient_error`.
    """
    if not (math.isfinite(kappa) and math.isfinite(lipschitz) and lipschitz > 0.0):
        return math.inf
    norm, carry = _trained(reference, shift, scale)
    sigma = math.sqrt(lipschitz / 2.0)
    return carry * eps * kappa * (norm + reference.target_rms / sigma) / reference.coefficient_scale


def least_squares_bound(reference: Reference) -> float:
    """How far float64 rounding can move the reference itself, relative to ``S``.

    The first-order perturbation bound of least squares solved by a backward-stable
    method (an SVD) on the standardized design: ``|δp| ≤ eps64 (√κ (rms(y)/σ + |p*|)
    + κ rms(r*)/σ)``, ``r*`` being the residual.
    """
    if not math.isfinite(reference.kappa):
        return math.inf
    norm, carry = _trained(reference, reference.shift, reference.scale)
    sigma = math.sqrt(reference.lipschitz / 2.0)
    spread = math.sqrt(reference.kappa) * (reference.target_rms / sigma + norm)
    spread += reference.kappa * reference.residual_rms / sigma
    return carry * _EPS64 * spread / reference.coefficient_scale


def precision_floor(
    reference: Reference, *, dtype: np.dtype | str, shift: np.ndarray, scale: np.ndarray, kappa: float, lipschitz: float
) -> float:
    """The larger of the rounding bounds of the fit (in ``dtype``) and of the float64 reference."""
    eps = float(np.finfo(np.dtype(dtype)).eps)
    fit = gradient_descent_bound(reference, eps=eps, shift=shift, scale=scale, kappa=kappa, lipschitz=lipschitz)
    return max(fit, least_squares_bound(reference))


def _standardized_floor(reference: Reference, dtype: np.dtype | str) -> float:
    """The floor had gradient descent run on the standardized design in ``dtype``."""
    return precision_floor(
        reference,
        dtype=dtype,
        shift=reference.shift,
        scale=reference.scale,
        kappa=reference.kappa,
        lipschitz=reference.lipschitz,
    )


def tolerance_for(floor: float, dtype: np.dtype | str) -> float:
    """``min(max(√eps, floor), 1e-3)``: the agreement required to call a fit converged."""
    return min(max(math.sqrt(float(np.finfo(np.dtype(dtype)).eps)), floor), LOOSEST_TOLERANCE)


def contraction(
    *, optimizer: str, learning_rate: float, lipschitz: float, kappa: float, momentum: float = MOMENTUM
) -> float | None:
    """The factor by which the slowest error component shrinks per step, or ``None`` if not predictable.

    ``lipschitz`` is ``L = λ_max`` of the MSE's Hessian ``2AᵀA/n`` and ``kappa`` its
    condition number, so ``λ_min = L/κ``. Adam's rate depends on its running
    moments, not on these, so it has none.
    """
    if not (math.isfinite(kappa) and kappa >= 1.0 and math.isfinite(lipschitz) and lipschitz > 0.0):
        return None
    if not learning_rate > 0.0:
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
      design: the features gradient descent ran on, ``(x - shift) / scale``, in the training dtype.
      shift, scale: how ``design`` was made from the original features (zeros and ones when
        it was not standardized).
      kappa: the condition number of that design's Hessian.
      lipschitz: its largest eigenvalue ``L``, if the caller has it (else computed here
        by :func:`largest_curvature`: a second eigendecomposition, slow for wide designs).
      learning_rate: the learning rate used.
      optimizer: its name (``"sgd"``, ``"momentum"``, ``"adam"``, ...).
      steps: the number of steps taken.
      sample_weight: the fit's sample weights (``None``: none), for the curvature of its loss.
    """
    dtype = np.asarray(design).dtype
    error = coefficient_error(reference, weights, bias)
    if lipschitz is None:
        lipschitz = largest_curvature(design, intercept=reference.bias is not None, sample_weight=sample_weight)
    floor = precision_floor(reference, dtype=dtype, shift=shift, scale=scale, kappa=kappa, lipschitz=lipschitz)
    tol = tolerance_for(floor, dtype)
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
        fixes = [unscaled_hint] if helps and _standardized_floor(reference, dtype) <= LOOSEST_TOLERANCE else []
        if dtype != np.float64 and _standardized_floor(reference, "float64") <= LOOSEST_TOLERANCE:
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
