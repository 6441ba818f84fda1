"""Many fits at once: ``jax.vmap`` of the training loop over learning rates, initial params or seeds."""

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from jaxlr._loss import _mse_loss
from jaxlr._methods import choose_method
from jaxlr._model import Params
from jaxlr._sharding import auto_axes_context, explicit_mesh, restore_axes
from jaxlr._train import (
    History,
    _all_finite,
    _auto_axes_data,
    _check_options,
    _CheckFailed,
    _fit_loop,
    _is_common_call,
    _named,
    raise_if_not_finite,
)
from jaxlr._validate import _cast, check_data, check_learning_rate


class SweepResult(NamedTuple):
    """What :func:`sweep` returns: every run's result, stacked along a leading axis of length ``k``.

    Attributes:
      learning_rates: ``(k,)``, each run's learning rate.
      params: the final :class:`Params` of every run (leading axis ``k``).
      history: every run's :class:`History` (``loss`` of shape ``(k, n_iters)``).
      final_loss: ``(k,)``, the loss at each run's final params (``nan``/``inf``
        for a diverged run).
      diverged: ``(k,)`` bool, whether each run diverged (as in :class:`FitResult`,
        and also when the loss at its final params is not finite).
      diverged_at: ``(k,)`` int, the 0-based step where each run diverged, ``-1`` if it did not.
    """

    learning_rates: np.ndarray
    params: Params
    history: History
    final_loss: np.ndarray
    diverged: np.ndarray
    diverged_at: np.ndarray

    @property
    def best_index(self) -> int | None:
        """The run with the lowest final loss among those that did not diverge, or ``None``."""
        loss = np.where(self.diverged, np.inf, np.nan_to_num(self.final_loss, nan=np.inf))
        return None if not np.isfinite(loss).any() else int(np.argmin(loss))

    @property
    def best_learning_rate(self) -> float | None:
        """The learning rate of :attr:`best_index`, or ``None`` if every run diverged."""
        index = self.best_index
        return None if index is None else float(self.learning_rates[index])


def _sweep_program(
    params,
    x,
    y,
    learning_rates,
    seeds,
    init_scale,
    *,
    optimizer,
    gradient,
    n_iters,
    history,
    params_batched,
    seeded,
    method="plain",
):
    finite = _all_finite(x, y, params.w, jnp.zeros((), x.dtype) if params.b is None else params.b)

    def one_run(p, learning_rate, seed):
        if seeded:
            leaves, treedef = jax.tree.flatten(p)
            key = jax.random.key(seed)
            p = jax.tree.unflatten(
                treedef,
                [
                    leaf + init_scale * jax.random.normal(jax.random.fold_in(key, i), jnp.shape(leaf), leaf.dtype)
                    for i, leaf in enumerate(leaves)
                ],
            )
        final, records, diverged_at = _fit_loop(
            p,
            x,
            y,
            learning_rate,
            optimizer=optimizer,
            gradient=gradient,
            n_iters=n_iters,
            history=history,
            method=method,
            # Under vmap the plain pass runs best in one piece (measured on a CPU: the block
            # loop took 2x as long); that also never slices rows split across devices.
            blocked=False,
        )
        final_loss = _mse_loss(final, x, y)
        # The last update can overflow the loss with finite params, which no step saw: that run diverged too.
        diverged_at = jnp.where((diverged_at < 0) & ~jnp.isfinite(final_loss), n_iters - 1, diverged_at)
        return final, records, diverged_at, final_loss

    group = _group_size(learning_rates.shape[0], x)
    if group:

        def run(batched):
            p, learning_rate, seed = batched
            return one_run(params if p is None else p, learning_rate, seed)

        xs = (params if params_batched else None, learning_rates, seeds if seeded else None)
        return jax.lax.map(run, xs, batch_size=group), finite
    in_axes = (0 if params_batched else None, 0, 0 if seeded else None)
    return jax.vmap(one_run, in_axes=in_axes)(params, learning_rates, seeds), finite


# XLA:CPU runs a program inline on the calling thread when it estimates it at under 1000
# flops, and otherwise hands it to a worker thread, which cost ~30 µs per call on the 2-core
# development machine (a 32-run sweep of the lesson took 52 µs, 24 µs with
# JAX_CPU_ENABLE_ASYNC_DISPATCH=0). For tiny data a loop over groups of a few vmapped runs
# stays inline. Measured, µs per 100-step sweep, all runs vmapped vs in groups:
# n=4: k=32 58 vs 37 (groups of 8; 72 in groups of 16), k=64 67 vs 50, k=128 69 vs 79;
# n=16: k=32 64 vs 47 (groups of 4; 82 in groups of 2), k=64 70 vs 70; n=32 in groups of 2:
# k=32 75 vs 198. Larger data is better read once per step for all runs.
GROUP_ELEMENTS = 64  # runs × elements of x in one group
GROUP_RUNS = (4, 8)  # the fewest and most runs in a group worth looping over
MAX_GROUPS = 8


def _group_size(k: int, x: jax.Array) -> int:
    """Runs per group for a sweep of ``k`` runs on ``x`` (0: all at once, vmapped)."""
    if jax.default_backend() != "cpu":
        return 0
    group = min(GROUP_RUNS[1], GROUP_ELEMENTS // x.size)
    if group < GROUP_RUNS[0] or not group < k <= MAX_GROUPS * group:
        return 0
    return group


_sweep_compiled = jax.jit(
    _sweep_program,
    static_argnames=("optimizer", "gradient", "n_iters", "history", "params_batched", "seeded", "method"),
)


@functools.partial(jax.jit, static_argnums=(4, 5, 6, 7, 8))
def _sweep_checked(params, x, y, learning_rates, n_iters, optimizer, gradient, history, method):
    """:func:`sweep`'s common call (one shared start, no seeds), checked while tracing.

    As :func:`jaxlr._train._fit_checked`: a failed check raises ``_CheckFailed``
    and ``sweep`` raises the error from its eager checks.
    """
    try:
        params, x, y = check_data("sweep", params, x, y, finite=False)
        options = _check_options(
            "sweep", n_iters=n_iters, optimizer=optimizer, gradient=gradient, history=history, method=method
        )
    except (TypeError, ValueError) as e:
        raise _CheckFailed from e
    options["method"] = choose_method(options["method"], x.shape, x.dtype.itemsize, options["n_iters"])
    rates = learning_rates.astype(x.dtype)
    return _sweep_program(params, x, y, rates, None, None, params_batched=False, seeded=False, **options)


def _check_learning_rates(learning_rates: Any) -> np.ndarray:
    try:
        rates = np.asarray(learning_rates, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"sweep: learning_rates must be a number or a 1-D array of numbers, got {type(learning_rates).__name__}"
        ) from None
    if rates.ndim == 0:
        return np.asarray([check_learning_rate("sweep", float(rates))])
    if rates.ndim != 1 or rates.size == 0:
        raise ValueError(f"sweep: learning_rates must be a non-empty 1-D array, got shape {rates.shape}")
    bad = ~(np.isfinite(rates) & (rates > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"sweep: learning_rates must be positive and finite; learning_rates[{i}] = {rates[i]!r}")
    return rates


def sweep(
    params: Params,
    x: ArrayLike,
    y: ArrayLike,
    *,
    learning_rates: ArrayLike,
    n_iters: int = 100,
    optimizer: str | optax.GradientTransformation | None = None,
    gradient: str = "autograd",
    history: str = "loss",
    method: str = "auto",
    seeds: Sequence[int] | ArrayLike | None = None,
    init_scale: float = 1.0,
) -> SweepResult:
    """Runs :func:`fit` for many learning rates (and initial params or seeds) in one compiled call.

    The training loop is ``jax.vmap``-ed over the runs: ``k`` fits cost one
    compile and one dispatch, and run side by side on the device. Inputs with a
    leading run axis must agree on ``k``; the others are shared by every run.

    Args:
      params: initial :class:`Params`, shared by every run, or with a leading
        axis of length ``k`` (``w`` of shape ``(k,)`` for ``x`` of shape ``(n,)``,
        ``(k, d)`` for ``(n, d)``; ``b`` of shape ``(k,)``), one per run.
      x: inputs, ``(n,)`` or ``(n, d)``, shared by every run.
      y: targets, ``(n,)``.
      learning_rates: ``(k,)`` positive learning rates, or one for every run.
      n_iters: steps per run.
      optimizer: as in :func:`fit`; named optimizers take each run's learning rate.
      gradient: as in :func:`fit`.
      history: as in :func:`fit`, per run; ``"loss"`` by default.
      method: as in :func:`fit`. With ``"gram"`` the statistics of ``x`` and
        ``y`` are computed once and shared by every run.
      seeds: ``(k,)`` integer seeds: run ``i`` starts from ``params`` plus
        ``init_scale`` times standard normal noise drawn with ``seeds[i]``.
      init_scale: the noise's standard deviation for ``seeds``.

    Returns:
      A :class:`SweepResult` with NumPy arrays for the per-run summaries and
      ``best_learning_rate``.

    Examples:
      >>> import jaxlr
      >>> x, y = jaxlr.lesson_data()
      >>> result = jaxlr.sweep(jaxlr.Params(w=0.0), x, y, learning_rates=[0.01, 0.1, 0.2], n_iters=200)
      >>> result.diverged.tolist()  # 2/L = 2/15 = 0.133
      [False, False, True]
      >>> result.best_learning_rate
      0.1
    """
    rates = _check_learning_rates(learning_rates)
    unbatched = type(params) is Params and np.ndim(params.w) != getattr(x, "ndim", None)
    if seeds is None and unbatched and _is_common_call(params, x, y, n_iters, optimizer, gradient, history, method):
        try:
            runs = _sweep_checked(params, x, y, rates, n_iters, optimizer, gradient, history, method)
        except _CheckFailed:
            pass  # the general path below raises the error
        else:
            return _sweep_result(rates, *runs)
    options = _check_options(
        "sweep", n_iters=n_iters, optimizer=optimizer, gradient=gradient, history=history, method=method
    )
    n_iters, method = options.pop("n_iters"), options.pop("method")
    if not isinstance(params, Params):
        raise TypeError(f"sweep: params must be jaxlr.Params(w, b=None), got {type(params).__name__}")
    x_ndim = np.ndim(x)
    params_batched = np.ndim(params.w) == x_ndim and x_ndim in (1, 2)
    sizes = {"learning_rates": rates.shape[0]} if rates.shape[0] > 1 else {}
    w_all: Any = None  # with their run axis, when params_batched
    b_all: Any = None
    if params_batched:
        w_all = params.w if isinstance(params.w, jax.Array) else np.asarray(params.w)
        b_all = None if params.b is None else (params.b if isinstance(params.b, jax.Array) else np.asarray(params.b))
        if b_all is not None and np.shape(b_all)[:1] != np.shape(w_all)[:1]:
            raise ValueError(
                f"sweep: batched params.w has shape {np.shape(w_all)}, so params.b must have shape "
                f"({np.shape(w_all)[0]},); got {np.shape(b_all)}"
            )
        sizes["params"] = np.shape(w_all)[0]
        first = Params(w_all[0], None if b_all is None else b_all[0])  # shapes are checked on run 0
    else:
        first = params
    seed_array = None
    if seeds is not None:
        seed_array = np.asarray(seeds)
        if seed_array.ndim != 1 or seed_array.size == 0 or not np.issubdtype(seed_array.dtype, np.integer):
            raise ValueError(f"sweep: seeds must be a non-empty 1-D array of integers, got {seed_array!r:.100}")
        sizes["seeds"] = seed_array.shape[0]
    if len(set(sizes.values())) > 1:
        raise ValueError(
            "sweep: the inputs with a run axis disagree on the number of runs: "
            + ", ".join(f"{name} {size}" for name, size in sizes.items())
        )
    k = next(iter(sizes.values()), 1)
    sharded = _named(x) or _named(y)
    home = explicit_mesh(x, y) if sharded else None  # results go back to the caller's Explicit mesh
    # NaN and inf are found on the device; NumPy inputs stay NumPy for jit to transfer (cheaper)
    first, x, y = check_data("sweep", first, x, y, finite=False, keep_numpy=True)
    if sharded:
        first, x, y = _auto_axes_data(first, x, y)
    dtype = x.dtype
    method = choose_method(method, x.shape, x.dtype.itemsize, n_iters)
    if params_batched:
        params = Params(
            _cast(w_all, dtype, keep_numpy=True), None if b_all is None else _cast(b_all, dtype, keep_numpy=True)
        )
    else:
        params = first
    rates = np.broadcast_to(rates, (k,))
    with auto_axes_context():
        (final, records, diverged_at, final_loss), finite = _sweep_compiled(
            params,
            x,
            y,
            rates.astype(dtype),
            None if seed_array is None else seed_array.astype(np.uint32),
            np.asarray(init_scale, dtype),
            n_iters=n_iters,
            params_batched=params_batched,
            seeded=seed_array is not None,
            method=method,
            **options,
        )
    if home is not None:
        final, records = restore_axes((final, records), home)
    return _sweep_result(rates, (final, records, diverged_at, final_loss), finite)


def _sweep_result(rates: np.ndarray, runs: tuple, finite: jax.Array) -> SweepResult:
    """The :class:`SweepResult`, once the flags are read; raises for NaN/inf inputs."""
    final, records, diverged_at, final_loss = runs
    # np.asarray, not jax.device_get: far cheaper per array on the CPU, the same elsewhere
    raise_if_not_finite("sweep", np.asarray(finite))
    diverged_at, final_loss = np.asarray(diverged_at), np.asarray(final_loss)
    return SweepResult(np.asarray(rates), final, records, final_loss, diverged_at >= 0, diverged_at)
