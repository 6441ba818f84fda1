"""``jaxlr fit``: gradient descent on a CSV file or a built-in dataset, checked against least squares.

Exit codes: 0 for a fit, 1 when training diverged (nothing is written), 2 for
bad input (a one-line error), 3 when gradient descent has not reached the
least-squares solution (the outputs are written with ``"converged": false``,
and the error says why: too few steps, or an ill-conditioned design, with its
condition number and the fix).
"""

import argparse
import sys
import warnings

import jax
import numpy as np

from jaxlr import _cli_fit_distributed
from jaxlr._cli_problem import add_problem_arguments, check_outputs, describe, fail, fit_record, load_problem
from jaxlr._cli_stats import statistics_json, statistics_table
from jaxlr._csv import DataError
from jaxlr._curvature import condition_number
from jaxlr._fit import fit
from jaxlr._io import write_json
from jaxlr._least_squares import least_squares
from jaxlr._lr import DivergenceWarning, warn_if_unstable
from jaxlr._progress import stderr_is_terminal
from jaxlr._standardize import unstandardize
from jaxlr._stats import regression_stats
from jaxlr._types import Params

PROG = "jaxlr fit"
HELP = "fit a linear model to a CSV file or a built-in dataset by gradient descent"


def learning_rate_arg(text: str) -> float | str:
    if text == "auto":
        return text
    from jaxlr._cli_util import positive_float

    try:
        return positive_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'auto', got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_problem_arguments(parser, default_steps=1000)
    parser.add_argument(
        "--lr",
        type=learning_rate_arg,
        default="auto",
        help="learning rate, or 'auto' for 1/L from the data's curvature (%(default)s)",
    )
    _cli_fit_distributed.add_arguments(parser)


def _summary_table(
    names: list[str], gd: np.ndarray, ls: np.ndarray, gd_loss: float, ls_loss: float, lr_text: str
) -> str:
    width = max(len("final loss (MSE)"), *(len(n) for n in names))
    lines = [
        f"{'':<{width}}  {'gradient descent':>16}  {'least squares':>16}  {'gap':>10}",
    ]
    for name, a, b in zip(names, gd, ls, strict=True):
        lines.append(f"{name:<{width}}  {a:>16.8g}  {b:>16.8g}  {abs(a - b):>10.3g}")
    lines.append(f"{'final loss (MSE)':<{width}}  {gd_loss:>16.8g}  {ls_loss:>16.8g}  {gd_loss - ls_loss:>10.3g}")
    lines.append(f"learning rate {lr_text}")
    return "\n".join(lines)


def _mse(data, weights: np.ndarray, bias: float) -> float:
    return float(np.mean((data.x @ weights + bias - data.y) ** 2))


def run(args: argparse.Namespace) -> int:
    refusal = _cli_fit_distributed.refusal(args)
    if refusal is not None:
        return fail(PROG, refusal)
    if args.distributed:
        return _cli_fit_distributed.run(args)
    try:
        check_outputs(args)
        problem = load_problem(args)
    except DataError as e:
        return fail(PROG, str(e))
    data, x, y = problem.data, problem.x, problem.y
    d = x.shape[1]
    print(describe(problem, args))
    if args.lr != "auto":
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DivergenceWarning)
            warn_if_unstable(x, args.lr, bias=True, optimizer=args.optimizer)
        for warning in caught:
            print(f"{PROG}: warning: {warning.message}", file=sys.stderr)
    elif args.optimizer == "adam":
        print(
            f"{PROG}: note: --lr auto is 1/L, the plain gradient-descent step; Adam scales its steps "
            "differently, so a better Adam rate may be far from it (jaxlr sweep finds one)",
            file=sys.stderr,
        )
    params = Params(jax.numpy.zeros(d, x.dtype), jax.numpy.zeros((), x.dtype))
    show_progress = not args.quiet and stderr_is_terminal()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DivergenceWarning)
        result = fit(
            params,
            x,
            y,
            learning_rate=args.lr,
            n_iters=args.steps,
            optimizer=args.optimizer,
            history="loss",
            progress=show_progress,
        )
    if result.diverged or not all(np.all(np.isfinite(np.asarray(leaf))) for leaf in result.params):
        reasons = [str(w.message).removeprefix("fit: ") for w in caught if issubclass(w.category, DivergenceWarning)]
        reason = reasons[0] if reasons else "training diverged (the loss became non-finite)"
        print(f"{PROG}: error: {reason}. No result is reported or written.", file=sys.stderr)
        return 1
    if problem.standardization is not None:
        fitted = unstandardize(result.params, problem.standardization)
    else:
        fitted = Params(np.asarray(result.params.w, np.float64), np.asarray(result.params.b, np.float64))
    weights = np.asarray(fitted.w, np.float64)
    bias = np.asarray(fitted.b, np.float64).item()
    exact = least_squares(jax.numpy.asarray(data.x, x.dtype), y)
    exact_values = np.append(np.asarray(exact.w, np.float64), np.asarray(exact.b, np.float64))
    # Both losses in float64 on the original data, so that the gap is not float32 rounding.
    final_loss = _mse(data, weights, bias)
    exact_loss = _mse(data, exact_values[:-1], exact_values[-1])
    lr_text = f"{result.learning_rate:.6g}" + (" (auto: 1/L)" if args.lr == "auto" else "")
    names = [*data.feature_names, "bias"]
    print(_summary_table(names, np.append(weights, bias), exact_values, final_loss, exact_loss, lr_text))
    kappa = float(condition_number(x, bias=True))
    print(f"condition number of the trained design [X 1]: {kappa:.3g}")
    converged = final_loss <= exact_loss + 1e-4 * max(exact_loss, float(np.mean(data.y**2)))
    stats = regression_stats(jax.numpy.asarray(data.x, x.dtype), y, exact)  # statsmodels' OLS numbers
    print(statistics_table(names, stats, converged=converged))
    if not converged:
        print(_not_converged_message(problem, x, kappa, final_loss, exact_loss, args.steps), file=sys.stderr)
    try:
        if args.json is not None:
            write_json(
                args.json,
                {
                    **fit_record(
                        args,
                        names=data.feature_names,
                        weights=weights,
                        bias=bias,
                        loss_history=result.history.loss,
                        final_loss=final_loss,
                        learning_rate=result.learning_rate,
                        target=data.target_name,
                        source=data.source,
                        standardized=problem.standardization is not None,
                    ),
                    "converged": converged,
                    "condition_number": kappa if np.isfinite(kappa) else None,
                    "least_squares": {
                        "weights": dict(zip(data.feature_names, exact_values[:-1].tolist(), strict=True)),
                        "bias": float(exact_values[-1]),
                        "final_loss": exact_loss,
                    },
                    "statistics": statistics_json(names, stats),
                },
            )
            print(f"wrote {args.json}")
        if args.plot is not None:
            from jaxlr._plot import plot_fit

            plot_fit(
                fitted,
                data.x,
                data.y,
                loss=result.history.loss,
                feature_names=data.feature_names,
                target_name=data.target_name,
                path=args.plot,
            )
            print(f"wrote {args.plot}")
    except OSError as e:  # a full disk, a vanished directory: the files are whole or absent
        return fail(PROG, f"cannot write the output: {e}")
    return 0 if converged else 3


def _not_converged_message(problem, x, kappa: float, final_loss: float, exact_loss: float, steps: int) -> str:
    """Why gradient descent is short of least squares, and what to do: more steps, or --standardize."""
    gap = f"its loss is {final_loss / exact_loss - 1:.2%} above least squares" if exact_loss > 0 else "it is not exact"
    head = f"{PROG}: error: gradient descent has not converged ({gap}), so its weights are not the answer"
    eps = float(np.finfo(np.dtype(x.dtype)).eps)
    if kappa * eps < 0.1 and kappa <= max(1e3, steps):
        return f"{head}: try more --steps (about {kappa:.2g} × a few are needed at the auto learning rate)"
    if problem.standardization is not None:
        return (
            f"{head}: the standardized design is ill-conditioned (condition number {kappa:.3g}; its features are "
            "nearly collinear): gradient descent needs on the order of that many steps; drop or combine the "
            "collinear features, or use the least-squares column"
        )
    x = np.asarray(x, np.float64)
    centred = x - np.mean(x, axis=0)
    scale = np.std(centred, axis=0)
    standardized_kappa = float(condition_number(centred / np.where(scale > 0, scale, 1.0), bias=True))
    limit = " and is beyond what this precision can resolve" if kappa * eps >= 0.1 else ""
    return (
        f"{head}: the design [X 1] is ill-conditioned (condition number {kappa:.3g}; gradient descent needs on "
        f"the order of that many steps{limit}); use --standardize, which centres and scales the features "
        f"(condition number then {standardized_kappa:.3g}) and reports the weights in the original units"
    )
