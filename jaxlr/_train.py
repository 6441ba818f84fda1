"""Training: the lesson's loop as one ``lax.scan`` under one ``jax.jit``.

PyTorch's loop mutates ``w`` in place and must zero ``w.grad`` by hand. Here one
step is a pure function ``step(carry, i) -> (carry, metrics)``: it takes the
parameters and optimizer state, returns new ones, and ``lax.scan`` runs it
``n_iters`` times inside a single compiled program.
"""

import functools
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from jaxlr._gradients import GRADIENTS
from jaxlr._methods import METHODS, build_loss_and_grad, choose_method, scan_unroll
from jaxlr._model import Params
from jaxlr._validate import check_choice, check_data, check_learning_rate, check_n_iters


def _momentum(learning_rate: Any) -> optax.GradientTransformation:
    return optax.sgd(learning_rate, momentum=0.9)


# Optimizers by name. Built inside the compiled function from a traced learning
# rate, so a new learning rate reuses the compiled program (and can be vmapped).
OPTIMIZERS = {"sgd": optax.sgd, "momentum": _momentum, "adam": optax.adam}

HISTORY_MODES = ("full", "loss", "none")

# A loss this many times above max(initial loss, mean(y**2)) counts as diverged.
_BLOWUP_FACTOR = 1e10


class History(NamedTuple):
    """Per-step records of a fit, in the lesson's print semantics.

    Attributes:
      params: :class:`Params` stacked along a leading axis of length ``n_iters``:
        the parameters after step ``i``'s update (``None`` unless ``history="full"``).
      loss: shape ``(n_iters,)``, the loss computed at step ``i`` before its update
        (``None`` when ``history="none"``).
    """

    params: Params | None
    loss: jax.Array | None


class FitResult(NamedTuple):
    """What :func:`fit` returns.

    Attributes:
      params: the final :class:`Params`.
      history: the per-step :class:`History`.
      diverged: whether the loss or the parameters became non-finite, or the
        loss blew up past ``1e10`` times its starting scale. A diverged result is
        not an answer.
      diverged_at: the 0-based step at which divergence was first seen, or ``None``.
    """

    params: Params
    history: History
    diverged: bool
    diverged_at: int | None


def _check_optimizer(fn: str, optimizer: Any) -> str | optax.GradientTransformation:
    if optimizer is None:
        return "sgd"
    if isinstance(optimizer, str):
        return check_choice(fn, "optimizer", optimizer, OPTIMIZERS)
    if isinstance(optimizer, optax.GradientTransformation):
        return optimizer
    raise TypeError(
        f"{fn}: optimizer must be None, one of {', '.join(map(repr, OPTIMIZERS))} "
        f"or an optax.GradientTransformation; got {type(optimizer).__name__}"
    )


def _fit_loop(
    params: Params,
    x: jax.Array,
    y: jax.Array,
    learning_rate: jax.Array,
    *,
    optimizer: str | optax.GradientTransformation,
    gradient: str,
    n_iters: int,
    history: str,
    method: str = "plain",
) -> tuple[Params, History, jax.Array]:
    """The training loop, traceable and vmappable over ``learning_rate`` and ``params``.

    Returns ``(final params, history, diverged_at)``, ``diverged_at = -1`` if the
    run never diverged.
    """
    chex.assert_rank(y, 1)
    chex.assert_equal_shape_prefix((x, y), 1)
    tx = OPTIMIZERS[optimizer](learning_rate) if isinstance(optimizer, str) else optimizer
    loss_and_grad = build_loss_and_grad(method, gradient, params, x, y)  # params -> (loss, grads)

    scale = jnp.mean(y * y)

    def step(carry, i):
        params, opt_state, reference, diverged_at = carry
        loss, grads = loss_and_grad(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        reference = jnp.where(i == 0, jnp.maximum(loss, scale), reference)
        bad = ~jnp.isfinite(loss) | (loss > _BLOWUP_FACTOR * reference)
        for leaf in jax.tree.leaves(params):
            bad = bad | ~jnp.all(jnp.isfinite(leaf))
        diverged_at = jnp.where((diverged_at < 0) & bad, i, diverged_at)
        if history == "full":
            record = History(params, loss)
        elif history == "loss":
            record = History(None, loss)
        else:
            record = History(None, None)
        return (params, opt_state, reference, diverged_at), record

    init = (params, tx.init(params), jnp.zeros((), scale.dtype), jnp.array(-1, jnp.int32))
    (params, _, _, diverged_at), records = jax.lax.scan(
        step, init, jnp.arange(n_iters, dtype=jnp.int32), unroll=scan_unroll(n_iters, x)
    )
    return params, records, diverged_at


def _all_finite(*arrays: Any) -> jax.Array:
    """One flag per argument: every element finite. A reduction on the device.

    ``isfinite(max(abs(a)))``: the max of finite numbers is finite, and NaN and
    inf carry through it. A float max vectorizes; ``all(isfinite(a))`` reduces
    booleans at a quarter of the speed on a CPU.
    """
    return jnp.stack([jnp.isfinite(jnp.max(jnp.abs(a))) for a in arrays])


@functools.partial(jax.jit, static_argnames=("optimizer", "gradient", "n_iters", "history", "method"))
def _fit_compiled(params, x, y, learning_rate, *, optimizer, gradient, n_iters, history, method="plain"):
    b = jnp.zeros((), x.dtype) if params.b is None else params.b
    finite = _all_finite(x, y, params.w, b)
    final, records, diverged_at = _fit_loop(
        params,
        x,
        y,
        learning_rate,
        optimizer=optimizer,
        gradient=gradient,
        n_iters=n_iters,
        history=history,
        method=method,
    )
    # One small output for the host to read: every extra output costs a fast fit ~1 µs.
    status = jnp.concatenate([finite.astype(jnp.int32), diverged_at[None]])
    return final, records, status


def raise_if_not_finite(fn: str, finite: Any) -> None:
    """Raises for the first of ``x``, ``y``, ``params`` with a NaN or inf (``finite`` from ``_all_finite``)."""
    for name, ok in zip(("x", "y", "params.w", "params.b"), finite, strict=True):
        if not ok:
            what = "the data" if name in ("x", "y") else "the initial parameters"
            raise ValueError(f"{fn}: {name} contains NaN or inf; {what} must be finite numbers")


def fit(
    params: Params,
    x: ArrayLike,
    y: ArrayLike,
    *,
    learning_rate: float = 0.01,
    n_iters: int = 100,
    optimizer: str | optax.GradientTransformation | None = None,
    gradient: str = "autograd",
    history: str = "full",
    method: str = "auto",
) -> FitResult:
    """Fits the linear model to ``(x, y)`` by gradient descent on the MSE.

    The lesson's training loop: each step computes the loss and its gradient and
    lets the optimizer update the parameters. All ``n_iters`` steps run in one
    ``lax.scan`` inside one ``jax.jit``; a second call with the same shapes,
    dtypes and options reuses the compiled program.

    Args:
      params: initial :class:`Params`; ``Params(w=0.0)`` is the lesson's model.
      x: inputs, ``(n,)`` for a scalar ``w`` or ``(n, d)`` for ``w`` of shape ``(d,)``.
      y: targets, ``(n,)``.
      learning_rate: the step size, positive and finite. Used by the default
        optimizer and the named ones; ignored when ``optimizer`` is an
        ``optax.GradientTransformation``, which carries its own.
      n_iters: number of steps, at least 1.
      optimizer: ``None`` (``optax.sgd(learning_rate)``, the lesson's
        ``w -= learning_rate * w.grad``), ``"sgd"``, ``"momentum"`` (0.9),
        ``"adam"``, or any ``optax.GradientTransformation``. A transformation is
        part of the compiled program's key: reuse the same object to avoid
        recompiling.
      gradient: ``"autograd"`` (``jax.grad``), ``"manual"`` (the analytic
        gradient) or ``"lesson"`` (the lesson's N-times-too-large gradient,
        for reproducing its trace only).
      history: ``"full"`` keeps the loss and parameters of every step,
        ``"loss"`` the loss only, ``"none"`` neither.
      method: how each step computes the loss and gradient. ``"plain"`` reads
        the data once per step (on a CPU in cache-sized blocks); ``"gram"`` reads it
        once before the loop for the sufficient statistics ``XᵀX``, ``Xᵀy``,
        and then costs ``O(d²)`` per step; ``"auto"`` picks ``"gram"`` for large
        data with ``n ≫ d`` and enough steps to pay for it (the rule is in
        ``jaxlr._methods.choose_method``). Results agree up to float rounding.

    Returns:
      A :class:`FitResult`. ``history.loss[i]`` is the loss before step ``i``'s
      update and ``history.params[i]`` the parameters after it, as the lesson
      prints them.

    Raises:
      TypeError, ValueError: for inputs that cannot be fitted, with a message
        naming the argument, what was expected and what was given.

    Examples:
      >>> import jaxlr
      >>> x, y = jaxlr.lesson_data()
      >>> result = jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=0.01, n_iters=100)
      >>> print(f"w = {result.params.w:.3f}, f(5) = {jaxlr.predict(result.params, 5.0):.3f}")
      w = 2.000, f(5) = 10.000
      >>> print(f"{result.history.loss[0]:.8f}")  # before the first update
      30.00000000
    """
    params, x, y = check_data("fit", params, x, y, keep_numpy=True)
    learning_rate = check_learning_rate("fit", learning_rate)
    n_iters = check_n_iters("fit", n_iters)
    gradient = check_choice("fit", "gradient", gradient, GRADIENTS)
    history = check_choice("fit", "history", history, HISTORY_MODES)
    optimizer = _check_optimizer("fit", optimizer)
    method = choose_method(check_choice("fit", "method", method, METHODS), x.shape, x.dtype.itemsize, n_iters)
    final, records, status = _fit_compiled(
        params,
        x,
        y,
        learning_rate,
        optimizer=optimizer,
        gradient=gradient,
        n_iters=n_iters,
        history=history,
        method=method,
    )
    status = np.asarray(status)  # the one device-to-host transfer; free on the CPU
    finite, diverged_at = status[:-1], int(status[-1])
    if not finite.all():
        raise_if_not_finite("fit", finite)
    return FitResult(final, records, diverged_at >= 0, diverged_at if diverged_at >= 0 else None)
