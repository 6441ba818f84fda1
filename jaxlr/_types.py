"""The pytrees jaxlr passes around: :class:`Params`, :class:`History`, :class:`FitResult`, :class:`SweepResult`.

Every field is an array, a pytree of arrays, or ``None`` (an empty pytree), so a
result can come out of ``jax.jit``, ``jax.vmap`` and ``jax.grad`` like any value.
This module is the bottom of jaxlr's import graph: it imports nothing of jaxlr.
"""

from typing import NamedTuple

import jax
import numpy as np
from jax.typing import ArrayLike


class Params(NamedTuple):
    """Parameters of the linear model, a PyTree.

    Attributes:
      w: the weight. A scalar for the lesson's model ``f = w * x`` on ``x`` of
        shape ``(n,)``; a vector of shape ``(d,)`` for ``f = x @ w`` on ``x`` of
        shape ``(n, d)``.
      b: the bias, a scalar, or ``None`` for no bias (the lesson's model).

    Examples:
      >>> import jaxlr
      >>> jaxlr.Params(w=0.0)  # the lesson's w = 0.0, no bias
      Params(w=0.0, b=None)
    """

    w: ArrayLike
    b: ArrayLike | None = None


class History(NamedTuple):
    """Per-step records of a fit, in the lesson's print semantics.

    Attributes:
      params: :class:`Params` stacked along a leading axis of length ``n_iters``:
        the parameters after step ``i``'s update (``None`` unless ``history="full"``).
      loss: shape ``(n_iters,)``, the loss computed at step ``i`` before its update
        (``None`` when ``history="none"``).

    With ``tol``, the steps after the stop repeat the final parameters and loss.
    """

    params: Params | None
    loss: jax.Array | None


class FitResult(NamedTuple):
    """What :func:`jaxlr.fit` returns: a pytree of arrays, also under ``jit`` and ``vmap``.

    Attributes:
      params: the final :class:`Params`.
      history: the per-step :class:`History`.
      diverged_at: int32, the 0-based step at which the loss or the parameters
        became non-finite or the loss blew up past ``1e10`` times its starting
        scale; ``-1`` if that never happened. A diverged result is not an answer.
      inputs_finite: bool, shape ``(4,)``: whether ``x``, ``y``, ``params.w`` and
        ``params.b`` held only finite numbers. Called eagerly, :func:`jaxlr.fit`
        raises instead of returning ``False`` here; under a transformation the
        flags are returned.
      learning_rate: the learning rate used (``1/L`` for ``"auto"``), an array;
        ``None`` when the optimizer is a transformation or the rate a schedule.
      n_steps: int32, the steps taken: ``n_iters``, or fewer when ``tol`` stopped the fit.
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
    """What :func:`jaxlr.sweep` returns: every run's result, stacked along a leading axis of length ``k``.

    Attributes:
      learning_rates: ``(k,)``, each run's learning rate.
      params: the final :class:`Params` of every run (leading axis ``k``).
      history: every run's :class:`History` (``loss`` of shape ``(k, n_iters)``).
      final_loss: ``(k,)``, the loss at each run's final params (``nan``/``inf``
        for a diverged run).
      diverged_at: ``(k,)`` int32, the 0-based step where each run diverged, ``-1`` if it did not
        (also the last step when only the loss at the final params is not finite).
      inputs_finite: ``(k, 4)`` bool, as in :class:`FitResult`.
    """

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
        return None if not np.isfinite(loss).any() else int(np.argmin(loss))

    @property
    def best_learning_rate(self) -> float | None:
        """The learning rate of :attr:`best_index`, or ``None`` if every run diverged (eager only)."""
        index = self.best_index
        return None if index is None else float(np.asarray(self.learning_rates)[index])
