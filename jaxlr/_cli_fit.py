"""``jaxlr fit``: gradient descent on a CSV file or a built-in dataset, checked against least squares.

Exit codes: 0 for a fit whose coefficients agree with float64 least squares (:mod:`jaxlr._convergence`),
1 when training diverged (nothing is written), 2 for bad input (a one-line error), 3 when they do not
agree (written with ``"converged": false``). ``--distributed`` reports here too, less the check.
"""

import argparse
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from jaxlr import _cli_fit_distributed
from jaxlr._cli_problem import Problem, add_problem_arguments, check_outputs, describe, fail, load_problem
from jaxlr._cli_stats import statistics_json, statistics_table
from jaxlr._cli_util import non_negative_float, positive_float
from jaxlr._convergence import judge, least_squares_reference
from jaxlr._csv import DataError
from jaxlr._curvature import condition_from_eigenvalues, hessian_eigenvalues
from jaxlr._datasets import unstandardize
from jaxlr._distributed import fit_distributed
from jaxlr._fit import fit
from jaxlr._io import write_json
from jaxlr._least_squares import regression_stats
from jaxlr._lr import DivergenceWarning, warn_if_unstable
from jaxlr._model_file import model_from_fit, save_model
from jaxlr._progress import stderr_is_terminal
from jaxlr._types import FitResult, Params
from jaxlr._validate import check_history_size

PROG = "jaxlr fit"
HELP = "fit a linear model to a CSV file or a built-in dataset by gradient descent"
LOSS = "final loss (MSE)"
_LONG_CHECK_FLOPS = 2e9  # above about this many (a second or more), say what runs before it does


def learning_rate_arg(text: str) -> float | str:
    try:
        return text if text == "auto" else positive_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'auto', got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    lr_help = "learning rate, or 'auto' for 1/L from the data's curvature (%(default)s)"
    lr = {"type": learning_rate_arg, "default": "auto", "help": lr_help}
    add_problem_arguments(parser, default_steps=1000, lr=lr)
    add = parser.add_argument
    add("--intercept", action=argparse.BooleanOptionalAction, help="fit a bias b (default: yes, but not for lesson)")
    add("--tol", type=positive_float, help="stop when the gradient's norm falls to TOL times its first value")
    add("--l2", type=non_negative_float, default=0.0, help="ridge penalty: minimise MSE + L2·|w|² (bias not penalised)")
    add("--weights", metavar="COLUMN", help="a column of non-negative sample weights (not a feature)")
    add("--history", choices=("full", "loss", "none"), default="loss", help="what --json keeps per step (%(default)s)")
    add("--save-model", metavar="MODEL.json", help="write the fitted model for jaxlr predict")
    _cli_fit_distributed.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    refusal = _cli_fit_distributed.refusal(args)
    if refusal is not None:
        return fail(PROG, refusal)
    intercept = args.intercept if args.intercept is not None else args.dataset != "lesson"
    try:
        check_outputs(args)
        if args.distributed:
            return _cli_fit_distributed.run(args, lambda problem: _fit(args, problem, intercept=True))
        problem = load_problem(args, intercept=intercept)
    except DataError as e:
        return fail(PROG, str(e))
    return _fit(args, problem, intercept=intercept)


def _announce_long_checks(args: argparse.Namespace, shape: tuple[int, ...]) -> None:
    """A line on stderr (unless ``--quiet``) before the post-fit checks when they will take a while."""
    (n, d), k = shape, shape[1] + 1
    if not args.quiet and n * d * min(n, d) + k**3 >= _LONG_CHECK_FLOPS:
        what = f"an SVD of {n}×{d}), the condition number (eigenvalues of {k}×{k}) and the statistics…"
        print(f"{PROG}: checking against least squares ({what}", file=sys.stderr, flush=True)


def _mse(problem: Problem, weights: np.ndarray, bias: float | None) -> float:
    """The (sample-weighted) mean of squared errors, in float64 on the original data of every process."""
    squares = (problem.data.x @ weights + (bias or 0.0) - problem.data.y) ** 2
    if problem.rows is not None:
        return float(_cli_fit_distributed.allsum(squares.sum())) / problem.rows
    return float(np.average(squares, weights=problem.data.weights))


def _summary_table(names: list[str], values: np.ndarray, loss: float, lr_text: str, exact=None) -> str:
    """Gradient descent's coefficients and loss; beside them, ``exact``'s ``(values, loss)`` and the gap."""
    width = max(len(LOSS), *(len(n) for n in names))
    header = f"{'':<{width}}  {'gradient descent':>16}"
    if exact is None:
        lines = [
            header,
            *(f"{name:<{width}}  {a:>16.8g}" for name, a in zip([*names, LOSS], [*values, loss], strict=True)),
        ]
    else:
        lines = [f"{header}  {'least squares':>16}  {'gap':>10}"]
        for name, a, b in zip([*names, LOSS], [*values, loss], [*exact[0], exact[1]], strict=True):
            gap = a - b if name == LOSS else abs(a - b)
            lines.append(f"{name:<{width}}  {a:>16.8g}  {b:>16.8g}  {gap:>10.3g}")
    return "\n".join([*lines, f"learning rate {lr_text}"])


def _train(args: argparse.Namespace, problem: Problem, intercept: bool) -> FitResult | int:
    """The fit, with its learning-rate warnings; an exit code (after saying why) for bad options or divergence."""
    x, weights = problem.x, problem.data.weights
    sample_weight = None if weights is None else jnp.asarray(weights, x.dtype)
    history = "full" if args.history == "full" else ("loss" if args.history == "loss" or args.plot else "none")
    try:
        check_history_size(PROG, args.steps, history, x.shape[1] + intercept, x.dtype.itemsize)
    except ValueError as e:
        reason = str(e).removeprefix(f"{PROG}: ").replace("history='loss' or history='none'", "--history none")
        return fail(PROG, f"--history {args.history}: {reason}")
    if args.distributed:
        pass  # no learning-rate check: it would need every row in one place
    elif args.lr != "auto":
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DivergenceWarning)
            warn_if_unstable(
                x, args.lr, bias=intercept, optimizer=args.optimizer, sample_weight=sample_weight, l2=args.l2
            )
        for warning in caught:
            print(f"{PROG}: warning: {warning.message}", file=sys.stderr)
    elif args.optimizer == "adam":
        note = "Adam scales its steps differently, so a better Adam rate may be far from it (jaxlr sweep finds one)"
        print(f"{PROG}: note: --lr auto is 1/L, the plain gradient-descent step; {note}", file=sys.stderr)
    params = Params(np.zeros(x.shape[1], x.dtype), np.zeros((), x.dtype) if intercept else None)
    options = {"learning_rate": args.lr, "n_iters": args.steps, "optimizer": args.optimizer, "history": history}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DivergenceWarning)
        if args.distributed:
            result = fit_distributed(params, x, problem.y, **options)
        else:
            progress = not args.quiet and stderr_is_terminal()
            options |= {"progress": progress, "tol": args.tol, "sample_weight": sample_weight, "l2": args.l2}
            result = fit(params, x, problem.y, **options)
    leaves = jax.tree_util.tree_leaves(result.params)  # b=None (no intercept) is no leaf
    if not result.diverged and all(np.all(np.isfinite(np.asarray(leaf))) for leaf in leaves):
        return result
    reasons = [str(w.message) for w in caught if issubclass(w.category, DivergenceWarning)]
    reason = reasons[0].removeprefix("fit: ").removeprefix("fit_distributed: ") if reasons else None
    reason = reason or "training diverged (the loss became non-finite)"
    print(f"{PROG}: error: {reason}. No result is reported or written.", file=sys.stderr)
    return 1


def _fit(args: argparse.Namespace, problem: Problem, *, intercept: bool) -> int:
    """Trains, then prints and writes the result: ``jaxlr fit``'s one report, with or without ``--distributed``."""
    data, scaling = problem.data, problem.standardization
    if jax.process_index() == 0:
        print(describe(problem, args, intercept=intercept), flush=True)
    result = _train(args, problem, intercept)
    if isinstance(result, int):
        return result
    b = result.params.b
    trained = Params(np.asarray(result.params.w, np.float64), None if b is None else np.asarray(b, np.float64))
    if args.distributed:  # every process must hold the same parameters, bit for bit
        different = _cli_fit_distributed.differing_processes(np.hstack(jax.tree_util.tree_leaves(trained)))
        if different:
            message = f"process(es) {different} ended with parameters different from process 0's"
            print(f"{PROG}: error: {message}", file=sys.stderr)
            return 1
    fitted = trained if scaling is None else unstandardize(trained, scaling)
    weights, bias = np.asarray(fitted.w, np.float64), None if fitted.b is None else np.asarray(fitted.b).item()
    final_loss = _mse(problem, weights, bias)
    if jax.process_index() != 0:
        done = f"process {jax.process_index()} of {jax.process_count()}: done"
        print(f"{done}; parameters identical to process 0's (which prints the result)")
        return 0
    names = [*data.feature_names, "bias"] if intercept else list(data.feature_names)
    values = weights if bias is None else np.append(weights, bias)
    learning_rate = float(np.asarray(result.learning_rate))
    auto = " (auto: 1/L over all rows)" if args.distributed else " (auto: 1/L)"
    lr_text = f"{learning_rate:.6g}" + (auto if args.lr == "auto" else "")
    record = {
        "weights": dict(zip(data.feature_names, weights.tolist(), strict=True)),
        "bias": bias,
        "loss_history": None if args.history == "none" else np.asarray(result.history.loss, np.float64).tolist(),
        "final_loss": final_loss,
        "learning_rate": learning_rate,
        **{option: getattr(args, option) for option in ("steps", "optimizer", "dtype")},
        "backend": jax.default_backend(),
        "target": data.target_name,
        "source": data.source,
        "standardized": scaling is not None,
        "auto_learning_rate": args.lr == "auto",
        "weights_column": args.weights,
    }
    converged = True
    if args.distributed:
        print(_summary_table(names, values, final_loss, lr_text))
        record["distributed"] = {"processes": jax.process_count(), "devices": jax.device_count(), "rows": problem.rows}
    else:
        converged = _check(args, problem, intercept, result, (names, values, final_loss, lr_text), record)
    try:
        if args.json is not None:
            write_json(args.json, record)
            print(f"wrote {args.json}")
        if args.save_model is not None:
            model = model_from_fit(data.feature_names, data.target_name, result.params, scaling, args.dtype)
            save_model(args.save_model, model)
            print(f"wrote {args.save_model}")
        if args.plot is not None:
            from jaxlr._plot import plot_fit

            labels = {"feature_names": data.feature_names, "target_name": data.target_name}
            plot_fit(fitted, data.x, data.y, loss=result.history.loss, **labels, path=args.plot)
            print(f"wrote {args.plot}")
    except BrokenPipeError:  # the reader of stdout went away: jaxlr._cli ends quietly
        raise
    except OSError as e:  # a full disk, a vanished directory: the files are whole or absent
        return fail(PROG, f"cannot write the output: {e}")
    return 0 if converged else 3


def _check(
    args: argparse.Namespace, problem: Problem, intercept: bool, result: FitResult, summary, record: dict
) -> bool:
    """Prints the comparison with float64 least squares, κ, the verdict and the statistics; adds them to ``record``."""
    data, x, scaling, d = problem.data, problem.x, problem.standardization, problem.x.shape[1]
    names, values, final_loss, lr_text = summary
    sample_weight = None if data.weights is None else jnp.asarray(data.weights, x.dtype)
    _announce_long_checks(args, data.x.shape)
    # --l2 acts on the trained (possibly standardized) weights: the reference must penalise the same.
    l2 = args.l2 if not args.l2 or scaling is None else args.l2 * scaling.scale**2
    exact = least_squares_reference(
        data.x, data.y, data.feature_names, intercept=intercept, sample_weight=data.weights, l2=l2
    )
    exact_loss = _mse(problem, exact.weights, exact.bias)
    exact_values = exact.weights if exact.bias is None else np.append(exact.weights, exact.bias)
    print(_summary_table(names, values, final_loss, lr_text, (exact_values, exact_loss)))
    if args.tol is not None:
        met = "met" if bool(result.converged) else "not met"
        print(f"--tol {args.tol:g}: {met} after {int(np.asarray(result.n_steps))} of at most {args.steps} steps")
    # One eigendecomposition for both κ and L (the convergence rule needs both): slow for wide designs.
    eigenvalues = hessian_eigenvalues(x, bias=intercept, sample_weight=sample_weight)
    kappa = float(condition_from_eigenvalues(eigenvalues))
    print(f"condition number of the trained design {'[X 1]' if intercept else 'X'}: {kappa:.3g}")
    verdict = judge(
        exact,
        values[:d],
        values[d] if intercept else None,
        dtype=x.dtype,
        shift=np.zeros(d) if scaling is None else scaling.mean,
        scale=np.ones(d) if scaling is None else scaling.scale,
        kappa=kappa,
        lipschitz=2.0 * float(eigenvalues[-1]),  # the MSE's Hessian is 2AᵀA/n
        learning_rate=float(np.asarray(result.learning_rate)),
        optimizer=args.optimizer,
        steps=args.steps,
    )
    outcome = "converged" if verdict.converged else f"not converged ({verdict.reason})"
    print(
        f"coefficients against least squares: max error {verdict.max_error:.3g}, tolerance {verdict.tolerance:.3g} "
        f"(standardized, relative to {exact.coefficient_scale:.4g}): {outcome}"
    )
    exact_params = Params(
        jnp.asarray(exact.weights, x.dtype), None if exact.bias is None else jnp.asarray(exact.bias, x.dtype)
    )
    design = jnp.asarray(data.x, x.dtype)
    stats = regression_stats(
        design, problem.y, exact_params, intercept=intercept, sample_weight=sample_weight, l2=args.l2
    )
    print(statistics_table(names, stats, converged=verdict.converged))
    if not verdict.converged:
        print(f"{PROG}: error: {verdict.message}", file=sys.stderr)
    record.update(
        intercept=intercept,
        steps_taken=int(np.asarray(result.n_steps)),
        tol=args.tol,
        l2=args.l2,
        converged=verdict.converged,
        convergence={name: getattr(verdict, name) for name in ("reason", "tolerance", "max_error")}
        | {"scale": exact.coefficient_scale, "more_steps": verdict.more_steps},
        condition_number=kappa if np.isfinite(kappa) else None,
        least_squares={
            "weights": dict(zip(data.feature_names, exact.weights.tolist(), strict=True)),
            "bias": exact.bias,
            "final_loss": exact_loss,
        },
        statistics=statistics_json(names, stats),
    )
    if args.history == "full":  # the trained parameters after each step (standardized, if trained so)
        steps = result.history.params
        assert steps is not None
        b = None if steps.b is None else np.asarray(steps.b, np.float64).tolist()
        record["params_history"] = {"w": np.asarray(steps.w, np.float64).tolist(), "b": b}
    return verdict.converged
