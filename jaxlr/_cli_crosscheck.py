"""``jaxlr crosscheck``, ``python -m jaxlr.crosscheck`` and ``scripts/crosscheck.py``; see :mod:`jaxlr.crosscheck`."""

import argparse
import sys

import jax

import jaxlr
from jaxlr import crosscheck
from jaxlr._cli_util import ArgumentParser, positive_float, positive_int
from jaxlr._io import STDOUT, output_problem
from jaxlr.crosscheck import DTYPES, HELP, _Fit


def _json_path(text: str) -> str:
    if problem := output_problem(text):
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: {problem}")
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (shared by ``python -m jaxlr.crosscheck`` and ``jaxlr crosscheck``)."""
    iters_help = "steps, every case (default: the lesson's 100, or 20 for its NumPy program; 100 for random problems)"
    parser.add_argument("--lr", type=positive_float, default=0.01, help="learning rate, every case (%(default)s)")
    parser.add_argument("--iters", type=positive_int, default=None, help=iters_help)
    parser.add_argument("--dtype", choices=(*DTYPES, "both"), default="both", help="dtype to compare in (%(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random problems (%(default)s)")
    parser.add_argument("--n", type=positive_int, default=50, help="samples in the random problems (%(default)s)")
    parser.add_argument("--d", type=positive_int, default=3, help="features in the random (n, d) problem (%(default)s)")
    parser.add_argument("--json", metavar="PATH", type=_json_path, help="also write the rows as JSON to PATH")


def run(args: argparse.Namespace, *, fit: _Fit = jaxlr.fit) -> int:
    """Runs the cross-check for parsed ``args``; returns the exit code. With ``--json -`` the table goes to stderr."""
    try:
        crosscheck._import_torch()
    except crosscheck.TorchNotInstalledError as e:
        print(f"jaxlr crosscheck: {e}", file=sys.stderr)
        return crosscheck.EXIT_NO_TORCH
    dtypes = DTYPES if args.dtype == "both" else (args.dtype,)
    if "float64" in dtypes:
        jax.config.update("jax_enable_x64", True)  # before any array is created
    cases = crosscheck.lesson_cases(learning_rate=args.lr, n_iters=args.iters)
    cases += crosscheck.random_cases(seed=args.seed, n=args.n, d=args.d, learning_rate=args.lr, n_iters=args.iters)
    out = sys.stderr if args.json == STDOUT else sys.stdout
    print(f"jax {jax.__version__} on {jax.default_backend()} ({jax.devices()[0].device_kind})", file=sys.stderr)
    rows = crosscheck.run_all(cases, dtypes, fit=fit)
    failed = sum(not row.passed for row in rows)
    print(crosscheck.format_table(rows), file=out)
    print(f"\n{len(rows) - failed} of {len(rows)} cases passed" + (f", {failed} FAILED" if failed else ""), file=out)
    if args.json is not None:
        crosscheck.write_json(args.json, rows)
    return 1 if failed else 0


def main(argv: list[str] | None = None, *, fit: _Fit = jaxlr.fit, prog: str = "python -m jaxlr.crosscheck") -> int:
    """``python -m jaxlr.crosscheck``: parses ``argv`` and runs the cross-check; returns the exit code."""
    parser = ArgumentParser(prog=prog, description=HELP)
    add_arguments(parser)
    return run(parser.parse_args(argv), fit=fit)
