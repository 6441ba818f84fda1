"""How hard the least-squares problem is for gradient descent: the Hessian's condition number.

The MSE's Hessian in the trained parameters is ``2 AᵀA / n``, with ``A = X`` or,
with a bias, the augmented design ``A = [X, 1]``. Gradient descent at its best
fixed step shrinks the error along the slowest eigenvector by a factor of about
``1 - 1/κ`` per step, so it needs on the order of ``κ`` steps: a design with
``κ = 1e8`` cannot be fitted by gradient descent in any reasonable number of
steps, and in float32 (7 significant digits) not at all.

Large offsets are the usual cause. For one feature with mean ``m`` and standard
deviation ``s``, ``κ ≈ (1 + m² + s²)² / s²`` grows like ``m⁴/s²`` (``x ≈ 1e4 ± 1``
gives ``κ ≈ 1e16``). Centring each feature (subtracting its mean) makes ``A``'s
columns orthogonal to the bias column, and scaling to unit variance equalises the
diagonal: standardized data has ``κ`` equal to the condition number of the
features' correlation matrix, often below 10. That is what ``--standardize``
buys; the weights are mapped back to the original units afterwards.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxlr._model import PRECISION
from jaxlr._validate import check_features


@jax.jit
def _centred_moments(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    mean = jnp.mean(x, axis=0)
    centred = x - mean[None, :]
    covariance = jnp.matmul(centred.T, centred, precision=PRECISION) / x.shape[0]
    return mean, covariance


def hessian_eigenvalues(x: ArrayLike, *, bias: bool = True) -> np.ndarray:
    """Eigenvalues of ``AᵀA / n`` (half the MSE's Hessian), ascending, in float64.

    ``AᵀA / n = B Bᵀ`` with ``B = [[R, m], [0, 1]]`` (``[R, m]`` without a bias),
    where ``m`` holds the column means and ``R Rᵀ`` is the centred covariance. The
    eigenvalues are the squared singular values of ``B``, which an SVD finds to
    full relative accuracy even when large offsets make ``κ`` exceed ``1/eps``;
    forming ``XᵀX`` directly would lose the small ones to rounding. Two passes over
    ``x`` on its device; only ``d × d`` numbers come to the host.
    """
    x = check_features("hessian_eigenvalues", x)
    mean, covariance = jax.device_get(_centred_moments(x))
    # the covariance's eigenvalues below its own rounding level (in x's dtype) are zero
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


def condition_number(x: ArrayLike, *, bias: bool = True) -> float:
    """The condition number ``κ`` of the MSE's Hessian for the design ``x`` (``inf`` if singular).

    Args:
      x: the features, ``(n,)`` or ``(n, d)``.
      bias: whether the model has a bias (then the design is ``[X, 1]``).

    Returns:
      ``λ_max / λ_min`` of ``AᵀA / n``. Gradient descent needs on the order of
      ``κ`` steps; above about ``1e6`` in float32 (``1e14`` in float64) it cannot
      converge at all. Standardize the features to fix it.

    Examples:
      >>> import numpy as np, jaxlr
      >>> x = np.linspace(-1.0, 1.0, 101)
      >>> print(f"{jaxlr.condition_number(x):.2f}")  # centred: well conditioned
      2.94
      >>> print(f"{jaxlr.condition_number(x + 1e4):.1e}")  # same data, offset by 1e4
      2.9e+16
    """
    eigenvalues = hessian_eigenvalues(x, bias=bias)
    smallest, largest = float(eigenvalues[0]), float(eigenvalues[-1])
    # singular values below eps * largest are rounding noise: the design is singular
    if smallest <= largest * (len(eigenvalues) * np.finfo(np.float64).eps) ** 2:
        return float("inf")
    return largest / smallest
