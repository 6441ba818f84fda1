"""The loss's curvature and the learning rates it allows: L and μ (the Hessian's extreme eigenvalues),
heavy-ball's constants, κ, the stability bound 2/L (``2(1+β)/L`` with momentum β) and divergence reports.

The loss ``Σ sᵢ (aᵢᵀθ − yᵢ)² / Σ sᵢ + l2·|w|²`` has Hessian ``H = 2 (AᵀSA / Σ sᵢ + l2·P)``, ``A = [X 1]``
with a bias. L comes from power iteration on the design scaled by its largest entry (so nothing overflows),
μ from the ``(d+1)²`` gram matrix, or power iteration when wide.
"""

import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxlr._model import PRECISION, matvec
from jaxlr._validate import check_features, check_l2, check_n_iters, check_positive, checked_sample_weight

N_POWER_ITERS = 30  # the Rayleigh quotient's error shrinks like (λ₂/λ₁)^(2k): plenty for a step size
MAX_GRAM_PARAMS = 1024  # μ from the gram matrix up to this many parameters, else by power iteration
N_MU_ITERS = 200  # power iterations for μ (it sets heavy-ball's momentum)
MOMENTUM = 0.9  # the "momentum" optimizer's β (optax.sgd(lr, momentum=0.9))


def _half_hessian(x: jax.Array, bias: bool, weights: Any, l2: Any):
    """``(v ↦ H v / (2 s²), k, s)`` on ``x / s``, ``s`` the largest magnitude in ``[X 1]`` (1 for zero data)."""
    design = x[:, None] if x.ndim == 1 else x
    s = jnp.max(jnp.abs(design))
    s = jnp.maximum(s, 1) if bias else s
    s = jnp.where(s > 0, s, 1).astype(design.dtype)
    design, d, ones = design / s, design.shape[1], 1 / s
    total = design.shape[0] if weights is None else jnp.sum(weights)

    def apply(v: jax.Array) -> jax.Array:
        r = matvec(design, v[:d]) + (v[d] * ones if bias else 0)
        rw = r if weights is None else weights * r
        out = jnp.sum(design * rw[:, None], axis=0) / total
        if l2 is not None:
            out = out + (l2 / s**2) * v[:d]
        return jnp.concatenate([out, (jnp.sum(rw) * ones / total)[None]]) if bias else out

    return apply, d + bias, s


def _power_iteration(apply, k: int, dtype: Any, n_iters: int) -> jax.Array:
    """The largest eigenvalue of the positive semi-definite ``apply`` (``k × k``), from below."""
    # a pseudo-random start: all ones can be orthogonal to the top eigenvector (two opposite features)
    v = jax.random.normal(jax.random.key(0), (k,), dtype=dtype)
    v = v / jnp.sqrt(jnp.sum(v * v))

    def body(_, v):
        u = apply(v)
        norm = jnp.sqrt(jnp.sum(u * u))
        return jnp.where(norm > 0, u / jnp.where(norm > 0, norm, 1), v)

    v = jax.lax.fori_loop(0, n_iters, body, v)
    return jnp.sum(v * apply(v))


def lipschitz(
    x: jax.Array, *, bias: bool, weights: jax.Array | None = None, l2: Any = None, n_power_iters: int = N_POWER_ITERS
) -> jax.Array:
    """L for checked floating ``x``, traceable: ``inf`` when the data's squares overflow, 0 for zero data."""
    apply, k, s = _half_hessian(x, bias, weights, l2)
    return 2 * _power_iteration(apply, k, x.dtype, n_power_iters) * s * s


def curvature_bounds(x: jax.Array, *, bias: bool, weights: Any = None, l2: Any = None) -> tuple[jax.Array, jax.Array]:
    """``(L, μ)``, the Hessian's largest and smallest eigenvalues, traceable."""
    apply, k, s = _half_hessian(x, bias, weights, l2)
    if k <= MAX_GRAM_PARAMS:
        gram = jax.vmap(apply, out_axes=1)(jnp.eye(k, dtype=x.dtype))
        eigenvalues = jnp.linalg.eigvalsh((gram + gram.T) / 2)
        top, bottom = eigenvalues[-1], eigenvalues[0]
    else:
        top = _power_iteration(apply, k, x.dtype, N_POWER_ITERS)
        bottom = top - _power_iteration(lambda v: top * v - apply(v), k, x.dtype, N_MU_ITERS)
    # rounding can leave μ a little below 0 for a singular design: κ is then ~1/(k·eps)
    bottom = jnp.maximum(bottom, top * k * jnp.finfo(x.dtype).eps)
    return 2 * top * s * s, 2 * bottom * s * s


def heavy_ball_constants(lipschitz_value: jax.Array, mu: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Polyak's ``(lr, β)`` for a quadratic with curvature in ``[μ, L]``."""
    root_l, root_mu = jnp.sqrt(lipschitz_value), jnp.sqrt(mu)
    return 4 / (root_l + root_mu) ** 2, ((root_l - root_mu) / (root_l + root_mu)) ** 2


def lipschitz_constant(
    x: ArrayLike,
    *,
    bias: bool = True,
    n_power_iters: int = N_POWER_ITERS,
    sample_weight: ArrayLike | None = None,
    l2: ArrayLike = 0.0,
) -> jax.Array:
    """L = ``2·λmax([X 1]ᵀ[X 1] / n)`` (``X`` without a bias), the MSE's curvature: above ``2/L`` a fit diverges.
    ``x`` is ``(n,)`` or ``(n, d)``, the rest as in :func:`jaxlr.fit`; L is ``inf`` if the squares overflow.

    Examples:
      >>> import jaxlr
      >>> x, _ = jaxlr.lesson_data()
      >>> print(f"{jaxlr.lipschitz_constant(x, bias=False):.3f}")  # 2 * mean(x**2)
      15.000
    """
    n_power_iters = check_n_iters("lipschitz_constant", n_power_iters, "n_power_iters")
    x = check_features("lipschitz_constant", x)
    weights = checked_sample_weight("lipschitz_constant", sample_weight, x.shape[0], x.dtype)
    penalty = check_l2("lipschitz_constant", l2, x.dtype)
    return lipschitz(x, bias=bool(bias), weights=weights, l2=penalty, n_power_iters=n_power_iters)


def _host_eigenvalues(mean: np.ndarray, covariance: np.ndarray, bias: bool) -> np.ndarray:
    """Eigenvalues of ``B Bᵀ`` in float64, on the host."""
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(covariance))):
        return np.full(covariance.shape[0] + bias, np.nan)  # NaN or inf in x (a traced call: no error)
    noise = np.finfo(covariance.dtype).eps * covariance.shape[0]
    mean, covariance = np.asarray(mean, np.float64), np.asarray(covariance, np.float64)
    values, vectors = np.linalg.eigh(covariance)
    values = np.where(values > noise * max(values[-1], 0.0), values, 0.0)
    factor = np.concatenate([vectors * np.sqrt(values), mean[:, None]], axis=1)  # [R, m], R Rᵀ = covariance
    if bias:
        factor = np.concatenate([factor, np.eye(1, factor.shape[1], factor.shape[1] - 1)])  # [0, 1]
    return np.sort(np.linalg.svd(factor, compute_uv=False)[: factor.shape[0]] ** 2)


def hessian_eigenvalues(x: ArrayLike, *, bias: bool = True, sample_weight: ArrayLike | None = None) -> jax.Array:
    """Eigenvalues of ``AᵀSA / Σs`` (half the MSE's Hessian), ascending, traceable: ``AᵀA / n = B Bᵀ`` for
    ``B = [[R, m], [0, 1]]`` (``m`` the means, ``R Rᵀ`` the covariance), whose SVD keeps what ``XᵀX`` would lose."""
    x = check_features("condition_number", x)
    weight = checked_sample_weight("condition_number", sample_weight, x.shape[0], x.dtype)
    total = x.shape[0] if weight is None else jnp.sum(weight)
    mean = jnp.mean(x, axis=0) if weight is None else jnp.matmul(weight, x, precision=PRECISION) / total
    centred = x - mean[None, :]
    weighted = centred if weight is None else weight[:, None] * centred
    covariance = jnp.matmul(weighted.T, centred, precision=PRECISION) / total
    out = jax.ShapeDtypeStruct((x.shape[1] + bias,), x.dtype)
    return jax.pure_callback(
        lambda m, c: _host_eigenvalues(m, c, bias).astype(x.dtype), out, mean, covariance, vmap_method="sequential"
    )


def condition_number(x: ArrayLike, *, bias: bool = True, sample_weight: ArrayLike | None = None) -> jax.Array:
    """The condition number ``κ = λmax / λmin`` of the MSE's Hessian for the design ``x`` (``inf`` if singular),
    traceable. Gradient descent needs ~``κ`` steps, and fails above ~``1e6`` in float32 (``1e14`` in float64).

    Examples:
      >>> import numpy as np, jaxlr
      >>> x = np.linspace(-1.0, 1.0, 101)
      >>> print(f"{jaxlr.condition_number(x):.2f}", f"{jaxlr.condition_number(x + 1e4):.1e}")  # centred, offset
      2.94 2.9e+16
    """
    return condition_from_eigenvalues(hessian_eigenvalues(x, bias=bias, sample_weight=sample_weight))


def condition_from_eigenvalues(eigenvalues: jax.Array) -> jax.Array:
    """:func:`condition_number` from :func:`hessian_eigenvalues`' result, for a caller needing both."""
    smallest, largest = eigenvalues[0], eigenvalues[-1]
    # singular values below eps * largest are rounding noise: the design is singular (eps of float64)
    singular = smallest <= largest * (eigenvalues.shape[0] * 2.220446049250313e-16) ** 2
    return jnp.where(singular, jnp.inf, largest / jnp.where(singular, 1, smallest))


class DivergenceWarning(UserWarning):
    """Training diverged, or a learning rate is above the stability bound 2/L (the message says which)."""


def max_stable_learning_rate(lipschitz: float, optimizer: Any) -> float | None:
    """``2/L`` for sgd (``None``), ``2(1+β)/L`` for ``"momentum"``, ``None`` for others (no such bound)."""
    if lipschitz <= 0:
        return math.inf
    if optimizer in (None, "sgd", "momentum"):
        return 2 * (1 + MOMENTUM if optimizer == "momentum" else 1) / lipschitz
    return None  # adam, heavy-ball (its own step and momentum) and transformations


def divergence_message(fn: str, step: int, learning_rate: float | None, lipschitz: float, optimizer: Any) -> str:
    """What to say when a run diverged at 0-based ``step``."""
    head = f"{fn}: training diverged at step {step} (the loss became non-finite or blew up)"
    if not math.isfinite(lipschitz):
        return (
            f"{head}: the data's squares overflow this precision (L is not finite), so no learning rate "
            "is stable; standardize the features or compute in float64"
        )
    if learning_rate is None:
        return f"{head}; try a smaller learning rate in the optimizer"
    bound = max_stable_learning_rate(lipschitz, optimizer)
    factor = "2(1+β)/L" if optimizer == "momentum" else "2/L"
    if bound is None:
        name = optimizer if isinstance(optimizer, str) else "this optimizer"
        return (
            f"{head} with learning rate {learning_rate:g}; {name} has no curvature bound, "
            f"try a smaller learning rate (for sgd, 2/L = {2 / lipschitz:.4g} and 1/L = {1 / lipschitz:.4g})"
        )
    if learning_rate > bound:
        return (
            f"{head}: learning rate {learning_rate:g} is above the stability bound {factor} = {bound:.4g} "
            f"(L = {lipschitz:.4g}); a stable choice is 1/L = {1 / lipschitz:.4g} (learning_rate='auto')"
        )
    return (
        f"{head} although learning rate {learning_rate:g} is within the bound {factor} = {bound:.4g} "
        f"(L = {lipschitz:.4g}): the data may be too badly scaled for this precision; "
        "standardizing the features may help"
    )


def warn_if_unstable(
    x: ArrayLike,
    learning_rate: float,
    *,
    bias: bool = True,
    optimizer: Any = None,
    gradient: str = "autograd",
    sample_weight: ArrayLike | None = None,
    l2: ArrayLike = 0.0,
) -> float | None:
    """Warns (:class:`DivergenceWarning`) if ``learning_rate`` is above the stability bound for ``x`` (the rest as
    in :func:`jaxlr.fit`); returns that bound, or ``None`` for an optimizer without one (adam, a transformation).

    Examples:
      >>> import jaxlr
      >>> x, _ = jaxlr.lesson_data()
      >>> print(f"{jaxlr.warn_if_unstable(x, 0.1, bias=False):.4f}")  # 0.1 is below the bound: no warning
      0.1333
    """
    learning_rate = float(check_positive("warn_if_unstable", "learning_rate", learning_rate))
    lipschitz = float(lipschitz_constant(x, bias=bias, sample_weight=sample_weight, l2=l2))
    if gradient == "lesson":
        lipschitz *= np.shape(x)[0] if sample_weight is None else float(np.sum(sample_weight))
    bound = max_stable_learning_rate(lipschitz, optimizer)
    if bound is not None and learning_rate > bound:  # so optimizer is None, "sgd" or "momentum"
        factor = "2(1+β)/L" if optimizer == "momentum" else "2/L"
        message = (
            f"learning rate {learning_rate:g} is above the stability bound {factor} = {bound:.4g} "
            f"for {optimizer or 'sgd'} on this data (L = {lipschitz:.4g}): training will diverge. "
            f"Use a learning rate below {bound:.4g}, e.g. 1/L = {1 / lipschitz:.4g} ('auto')"
        )
        warnings.warn(message, DivergenceWarning, stacklevel=2)
    return bound
