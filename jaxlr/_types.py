"""The pytrees jaxlr passes around (the bottom of its import graph). Every field is an array, a pytree
of arrays or ``None``, so results come out of ``jax.jit``, ``jax.vmap`` and ``jax.grad`` like any value."""

from typing import NamedTuple

import jax
import numpy as np
from jax.typing import ArrayLike


class Params(NamedTuple):
    """The parameters: ``w``, a scalar (``f = w * x``) or ``(d,)`` (``f = x @ w``), and a bias ``b`` or ``None``.

    Examples:
      >>> import jaxlr
      >>> jaxlr.Params(w=0.0)  # the lesson's w = 0.0, no bias
      Params(w=0.0, b=None)
    """

    w: ArrayLike
    b: ArrayLike | None = None


class History(NamedTuple):
    """Per-step records: ``params`` after step ``i``'s update (``None`` unless ``history="full"``) and the
    ``loss`` computed before it (``None`` for ``history="none"``), stacked along a leading axis of ``n_iters``.
    With ``tol``, the steps after the stop repeat the last."""

    params: Params | None
    loss: jax.Array | None


class FitResult(NamedTuple):
    """What :func:`jaxlr.fit` returns, also under ``jit`` and ``vmap``.

    Attributes:
      params, history: the final :class:`Params` and the per-step :class:`History`.
      diverged_at: int32, the 0-based step at which the loss or params became non-finite or the loss blew up
        past ``1e10`` times its starting scale (``0`` for non-finite inputs), ``-1`` if none.
      inputs_finite: bool ``(5,)``, whether ``x``, ``y``, ``params.w``, ``params.b`` and ``sample_weight`` are
        finite (the weights also non-negative with a positive sum); eagerly :func:`jaxlr.fit` raises instead.
      learning_rate: the rate used (``1/L`` for ``"auto"``); ``None`` for a transformation or a schedule.
      n_steps: int32, the steps taken (fewer than ``n_iters`` when ``tol`` stopped the fit).
      converged: bool, whether ``tol``'s criterion was met; ``None`` without ``tol``.
    """

    params: Params
    history: History
    diverged_at: jax.Array
    inputs_finite: jax.Array
    learning_rate: jax.Array | None = None
    n_steps: jax.Array | None = None
    converged: jax.Array | None = None

    @property
    def diverged(self) -> jax.Array:
        """``diverged_at >= 0``: works under ``jit`` and ``vmap``."""
        return self.diverged_at >= 0


class SweepResult(NamedTuple):
    """What :func:`jaxlr.sweep` returns: every run's ``learning_rates``, final ``params``, ``history``,
    ``final_loss`` (``nan``/``inf`` for a diverged run), ``diverged_at`` (also the last step when only
    the final loss is not finite) and ``inputs_finite``, stacked along a leading axis of length ``k``."""

    learning_rates: jax.Array
    params: Params
    history: History
    final_loss: jax.Array
    diverged_at: jax.Array
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
