"""Many fits at once: ``jax.vmap`` of the one fit core over learning rates, initial params, seeds or data."""

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.core import Tracer
from jax.typing import ArrayLike

from jaxlr._fit import Options, check_options, eager_report, fit_core
from jaxlr._model import _loss
from jaxlr._types import FitResult, Params, SweepResult
from jaxlr._validate import as_input, as_params, check_data, check_l2, check_positive, is_traced

# batch_size="auto" on a CPU: runs of the scalar model (a 1-D x: no matrix product) with at most SMALL_RUN samples go
# in vmapped groups of SMALL_GROUP. XLA:CPU compiles a while loop that touches under about 1 kB, and holds no dot, into
# one kernel; such a group stays under that, all k runs at once do not, and a loop that is not one kernel pays the
# runtime's dispatch for every operation of every step, once per group. Matrix and larger runs go all at once.
SMALL_RUN = 16
SMALL_GROUP = 4


def _runs(shared: dict, mapped: dict, *, batch_size: int, options: Options) -> tuple[jax.Array, FitResult, jax.Array]:
    """Every run: the core, vmapped in groups of ``batch_size``, and each run's loss at its final params."""
    k = max(jnp.shape(leaf)[0] for leaf in jax.tree.leaves(mapped))
    mapped = {**mapped, "learning_rates": jnp.broadcast_to(mapped["learning_rates"], (k,))}

    def one_run(run: dict) -> tuple[FitResult, jax.Array]:
        a = {**shared, **run}
        params = a["params"]
        if "seeds" in a:
            leaves, treedef = jax.tree.flatten(params)
            key = jax.random.key(a["seeds"])
            noise = [jax.random.normal(jax.random.fold_in(key, i), jnp.shape(w), w.dtype) for i, w in enumerate(leaves)]
            params = jax.tree.unflatten(treedef, [w + a["init_scale"] * z for w, z in zip(leaves, noise, strict=True)])
        result = fit_core(params, a["x"], a["y"], a["learning_rates"], a["tol"], a["l2"], a["weights"], options)
        _, x, y = check_data(options.caller, params, a["x"], a["y"])
        loss = _loss(result.params, x, y, a["weights"], None if a["l2"] is None else jnp.asarray(a["l2"], x.dtype))
        # The last update can overflow the loss with finite params, which no step saw: that run diverged too.
        late = (result.diverged_at < 0) & ~jnp.isfinite(loss)
        return result._replace(diverged_at=jnp.where(late, options.n_iters - 1, result.diverged_at)), loss

    if batch_size >= k:
        return mapped["learning_rates"], *jax.vmap(one_run)(mapped)
    return mapped["learning_rates"], *jax.lax.map(one_run, mapped, batch_size=batch_size)


_runs_jit = jax.jit(_runs, static_argnames=("batch_size", "options"))


def _check_learning_rates(learning_rates: Any) -> Any:
    """``(k,)`` rates in the caller's real dtype (the core casts them to the data's); their values are checked by
    :func:`_raise_for_rates` only when a run failed, since a rate that is not positive and finite fails at step 0."""
    if not isinstance(learning_rates, np.ndarray) and is_traced(learning_rates):
        return jnp.reshape(learning_rates, (-1,))
    rates = np.asarray(learning_rates)
    if rates.dtype.kind not in "fiu":
        try:
            rates = np.asarray(learning_rates, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"sweep: learning_rates must be a number or a 1-D array of numbers, got {type(learning_rates).__name__}"
            ) from None
    if rates.ndim > 1 or rates.size == 0:
        raise ValueError(f"sweep: learning_rates must be a non-empty 1-D array, got shape {rates.shape}")
    return rates.reshape(-1)


def _raise_for_rates(rates: Any) -> None:
    bad = ~((rates > 0) & (rates < np.inf))  # NaN is bad too
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"sweep: learning_rates must be positive and finite; learning_rates[{i}] = {float(rates[i])!r}"
        )


def _batch_size(batch_size: Any, k: int, x: Any, x_batched: bool) -> int:
    if batch_size is None:
        return k
    if batch_size == "auto":
        run_shape = jnp.shape(x)[x_batched:]  # one run's x
        if len(run_shape) != 1 or run_shape[0] > SMALL_RUN:
            return k
        devices = x.devices() if isinstance(x, jax.Array) and not isinstance(x, Tracer) else jax.devices()[:1]
        return SMALL_GROUP if all(d.platform == "cpu" for d in devices) else k
    if type(batch_size) is not int or batch_size < 1:
        raise ValueError(f"sweep: batch_size must be None, 'auto' or a positive int, got {batch_size!r}")
    return batch_size


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
    tol: float | None = None,
    sample_weight: ArrayLike | None = None,
    l2: float | None = None,
    batch_size: int | str | None = "auto",
) -> SweepResult:
    """Runs :func:`fit` for many learning rates, initial params, seeds or data sets in one compiled call.

    ``jax.vmap`` of the fit's core over the runs: ``k`` fits cost one compile and one dispatch. Inputs with a
    leading run axis must agree on ``k``; the others are shared by every run. ``jax.jit`` applies.

    Args:
      params: initial :class:`Params`, shared, or with a leading axis of length ``k`` on ``w`` and ``b``.
      x: inputs, ``(n,)`` or ``(n, d)`` shared, or ``(k, n)`` (scalar ``w``) / ``(k, n, d)``, one per run.
      y: targets, ``(n,)``, or ``(k, n)``: one target vector per run.
      learning_rates: ``(k,)`` positive learning rates, or one for every run.
      n_iters, optimizer, gradient, method, tol, sample_weight, l2: as in :func:`fit`.
      history: as in :func:`fit`, per run; ``"loss"`` by default.
      seeds: ``(k,)`` integer seeds: run ``i`` starts from ``params`` plus normal noise drawn with ``seeds[i]``.
      init_scale: the noise's standard deviation for ``seeds``.
      batch_size: run the fits in vmapped groups of this many, one group after another (``jax.lax.map``);
        ``None``: all at once; ``"auto"``: on a CPU, groups of 4 for runs of the scalar model on at most 16
        samples, whose loop XLA then compiles into one kernel; all at once otherwise. The results are the same.

    Returns:
      A :class:`SweepResult`; ``best_learning_rate`` and ``best_index`` read it on the host.

    Examples:
      >>> import jaxlr
      >>> x, y = jaxlr.lesson_data()
      >>> result = jaxlr.sweep(jaxlr.Params(w=0.0), x, y, learning_rates=[0.01, 0.1, 0.2], n_iters=200)
      >>> result.diverged.tolist(), result.best_learning_rate  # 2/L = 2/15 = 0.133
      ([False, False, True], 0.1)
    """
    fn = "sweep"
    options, _ = check_options(fn, n_iters, optimizer, gradient, history, method, None)
    if not isinstance(options.optimizer, str):
        raise ValueError("sweep: optimizer must be a named optimizer, whose learning rate each run sets")
    tol, l2 = None if tol is None else check_positive(fn, "tol", tol), check_l2(fn, l2, per_weight=True)
    mapped = {"learning_rates": _check_learning_rates(learning_rates)}
    params = as_params(fn, params)
    if not isinstance(params, Params):
        raise TypeError(f"sweep: params must be jaxlr.Params(w, b=None), got {type(params).__name__}")
    x, y = as_input(fn, "x", x), as_input(fn, "y", y)
    weights = None if sample_weight is None else as_input(fn, "sample_weight", sample_weight)
    shared = dict(params=params, x=x, y=y, tol=tol, l2=l2, weights=weights)
    x_rank, w_rank = jnp.ndim(x), jnp.ndim(params.w)
    x_batched = x_rank == 3 or (x_rank == 2 and w_rank == 0)
    if w_rank and w_rank == x_rank - x_batched:  # a leading run axis on params
        if params.b is not None and jnp.shape(params.b)[:1] != jnp.shape(params.w)[:1]:
            raise ValueError(
                f"sweep: batched params.w has shape {jnp.shape(params.w)}, so params.b must have shape "
                f"({jnp.shape(params.w)[0]},); got {jnp.shape(params.b)}"
            )
        mapped["params"] = shared.pop("params")
    if x_batched:
        mapped["x"] = shared.pop("x")
    if jnp.ndim(y) == 2:
        mapped["y"] = shared.pop("y")
    if seeds is not None:
        seed_array = np.asarray(seeds)
        if seed_array.ndim != 1 or seed_array.size == 0 or not np.issubdtype(seed_array.dtype, np.integer):
            raise ValueError(f"sweep: seeds must be a non-empty 1-D array of integers, got {seed_array!r:.100}")
        mapped["seeds"], shared["init_scale"] = seed_array.astype(np.uint32), init_scale
    sizes = {name: len(value.w if name == "params" else value) for name, value in mapped.items()}
    if len(mapped) > 1 and sizes["learning_rates"] == 1:
        del sizes["learning_rates"]
    if len(set(sizes.values())) > 1:
        raise ValueError(
            "sweep: the inputs with a run axis disagree on the number of runs: "
            + ", ".join(f"{name} {size}" for name, size in sizes.items())
        )
    k = max(sizes.values())
    each_rate = options if options.rule is None else options._replace(rule=None)  # heavy-ball: each run's rate
    rates, result, final_loss = _runs_jit(
        shared, mapped, batch_size=_batch_size(batch_size, k, x, x_batched), options=each_rate
    )
    if not isinstance(result.diverged_at, Tracer) and np.asarray(result.diverged_at).max() >= 0:
        _raise_for_rates(np.asarray(rates))
        eager_report(fn, result, options)
    return SweepResult(rates, result.params, result.history, final_loss, result.diverged_at, result.inputs_finite)
