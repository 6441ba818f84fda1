"""A learning rate from the data: the loss's curvature L, by power iteration.

The MSE loss ``mean((A θ - y)**2)`` of the linear model is a quadratic in the
trained parameters ``θ``: ``w``, plus ``b`` when there is a bias, in which case
``A = [X 1]`` (the design with an intercept column). Its Hessian is
``2 AᵀA / n``, and its largest eigenvalue L bounds the curvature.

* Gradient descent is stable for ``learning_rate < 2/L`` and diverges above it;
  ``1/L`` converges in the steepest direction without oscillating (``"auto"``).
* With momentum ``β`` (heavy ball, ``optax.sgd(lr, momentum=β)``) the bound is
  ``2(1+β)/L``. Adam normalizes its steps, so L does not bound its learning rate.

The centred design ``X - mean(X)`` has the same L only when X is already
centred; for features around 1e4 its L is smaller by orders of magnitude, and a
learning rate from it would diverge. That is why the intercept column is part
of ``A`` here.

L is estimated by power iteration on ``AᵀA / n``, applied as two matrix-vector
products with X, never forming it: one compiled call, ``O(n_power_iters · n d)``.
The estimate (a Rayleigh quotient) never exceeds the true L.
"""

import functools
import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxlr._model import PRECISION, Params
from jaxlr._validate import check_data, check_learning_rate, check_n_iters

# Power iterations for L. Each costs two passes over X; the Rayleigh quotient's
# error shrinks like (λ₂/λ₁)^(2k), so 30 are plenty for a step size.
N_POWER_ITERS = 30

# The momentum of the "momentum" optimizer (see jaxlr._train).
MOMENTUM = 0.9


class DivergenceWarning(UserWarning):
    """Training diverged, or a learning rate is above the stability bound 2/L.

    The message names the step and the largest stable learning rate.
    """


@functools.partial(jax.jit, static_argnames=("bias", "n_power_iters"))
def _lipschitz_compiled(x: jax.Array, valid: jax.Array | None = None, *, bias: bool, n_power_iters: int) -> jax.Array:
    """2·λmax(AᵀA/n) by power iteration; ``valid`` masks rows padded to split across devices."""
    design = x[:, None] if x.ndim == 1 else x  # (n, d)
    d = design.shape[1]
    n = design.shape[0] if valid is None else jnp.sum(valid, dtype=design.dtype)  # the real rows

    def gram_matvec(v):  # AᵀA v / n with A = [X 1] (or X), without forming AᵀA
        residual = jnp.matmul(design, v[:d], precision=PRECISION)  # (n,)
        if bias:
            residual = residual + v[d]
        if valid is not None:
            residual = jnp.where(valid, residual, 0)
        out = jnp.matmul(residual, design, precision=PRECISION) / n  # (d,)
        if bias:
            out = jnp.concatenate([out, (jnp.sum(residual) / n)[None]])
        return out

    # A fixed pseudo-random start: a structured one (all ones) can be orthogonal to the top
    # eigenvector, e.g. for two opposite standardized features.
    v = jax.random.normal(jax.random.key(0), (d + bias,), dtype=design.dtype)
    v = v / jnp.linalg.norm(v)

    def body(_, v):
        u = gram_matvec(v)
        norm = jnp.linalg.norm(u)
        return jnp.where(norm > 0, u / jnp.where(norm > 0, norm, 1), v)

    v = jax.lax.fori_loop(0, n_power_iters, body, v)
    return 2 * jnp.vdot(v, gram_matvec(v))


def _lipschitz(
    x: jax.Array,
    *,
    bias: bool,
    gradient: str = "autograd",
    n_power_iters: int = N_POWER_ITERS,
    valid: jax.Array | None = None,
) -> float:
    """L for checked, floating ``x``; ``gradient="lesson"`` is N times too large, so is its L.

    ``valid``: the mask of real rows when ``x`` was padded to split across devices.
    """
    value = float(_lipschitz_compiled(x, valid, bias=bias, n_power_iters=n_power_iters))
    if gradient == "lesson":
        value *= x.shape[0] if valid is None else int(jnp.sum(valid))
    return value


def lipschitz_constant(x: ArrayLike, *, bias: bool = True, n_power_iters: int = N_POWER_ITERS) -> float:
    """L, the largest eigenvalue of the MSE loss's Hessian in the trained parameters.

    ``L = 2·λmax([X 1]ᵀ[X 1] / n)`` with a bias, ``2·λmax(XᵀX / n)`` without.
    Gradient descent with ``learning_rate`` above ``2/L`` diverges; ``1/L`` is
    what ``learning_rate="auto"`` uses.

    Args:
      x: features, ``(n,)`` or ``(n, d)``.
      bias: whether the model has a bias (``Params.b`` not ``None``).
      n_power_iters: power iterations; the estimate approaches L from below.

    Returns:
      L as a Python float.

    Examples:
      >>> import jaxlr
      >>> x, _ = jaxlr.lesson_data()
      >>> print(f"{jaxlr.lipschitz_constant(x, bias=False):.3f}")  # 2 * mean(x**2)
      15.000
      >>> print(f"{jaxlr.lipschitz_constant(x * 1e4):.4g}")  # far from centred: L grows with x**2
      1.5e+09
    """
    x = x if isinstance(x, jax.Array) else np.asarray(x)
    dummy_w = 0.0 if x.ndim == 1 else jnp.zeros(x.shape[-1:], jnp.float32)
    n_power_iters = check_n_iters("lipschitz_constant", n_power_iters)
    _, x, _ = check_data("lipschitz_constant", Params(dummy_w), x, jnp.zeros(x.shape[:1], jnp.float32))
    return _lipschitz(x, bias=bool(bias), n_power_iters=n_power_iters)


def max_stable_learning_rate(lipschitz: float, optimizer: Any) -> float | None:
    """The largest learning rate at which ``optimizer`` does not diverge on a quadratic with curvature L.

    ``2/L`` for ``"sgd"`` (and ``None``, the default), ``2(1+β)/L`` for
    ``"momentum"``, ``None`` for Adam or a custom transformation (no such bound).
    """
    if lipschitz <= 0:
        return math.inf
    if optimizer is None or optimizer == "sgd":
        return 2 / lipschitz
    if optimizer == "momentum":
        return 2 * (1 + MOMENTUM) / lipschitz
    return None


def auto_learning_rate(fn: str, x: jax.Array, *, bias: bool, gradient: str, valid: jax.Array | None = None) -> float:
    """``1/L`` for checked ``x``, what ``learning_rate="auto"`` means (``valid``: see ``_lipschitz``)."""
    lipschitz = _lipschitz(x, bias=bias, gradient=gradient, valid=valid)
    if not (math.isfinite(lipschitz) and lipschitz > 0):
        raise ValueError(
            f"{fn}: learning_rate='auto' needs the loss to curve, but L = {lipschitz!r}: "
            "x is all zeros (and there is no bias); give learning_rate explicitly"
        )
    return 1 / lipschitz


def check_auto(fn: str, learning_rate: str) -> None:
    if learning_rate != "auto":
        raise TypeError(f"{fn}: learning_rate must be a positive real number or 'auto', got str {learning_rate!r}")


def _optimizer_name(optimizer: Any) -> str:
    return "sgd" if optimizer is None else optimizer if isinstance(optimizer, str) else "this optimizer"


def instability_message(learning_rate: float, lipschitz: float, optimizer: Any) -> str | None:
    """Why ``learning_rate`` will diverge, or ``None`` if it is within the bound."""
    bound = max_stable_learning_rate(lipschitz, optimizer)
    if bound is None or learning_rate <= bound:
        return None
    factor = "2(1+β)/L" if optimizer == "momentum" else "2/L"
    return (
        f"learning rate {learning_rate:g} is above the stability bound {factor} = {bound:.4g} "
        f"for {_optimizer_name(optimizer)} on this data (L = {lipschitz:.4g}): training will diverge. "
        f"Use a learning rate below {bound:.4g}, e.g. 1/L = {1 / lipschitz:.4g} ('auto')"
    )


def divergence_message(
    fn: str, step: int, learning_rate: float | None, lipschitz: float, optimizer: Any, *, standardized: bool = False
) -> str:
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
    if bound is None:
        return (
            f"{head} with learning rate {learning_rate:g}; {_optimizer_name(optimizer)} has no curvature bound, "
            f"try a smaller learning rate (for sgd, 2/L = {2 / lipschitz:.4g} and 1/L = {1 / lipschitz:.4g})"
        )
    factor = "2(1+β)/L" if optimizer == "momentum" else "2/L"
    if learning_rate > bound:
        return (
            f"{head}: learning rate {learning_rate:g} is above the stability bound {factor} = {bound:.4g} "
            f"(L = {lipschitz:.4g}); a stable choice is 1/L = {1 / lipschitz:.4g} (learning_rate='auto')"
        )
    hint = "" if standardized else "; standardizing the features may help"
    return (
        f"{head} although learning rate {learning_rate:g} is within the bound {factor} = {bound:.4g} "
        f"(L = {lipschitz:.4g}): the data may be too badly scaled for this precision{hint}"
    )


def warn_if_unstable(
    x: ArrayLike, learning_rate: float, *, bias: bool = True, optimizer: Any = None, gradient: str = "autograd"
) -> float | None:
    """Warns (:class:`DivergenceWarning`) if ``learning_rate`` is above the stability bound for ``x``.

    What ``jaxlr fit`` checks before training with a given learning rate. It
    costs one power iteration (see :func:`lipschitz_constant`), which
    :func:`jaxlr.fit` does not do for an explicit learning rate; ``fit`` warns
    after the fact, when a run diverged.

    Args:
      x: features, ``(n,)`` or ``(n, d)``.
      learning_rate: the learning rate to check.
      bias: whether the model has a bias.
      optimizer: ``None``/``"sgd"``, ``"momentum"``, ``"adam"`` (no bound) or a transformation (no bound).
      gradient: ``"lesson"`` for the lesson's N-times-too-large gradient; otherwise ignored.

    Returns:
      The largest stable learning rate, or ``None`` when the optimizer has no such bound.

    Examples:
      >>> import warnings
      >>> import jaxlr
      >>> x, _ = jaxlr.lesson_data()
      >>> with warnings.catch_warnings(record=True) as caught:
      ...     warnings.simplefilter("always")
      ...     bound = jaxlr.warn_if_unstable(x, 0.2, bias=False)
      >>> print(f"{bound:.4f}", caught[0].category.__name__)
      0.1333 DivergenceWarning
    """
    learning_rate = check_learning_rate("warn_if_unstable", learning_rate)
    lipschitz = lipschitz_constant(x, bias=bias)
    if gradient == "lesson":
        lipschitz *= np.shape(x)[0]
    message = instability_message(learning_rate, lipschitz, optimizer)
    if message is not None:
        warnings.warn(message, DivergenceWarning, stacklevel=2)
    return max_stable_learning_rate(lipschitz, optimizer)
