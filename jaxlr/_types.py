"""The pytrees jaxlr passes around (the bottom of its import graph). Every field is an array, a pytree
of arrays or ``None``, so results come out of ``jax.jit``, ``jax.vmap`` and ``jax.grad`` like any value."""

from typing import NamedTuple

import jax
import numpy as np
from jax.typing import ArrayLike


class Params(NamedTuple):
    """The model's parameters, e.g. ``jaxlr.Params(w=0.0)``, the lesson's ``w = 0.0`` without a bias."""

    w: ArrayLike  # a scalar (f = w * x) or (d,) (f = x @ w)
    b: ArrayLike | None = None  # the bias, or None for none


class History(NamedTuple):
    """Per-step records, stacked along a leading axis of ``n_iters`` (with ``tol``, steps after the stop repeat)."""

    params: Params | None  # after step i's update; None unless history="full"
    loss: jax.Array | None  # computed before step i's update; None for history="none"


class FitResult(NamedTuple):
    """What :func:`jaxlr.fit` returns, also under ``jit`` and ``vmap``."""

    params: Params  # the final parameters
    history: History
    # int32, the 0-based step at which the loss or params became non-finite or blew up (0 for bad inputs), or -1
    diverged_at: jax.Array
    # bool (5,): whether x, y, params.w, params.b and sample_weight (≥ 0, positive sum) are finite; eagerly, fit raises
    inputs_finite: jax.Array
    learning_rate: jax.Array | None = None  # the rate used (1/L for "auto"); None for a transformation or schedule
    n_steps: jax.Array | None = None  # int32, the steps taken (fewer than n_iters when tol stopped the fit)
    converged: jax.Array | None = None  # bool, whether tol's criterion was met; None without tol

    @property
    def diverged(self) -> jax.Array:
        """``diverged_at >= 0``: works under ``jit`` and ``vmap``."""
        return self.diverged_at >= 0


class SweepResult(NamedTuple):
    """What :func:`jaxlr.sweep` returns: every run's fields stacked along a leading axis of length ``k``."""

    learning_rates: jax.Array
    params: Params  # the final parameters
    history: History
    final_loss: jax.Array  # nan or inf for a diverged run
    diverged_at: jax.Array  # as in FitResult, and also the last step when only the final loss is not finite
    inputs_finite: jax.Array

    @property
    def diverged(self) -> jax.Array:
        """``(k,)`` bool, whether each run diverged."""
        return self.diverged_at >= 0

    @property
    def best_index(self) -> int | None:
        """The run with the lowest final loss among those that did not diverge, or ``None`` (eager only)."""
        loss = np.where(np.asarray(self.diverged), np.inf, np.nan_to_num(np.asarray(self.final_loss), nan=np.inf))
        return int(np.argmin(loss)) if np.isfinite(loss).any() else None

    @property
    def best_learning_rate(self) -> float | None:
        """The learning rate of :attr:`best_index`, or ``None`` if every run diverged (eager only)."""
        index = self.best_index
        return None if index is None else float(np.asarray(self.learning_rates)[index])
