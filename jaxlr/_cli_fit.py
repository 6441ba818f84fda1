"""``jaxlr fit``: gradient descent on a CSV file or a built-in dataset, checked against least squares.

Exit codes: 0 for a fit whose coefficients agree with float64 least squares
(see :mod:`jaxlr._convergence` for the rule and its tolerance), 1 when training
diverged (nothing is written), 2 for bad input (a one-line error), 3 when they do
not agree (the outputs are written with ``"converged": false``, and the error
says why: too few steps, with an estimate of how many more, a design too
ill-conditioned for this precision, or a problem with no unique answer).
"""

import argparse
import sys
import warnings

import jax
import numpy as np

from jaxlr import _cli_fit_distributed
from jaxlr._cli_problem import add_problem_arguments, check_outputs, describe, fail, fit_record, load_problem
from jaxlr._cli_stats import statistics_json, statistics_table
from jaxlr._cli_util import non_negative_float, positive_float
from jaxlr._convergence import judge, least_squares_reference
from jaxlr._csv import DataError
from jaxlr._curvature import condition_from_eigenvalues, hessian_eigenvalues
from jaxlr._fit import fit
from jaxlr._io import write_json
from jaxlr._lr import DivergenceWarning, warn_if_unstable
from jaxlr._model_file import model_from_fit, save_model
from jaxlr._progress import stderr_is_terminal
from jaxlr._standardize import unstandardize
from jaxlr._stats import regression_stats
from jaxlr._types import Params
from jaxlr._validate import check_history_size

PROG = "jaxlr fit"
HISTORY = ("full", "loss", "none")
HELP = "fit a linear model to a CSV file or a built-in dataset by gradient descent"


def learning_rate_arg(text: str) -> float | str:
    if text == "auto":
        return text

    try:
        return positive_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'auto', got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    lr_help = "learning rate, or 'auto' for 1/L from the data's curvature (%(default)s)"
    add_problem_arguments(
        parser, default_steps=1000, lr={"type": learning_rate_arg, "default": "auto", "help": lr_help}
    )
    parser.add_argument(
        "--intercept",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="fit a bias b in y = X @ w + b; --no-intercept fits a model through the origin, y = X @ w "
        "(default: an intercept, except for --dataset lesson, whose model f = w * x has none)",
    )
    parser.add_argument(
        "--tol",
        type=positive_float,
        help="stop when the gradient's norm falls to TOL times its first value; --steps is then the most taken",
    )
    parser.add_argument(
        "--l2",
        type=non_negative_float,
        default=0.0,
        help="ridge penalty: minimise MSE + L2·|w|² (the bias is not penalised; scikit-learn's Ridge alpha = L2·n)",
    )
    parser.add_argument(
        "--weights",
        metavar="COLUMN",
        help="a column of non-negative sample weights (not a feature): minimise Σ wᵢ rᵢ² / Σ wᵢ, "
        "statsmodels' WLS(weights=) and scikit-learn's sample_weight",
    )
    parser.add_argument(
        "--history",
        choices=HISTORY,
        default="loss",
        help="what --json records of each step: the loss and the parameters (full), the loss (loss), "
        "or nothing (none); the JSON's size grows with --steps unless none (%(default)s)",
    )
    parser.add_argument(
        "--save-model",
        metavar="MODEL.json",
        help="write the fitted model (names, weights, bias, standardization, dtype) for jaxlr predict",
    )
    _cli_fit_distributed.add_arguments(parser)


def _l2_original(args: argparse.Namespace, problem) -> float | np.ndarray:
    """``--l2`` acts on the trained (possibly standardized) weights; the reference must penalise the same."""
    if not args.l2 or problem.standardization is None:
        return args.l2
    return args.l2 * problem.standardization.scale**2  # |v|² = Σ (w_j·scale_j)²


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


def _params_history(args: argparse.Namespace, history) -> dict:
    """``--history full``: the trained parameters after each step (standardized, if trained so)."""
    if args.history != "full":
        return {}
    b = None if history.params.b is None else np.asarray(history.params.b, np.float64).tolist()
    return {"params_history": {"w": np.asarray(history.params.w, np.float64).tolist(), "b": b}}


# Above about this many floating-point operations (a second or more), say what runs before it does.
_LONG_CHECK_FLOPS = 2e9


def _announce_long_checks(args: argparse.Namespace, shape: tuple[int, ...]) -> None:
    """A line on stderr (unless ``--quiet``) before the post-fit checks when they will take a while."""
    n, d = shape
    k = d + 1
    if args.quiet or n * d * min(n, d) + k**3 < _LONG_CHECK_FLOPS:
        return
    print(
        f"{PROG}: checking against least squares (an SVD of {n}×{d}), the condition number "
        f"(eigenvalues of {k}×{k}) and the statistics…",
        file=sys.stderr,
        flush=True,
    )


def _mse(data, weights: np.ndarray, bias: float | None) -> float:
    """The (sample-weighted, with ``--weights``) mean of squared errors, in float64 on the original data."""
    squares = (data.x @ weights + (0.0 if bias is None else bias) - data.y) ** 2
    return float(np.average(squares, weights=data.weights))


def run(args: argparse.Namespace) -> int:
    refusal = _cli_fit_distributed.refusal(args)
    if refusal is not None:
        return fail(PROG, refusal)
    intercept = args.intercept if args.intercept is not None else args.dataset != "lesson"
    if args.distributed and not intercept:
        return fail(PROG, "--no-intercept cannot be used with --distributed: the distributed fit always has a bias")
    if args.distributed and args.weights is not None:
        return fail(PROG, f"--weights {args.weights}: sample weights cannot be used with --distributed")
    if args.distributed:
        return _cli_fit_distributed.run(args)
    try:
        check_outputs(args)
        problem = load_problem(args, intercept=intercept)
    except DataError as e:
        return fail(PROG, str(e))
    data, x, y = problem.data, problem.x, problem.y
    sample_weight = None if data.weights is None else jax.numpy.asarray(data.weights, x.dtype)
    d = x.shape[1]
    print(describe(problem, args, intercept=intercept))
    if args.lr != "auto":
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DivergenceWarning)
            warn_if_unstable(
                x, args.lr, bias=intercept, optimizer=args.optimizer, sample_weight=sample_weight, l2=args.l2
            )
        for warning in caught:
            print(f"{PROG}: warning: {warning.message}", file=sys.stderr)
    elif args.optimizer == "adam":
        print(
            f"{PROG}: note: --lr auto is 1/L, the plain gradient-descent step; Adam scales its steps "
            "differently, so a better Adam rate may be far from it (jaxlr sweep finds one)",
            file=sys.stderr,
        )
    params = Params(jax.numpy.zeros(d, x.dtype), jax.numpy.zeros((), x.dtype) if intercept else None)
    show_progress = not args.quiet and stderr_is_terminal()
    history = "full" if args.history == "full" else ("loss" if args.history == "loss" or args.plot else "none")
    try:
        check_history_size(PROG, args.steps, history, d + intercept, x.dtype.itemsize)
    except ValueError as e:
        reason = str(e).removeprefix(f"{PROG}: ").replace("history='loss' or history='none'", "--history none")
        return fail(PROG, f"--history {args.history}: {reason}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DivergenceWarning)
        result = fit(
            params,
            x,
            y,
            learning_rate=args.lr,
            n_iters=args.steps,
            optimizer=args.optimizer,
            history=history,
            progress=show_progress,
            tol=args.tol,
            sample_weight=sample_weight,
            l2=args.l2,
        )
    leaves = jax.tree_util.tree_leaves(result.params)  # b=None (no intercept) is no leaf
    if result.diverged or not all(np.all(np.isfinite(np.asarray(leaf))) for leaf in leaves):
        reasons = [str(w.message).removeprefix("fit: ") for w in caught if issubclass(w.category, DivergenceWarning)]
        reason = reasons[0] if reasons else "training diverged (the loss became non-finite)"
        print(f"{PROG}: error: {reason}. No result is reported or written.", file=sys.stderr)
        return 1
    if problem.standardization is not None:
        fitted = unstandardize(result.params, problem.standardization)
    else:
        b = None if result.params.b is None else np.asarray(result.params.b, np.float64)
        fitted = Params(np.asarray(result.params.w, np.float64), b)
    weights = np.asarray(fitted.w, np.float64)
    bias = None if fitted.b is None else np.asarray(fitted.b, np.float64).item()
    _announce_long_checks(args, data.x.shape)
    # The reference: float64 least squares on centred, scaled columns, whatever the training dtype.
    exact = least_squares_reference(
        data.x,
        data.y,
        data.feature_names,
        intercept=intercept,
        sample_weight=data.weights,
        l2=_l2_original(args, problem),
    )
    exact_values = exact.weights if exact.bias is None else np.append(exact.weights, exact.bias)
    # Both losses in float64 on the original data, so that the gap is not float32 rounding.
    final_loss = _mse(data, weights, bias)
    exact_loss = _mse(data, exact.weights, exact.bias)
    learning_rate = float(np.asarray(result.learning_rate))
    lr_text = f"{learning_rate:.6g}" + (" (auto: 1/L)" if args.lr == "auto" else "")
    names = [*data.feature_names, "bias"] if intercept else list(data.feature_names)
    values = weights if bias is None else np.append(weights, bias)
    print(_summary_table(names, values, exact_values, final_loss, exact_loss, lr_text))
    if args.tol is not None:
        met = "met" if bool(result.converged) else "not met"
        print(f"--tol {args.tol:g}: {met} after {int(np.asarray(result.n_steps))} of at most {args.steps} steps")
    # One eigendecomposition for both κ and L (the convergence rule needs both): slow for wide designs.
    eigenvalues = hessian_eigenvalues(x, bias=intercept, sample_weight=sample_weight)
    kappa = float(condition_from_eigenvalues(eigenvalues))
    print(f"condition number of the trained design {'[X 1]' if intercept else 'X'}: {kappa:.3g}")
    scaling = problem.standardization
    verdict = judge(
        exact,
        weights,
        bias,
        design=np.asarray(x),
        shift=np.zeros(d) if scaling is None else scaling.mean,
        scale=np.ones(d) if scaling is None else scaling.scale,
        kappa=kappa,
        lipschitz=2.0 * float(eigenvalues[-1]),  # the MSE's Hessian is 2AᵀA/n
        learning_rate=learning_rate,
        optimizer=args.optimizer,
        steps=args.steps,
        sample_weight=data.weights,
    )
    print(
        f"coefficients against least squares: max error {verdict.max_error:.3g}, tolerance {verdict.tolerance:.3g} "
        f"(standardized, relative to {exact.coefficient_scale:.4g}): "
        + ("converged" if verdict.converged else f"not converged ({verdict.reason})")
    )
    converged = verdict.converged
    exact_bias = None if exact.bias is None else jax.numpy.asarray(exact.bias, x.dtype)
    exact_params = Params(jax.numpy.asarray(exact.weights, x.dtype), exact_bias)
    stats = regression_stats(
        jax.numpy.asarray(data.x, x.dtype),
        y,
        exact_params,
        intercept=intercept,
        sample_weight=sample_weight,
        l2=args.l2,
    )
    print(statistics_table(names, stats, converged=converged))
    if not converged:
        print(f"{PROG}: error: {verdict.message}", file=sys.stderr)
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
                    "intercept": intercept,
                    "steps_taken": int(np.asarray(result.n_steps)),
                    "tol": args.tol,
                    "l2": args.l2,
                    "converged": converged,
                    "convergence": {
                        "reason": verdict.reason,
                        "tolerance": verdict.tolerance,
                        "max_error": verdict.max_error,
                        "scale": exact.coefficient_scale,
                        "more_steps": verdict.more_steps,
                    },
                    "condition_number": kappa if np.isfinite(kappa) else None,
                    "least_squares": {
                        "weights": dict(zip(data.feature_names, exact.weights.tolist(), strict=True)),
                        "bias": exact.bias,
                        "final_loss": exact_loss,
                    },
                    "statistics": statistics_json(names, stats),
                    **_params_history(args, result.history),
                },
            )
            print(f"wrote {args.json}")
        if args.save_model is not None:
            trained = model_from_fit(
                data.feature_names, data.target_name, result.params, problem.standardization, args.dtype
            )
            save_model(args.save_model, trained)
            print(f"wrote {args.save_model}")
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
    except BrokenPipeError:  # the reader of stdout went away: jaxlr._cli ends quietly
        raise
    except OSError as e:  # a full disk, a vanished directory: the files are whole or absent
        return fail(PROG, f"cannot write the output: {e}")
    return 0 if converged else 3
