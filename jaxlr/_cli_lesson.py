"""``jaxlr lesson`` and ``scripts/gradient_descent_{manual,autograd}.py``: the two lesson programs, ported.

Each prints ``f(5)`` before training, one line every ``print_every`` epochs (``w`` after that epoch's update,
the loss computed before it) and ``f(5)`` after training, all read from one :func:`jaxlr.fit`.
"""

import argparse
import itertools
import math
import sys
import warnings
from typing import NamedTuple, cast

import jax
import jax.numpy as jnp
import numpy as np

import jaxlr
from jaxlr._cli_util import ArgumentParser, enable_compilation_cache, positive_float, positive_int
from jaxlr._model import _predict

HELP = "run both lesson ports on the tutorial data, side by side (the default)"


class LessonProgram(NamedTuple):
    title: str
    gradient: str  # fit's gradient=
    learning_rate: float
    n_iters: int
    print_every: int


PROGRAMS = {  # the NumPy program (hand-written gradient) and the PyTorch autograd one, with their defaults
    "manual": LessonProgram("manual gradient (NumPy lesson)", "lesson", 0.01, 20, 2),
    "autograd": LessonProgram("autograd (PyTorch lesson)", "autograd", 0.01, 100, 10),
}


def run_lesson(program: LessonProgram) -> tuple[list[str], float, float, str | None]:
    """The lesson's fit as ``program`` says: the lines it prints, the final ``w`` and ``f(5)``, and a warning."""
    _, gradient, learning_rate, n_iters, print_every = program
    (x, y), params = jaxlr.lesson_data(), jaxlr.Params(w=np.float32(0.0))
    with warnings.catch_warnings(record=True) as caught:  # reported below, in the lesson's terms
        warnings.simplefilter("always", jaxlr.DivergenceWarning)
        result = jaxlr.fit(params, x, y, learning_rate=learning_rate, n_iters=n_iters, gradient=gradient)
    w, loss = jax.device_get((cast(jaxlr.Params, result.history.params).w, result.history.loss))
    f5 = float(_predict(result.params, jnp.asarray(5.0, jnp.float32)))  # unchecked: a diverged run prints nan
    lines = [f"Prediction before training: f(5) = {float(jaxlr.predict(params, 5.0)):.3f}"]
    lines += [f"epoch {i + 1}: w = {w[i]:.3f}, loss = {loss[i]:.8f}" for i in range(0, n_iters, print_every)]
    lines.append(f"Prediction after training: f(5) = {f5:.3f}")
    warning = None
    if result.diverged or not math.isfinite(f5):
        bound = f" ({str(caught[0].message).partition('blew up): ')[2]})" if caught else ""  # fit's warning has it
        warning = f"warning: training diverged at epoch {result.diverged_at + 1}: "
        warning += f"learning_rate={learning_rate:g} is too large for this data{bound}"
    return lines, float(w[-1]), f5, warning


def _print_backend() -> None:
    d = jax.devices()[0]
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, device {d.device_kind} ({d})", file=sys.stderr)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # the lesson runs with the lesson's settings


def run(args: argparse.Namespace) -> int:
    """``jaxlr lesson``: both programs side by side, then their results."""
    _print_backend()
    runs = [(p, *run_lesson(p)) for p in PROGRAMS.values()]
    titles = [f"{p.title}: lr {p.learning_rate}, {p.n_iters} iterations" for p, *_ in runs]
    columns = [[title, "-" * len(title), *lines] for title, (_, lines, *_) in zip(titles, runs, strict=True)]
    width = max(map(len, columns[0])) + 4
    for a, b in itertools.zip_longest(*columns, fillvalue=""):
        print(f"{a:<{width}}{b}".rstrip())
    print()
    for p, _, w, f5, _ in runs:
        print(f"{p.title:<32} final w = {w:.6f}, f(5) = {f5:.6f}")
    print(
        "The manual port reproduces the lesson's hand-written gradient, which is N = 4 times the "
        "true one:\nthat is why it converges in 20 steps where autograd needs 100. "
        "scripts/gradient_descent_manual.py --gradient correct uses the true gradient."
    )
    return 0


def script_main(name: str, argv: list[str] | None = None) -> int:
    """Entry point of ``scripts/gradient_descent_{manual,autograd}.py``."""
    p = PROGRAMS[name]
    parser = ArgumentParser(
        prog=f"gradient_descent_{name}.py", description=f"The lesson's {p.title} program, ported to JAX."
    )
    parser.add_argument("--lr", type=positive_float, default=p.learning_rate, help="learning rate (%(default)s)")
    parser.add_argument("--iters", type=positive_int, default=p.n_iters, help="iterations (%(default)s)")
    parser.add_argument(
        "--print-every", type=positive_int, default=p.print_every, help="print every Nth epoch (%(default)s)"
    )
    if name == "manual":
        text = "'lesson' (default): the lesson's hand-written gradient, N times too large; 'correct': the true one"
        parser.add_argument("--gradient", choices=("lesson", "correct"), default="lesson", help=text)
    args = parser.parse_args(argv)
    enable_compilation_cache()
    _print_backend()
    gradient = "manual" if getattr(args, "gradient", None) == "correct" else p.gradient
    lines, _, _, warning = run_lesson(LessonProgram(p.title, gradient, args.lr, args.iters, args.print_every))
    print("\n".join(lines))
    if warning:
        print(warning, file=sys.stderr)
    return 1 if warning else 0
