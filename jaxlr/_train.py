"""Training: the lesson's loop as one ``lax.scan`` under one ``jax.jit``.

PyTorch's loop mutates ``w`` in place and must zero ``w.grad`` by hand. Here one
step is a pure function ``step(carry, i) -> (carry, metrics)``: it takes the
parameters and optimizer state, returns new ones, and ``lax.scan`` runs it
``n_iters`` times inside a single compiled program.
"""

import contextlib
import functools
import math
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding, SingleDeviceSharding
from jax.typing import ArrayLike

from jaxlr._gradients import GRADIENTS
from jaxlr._lr import DivergenceWarning, _lipschitz, auto_learning_rate, check_auto, divergence_message
from jaxlr._methods import METHODS, build_loss_and_grad, choose_method, scan_unroll, whole_loss_and_grad
from jaxlr._model import Params
from jaxlr._progress import MIN_STEPS as _MIN_PROGRESS_STEPS
from jaxlr._progress import progress_bar, report_every, scan_with_progress
from jaxlr._sharding import (
    auto_axes,
    auto_axes_context,
    explicit_mesh,
    ignore_padded_rows,
    restore_axes,
    row_mesh,
    shard_rows,
)
from jaxlr._validate import check_choice, check_data, check_history_size, check_learning_rate, check_n_iters

try:  # the class of a concrete jax.Array: ``type(x) is _ArrayImpl`` tells it from tracers and NumPy quickly
    from jax._src.array import ArrayImpl as _ArrayImpl
except ImportError:  # not where it was: every call takes fit's general path, which is as correct
    _ArrayImpl = None


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
      learning_rate: the learning rate used (``1/L`` for ``learning_rate="auto"``),
        or ``None`` when the optimizer was a transformation carrying its own.
    """

    params: Params
    history: History
    diverged: bool
    diverged_at: int | None
    learning_rate: float | None = None


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
    progress_every: int = 0,
    method: str = "plain",
    blocked: bool = True,
    valid: jax.Array | None = None,
    sum_of_squares: jax.Array | None = None,
) -> tuple[Params, History, jax.Array]:
    """The training loop, traceable and vmappable over ``learning_rate`` and ``params``.

    ``method``: ``"plain"`` or ``"gram"`` (see ``jaxlr._methods``); ``blocked``:
    whether the plain pass may loop over cache-sized blocks of rows (not for rows
    split across devices, where a block would gather rows from other devices).
    ``valid``: ``None``, or a boolean mask of the rows to fit when the data was
    padded with rows of zeros to split evenly across devices (see
    ``jaxlr._sharding``); such data takes the plain path, in one piece.
    ``sum_of_squares``: ``sum(y²)`` where the caller has computed it (see
    :func:`_scan_data`), for the scale of the divergence test.

    Returns ``(final params, history, diverged_at)``, ``diverged_at = -1`` if the
    run never diverged. ``progress_every > 0`` reports the loss to the host every
    that many steps (see ``jaxlr._progress``); not meant for vmapped runs.
    """
    chex.assert_rank(y, 1)
    chex.assert_equal_shape_prefix((x, y), 1)
    tx = OPTIMIZERS[optimizer](learning_rate) if isinstance(optimizer, str) else optimizer
    scale = (jnp.sum(y * y) if sum_of_squares is None else sum_of_squares) / y.shape[0]
    if valid is None:
        loss_and_grad = build_loss_and_grad(method, gradient, params, x, y, blocked=blocked)  # params -> (loss, grads)
    else:
        masked = ignore_padded_rows(whole_loss_and_grad(gradient), valid, grads_are_means=gradient != "lesson")
        loss_and_grad = functools.partial(masked, x=x, y=y)
        scale = scale * (y.shape[0] / jnp.sum(valid, dtype=scale.dtype))

    def step(carry, i):
        params, opt_state, reference, diverged_at = carry
        loss, grads = loss_and_grad(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        # The carried reference starts as ``scale`` (no constant to copy in the compiled program).
        reference = jnp.where(i == 0, jnp.maximum(loss, reference), reference)
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

    init = (params, tx.init(params), scale, jnp.array(-1, jnp.int32))
    if progress_every:
        loss_of = lambda carry: loss_and_grad(carry[0])[0]  # noqa: E731
        carry, records = scan_with_progress(step, init, n_iters, every=progress_every, loss_of=loss_of)
        (params, _, _, diverged_at) = carry
    else:

        def counted(carry, _):  # the step index carried, not read from an array of indices
            inner, i = carry
            inner, record = step(inner, i)
            return (inner, i + 1), record

        ((params, _, _, diverged_at), _), records = jax.lax.scan(
            counted, (init, jnp.array(0, jnp.int32)), None, length=n_iters, unroll=scan_unroll(n_iters, x)
        )
    return params, records, diverged_at


def _all_finite(*arrays: Any) -> jax.Array:
    """One flag per argument: every element finite. A reduction on the device.

    ``isfinite(sum(a * 0))``: ``a * 0`` is 0 for a finite element and NaN for NaN
    or inf, and a sum carries NaN through every reduction order, across devices
    too. A float sum vectorizes; ``all(isfinite(a))`` reduces booleans at about
    two thirds of the speed on a CPU. (A float ``max`` would be as fast but is
    not safe: XLA's vectorized max on the CPU can drop a NaN.)
    """
    return jnp.stack([jnp.isfinite(jnp.sum(a * 0)) for a in arrays])


def _scan_data(x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(sum(y²), [x finite, y finite])``, the fit's one look at the data before its loop.

    The same sums as :func:`_all_finite`, stacked with ``y²`` into one reduction: one
    kernel instead of two, which saves a small fit about 0.5 µs on a CPU.
    """
    x_rows = x if x.ndim == 1 else jnp.sum(x * 0, axis=1)
    sums = jnp.sum(jnp.stack([y * y, x_rows * 0, y * 0]), axis=1)
    return sums[0], jnp.isfinite(sums[1:])


def _fit_program(
    params,
    x,
    y,
    learning_rate,
    *,
    optimizer,
    gradient,
    n_iters,
    history,
    progress_every=0,
    method="plain",
    blocked=True,
    valid=None,
):
    """The fit as one program: ``(final params, history, status)``.

    ``status`` is int32 ``[x, y, params.w, params.b finite..., diverged_at]``: one
    small output for the host to read, since every extra output costs a fast fit
    about 1 µs.
    """
    sum_of_squares, finite_data = _scan_data(x, y)
    b = jnp.zeros((), x.dtype) if params.b is None else params.b
    finite = jnp.concatenate([finite_data, _all_finite(params.w, b)])
    final, records, diverged_at = _fit_loop(
        params,
        x,
        y,
        learning_rate,
        optimizer=optimizer,
        gradient=gradient,
        n_iters=n_iters,
        history=history,
        progress_every=progress_every,
        method=method,
        blocked=blocked,
        valid=valid,
        sum_of_squares=sum_of_squares,
    )
    return final, records, jnp.concatenate([finite.astype(jnp.int32), diverged_at[None]])


_fit_compiled = jax.jit(
    _fit_program,
    static_argnames=("optimizer", "gradient", "n_iters", "history", "progress_every", "method", "blocked"),
)


def _check_options(
    fn: str, *, n_iters: Any, optimizer: Any, gradient: Any, history: Any, method: Any
) -> dict[str, Any]:
    """The options of ``fit`` and ``sweep``, checked, as keyword arguments of the training loop.

    Static values only, so it runs eagerly or while tracing.
    """
    return dict(  # checked in this order
        n_iters=check_n_iters(fn, n_iters),
        gradient=check_choice(fn, "gradient", gradient, GRADIENTS),
        history=check_choice(fn, "history", history, HISTORY_MODES),
        optimizer=_check_optimizer(fn, optimizer),
        method=check_choice(fn, "method", method, METHODS),
    )


def _check_fit_history(params: Params, x: Any, options: dict[str, Any]) -> None:
    """Refuses a history too large to allocate (see ``check_history_size``), before the fit runs."""
    n_params = params.w.size + (params.b is not None)  # b is a scalar
    check_history_size("fit", options["n_iters"], options["history"], n_params, x.dtype.itemsize)


class _CheckFailed(Exception):
    """A check failed while tracing :func:`_fit_checked`; ``fit`` runs its eager checks to raise the error plainly."""


@functools.partial(jax.jit, static_argnums=(4, 5, 6, 7, 8))  # positional: quicker to dispatch than keywords
def _fit_checked(params, x, y, learning_rate, n_iters, optimizer, gradient, history, method):
    """:func:`fit`'s common call, with its checks made while tracing.

    The checks read shapes, dtypes and options, all static to ``jax.jit``: they
    run when a new combination is traced, as chex asserts do, and a repeated
    call goes straight to the compiled program. A check that fails raises
    :class:`_CheckFailed`, and ``fit`` then raises the error from its eager checks,
    so that the user's traceback ends in jaxlr, not in JAX's tracing.
    """
    try:
        params, x, y = check_data("fit", params, x, y, finite=False)
        options = _check_options(
            "fit", n_iters=n_iters, optimizer=optimizer, gradient=gradient, history=history, method=method
        )
        _check_fit_history(params, x, options)
    except (TypeError, ValueError) as e:
        raise _CheckFailed from e
    options["method"] = choose_method(options["method"], x.shape, x.dtype.itemsize, options["n_iters"])
    return _fit_program(params, x, y, learning_rate, **options)


def _is_common_call(params: Any, x: Any, y: Any, n_iters: Any, *strings: Any) -> bool:
    """Whether ``fit`` (``sweep``) may take :func:`_fit_checked` (``_sweep_checked``): data already on one device.

    ``x`` and ``y`` are single-device ``jax.Array``s, whose shapes and dtypes can
    be checked while tracing. The parameters are Python numbers, NumPy arrays of
    numbers or single-device jax arrays that are not weakly typed (a Python number
    is, and must stay the only weak input: it does not set the dtype). ``n_iters``
    is an int and the options are strings (or ``None``), hashable as static
    arguments of ``jax.jit``. No ``jax.set_mesh`` context is active. Anything else
    takes the general path, whose eager checks accept more.
    """
    if type(x) is not _ArrayImpl or type(y) is not _ArrayImpl or type(params) is not Params:
        return False
    if type(x.sharding) is not SingleDeviceSharding or type(y.sharding) is not SingleDeviceSharding:
        return False
    if type(n_iters) is not int:
        return False
    values: tuple[Any, Any] = (params.w, params.b)
    for value in values:
        if type(value) is _ArrayImpl:
            if value.weak_type or type(value.sharding) is not SingleDeviceSharding:
                return False
        elif type(value) is np.ndarray:
            if value.dtype.kind not in "fiu":  # else jit itself would refuse it, in its own words
                return False
        elif not (type(value) is float or type(value) is int or value is None):
            return False
    if params.w is None:
        return False
    for value in strings:
        if not (type(value) is str or value is None):
            return False
    return jax.sharding.get_abstract_mesh().empty


def _named(value: Any) -> bool:
    """Whether ``value`` is an array with a ``NamedSharding`` (the one kind of sharding with a mesh)."""
    return isinstance(getattr(value, "sharding", None), NamedSharding)


def _auto_axes_data(params: Params, x: Any, y: Any) -> tuple[Params, jax.Array, jax.Array]:
    """``auto_axes`` on each array of a checked training set (no ``jax.tree.map``: this is the fast path)."""
    w, b = auto_axes(params.w), None if params.b is None else auto_axes(params.b)
    if w is not params.w or b is not params.b:
        params = Params(w, b)
    return params, auto_axes(x), auto_axes(y)


def read_status(fn: str, status: Any) -> int:
    """Raises for non-finite inputs flagged in ``status``; returns ``diverged_at`` (-1: did not diverge)."""
    flags = np.asarray(status).tolist()  # the one device-to-host transfer; a list is quicker to test than an array
    if not all(flags[:-1]):
        raise_if_not_finite(fn, flags[:-1])
    return flags[-1]


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
    learning_rate: float | str = 0.01,
    n_iters: int = 100,
    optimizer: str | optax.GradientTransformation | None = None,
    gradient: str = "autograd",
    history: str = "full",
    progress: bool = False,
    devices: int | Sequence[jax.Device] | None = None,
    mesh: jax.sharding.Mesh | None = None,
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
      learning_rate: the step size, positive and finite, or ``"auto"``: ``1/L``,
        L the largest eigenvalue of the loss's Hessian in the trained parameters
        (see :func:`lipschitz_constant`; a few power iterations on the data before
        training). Used by the default optimizer and the named ones; ignored when
        ``optimizer`` is an ``optax.GradientTransformation``, which carries its own.
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
      progress: show a progress bar with the running loss on stderr, updated
        from inside the compiled loop at most 20 times (for ``n_iters`` of at
        least 5000; shorter fits are too quick for one).
      devices: split the rows of ``x`` and ``y`` across devices (data
        parallelism): an int (the first that many of ``jax.devices()``) or a
        list of devices. The data goes from the host straight to the devices,
        padded with rows of zeros to a multiple of the device count; the padded
        rows are masked out exactly. The parameters are replicated.
      mesh: like ``devices``, over a ``jax.sharding.Mesh``'s devices, the rows
        split along all of its axes. Without ``devices`` or ``mesh``, ``x`` and
        ``y`` are used where they are: already sharded along their rows
        (``NamedSharding(mesh, P("data", None))``, on any mesh) the fit runs
        data-parallel, with the means over rows as XLA all-reduces.
      method: how each step computes the loss and gradient. ``"plain"`` reads
        the data once per step (on a CPU in cache-sized blocks); ``"gram"`` reads it
        once before the loop for the sufficient statistics ``XᵀX``, ``Xᵀy``,
        and then costs ``O(d²)`` per step; ``"auto"`` picks ``"gram"`` for large
        data with ``n ≫ d`` and enough steps to pay for it (the rule is in
        ``jaxlr._methods.choose_method``). Results agree up to float rounding.
        Rows padded for ``devices=``/``mesh=`` always take the plain path.

    Returns:
      A :class:`FitResult`. ``history.loss[i]`` is the loss before step ``i``'s
      update and ``history.params[i]`` the parameters after it, as the lesson
      prints them. If the run diverged, ``fit`` also warns with a
      :class:`DivergenceWarning` naming the step and a stable learning rate
      (computed only then: a fit that converges pays nothing for it).

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
    if devices is None and mesh is None and not progress:
        rate = learning_rate if type(learning_rate) is float and 0.0 < learning_rate < math.inf else None
        if rate is not None and _is_common_call(params, x, y, n_iters, optimizer, gradient, history, method):
            try:
                final, records, status = _fit_checked(
                    params, x, y, learning_rate, n_iters, optimizer, gradient, history, method
                )
            except _CheckFailed:
                pass  # the general path below raises the error
            else:
                return _fit_result(params, x, y, final, records, status, rate, optimizer, gradient, None)
    # Results go back to the caller's Explicit mesh. Only a NamedSharding has a mesh: data
    # without one (NumPy, one device) leaves only the context mesh to look at.
    home = explicit_mesh(mesh, x, y) if mesh is not None or _named(x) or _named(y) else explicit_mesh()
    valid = None
    if devices is not None or mesh is not None:
        x, y, valid = shard_rows(x, y, row_mesh("fit", devices, mesh))
    params, x, y = check_data("fit", params, x, y, finite=False, keep_numpy=True)
    if _named(x) or _named(y) or _named(params.w) or _named(params.b):  # else auto_axes would change nothing
        params, x, y = _auto_axes_data(params, x, y)
    auto = isinstance(learning_rate, str)
    if auto:
        check_auto("fit", learning_rate)
        rate = 0.0  # computed below, once the other arguments are known to be valid
    else:
        rate = check_learning_rate("fit", learning_rate)
    sharded = isinstance(x, jax.Array) and not isinstance(x.sharding, SingleDeviceSharding)
    sharded = sharded and len(x.sharding.device_set) > 1
    options = _check_options(
        "fit", n_iters=n_iters, optimizer=optimizer, gradient=gradient, history=history, method=method
    )
    options["blocked"] = not sharded
    _check_fit_history(params, x, options)
    n_iters, optimizer, gradient = options["n_iters"], options["optimizer"], options["gradient"]
    if valid is None:
        options["method"] = choose_method(options["method"], x.shape, x.dtype.itemsize, n_iters)
    else:
        options["method"] = "plain"
    if auto:
        with auto_axes_context():
            rate = auto_learning_rate("fit", x, bias=params.b is not None, gradient=gradient, valid=valid)
    progress_every = report_every(n_iters) if progress and n_iters >= _MIN_PROGRESS_STEPS else 0
    mesh_context = auto_axes_context()
    with progress_bar(n_iters) if progress_every else contextlib.nullcontext(), mesh_context:
        final, records, status = _fit_compiled(
            params, x, y, rate, progress_every=progress_every, valid=valid, **options
        )
    if home is not None:
        final, records = restore_axes((final, records), home)
    return _fit_result(params, x, y, final, records, status, rate, optimizer, gradient, valid)


def _fit_result(
    params: Any,
    x: Any,
    y: Any,
    final: Params,
    records: History,
    status: jax.Array,
    rate: float,
    optimizer: Any,
    gradient: str,
    valid: jax.Array | None,
) -> FitResult:
    """The :class:`FitResult`, once ``status`` is read: raises for NaN/inf inputs, warns on divergence."""
    diverged_at = read_status("fit", status)
    used_rate = None if isinstance(optimizer, optax.GradientTransformation) else rate
    if diverged_at >= 0:
        params, x, _ = check_data("fit", params, x, y, finite=False)  # as the fit saw them (cheap: metadata)
        with auto_axes_context():
            lipschitz = _lipschitz(x, bias=params.b is not None, gradient=gradient, valid=valid)
        message = divergence_message("fit", diverged_at, used_rate, lipschitz, optimizer or "sgd")
        warnings.warn(message, DivergenceWarning, stacklevel=3)
    return FitResult(final, records, diverged_at >= 0, diverged_at if diverged_at >= 0 else None, used_rate)
