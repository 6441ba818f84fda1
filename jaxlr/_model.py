"""The model, its loss and its gradients: ``f = w * x`` (the lesson) and ``f = x @ w + b`` (its sequel).

The public functions check their inputs and, called eagerly, refuse NaN/inf inputs and overflowed results.
The underscored ones, for compiled code, add sample weights ``s`` and an L2 penalty on ``w``:
``loss = Σ sᵢ rᵢ² / Σ sᵢ + l2 · |w|²``, ``r = f(x) − y``.
"""

import functools
from typing import Any

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero
from jax.typing import ArrayLike

from jaxlr._types import Params
from jaxlr._validate import as_input, as_params, check_data, check_finite, checked_data

# XLA's GPU default (TF32) would disagree with PyTorch, which computes float32 matmuls in full precision.
PRECISION = jax.lax.Precision.HIGHEST


@jax.custom_jvp
def matvec(x: jax.Array, w: jax.Array) -> jax.Array:
    """``x @ w`` at full precision, whose derivatives are reductions: the tangent ``Σ_j x_ij dw_j`` transposes
    to ``Σ_i x_ij g_i``, a product summed over rows, which XLA:CPU runs several times faster than ``g @ x``."""
    return jnp.matmul(x, w, precision=PRECISION)


@matvec.defjvp
def _matvec_jvp(primals: tuple, tangents: tuple) -> tuple[jax.Array, jax.Array]:
    (x, w), (dx, dw) = primals, tangents
    return matvec(x, w), jnp.sum(x * dw[None, :], axis=-1) + jnp.sum(dx * w[None, :], axis=-1)


def _predict(params: Params, x: jax.Array) -> jax.Array:
    w, b = params
    y_pred = w * x if jnp.ndim(w) == 0 else matvec(x, w)
    return jnp.asarray(y_pred if b is None else y_pred + b)


def _penalty(params: Params, l2: Any) -> Any:
    return 0.0 if l2 is None else jnp.sum(l2 * jnp.square(params.w))


@jax.custom_jvp
def _scalar_sse(w: jax.Array, b: Any, x: jax.Array, y: jax.Array, s: Any) -> jax.Array:
    """``Σ sᵢ (w xᵢ + b − yᵢ)²`` for a scalar ``w``, whose derivative recomputes the residual (behind an
    ``optimization_barrier``) instead of storing it, as ``jax.grad`` would: 2–3× faster on a CPU."""
    r = w * x + (0 if b is None else b) - y
    return jnp.sum(r * r if s is None else s * r * r)


@functools.partial(_scalar_sse.defjvp, symbolic_zeros=True)
def _scalar_sse_jvp(primals: tuple, tangents: tuple) -> tuple[jax.Array, jax.Array]:
    w, b, x, y, s = primals
    dw, db, dx, dy, ds = (None if isinstance(t, SymbolicZero) else t for t in tangents)
    w_, b_, x_, y_, s_ = jax.lax.optimization_barrier(primals)
    r = w_ * x_ + (0 if b_ is None else b_) - y_
    twice_sr = 2 * r if s_ is None else 2 * s_ * r
    tangent = jnp.zeros((), jnp.result_type(w, x))
    if dw is not None:
        tangent += dw * jnp.sum(twice_sr * x_)
    if db is not None:
        tangent += db * jnp.sum(twice_sr)
    if dx is not None or dy is not None:  # differentiating with respect to the data
        moved = (0 if dx is None else w * dx) - (0 if dy is None else dy)
        tangent += jnp.sum(twice_sr * moved)
    if ds is not None:
        tangent += jnp.sum(ds * r * r)
    return _scalar_sse(w, b, x, y, s), tangent


def _loss(params: Params, x: jax.Array, y: jax.Array, weights: jax.Array | None = None, l2: Any = None) -> jax.Array:
    total = y.shape[0] if weights is None else jnp.sum(weights)
    if jnp.ndim(params.w) == 0 and jnp.ndim(x) == 1:
        return _scalar_sse(params.w, params.b, x, y, weights) / total + _penalty(params, l2)
    r = _predict(params, x) - y
    return jnp.sum(r * r if weights is None else weights * r * r) / total + _penalty(params, l2)


def loss_and_gradient(
    gradient: str, params: Params, x: jax.Array, y: jax.Array, weights: jax.Array | None = None, l2: Any = None
) -> tuple[jax.Array, Params]:
    """``(loss, gradient)`` by ``"autograd"`` (``jax.grad``), ``"manual"`` or ``"lesson"`` (N times the manual one)."""
    if gradient == "autograd":
        return jax.value_and_grad(_loss)(params, x, y, weights, l2)
    r = _predict(params, x) - y
    rw, total = (r, y.shape[0]) if weights is None else (weights * r, jnp.sum(weights))
    # the lesson's np.dot(2*x, y_pred - y), as a sum over rows
    dw = jnp.sum(2 * x * rw) if jnp.ndim(params.w) == 0 else jnp.sum(2 * x * rw[:, None], axis=0)
    grads = Params(dw, None if params.b is None else 2 * jnp.sum(rw))
    if gradient != "lesson":
        grads = jax.tree.map(lambda g: g / total, grads)
    if l2 is not None:
        grads = grads._replace(w=grads.w + 2 * (total if gradient == "lesson" else 1) * l2 * params.w)
    return jnp.sum(r * rw) / total + _penalty(params, l2), grads


GRADIENTS = ("autograd", "manual", "lesson")  # what fit(..., gradient=...) accepts


def _checked_gradient(fn: str, gradient: str, params: Any, x: Any, y: Any) -> Params:
    return check_finite(fn, loss_and_gradient(gradient, *checked_data(fn, params, x, y))[1])


def predict(params: Params, x: ArrayLike) -> jax.Array:
    """The model's output, the lesson's ``forward(x)``: ``w * x`` or ``x @ w`` (at full precision), plus ``b``;
    ``x`` is a scalar or ``(n,)`` for a scalar ``w``, ``(d,)`` or ``(n, d)`` for ``w`` of shape ``(d,)``.

    Examples:
      >>> import jaxlr
      >>> jaxlr.predict(jaxlr.Params(w=[1.0, -1.0], b=0.5), [[3.0, 1.0]]).tolist()
      [2.5]
    """
    params, x, _ = check_data("predict", as_params("predict", params), as_input("predict", "x", x))
    check_finite("predict", x=x, **{"params.w": params.w, "params.b": params.b})
    return check_finite("predict", _predict(params, x))


def mse_loss(params: Params, x: ArrayLike, y: ArrayLike) -> jax.Array:
    """Mean squared error on ``(x, y)``, ``mean((predict(params, x) - y)**2)``, a pure function of ``params``.

    Examples:
      >>> import jaxlr
      >>> x, y = jaxlr.lesson_data()
      >>> print(f"{jaxlr.mse_loss(jaxlr.Params(w=0.0), x, y):.8f}")
      30.00000000
    """
    return check_finite("mse_loss", _loss(*checked_data("mse_loss", params, x, y)))


def autograd_gradient(params: Params, x: ArrayLike, y: ArrayLike) -> Params:
    """The MSE gradient by automatic differentiation, ``jax.grad(mse_loss)``: PyTorch's ``w.grad``.

    Examples:
      >>> import jaxlr
      >>> x, y = jaxlr.lesson_data()
      >>> print(f"{jaxlr.autograd_gradient(jaxlr.Params(w=0.0), x, y).w:.3f}")
      -30.000
    """
    return _checked_gradient("autograd_gradient", "autograd", params, x, y)


def manual_gradient(params: Params, x: ArrayLike, y: ArrayLike) -> Params:
    """The MSE gradient written out by hand: ``dJ/dw = 2/N · Xᵀ(Xw + b − y)``, ``dJ/db = 2·mean(r)``, the lesson's
    ``dJ/dw = 1/N * 2x(w*x - y)`` done right; equal to :func:`autograd_gradient` up to rounding.

    Examples:
      >>> import jaxlr
      >>> x, y = jaxlr.lesson_data()
      >>> print(jaxlr.manual_gradient(jaxlr.Params(w=0.0), x, y))
      Params(w=Array(-30., dtype=float32), b=None)
    """
    return _checked_gradient("manual_gradient", "manual", params, x, y)


def lesson_gradient_n_times_too_large(params: Params, x: ArrayLike, y: ArrayLike) -> Params:
    """The lesson's hand-written gradient ``np.dot(2*x, y_pred - y).mean()``, N times the true one: ``np.dot``
    already sums, so ``.mean()`` divides by nothing. With a bias and ``(n, d)`` data, ``2·Xᵀr`` and ``2·sum(r)``.

    Examples:
      >>> import jaxlr
      >>> x, y = jaxlr.lesson_data()  # N = 4
      >>> print(f"{jaxlr.lesson_gradient_n_times_too_large(jaxlr.Params(w=0.0), x, y).w:.3f}")
      -120.000
    """
    return _checked_gradient("lesson_gradient_n_times_too_large", "lesson", params, x, y)
