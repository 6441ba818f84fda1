"""The loss's curvature: L and μ (the Hessian's extreme eigenvalues), heavy-ball's constants, κ.

The loss ``Σ sᵢ (aᵢᵀθ − yᵢ)² / Σ sᵢ + l2·|w|²`` of the linear model is a quadratic
in the trained parameters ``θ`` (``w``, plus ``b`` with a bias, when
``aᵢ = [xᵢ, 1]``). Its Hessian is ``H = 2 (AᵀSA / Σ sᵢ + l2·P)``, ``P`` the
identity on ``w`` and zero on ``b``.

* L, the largest eigenvalue, bounds the step: gradient descent is stable for
  ``learning_rate < 2/L`` (``"auto"`` uses ``1/L``); with momentum ``β`` the
  bound is ``2(1+β)/L``. Adam normalizes its steps: L does not bound its rate.
* Heavy-ball momentum with ``lr = 4/(√L+√μ)²`` and ``β = ((√κ−1)/(√κ+1))²``,
  ``κ = L/μ``, converges in about ``√κ`` times fewer steps than gradient descent
  at ``1/L`` (Polyak's optimal constants for a quadratic).

The intercept column matters: for features around 1e4 the centred design's L is
about 1e8 times smaller, and a learning rate from it would diverge.

Everything here traces under ``jax.jit``. L comes from power iteration, two
passes over ``x`` each, never forming ``AᵀA``, on the design scaled by its
largest entry so that no intermediate overflows where the data's squares are
representable. μ comes from the ``(d+1)²`` gram matrix when ``d`` is moderate,
else from power iteration on ``L·I − H``.
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxlr._least_squares import check_l2, check_sample_weight
from jaxlr._model import PRECISION, matvec
from jaxlr._validate import as_input, check_features, check_finite, check_n_iters

# Power iterations for L. Each costs two passes over X; the Rayleigh quotient's
# error shrinks like (λ₂/λ₁)^(2k), so 30 are plenty for a step size.
N_POWER_ITERS = 30
# μ from the gram matrix up to this many trained parameters, else by power iteration.
MAX_GRAM_PARAMS = 1024
# Power iterations for μ when the gram matrix is too large: μ sets heavy-ball's momentum.
N_MU_ITERS = 200


def _scaled_design(x: jax.Array, bias: bool) -> tuple[jax.Array, jax.Array]:
    """``(x / s, s)``, ``s`` the largest magnitude in ``[X 1]`` (1 for all-zero data)."""
    design = x[:, None] if x.ndim == 1 else x
    s = jnp.max(jnp.abs(design))
    if bias:
        s = jnp.maximum(s, 1)
    s = jnp.where(s > 0, s, 1).astype(design.dtype)
    return design / s, s


def _gram_operator(design: jax.Array, s: jax.Array, weights: Any, l2: Any, bias: bool):
    """``v ↦ (AᵀSA/Σs + l2·P) v / s²`` on the scaled design: half the Hessian, over ``s²``."""
    d = design.shape[1]
    total = design.shape[0] if weights is None else jnp.sum(weights)
    ones = 1 / s

    def apply(v: jax.Array) -> jax.Array:
        r = matvec(design, v[:d])
        if bias:
            r = r + v[d] * ones
        rw = r if weights is None else weights * r
        out = jnp.sum(design * rw[:, None], axis=0) / total
        if l2 is not None:
            out = out + (l2 / s**2) * v[:d]
        if bias:
            out = jnp.concatenate([out, (jnp.sum(rw) * ones / total)[None]])
        return out

    return apply


def _power_iteration(apply, k: int, dtype: Any, n_iters: int) -> jax.Array:
    """The largest eigenvalue of the positive semi-definite ``apply`` (``k × k``), from below."""
    # A fixed pseudo-random start: a structured one (all ones) can be orthogonal to the top
    # eigenvector, e.g. for two opposite standardized features.
    v = jax.random.normal(jax.random.key(0), (k,), dtype=dtype)
    v = v / jnp.sqrt(jnp.sum(v * v))

    def body(_, v):
        u = apply(v)
        norm = jnp.sqrt(jnp.sum(u * u))
        return jnp.where(norm > 0, u / jnp.where(norm > 0, norm, 1), v)

    v = jax.lax.fori_loop(0, n_iters, body, v)
    return jnp.sum(v * apply(v))


def lipschitz(
    x: jax.Array,
    *,
    bias: bool,
    weights: jax.Array | None = None,
    l2: Any = None,
    n_power_iters: int = N_POWER_ITERS,
) -> jax.Array:
    """L for checked floating ``x``, traceable: ``inf`` when the data's squares overflow, 0 for zero data."""
    design, s = _scaled_design(x, bias)
    top = _power_iteration(
        _gram_operator(design, s, weights, l2, bias), design.shape[1] + bias, design.dtype, n_power_iters
    )
    return 2 * top * s * s


def curvature_bounds(
    x: jax.Array, *, bias: bool, weights: jax.Array | None = None, l2: Any = None
) -> tuple[jax.Array, jax.Array]:
    """``(L, μ)``, the Hessian's largest and smallest eigenvalues, traceable."""
    design, s = _scaled_design(x, bias)
    k = design.shape[1] + bias
    apply = _gram_operator(design, s, weights, l2, bias)
    if k <= MAX_GRAM_PARAMS:
        gram = jax.vmap(apply, out_axes=1)(jnp.eye(k, dtype=design.dtype))
        eigenvalues = jnp.linalg.eigvalsh((gram + gram.T) / 2)
        top, bottom = eigenvalues[-1], eigenvalues[0]
    else:
        top = _power_iteration(apply, k, design.dtype, N_POWER_ITERS)
        bottom = top - _power_iteration(lambda v: top * v - apply(v), k, design.dtype, N_MU_ITERS)
    # rounding can leave μ a little below 0 for a singular design: κ is then ~1/(k·eps)
    bottom = jnp.maximum(bottom, top * k * jnp.finfo(design.dtype).eps)
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
    """L, the largest eigenvalue of the MSE loss's Hessian in the trained parameters. Traceable.

    ``L = 2·λmax([X 1]ᵀ[X 1] / n)`` with a bias, ``2·λmax(XᵀX / n)`` without.
    Gradient descent with ``learning_rate`` above ``2/L`` diverges; ``1/L`` is
    what ``learning_rate="auto"`` uses.

    Args:
      x: features, ``(n,)`` or ``(n, d)``.
      bias: whether the model has a bias (``Params.b`` not ``None``).
      n_power_iters: power iterations; the estimate approaches L from below.
      sample_weight: ``None``, or ``(n,)`` non-negative weights: L of the weighted
        MSE ``Σ sᵢ rᵢ² / Σ sᵢ``, as :func:`fit` trains with ``sample_weight=``.
      l2: the ridge penalty of :func:`fit`'s ``l2=`` (adds ``2·l2`` on the weights).

    Returns:
      L as a scalar array (``inf`` if the data's squares overflow its dtype).

    Examples:
      >>> import jaxlr
      >>> x, _ = jaxlr.lesson_data()
      >>> print(f"{jaxlr.lipschitz_constant(x, bias=False):.3f}")  # 2 * mean(x**2)
      15.000
      >>> print(f"{jaxlr.lipschitz_constant(x * 1e4):.4g}")  # far from centred: L grows with x**2
      1.5e+09
    """
    n_power_iters = check_n_iters("lipschitz_constant", n_power_iters, "n_power_iters")
    x = check_features("lipschitz_constant", as_input("lipschitz_constant", "x", x))
    check_finite("lipschitz_constant", x=x)
    weights = check_sample_weight("lipschitz_constant", sample_weight, x.shape[0], x.dtype)
    penalty = check_l2("lipschitz_constant", l2, x.dtype)
    return lipschitz(x, bias=bool(bias), weights=weights, l2=penalty, n_power_iters=n_power_iters)


def _host_eigenvalues(mean: np.ndarray, covariance: np.ndarray, bias: bool) -> np.ndarray:
    """Eigenvalues of ``B Bᵀ`` in float64 (see :func:`hessian_eigenvalues`), on the host."""
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(covariance))):
        return np.full(covariance.shape[0] + bias, np.nan)  # NaN or inf in x (a traced call: no error)
    noise = np.finfo(covariance.dtype).eps * covariance.shape[0]
    mean, covariance = np.asarray(mean, np.float64), np.asarray(covariance, np.float64)
    values, vectors = np.linalg.eigh(covariance)
    values = np.where(values > noise * max(values[-1], 0.0), values, 0.0)
    root = vectors * np.sqrt(values)  # root @ root.T == covariance
    factor = np.concatenate([root, mean[:, None]], axis=1)
    if bias:
        last_row = np.zeros((1, factor.shape[1]))
        last_row[0, -1] = 1.0
        factor = np.concatenate([factor, last_row], axis=0)
    singular_values = np.linalg.svd(factor, compute_uv=False)
    return np.sort(singular_values[: factor.shape[0]] ** 2)


def hessian_eigenvalues(x: ArrayLike, *, bias: bool = True, sample_weight: ArrayLike | None = None) -> jax.Array:
    """Eigenvalues of ``AᵀA / n`` (half the MSE's Hessian), ascending, in float64 where possible. Traceable.

    ``AᵀA / n = B Bᵀ`` with ``B = [[R, m], [0, 1]]`` (``[R, m]`` without a bias),
    where ``m`` holds the column means and ``R Rᵀ`` is the centred covariance. The
    eigenvalues are the squared singular values of ``B``, which an SVD finds to
    full relative accuracy even when large offsets make ``κ`` exceed ``1/eps``;
    forming ``XᵀX`` directly would lose the small ones to rounding. Two passes over
    ``x`` on its device; the ``d × d`` SVD runs on the host in float64
    (``jax.pure_callback``), so it keeps that accuracy with float32 data too.

    With ``sample_weight`` ``s`` (``(n,)``, non-negative) the matrix is
    ``AᵀSA / Σ s``, the weighted loss's: ``m`` and ``R Rᵀ`` are the weighted mean
    and covariance.
    """
    x = check_features("condition_number", as_input("condition_number", "x", x))
    check_finite("condition_number", x=x)
    weight = check_sample_weight("condition_number", sample_weight, x.shape[0], x.dtype)
    if weight is None:
        mean = jnp.mean(x, axis=0)
        centred = x - mean[None, :]
        covariance = jnp.matmul(centred.T, centred, precision=PRECISION) / x.shape[0]
    else:
        total = jnp.sum(weight)
        mean = jnp.matmul(weight, x, precision=PRECISION) / total
        centred = x - mean[None, :]
        covariance = jnp.matmul((weight[:, None] * centred).T, centred, precision=PRECISION) / total
    k = x.shape[1] + bias
    out = jax.ShapeDtypeStruct((k,), x.dtype)
    return jax.pure_callback(
        lambda m, c: _host_eigenvalues(m, c, bias).astype(x.dtype), out, mean, covariance, vmap_method="sequential"
    )


def condition_number(x: ArrayLike, *, bias: bool = True, sample_weight: ArrayLike | None = None) -> jax.Array:
    """The condition number ``κ`` of the MSE's Hessian for the design ``x`` (``inf`` if singular). Traceable.

    Args:
      x: the features, ``(n,)`` or ``(n, d)``.
      bias: whether the model has a bias (then the design is ``[X, 1]``).
      sample_weight: ``None``, or ``(n,)`` non-negative weights: the Hessian of the
        weighted MSE ``Σ sᵢ rᵢ² / Σ sᵢ``.

    Returns:
      ``λ_max / λ_min`` of ``AᵀA / n``, a scalar array. Gradient descent needs on
      the order of ``κ`` steps; above about ``1e6`` in float32 (``1e14`` in float64)
      it cannot converge at all. Standardize the features to fix it.

    Examples:
      >>> import numpy as np, jaxlr
      >>> x = np.linspace(-1.0, 1.0, 101)
      >>> print(f"{jaxlr.condition_number(x):.2f}")  # centred: well conditioned
      2.94
      >>> print(f"{jaxlr.condition_number(x + 1e4):.1e}")  # same data, offset by 1e4
      2.9e+16
    """
    return condition_from_eigenvalues(hessian_eigenvalues(x, bias=bias, sample_weight=sample_weight))


def condition_from_eigenvalues(eigenvalues: jax.Array) -> jax.Array:
    """:func:`condition_number` from :func:`hessian_eigenvalues`' result (ascending), for a caller needing both."""
    smallest, largest = eigenvalues[0], eigenvalues[-1]
    # singular values below eps * largest are rounding noise: the design is singular (eps of float64)
    singular = smallest <= largest * (eigenvalues.shape[0] * 2.220446049250313e-16) ** 2
    return jnp.where(singular, jnp.inf, largest / jnp.where(singular, 1, smallest))
