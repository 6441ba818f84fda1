"""The ``jaxlr`` command. Each subcommand registers a parser and a function in ``COMMANDS``.

``jaxlr`` with no subcommand runs ``jaxlr lesson``: both lesson ports on the
built-in tutorial data, side by side.
"""

import argparse
import sys
from collections.abc import Callable
from typing import NamedTuple

from jaxlr._cli_util import ArgumentParser
from jaxlr._interrupt import run_interruptibly


class Command(NamedTuple):
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _add_lesson_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # the lesson runs with the lesson's settings


def _run_lesson(args: argparse.Namespace) -> int:
    del args  # unused
    from jaxlr._lesson import PROGRAMS, describe_backend, run_lesson

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


def commands() -> dict[str, Command]:
    """The subcommands, by name."""
    from jaxlr import (
        _cli_fit,
        _cli_sweep,
        crosscheck,  # imports no torch; the command does, when run
    )

    return {
        "lesson": Command(
            "run both lesson ports on the tutorial data, side by side (the default)",
            _add_lesson_arguments,
            _run_lesson,
        ),
        "fit": Command(_cli_fit.HELP, _cli_fit.add_arguments, _cli_fit.run),
        "sweep": Command(_cli_sweep.HELP, _cli_sweep.add_arguments, _cli_sweep.run),
        "crosscheck": Command(crosscheck.HELP, crosscheck.add_arguments, crosscheck.run_command),
    }


def make_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="jaxlr",
        description="Linear regression by gradient descent in JAX, ported from the PyTorch lesson.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in commands().items():
        sub = subparsers.add_parser(name, help=command.help, description=command.help)
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["lesson", *argv])
    return run_interruptibly(f"jaxlr {args.command}", lambda: args.run(args))
