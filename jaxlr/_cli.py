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


def commands() -> dict[str, Command]:
    """The subcommands, by name."""
    from jaxlr import (
        _cli_crosscheck,  # imports no torch; the command does, when run
        _cli_fit,
        _cli_lesson,
        _cli_sweep,
    )

    return {
        "lesson": Command(_cli_lesson.HELP, _cli_lesson.add_arguments, _cli_lesson.run),
        "fit": Command(_cli_fit.HELP, _cli_fit.add_arguments, _cli_fit.run),
        "sweep": Command(_cli_sweep.HELP, _cli_sweep.add_arguments, _cli_sweep.run),
        "crosscheck": Command(_cli_crosscheck.HELP, _cli_crosscheck.add_arguments, _cli_crosscheck.run),
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
