"""The ``jaxlr`` command: each subcommand is a module with ``HELP``, ``add_arguments`` and ``run``.

``jaxlr`` with no subcommand runs ``jaxlr lesson``: both lesson ports on the built-in tutorial data.
"""

import argparse
import contextlib
import os
import sys

from jaxlr import _cli_crosscheck, _cli_fit, _cli_lesson, _cli_predict, _cli_sweep  # _cli_crosscheck imports no torch
from jaxlr._cli_util import ArgumentParser
from jaxlr._io import STDOUT, run_interruptibly

COMMANDS = {
    "lesson": _cli_lesson,
    "fit": _cli_fit,
    "sweep": _cli_sweep,
    "predict": _cli_predict,
    "crosscheck": _cli_crosscheck,
}
# The options that name an output file; one given as ``-`` is written to standard output.
OUTPUT_OPTIONS = ("json", "plot", "save_model", "out")


def make_parser() -> ArgumentParser:
    from jaxlr import __version__

    parser = ArgumentParser(
        prog="jaxlr", description="Linear regression by gradient descent in JAX, ported from the PyTorch lesson."
    )
    parser.add_argument("--version", action="version", version=f"jaxlr {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        command.add_arguments(subparsers.add_parser(name, help=command.HELP, description=command.HELP))
    return parser


def _run(args: argparse.Namespace) -> int:
    """Runs the command; with an output on standard output (``-``), what it prints goes to stderr."""
    run = COMMANDS[args.command].run
    if any(getattr(args, option, None) == STDOUT for option in OUTPUT_OPTIONS):
        with contextlib.redirect_stdout(sys.stderr):
            return run(args)
    return run(args)


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
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code
