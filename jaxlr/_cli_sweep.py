"""``jaxlr sweep``: one compiled call fits a range of learning rates and reports the best and the diverged.
Exit codes: 0 when at least one learning rate converged, 1 when every one diverged, 2 for bad input."""

import argparse
import math

import jax
import numpy as np

import jaxlr
from jaxlr import _cli_util
from jaxlr._curvature import max_stable_learning_rate
from jaxlr._io import write_json

HELP = "fit many learning rates at once (one vmapped, compiled call) and report the best"


def log_range(text: str) -> np.ndarray:
    """``START:STOP:COUNT``: COUNT learning rates spaced evenly in log scale from START to STOP."""
    try:
        start, stop, count = text.split(":")
        start, stop, count = float(start), float(stop), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP:COUNT, e.g. 1e-4:3:32, got {text!r}") from None
    if not (0 < start < math.inf and 0 < stop < math.inf):
        raise argparse.ArgumentTypeError(f"START and STOP must be positive finite numbers, got {text!r}")
    if count < 1 or count > 100_000:
        raise argparse.ArgumentTypeError(f"COUNT must be between 1 and 100000, got {count}")
    if count > 1 and start == stop:
        raise argparse.ArgumentTypeError(f"START and STOP are equal: {count} identical learning rates")
    return np.logspace(math.log10(start), math.log10(stop), count)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    lr_help = "learning rates, log-spaced from START to STOP (default: 16 from 1e-3/L to 4/L, L the data's curvature)"
    parser.add_argument("--lr", type=log_range, metavar="START:STOP:COUNT", help=lr_help)
    _cli_util.add_problem_arguments(parser, default_steps=500)


def run(args: argparse.Namespace) -> int:
    _cli_util.check_outputs(args)
    problem = _cli_util.load_problem(args)
    x, y, data = problem.x, problem.y, problem.data
    print(_cli_util.describe(problem, args))
    lipschitz = float(jaxlr.lipschitz_constant(x, bias=True))
    bound = max_stable_learning_rate(lipschitz, args.optimizer)
    rates = args.lr if args.lr is not None else np.logspace(math.log10(1e-3 / lipschitz), math.log10(4 / lipschitz), 16)
    params = jaxlr.Params(np.zeros(x.shape[1], x.dtype), np.zeros((), x.dtype))
    result = jaxlr.sweep(params, x, y, learning_rates=rates, n_iters=args.steps, optimizer=args.optimizer)
    rates, diverged, best = result.learning_rates, result.diverged, result.best_index
    print(f"{'learning rate':>14}  {'final loss':>14}  status")
    losses = _cli_util.json_numbers(np.where(diverged, np.nan, result.final_loss))  # - when printed
    for i, (rate, loss, at) in enumerate(zip(rates, losses, result.diverged_at, strict=True)):
        status = f"diverged at step {at}" if diverged[i] else ("best" if i == best else "")
        print(f"{rate:>14.6g}  {'-' if loss is None else f'{loss:.8g}':>14}  {status}".rstrip())
    rule = "2(1+β)/L" if args.optimizer == "momentum" else "2/L"
    bound_text = "" if bound is None else f"; stability bound {rule} = {bound:.6g}"
    print(f"L = {lipschitz:.6g}{bound_text}; {int(diverged.sum())} of {len(rates)} runs diverged")
    if best is not None:
        print(f"best learning rate: {result.best_learning_rate:.6g} (final loss {result.final_loss[best]:.8g})")
    record = {
        "learning_rates": rates.tolist(),
        "final_loss": losses,
        "diverged": diverged.tolist(),
        "diverged_at": [int(a) if a >= 0 else None for a in result.diverged_at],
        "best_learning_rate": result.best_learning_rate,
        "best_final_loss": None if best is None else float(result.final_loss[best]),
        "lipschitz_constant": lipschitz,
        "stable_learning_rate_bound": bound,
        **{option: getattr(args, option) for option in ("steps", "optimizer", "dtype")},
        "backend": jax.default_backend(),
        "target": data.target_name,
        "features": list(data.feature_names),
        "source": data.source,
        "standardized": problem.standardization is not None,
    }
    _cli_util.write_outputs(
        (args.json, lambda path: write_json(path, record)),
        (args.plot, lambda path: jaxlr.plot_sweep(rates, result.final_loss, diverged, stable_bound=bound, path=path)),
    )
    if best is None:
        hint = f"; try rates below {bound:.4g}" if bound else ""
        return _cli_util.fail("jaxlr sweep", f"every learning rate diverged{hint}", 1)
    return 0
