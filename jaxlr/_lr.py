"""Learning rates and divergence: the stability bound 2/L (``2(1+β)/L`` with momentum β), the messages."""

import math
import warnings
from typing import Any

import numpy as np
from jax.typing import ArrayLike

from jaxlr._curvature import lipschitz_constant
from jaxlr._validate import check_positive

MOMENTUM = 0.9  # the "momentum" optimizer's β (optax.sgd(lr, momentum=0.9))


class DivergenceWarning(UserWarning):
    """Training diverged, or a learning rate is above the stability bound 2/L (the message says which)."""


def max_stable_learning_rate(lipschitz: float, optimizer: Any) -> float | None:
    """``2/L`` for sgd (``None``), ``2(1+β)/L`` for ``"momentum"``, ``None`` for others (no such bound)."""
    if lipschitz <= 0:
        return math.inf
    if optimizer in (None, "sgd", "momentum"):
        return 2 * (1 + MOMENTUM if optimizer == "momentum" else 1) / lipschitz
    return None  # adam, heavy-ball (its own step and momentum) and transformations


def _bound_text(lipschitz: float, optimizer: Any) -> tuple[float | None, str, str]:
    """The stability bound, its formula and the optimizer's name, for messages."""
    name = "sgd" if optimizer is None else optimizer if isinstance(optimizer, str) else "this optimizer"
    return max_stable_learning_rate(lipschitz, optimizer), "2(1+β)/L" if optimizer == "momentum" else "2/L", name


def divergence_message(fn: str, step: int, learning_rate: float | None, lipschitz: float, optimizer: Any) -> str:
    """What to say when a run diverged at 0-based ``step``."""
    head = f"{fn}: training diverged at step {step} (the loss became non-finite or blew up)"
    if not math.isfinite(lipschitz):
        return (
            f"{head}: the data's squares overflow this precision (L is not finite), so no learning rate "
            "is stable; standardize the features or compute in float64"
        )
    if learning_rate is None:
        return f"{head}; try a smaller learning rate in the optimizer"
    bound, factor, name = _bound_text(lipschitz, optimizer)
    if bound is None:
        return (
            f"{head} with learning rate {learning_rate:g}; {name} has no curvature bound, "
            f"try a smaller learning rate (for sgd, 2/L = {2 / lipschitz:.4g} and 1/L = {1 / lipschitz:.4g})"
        )
    if learning_rate > bound:
        return (
            f"{head}: learning rate {learning_rate:g} is above the stability bound {factor} = {bound:.4g} "
            f"(L = {lipschitz:.4g}); a stable choice is 1/L = {1 / lipschitz:.4g} (learning_rate='auto')"
        )
    return (
        f"{head} although learning rate {learning_rate:g} is within the bound {factor} = {bound:.4g} "
        f"(L = {lipschitz:.4g}): the data may be too badly scaled for this precision; "
        "standardizing the features may help"
    )


def warn_if_unstable(
    x: ArrayLike,
    learning_rate: float,
    *,
    bias: bool = True,
    optimizer: Any = None,
    gradient: str = "autograd",
    sample_weight: ArrayLike | None = None,
    l2: ArrayLike = 0.0,
) -> float | None:
    """Warns (:class:`DivergenceWarning`) if ``learning_rate`` is above the stability bound for ``x``.

    The other arguments are as in :func:`jaxlr.fit`. Returns the largest stable learning rate, or ``None``
    for an optimizer without such a bound (``"adam"``, a transformation).

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
    learning_rate = float(check_positive("warn_if_unstable", "learning_rate", learning_rate))
    lipschitz = float(lipschitz_constant(x, bias=bias, sample_weight=sample_weight, l2=l2))
    if gradient == "lesson":
        lipschitz *= np.shape(x)[0] if sample_weight is None else float(np.sum(sample_weight))
    bound, factor, name = _bound_text(lipschitz, optimizer)
    if bound is not None and learning_rate > bound:
        message = (
            f"learning rate {learning_rate:g} is above the stability bound {factor} = {bound:.4g} "
            f"for {name} on this data (L = {lipschitz:.4g}): training will diverge. "
            f"Use a learning rate below {bound:.4g}, e.g. 1/L = {1 / lipschitz:.4g} ('auto')"
        )
        warnings.warn(message, DivergenceWarning, stacklevel=2)
    return bound
