"""``jaxlr sweep``: one compiled call fits a range of learning rates; reports the best and the diverged.

Exit codes: 0 when at least one learning rate converged, 1 when every one diverged, 2 for bad input.
"""

import argparse
import math
import sys

import jax
import numpy as np

from jaxlr._cli_problem import add_problem_arguments, check_outputs, describe, fail, json_numbers, load_problem
from jaxlr._curvature import lipschitz_constant
from jaxlr._data import DataError
from jaxlr._io import write_json
from jaxlr._lr import max_stable_learning_rate
from jaxlr._sweep import sweep
from jaxlr._types import Params

PROG = "jaxlr sweep"
HELP = "fit many learning rates at once (one vmapped, compiled call) and report the best"


def log_range(text: str) -> np.ndarray:
    """``START:STOP:COUNT``: COUNT learning rates spaced evenly in log scale from START to STOP."""
    try:
        start, stop, count = text.split(":")
        start, stop, count = float(start), float(stop), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP:COUNT, e.g. 1e-4:3:32, got {text!r}") from None
    if not (math.isfinite(start) and math.isfinite(stop) and start > 0 and stop > 0):
        raise argparse.ArgumentTypeError(f"START and STOP must be positive finite numbers, got {text!r}")
    if count < 1 or count > 100_000:
        raise argparse.ArgumentTypeError(f"COUNT must be between 1 and 100000, got {count}")
    if count > 1 and start == stop:
        raise argparse.ArgumentTypeError(f"START and STOP are equal: {count} identical learning rates")
    return np.logspace(math.log10(start), math.log10(stop), count)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    lr_help = "learning rates, log-spaced from START to STOP (default: 16 from 1e-3/L to 4/L, L the data's curvature)"
    add_problem_arguments(
        parser, default_steps=500, lr={"type": log_range, "metavar": "START:STOP:COUNT", "help": lr_help}
    )


def run(args: argparse.Namespace) -> int:
    try:
        check_outputs(args)
        problem = load_problem(args)
    except DataError as e:
        return fail(PROG, str(e))
    x, y = problem.x, problem.y
    print(describe(problem, args))
    lipschitz = float(lipschitz_constant(x, bias=True))
    bound = max_stable_learning_rate(lipschitz, args.optimizer)
    rates = args.lr if args.lr is not None else np.logspace(math.log10(1e-3 / lipschitz), math.log10(4 / lipschitz), 16)
    params = Params(jax.numpy.zeros(x.shape[1], x.dtype), jax.numpy.zeros((), x.dtype))
    result = sweep(params, x, y, learning_rates=rates, n_iters=args.steps, optimizer=args.optimizer)
    best = result.best_index
    print(f"{'learning rate':>14}  {'final loss':>14}  status")
    losses = json_numbers(np.where(result.diverged, np.nan, result.final_loss))  # - when printed
    for i, (rate, loss, at) in enumerate(zip(result.learning_rates, losses, result.diverged_at, strict=True)):
        status = f"diverged at step {at}" if result.diverged[i] else ("best" if i == best else "")
        print(f"{rate:>14.6g}  {'-' if loss is None else f'{loss:.8g}':>14}  {status}".rstrip())
    rule = "2(1+β)/L" if args.optimizer == "momentum" else "2/L"
    bound_text = "" if bound is None else f"; stability bound {rule} = {bound:.6g}"
    print(f"L = {lipschitz:.6g}{bound_text}; {int(result.diverged.sum())} of {len(rates)} runs diverged")
    if best is not None:
        print(f"best learning rate: {result.best_learning_rate:.6g} (final loss {result.final_loss[best]:.8g})")
    try:
        if args.json is not None:
            write_json(
                args.json,
                {
                    "learning_rates": result.learning_rates.tolist(),
                    "final_loss": losses,
                    "diverged": result.diverged.tolist(),
                    "diverged_at": [int(a) if a >= 0 else None for a in result.diverged_at],
                    "best_learning_rate": result.best_learning_rate,
                    "best_final_loss": None if best is None else float(result.final_loss[best]),
                    "lipschitz_constant": lipschitz,
                    "stable_learning_rate_bound": bound,
                    "steps": args.steps,
                    "optimizer": args.optimizer,
                    "dtype": args.dtype,
                    "backend": jax.default_backend(),
                    "target": problem.data.target_name,
                    "features": list(problem.data.feature_names),
                    "source": problem.data.source,
                    "standardized": problem.standardization is not None,
                },
            )
            print(f"wrote {args.json}")
        if args.plot is not None:
            from jaxlr._plot import plot_sweep

            plot_sweep(result.learning_rates, result.final_loss, result.diverged, stable_bound=bound, path=args.plot)
            print(f"wrote {args.plot}")
    except BrokenPipeError:  # the reader of stdout went away: jaxlr._cli ends quietly
        raise
    except OSError as e:  # a full disk, a vanished directory: the files are whole or absent
        return fail(PROG, f"cannot write the output: {e}")
    if best is None:
        print(
            f"{PROG}: error: every learning rate diverged" + (f"; try rates below {bound:.4g}" if bound else ""),
            file=sys.stderr,
        )
        return 1
    return 0
