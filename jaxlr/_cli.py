"""The ``jaxlr`` command. Each subcommand registers a parser and a function in ``COMMANDS``.

``jaxlr`` with no subcommand runs ``jaxlr lesson``: both lesson ports on the
built-in tutorial data, side by side.
"""

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from typing import NamedTuple

from jaxlr._cli_util import ArgumentParser
from jaxlr._interrupt import run_interruptibly
from jaxlr._io import STDOUT

# The options that name an output file; one given as ``-`` is written to standard output.
OUTPUT_OPTIONS = ("json", "plot", "save_model", "out")


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
        _cli_predict,
        _cli_sweep,
    )

    return {
        "lesson": Command(_cli_lesson.HELP, _cli_lesson.add_arguments, _cli_lesson.run),
        "fit": Command(_cli_fit.HELP, _cli_fit.add_arguments, _cli_fit.run),
        "sweep": Command(_cli_sweep.HELP, _cli_sweep.add_arguments, _cli_sweep.run),
        "predict": Command(_cli_predict.HELP, _cli_predict.add_arguments, _cli_predict.run),
        "crosscheck": Command(_cli_crosscheck.HELP, _cli_crosscheck.add_arguments, _cli_crosscheck.run),
    }


def make_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="jaxlr",
        description="Linear regression by gradient descent in JAX, ported from the PyTorch lesson.",
    )
    from jaxlr import __version__

    parser.add_argument("--version", action="version", version=f"jaxlr {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in commands().items():
        sub = subparsers.add_parser(name, help=command.help, description=command.help)
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def _run(args: argparse.Namespace) -> int:
    """Runs the command; with an output on standard output (``-``), what it prints goes to stderr."""
    if any(getattr(args, option, None) == STDOUT for option in OUTPUT_OPTIONS):
        with contextlib.redirect_stdout(sys.stderr):
            return args.run(args)
    return args.run(args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["lesson", *argv])
    try:
        code = run_interruptibly(f"jaxlr {args.command}", lambda: _run(args))
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``jaxlr fit ... | head -1``): stop quietly, as Unix tools do. Python
        # would flush stdout again at exit and fail once more, so point it at /dev/null first.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return code
