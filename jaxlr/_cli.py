"""The ``jaxlr`` command: each subcommand has a help line, a function adding its arguments and one running it.
With no subcommand it runs ``jaxlr lesson``. A ``DataError`` from a subcommand is bad input: one line, exit code 2."""

import contextlib
import os
import sys

import jax

import jaxlr
from jaxlr import _cli_fit, _cli_lesson, _cli_sweep, crosscheck  # crosscheck imports torch when run
from jaxlr._cli_util import OUTPUTS, ArgumentParser, fail
from jaxlr._io import run_interruptibly

COMMANDS = {  # name: (help, add_arguments, run)
    "lesson": (_cli_lesson.HELP, lambda parser: None, _cli_lesson.run),  # the lesson runs with its own settings
    "fit": (_cli_fit.HELP, _cli_fit.add_arguments, _cli_fit.run),
    "sweep": (_cli_sweep.HELP, _cli_sweep.add_arguments, _cli_sweep.run),
    "predict": (_cli_fit.PREDICT_HELP, _cli_fit.predict_arguments, _cli_fit.run_predict),
    "crosscheck": (crosscheck.HELP, _cli_lesson.crosscheck_arguments, _cli_lesson.run_crosscheck),
}


def make_parser() -> ArgumentParser:
    description = "Linear regression by gradient descent in JAX, ported from the PyTorch lesson."
    parser = ArgumentParser(prog="jaxlr", description=description)
    parser.add_argument("--version", action="version", version=f"jaxlr {jaxlr.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.set_defaults(command="lesson")
    for name, (about, add_arguments, _) in COMMANDS.items():
        add_arguments(subparsers.add_parser(name, help=about, description=about))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    prog = f"jaxlr {args.command}"
    if getattr(args, "dtype", None) == "float64":
        jax.config.update("jax_enable_x64", True)  # float64 arrays need it; float32 ones are cast explicitly
    on_stdout = any(getattr(args, option, None) == "-" for option in OUTPUTS)  # then prints go to stderr
    try:
        with contextlib.redirect_stdout(sys.stderr if on_stdout else sys.stdout):
            code = run_interruptibly(prog, lambda: COMMANDS[args.command][2](args))
        sys.stdout.flush()
    except jaxlr.DataError as e:
        return fail(prog, str(e))
    except BrokenPipeError:
        # The reader went away (``| head -1``): stop quietly, with stdout on /dev/null as Python flushes it at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code
