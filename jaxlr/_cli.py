"""The ``jaxlr`` command: each subcommand is a module with ``HELP``, ``add_arguments`` and ``run``.

With no subcommand it runs ``jaxlr lesson``. A ``DataError`` from a subcommand is bad input: one line, exit code 2.
"""

import contextlib
import os
import sys

import jaxlr
from jaxlr import _cli_crosscheck, _cli_fit, _cli_lesson, _cli_predict, _cli_sweep  # _cli_crosscheck imports no torch
from jaxlr._cli_util import OUTPUTS, ArgumentParser, fail
from jaxlr._io import run_interruptibly

COMMANDS = dict(lesson=_cli_lesson, fit=_cli_fit, sweep=_cli_sweep, predict=_cli_predict, crosscheck=_cli_crosscheck)


def make_parser() -> ArgumentParser:
    description = "Linear regression by gradient descent in JAX, ported from the PyTorch lesson."
    parser = ArgumentParser(prog="jaxlr", description=description)
    parser.add_argument("--version", action="version", version=f"jaxlr {jaxlr.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        command.add_arguments(subparsers.add_parser(name, help=command.HELP, description=command.HELP))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["lesson", *argv])
    prog = f"jaxlr {args.command}"
    # With an output on standard output (-), what the command prints goes to stderr.
    on_stdout = any(getattr(args, option, None) == "-" for option in OUTPUTS)
    try:
        with contextlib.redirect_stdout(sys.stderr if on_stdout else sys.stdout):
            code = run_interruptibly(prog, lambda: COMMANDS[args.command].run(args))
        sys.stdout.flush()
    except jaxlr.DataError as e:
        return fail(prog, str(e))
    except BrokenPipeError:
        # The reader went away (``| head -1``): stop quietly, with stdout on /dev/null as Python flushes it at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code
