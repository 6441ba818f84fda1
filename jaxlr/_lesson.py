"""The two lesson programs, ported: what ``scripts/gradient_descent_*.py`` print.

Both programs print the prediction ``f(5)`` before training, one line every
``print_every`` epochs (``w`` after that epoch's update, the loss computed before
it), and ``f(5)`` after training. Here the whole loop is one :func:`jaxlr.fit`
call and the printing reads its history.
"""

import math
import warnings
from typing import NamedTuple, cast

import jax
import jax.numpy as jnp
import numpy as np

from jaxlr._data import lesson_data
from jaxlr._fit import fit
from jaxlr._lr import DivergenceWarning
from jaxlr._model import _predict, predict
from jaxlr._types import Params


class LessonProgram(NamedTuple):
    """One lesson program's defaults."""

    title: str
    gradient: str
    learning_rate: float
    n_iters: int
    print_every: int


PROGRAMS = {
    # Program (1): NumPy with the hand-written gradient, 20 iterations, every 2nd epoch.
    "manual": LessonProgram("manual gradient (NumPy lesson)", "lesson", 0.01, 20, 2),
    # Program (2): PyTorch autograd, 100 iterations, every 10th epoch.
    "autograd": LessonProgram("autograd (PyTorch lesson)", "autograd", 0.01, 100, 10),
}


class LessonRun(NamedTuple):
    lines: list[str]  # what the lesson program prints
    w: float  # final w
    f5: float  # final prediction f(5)
    warning: str | None  # why the result is not an answer, or None


def run_lesson(*, gradient: str, learning_rate: float, n_iters: int, print_every: int) -> LessonRun:
    """Trains the lesson's model on the lesson's data and returns the lines it prints.

    Examples:
      >>> from jaxlr._lesson import run_lesson
      >>> run = run_lesson(gradient="lesson", learning_rate=0.01, n_iters=20, print_every=2)
      >>> print("\\n".join(run.lines[:2]))
      Prediction before training: f(5) = 0.000
      epoch 1: w = 1.200, loss = 30.00000000
    """
    x, y = lesson_data()
    params = Params(w=np.float32(0.0))
    with warnings.catch_warnings(record=True) as caught:  # reported below, in the lesson's terms
        warnings.simplefilter("always", DivergenceWarning)
        result = fit(params, x, y, learning_rate=learning_rate, n_iters=n_iters, gradient=gradient)
    steps = cast(Params, result.history.params)  # history="full", fit's default
    w_history, loss_history = jax.device_get((steps.w, result.history.loss))
    lines = [f"Prediction before training: f(5) = {float(predict(params, 5.0)):.3f}"]
    for epoch in range(n_iters):
        if epoch % print_every == 0:
            lines.append(f"epoch {epoch + 1}: w = {w_history[epoch]:.3f}, loss = {loss_history[epoch]:.8f}")
    # unchecked: a diverged run prints nan, as the lesson would
    f5 = float(_predict(result.params, jnp.asarray(5.0, jnp.float32)))
    lines.append(f"Prediction after training: f(5) = {f5:.3f}")
    warning = None
    if result.diverged or not math.isfinite(f5):
        warning = (
            f"warning: training diverged at epoch {result.diverged_at + 1}: "
            f"learning_rate={learning_rate:g} is too large for this data"
        )
        if caught:  # fit's DivergenceWarning knows the stable bound
            warning += f" ({str(caught[0].message).partition('blew up): ')[2]})"
    return LessonRun(lines, float(np.asarray(result.params.w)), f5, warning)


def describe_backend() -> str:
    device = jax.devices()[0]
    return f"jax {jax.__version__}, backend {jax.default_backend()}, device {device.device_kind} ({device})"
