"""``jaxlr lesson`` and ``scripts/gradient_descent_{manual,autograd}.py``: the lesson ports on the command line."""

import argparse
import sys

from jaxlr._cli_cache import enable_compilation_cache
from jaxlr._cli_util import ArgumentParser, positive_float, positive_int
from jaxlr._lesson import PROGRAMS, LessonProgram, describe_backend, run_lesson

HELP = "run both lesson ports on the tutorial data, side by side (the default)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # the lesson runs with the lesson's settings


def run(args: argparse.Namespace) -> int:
    del args  # unused
    print(describe_backend(), file=sys.stderr)
    runs = {
        name: run_lesson(
            gradient=p.gradient, learning_rate=p.learning_rate, n_iters=p.n_iters, print_every=p.print_every
        )
        for name, p in PROGRAMS.items()
    }
    left, right = (runs[name].lines for name in ("manual", "autograd"))
    titles = [f"{p.title}: lr {p.learning_rate}, {p.n_iters} iterations" for p in PROGRAMS.values()]
    width = max(len(line) for line in [*left, titles[0]]) + 4
    print(f"{titles[0]:<{width}}{titles[1]}")
    print(f"{'-' * (width - 4):<{width}}{'-' * len(titles[1])}")
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        print(f"{a:<{width}}{b}".rstrip())
    print()
    for name, p in PROGRAMS.items():
        run = runs[name]
        print(f"{p.title:<32} final w = {run.w:.6f}, f(5) = {run.f5:.6f}")
    print(
        "The manual port reproduces the lesson's hand-written gradient, which is N = 4 times the "
        "true one:\nthat is why it converges in 20 steps where autograd needs 100. "
        "scripts/gradient_descent_manual.py --gradient correct uses the true gradient."
    )
    return 0


def add_lesson_arguments(parser: argparse.ArgumentParser, program: LessonProgram) -> None:
    parser.add_argument("--lr", type=positive_float, default=program.learning_rate, help="learning rate (%(default)s)")
    parser.add_argument("--iters", type=positive_int, default=program.n_iters, help="iterations (%(default)s)")
    parser.add_argument(
        "--print-every", type=positive_int, default=program.print_every, help="print every Nth epoch (%(default)s)"
    )


def script_main(name: str, argv: list[str] | None = None) -> int:
    """Entry point of ``scripts/gradient_descent_{manual,autograd}.py``."""
    program = PROGRAMS[name]
    parser = ArgumentParser(
        prog=f"gradient_descent_{name}.py",
        description=f"The lesson's {program.title} program, ported to JAX.",
    )
    add_lesson_arguments(parser, program)
    if name == "manual":
        parser.add_argument(
            "--gradient",
            choices=("lesson", "correct"),
            default="lesson",
            help="'lesson': the original hand-written gradient, N times too large, as the lesson "
            "prints it (default); 'correct': the true MSE gradient",
        )
    args = parser.parse_args(argv)
    enable_compilation_cache()
    gradient = {"lesson": "lesson", "correct": "manual"}[args.gradient] if name == "manual" else "autograd"
    print(describe_backend(), file=sys.stderr)
    run = run_lesson(gradient=gradient, learning_rate=args.lr, n_iters=args.iters, print_every=args.print_every)
    print("\n".join(run.lines))
    if run.warning:
        print(run.warning, file=sys.stderr)
        return 1
    return 0
