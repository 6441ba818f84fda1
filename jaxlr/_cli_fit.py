"""``jaxlr fit``: gradient descent checked against least squares (not with ``--distributed``), and ``jaxlr predict``.
Exit codes: 0 converged; 1 diverged (nothing is written) or, with ``--distributed``, the processes failed together;
2 bad input (one line); 3 not converged (written with ``"converged": false``)."""

import argparse
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np

import jaxlr
from jaxlr import _cli_util, _curvature, _data, _io, _validate
from jaxlr._cli_util import Problem, as_dtype, fail, non_negative_float, positive_float, positive_int
from jaxlr._data import DataError
from jaxlr._distributed import gather, initialize_distributed, raise_everywhere, read_csv_rows
from jaxlr._least_squares import judge, least_squares_reference
from jaxlr._progress import stderr_is_terminal

PROG = "jaxlr fit"
HELP = "fit a linear model to a CSV file or a built-in dataset by gradient descent"
PREDICT_HELP = "predict with a model file that jaxlr fit --save-model wrote"
LOSS = "final loss (MSE)"
_SCALARS = ("r2", "adj_r2", "rmse", "residual_std_error")
_PER_COEFFICIENT = ("std_errors", "t_values", "p_values", "conf_int_95")
CONNECTION = ("coordinator_address", "num_processes", "process_id")
ALL_OR_NONE = "give all of --coordinator-address, --num-processes and --process-id, or none of them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    lr_help = "learning rate, or 'auto' for 1/L from the data's curvature (%(default)s)"
    add = parser.add_argument
    add("--lr", type=_cli_util.positive_or_auto, default="auto", help=lr_help)
    _cli_util.add_problem_arguments(parser, default_steps=1000)
    add("--intercept", action=argparse.BooleanOptionalAction, help="fit a bias b (default: yes, but not for lesson)")
    add("--tol", type=positive_float, help="stop when the gradient's norm falls to TOL times its first value")
    add("--l2", type=non_negative_float, default=0.0, help="ridge penalty: minimise MSE + L2·|w|² (bias not penalised)")
    add("--weights", metavar="COLUMN", help="a column of non-negative sample weights (not a feature)")
    add("--history", choices=("full", "loss", "none"), default="loss", help="what --json keeps per step (%(default)s)")
    add("--save-model", metavar="MODEL.json", help="write the fitted model for jaxlr predict")
    add("--distributed", action="store_true", help="fit across processes, each reading its rows")
    about = f"{ALL_OR_NONE.capitalize()} (JAX finds them on Slurm, Open MPI, Kubernetes and Cloud TPU)."
    add = parser.add_argument_group("connecting the processes", about).add_argument
    add("--coordinator-address", metavar="HOST:PORT", help="where process 0 listens")
    add("--num-processes", type=positive_int, metavar="N", help="how many processes take part")
    add("--process-id", type=int, metavar="I", help="this process's index, 0 to N-1")
    add("--init-timeout", type=positive_int, default=300, metavar="S", help="seconds to wait for all processes")
    add("--heartbeat-timeout", type=positive_int, default=100, metavar="S", help="seconds until a silent one is dead")


def run(args: argparse.Namespace) -> int:
    if (refusal := _distributed_refusal(args)) is not None:
        raise DataError(refusal)
    _cli_util.check_outputs(args)
    if not args.distributed:
        intercept = args.intercept if args.intercept is not None else args.dataset != "lesson"
        return _fit(args, _cli_util.load_problem(args, intercept=intercept), intercept=intercept)
    try:
        timeouts = {"initialization_timeout": args.init_timeout, "heartbeat_timeout": args.heartbeat_timeout}
        initialize_distributed(*(getattr(args, name) for name in CONNECTION), **timeouts)
        with raise_everywhere("read_csv_rows"):
            share = {"process_index": jax.process_index(), "process_count": jax.process_count()}
            options = {"sep": args.sep, "encoding": args.encoding, "dropna": args.dropna}
            rows = read_csv_rows(args.data, args.target, args.features, **share, **options)
            as_dtype(rows.x, rows.y, args.dtype)
        n, dropped = (int(total) for total in _allsum([len(rows.y), rows.dropped]))
        if args.dropna and jax.process_index() == 0:
            print(f"{args.data}: dropped {dropped} rows with a missing cell (--dropna)", file=sys.stderr)
        if n == 0:
            raise DataError(f"{args.data} has no data rows")
        x, scaling = rows.x, None
        if args.standardize:  # each feature's mean and std over every process's rows
            mean = _allsum(rows.x.sum(axis=0)) / n
            scaling = _data.Standardization(mean, np.sqrt(_allsum(((rows.x - mean) ** 2).sum(axis=0)) / n))
            for name, m, s in zip(rows.features, *scaling, strict=True):
                if not s > 1e-12 * max(1.0, abs(m)):  # as jaxlr.standardize
                    reason = f"feature {name!r} is constant (every value is {m:g}), so it cannot be standardized"
                    raise DataError(f"{reason}; leave it out of the features")
            x = (rows.x - mean) / scaling.scale
        data = _data.Dataset(rows.x, rows.y, rows.features, args.target, args.data)
        return _fit(args, Problem(data, *as_dtype(x, rows.y, args.dtype), scaling, rows=n), intercept=True)
    except (DataError, TypeError, ValueError) as e:  # bad input, on every process alike
        message = str(e).removeprefix("read_csv_rows: ").removeprefix("fit_distributed: ")
        if not jax.distributed.is_initialized() and args.coordinator_address is None:
            cluster = "jax.distributed.initialize() found no cluster it knows (Slurm, Open MPI, Kubernetes, Cloud TPU)"
            give = "elsewhere give --coordinator-address, --num-processes and --process-id"
            message = f"{cluster} in the environment ({message.rstrip('.')}); {give}"
        return fail(PROG, message)
    except Exception as e:  # the distributed runtime's: unreachable coordinator, a peer that died
        return fail(PROG, f"{type(e).__name__}: {''.join(str(e).strip().splitlines()[:1])}".rstrip(": "), 1)


def _announce_long_checks(args: argparse.Namespace, shape: tuple[int, ...]) -> None:
    (n, d), k = shape, shape[1] + 1
    if not args.quiet and n * d * min(n, d) + k**3 >= 2e9:  # flops: a second or more, so say what runs before
        what = f"an SVD of {n}×{d}), the condition number (eigenvalues of {k}×{k}) and the statistics…"
        print(f"{PROG}: checking against least squares ({what}", file=sys.stderr, flush=True)


def _mse(problem: Problem, weights: np.ndarray, bias: float | None) -> float:
    """The (sample-weighted) MSE in float64 on the original data of every process."""
    squares = (problem.data.x @ weights + (bias or 0.0) - problem.data.y) ** 2
    if problem.rows is not None:
        return float(_allsum(squares.sum())) / problem.rows
    return float(np.average(squares, weights=problem.data.weights))


def _train(args: argparse.Namespace, problem: Problem, intercept: bool, objective) -> jaxlr.FitResult | None:
    """The fit, with its learning-rate warnings; ``None``, after saying why, when training diverged."""
    x = problem.x
    history = "loss" if args.plot and args.history == "none" else args.history
    try:
        _validate.check_history_size(PROG, args.steps, history, x.shape[1] + intercept, x.dtype.itemsize)
    except ValueError as e:
        reason = str(e).removeprefix(f"{PROG}: ").replace("history='loss' or history='none'", "--history none")
        raise DataError(f"--history {args.history}: {reason}") from None
    # No learning-rate check with --distributed: it would need every row in one place.
    if args.lr != "auto" and not args.distributed:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", jaxlr.DivergenceWarning)
            jaxlr.warn_if_unstable(x, args.lr, bias=intercept, optimizer=args.optimizer, **objective)
        for warning in caught:
            print(f"{PROG}: warning: {warning.message}", file=sys.stderr)
    elif args.optimizer == "adam" and not args.distributed:
        note = "Adam scales its steps differently, so a better Adam rate may be far from it (jaxlr sweep finds one)"
        print(f"{PROG}: note: --lr auto is 1/L, the plain gradient-descent step; {note}", file=sys.stderr)
    params = jaxlr.Params(np.zeros(x.shape[1], x.dtype), np.zeros((), x.dtype) if intercept else None)
    options = {"learning_rate": args.lr, "n_iters": args.steps, "optimizer": args.optimizer, "history": history}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", jaxlr.DivergenceWarning)
        if args.distributed:
            result = jaxlr.fit_distributed(params, x, problem.y, **options)
        else:
            progress = not args.quiet and stderr_is_terminal()
            result = jaxlr.fit(params, x, problem.y, **options, progress=progress, tol=args.tol, **objective)
    if not result.diverged and all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(result.params)):
        return result
    warned = [str(w.message) for w in caught if issubclass(w.category, jaxlr.DivergenceWarning)]
    reason = (warned or ["training diverged (the loss became non-finite)"])[0]
    reason = reason.removeprefix("fit: ").removeprefix("fit_distributed: ")
    print(f"{PROG}: error: {reason}. No result is reported or written.", file=sys.stderr)
    return None


def _fit(args: argparse.Namespace, problem: Problem, *, intercept: bool) -> int:
    """Trains, checks (not with ``--distributed``), prints and writes the result: ``jaxlr fit``'s one report."""
    data, x, scaling, d = problem.data, problem.x, problem.standardization, problem.x.shape[1]
    weight = None if data.weights is None else jnp.asarray(data.weights, x.dtype)
    objective = {"sample_weight": weight, "l2": args.l2}  # the loss's sample weights and ridge penalty
    if jax.process_index() == 0:
        print(_cli_util.describe(problem, args, intercept=intercept), flush=True)
    result = _train(args, problem, intercept, objective)
    if result is None:
        return 1
    trained = jax.tree.map(lambda leaf: np.asarray(leaf, np.float64), result.params)
    if args.distributed:  # every process must hold the same parameters, bit for bit
        everyone = gather(np.hstack(jax.tree.leaves(trained)))
        if different := [p for p, theirs in enumerate(everyone) if not np.array_equal(theirs, everyone[0])]:
            return fail(PROG, f"process(es) {different} ended with parameters different from process 0's", 1)
    fitted = trained if scaling is None else jaxlr.unstandardize(trained, scaling)
    weights, bias = np.asarray(fitted.w), None if fitted.b is None else np.asarray(fitted.b).item()
    final_loss = _mse(problem, weights, bias)
    if jax.process_index() != 0:
        done = f"process {jax.process_index()} of {jax.process_count()}: done"
        print(f"{done}; parameters identical to process 0's (which prints the result)")
        return 0
    names = [*data.feature_names, "bias"] if intercept else list(data.feature_names)
    width = max(len(LOSS), *(len(n) for n in names))
    values = [*weights, bias, final_loss] if intercept else [*weights, final_loss]
    learning_rate = float(np.asarray(result.learning_rate))
    auto = f" (auto: 1/L{' over all rows' * args.distributed})" if args.lr == "auto" else ""
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
        print(_summary_table(width, names, values, f"{learning_rate:.6g}{auto}"))
        record["distributed"] = {"processes": jax.process_count(), "devices": jax.device_count(), "rows": problem.rows}
    else:
        _announce_long_checks(args, data.x.shape)
        # --l2 acts on the trained (possibly standardized) weights: the reference must penalise the same.
        l2 = args.l2 if not args.l2 or scaling is None else args.l2 * scaling.scale**2
        exact = least_squares_reference(
            data.x, data.y, names[:d], intercept=intercept, sample_weight=data.weights, l2=l2
        )
        exact_loss = _mse(problem, exact.weights, exact.bias)
        exact_values = [*exact.weights, exact.bias, exact_loss] if intercept else [*exact.weights, exact_loss]
        print(_summary_table(width, names, values, f"{learning_rate:.6g}{auto}", exact_values))
        if args.tol is not None:
            met = "met" if bool(result.converged) else "not met"
            print(f"--tol {args.tol:g}: {met} after {int(np.asarray(result.n_steps))} of at most {args.steps} steps")
        # One eigendecomposition for both κ and L (the convergence rule needs both): slow for wide designs.
        eigenvalues = _curvature.hessian_eigenvalues(x, bias=intercept, sample_weight=weight)
        kappa = float(_curvature.condition_from_eigenvalues(eigenvalues))
        print(f"condition number of the trained design {'[X 1]' if intercept else 'X'}: {kappa:.3g}")
        shift, scale = (np.zeros(d), np.ones(d)) if scaling is None else (scaling.mean, scaling.scale)
        lipschitz = 2.0 * float(eigenvalues[-1])  # the MSE's Hessian is 2AᵀA/n
        inputs = {"learning_rate": learning_rate, "optimizer": args.optimizer, "steps": args.steps, "kappa": kappa}
        verdict = judge(exact, weights, bias, dtype=x.dtype, shift=shift, scale=scale, lipschitz=lipschitz, **inputs)
        converged = verdict.converged
        outcome = "converged" if converged else f"not converged ({verdict.reason})"
        relative = f"(standardized, relative to {exact.coefficient_scale:.4g})"
        errors = f"max error {verdict.max_error:.3g}, tolerance {verdict.tolerance:.3g} {relative}"
        print(f"coefficients against least squares: {errors}: {outcome}")
        exact_params = jax.tree.map(lambda leaf: jnp.asarray(leaf, x.dtype), jaxlr.Params(exact.weights, exact.bias))
        design = jnp.asarray(data.x, x.dtype)
        stats = jaxlr.regression_stats(design, problem.y, exact_params, intercept=intercept, **objective)
        whose = "the least-squares solution" + ("" if converged else ", not the unconverged gradient-descent weights")
        r2, adj_r2, rmse, se, df = (np.asarray(getattr(stats, f)).item() for f in (*_SCALARS, "df_resid"))
        fits = f"R² {r2:.6g}, adjusted R² {adj_r2:.6g}, RMSE {rmse:.6g}, residual std error {se:.6g}"
        print(f"statistics of {whose}: {fits} on {int(df)} degrees of freedom")
        print(f"{'':<{width}}  {'coef':>16}  {'std err':>11}  {'t':>9}  {'P>|t|':>9}  {'[0.025':>12}  {'0.975]':>12}")
        columns = [np.asarray(getattr(stats, f), np.float64) for f in ("coef", *_PER_COEFFICIENT)]
        for name, coef, err, t, p, (lo, hi) in zip(names, *columns, strict=True):
            print(f"{name:<{width}}  {coef:>16.8g}  {err:>11.6g}  {t:>9.4g}  {p:>9.3g}  {lo:>12.6g}  {hi:>12.6g}")
        if not converged:
            print(f"{PROG}: error: {verdict.message}", file=sys.stderr)
        exact_weights = dict(zip(data.feature_names, exact.weights.tolist(), strict=True))
        statistics: dict = {"describes": "least_squares"}
        for field in (*_SCALARS, *_PER_COEFFICIENT, "df_resid"):  # maps from coefficient name to value, NaN as null
            value = _cli_util.json_numbers(getattr(stats, field))
            statistics[field] = dict(zip(names, value, strict=True)) if field in _PER_COEFFICIENT else value
        record.update(
            intercept=intercept,
            steps_taken=int(np.asarray(result.n_steps)),
            tol=args.tol,
            l2=args.l2,
            converged=converged,
            convergence={name: getattr(verdict, name) for name in ("reason", "tolerance", "max_error")}
            | {"scale": exact.coefficient_scale, "more_steps": verdict.more_steps},
            condition_number=kappa if np.isfinite(kappa) else None,
            least_squares={"weights": exact_weights, "bias": exact.bias, "final_loss": exact_loss},
            statistics=statistics,
        )
        if args.history == "full":  # the trained parameters after each step (standardized, if trained so)
            steps = jax.tree.map(lambda leaf: np.asarray(leaf, np.float64).tolist(), result.history.params)
            record["params_history"] = {"w": steps.w, "b": steps.b}
    model = _data.model_from_fit(data.feature_names, data.target_name, trained, scaling, args.dtype)
    labels = {"feature_names": data.feature_names, "target_name": data.target_name, "loss": result.history.loss}
    _cli_util.write_outputs(
        (args.json, lambda path: _io.write_json(path, record)),
        (args.save_model, lambda path: jaxlr.save_model(path, model)),
        (args.plot, lambda path: jaxlr.plot_fit(fitted, data.x, data.y, **labels, path=path)),
    )
    return 0 if converged else 3


def _summary_table(width: int, names: list[str], values: list, lr_text: str, exact: list | None = None) -> str:
    """Gradient descent's coefficients and loss; beside them, ``exact``'s and the gap."""
    gap = f"  {'least squares':>16}  {'gap':>10}"
    lines = [f"{'':<{width}}  {'gradient descent':>16}" + ("" if exact is None else gap)]
    for name, a, b in zip([*names, LOSS], values, exact or values, strict=True):
        gap = f"  {b:>16.8g}  {a - b if name == LOSS else abs(a - b):>10.3g}"
        lines.append(f"{name:<{width}}  {a:>16.8g}" + ("" if exact is None else gap))
    return "\n".join([*lines, f"learning rate {lr_text}"])


def _distributed_refusal(args: argparse.Namespace) -> str | None:
    """Why these options cannot run as given, or ``None``: checked before connecting."""
    given = [f"--{name.replace('_', '-')}" for name in CONNECTION if getattr(args, name) is not None]
    if not args.distributed:
        return f"{', '.join(given)} only make sense with --distributed" if given else None
    if args.dataset is not None:
        return "--dataset cannot be used with --distributed: give a CSV file, which every process reads a share of"
    if args.data is None:
        return "--distributed needs a CSV file (DATA.csv)"
    if args.target is None:
        return f"--target is required with a file: which column of {args.data} should be predicted?"
    if args.save_model is not None or args.history == "full":
        return "--save-model and --history full cannot be used with --distributed (yet): use --json"
    if args.plot is not None:
        return "--plot cannot be used with --distributed: the plot would need every row in one process; use --json"
    if 0 < len(given) < 3:
        return f"{ALL_OR_NONE} (on Slurm, Open MPI, Kubernetes and Cloud TPU JAX finds them itself)"
    if args.process_id is not None and not 0 <= args.process_id < args.num_processes:
        return f"--process-id must be in 0..{args.num_processes - 1} (--num-processes - 1), got {args.process_id}"
    if args.intercept is False:
        return "--no-intercept cannot be used with --distributed: the distributed fit always has a bias"
    if args.weights is not None:
        return f"--weights {args.weights}: sample weights cannot be used with --distributed"


def _allsum(value) -> np.ndarray:
    return gather(np.asarray(value, np.float64)).sum(axis=0)


def predict_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("model", metavar="MODEL.json", help="a model file written by jaxlr fit --save-model")
    add("data", metavar="DATA.csv", help="a CSV file with a header row naming the model's features")
    add("--out", metavar="PRED.csv", default=_io.STDOUT, help="where to write the predictions (default: -, stdout)")
    add("--sep", help="the CSV separator (default: detected from the header line: comma, semicolon, tab or pipe)")
    add("--encoding", default="utf-8", help="the CSV file's text encoding, e.g. latin-1 (%(default)s)")


def run_predict(args: argparse.Namespace) -> int:
    _cli_util.check_outputs(args)
    model = _data.load_model(args.model)
    if model.dtype == "float64":
        jax.config.update("jax_enable_x64", True)  # the model computes in float64
    source = _data.csv_source(args.data)
    header = _data.read_header(source, args.sep, args.encoding)
    if missing := [name for name in model.features if name not in header.names]:
        feature = f"a feature of the model {args.model} (its features: {', '.join(model.features)})"
        columns = f"the file's columns are {', '.join(header.names)}"
        raise DataError(f"{source.label} has no column {missing[0]!r}, {feature}; {columns}")
    target = () if model.target is None or model.target not in header.names else (model.target,)
    values, _ = _data.parse(source, header, (*model.features, *target), encoding=args.encoding)
    d = len(model.features)
    predictions = np.asarray(model.predict(values[:, :d]))
    text = "\n".join([model.target or "prediction", *map(str, predictions)]) + "\n"  # str(): shortest round trip
    with _cli_util.output_errors(), _io.atomic_write(args.out) as f:
        f.write(text)
    if args.out != _io.STDOUT:
        print(f"wrote {len(predictions)} predictions to {args.out}")
    if target:
        y = values[:, d]
        mse, variance = float(np.mean((predictions.astype(np.float64) - y) ** 2)), float(np.var(y))
        r2 = 1.0 - mse / variance if variance > 0 else float("nan")
        print(f"against {model.target!r} in {args.data}: MSE {mse:.8g}, R² {r2:.6g} ({len(y)} rows)")
    return 0
