"""``jaxlr fit DATA.csv --target y --distributed``: one fit across processes and hosts.

Every process runs the same command. Each connects (``jax.distributed.initialize``,
with no arguments on Slurm, Open MPI, Kubernetes and Cloud TPU), reads only its
own rows of the CSV (a byte range of one shared file, or its own file when the
path contains ``{process_index}``, see :func:`jaxlr.read_csv_rows`) and takes
part in one :func:`jaxlr.fit_distributed`; every process ends with the same
parameters, which the command checks bit for bit.

Outputs: process 0 prints the summary (the fitted weights and bias, the final
loss over all rows in float64, the learning rate) and writes ``--json``,
atomically; every other process prints one line on stdout saying that its
parameters are identical to process 0's. There is no least-squares comparison
(it would need every row in one place), so no exit code 3.

Exit codes: 0 for a fit; 1 when training diverged (nothing is written) or when
the processes could not work together (a peer that never connected or died, a
coordinator out of reach); 2 for bad input, on every process alike (a process
whose own rows are bad says why; the others name it).
"""

import argparse
import sys
import warnings

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.typing import ArrayLike

from jaxlr._cli_problem import check_outputs, fail, fit_record
from jaxlr._cli_util import positive_int
from jaxlr._csv import DataError
from jaxlr._distributed import _raise_everywhere, fit_distributed, initialize_distributed
from jaxlr._distributed import read_csv_rows as _read_csv_rows
from jaxlr._io import write_json
from jaxlr._lr import DivergenceWarning
from jaxlr._standardize import Standardization, unstandardize
from jaxlr._types import Params

PROG = "jaxlr fit"
CONNECTION_OPTIONS = ("coordinator_address", "num_processes", "process_id")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--distributed`` and how the processes connect."""
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="fit across processes and hosts (jax.distributed): run the same command on every process; each "
        "reads only its share of the CSV's rows (or its own file if the path contains {process_index})",
    )
    add_distributed_arguments(parser)


def add_distributed_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that say how the processes of ``jaxlr fit --distributed`` connect."""
    group = parser.add_argument_group(
        "connecting the processes",
        "Give all three of --coordinator-address, --num-processes and --process-id, or none of them "
        "(on Slurm, Open MPI, Kubernetes and Cloud TPU, JAX reads them from the environment).",
    )
    group.add_argument("--coordinator-address", metavar="HOST:PORT", help="where process 0 listens")
    group.add_argument("--num-processes", type=positive_int, metavar="N", help="how many processes take part")
    group.add_argument("--process-id", type=int, metavar="I", help="this process's index, 0 to N-1")
    group.add_argument(
        "--init-timeout", type=positive_int, default=300, metavar="S", help="seconds to wait for all processes"
    )
    group.add_argument(
        "--heartbeat-timeout",
        type=positive_int,
        default=100,
        metavar="S",
        help="seconds after which a silent process counts as dead and the others stop",
    )


def refusal(args: argparse.Namespace) -> str | None:
    """Why these options cannot run as given, or ``None``: checked before connecting."""
    if not args.distributed:
        given = [f"--{name.replace('_', '-')}" for name in CONNECTION_OPTIONS if getattr(args, name) is not None]
        if given:
            return f"{', '.join(given)} only make sense with --distributed"
        return None
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
    given = [getattr(args, name) is not None for name in CONNECTION_OPTIONS]
    if any(given) and not all(given):
        return (
            "give all of --coordinator-address, --num-processes and --process-id, or none of them "
            "(on Slurm, Open MPI, Kubernetes and Cloud TPU JAX finds them itself)"
        )
    if args.process_id is not None and not 0 <= args.process_id < args.num_processes:
        return f"--process-id must be in 0..{args.num_processes - 1} (--num-processes - 1), got {args.process_id}"
    return None


def _allsum(value: ArrayLike) -> np.ndarray:
    """The sum over processes of a same-shaped float64 array (every process gets it)."""
    value = np.asarray(value, np.float64)
    gathered = np.asarray(multihost_utils.process_allgather(value))
    return gathered.reshape(jax.process_count(), *value.shape).sum(axis=0)


def _global_standardization(x: np.ndarray, n: int, names: tuple[str, ...]) -> Standardization:
    """Each feature's mean and population std over every process's rows: two all-reduces of d numbers."""
    mean = _allsum(x.sum(axis=0)) / n
    scale = np.sqrt(_allsum(((x - mean) ** 2).sum(axis=0)) / n)  # two passes: no cancellation
    for j, s in enumerate(scale):
        if not s > 1e-12 * max(1.0, abs(mean[j])):  # as jaxlr.standardize: the same on every process
            raise DataError(
                f"feature {names[j]!r} is constant (every value is {mean[j]:g}), so it cannot be standardized; "
                "leave it out of the features"
            )
    return Standardization(mean, scale)


def _read_rows(args: argparse.Namespace):
    """This process's rows, in float64 and the training dtype; raises ``ValueError``/``DataError``."""
    rows = _read_csv_rows(
        args.data,
        args.target,
        args.features,
        process_index=jax.process_index(),
        process_count=jax.process_count(),
        sep=args.sep,
        encoding=args.encoding,
        dropna=args.dropna,
    )
    with np.errstate(over="ignore"):
        x, y = rows.x.astype(args.dtype), rows.y.astype(args.dtype)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise DataError(
            f"the data does not fit in {args.dtype}: some values are NaN or overflow to inf"
            + ("; use --dtype float64" if args.dtype == "float32" else "")
        )
    return rows


def run(args: argparse.Namespace) -> int:
    """``jaxlr fit ... --distributed``; see the module docstring for outputs and exit codes."""
    try:
        check_outputs(args)
    except DataError as e:
        return fail(PROG, str(e))
    if args.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    try:
        try:
            initialize_distributed(
                args.coordinator_address,
                args.num_processes,
                args.process_id,
                initialization_timeout=args.init_timeout,
                heartbeat_timeout=args.heartbeat_timeout,
            )
        except ValueError as e:
            if args.coordinator_address is not None:
                raise
            return fail(
                PROG,
                f"jax.distributed.initialize() found no cluster it knows (Slurm, Open MPI, Kubernetes, Cloud TPU) "
                f"in the environment ({str(e).rstrip('.')}); "
                "elsewhere give --coordinator-address, --num-processes and --process-id",
            )
        return _fit(args)
    except (DataError, TypeError, ValueError) as e:  # bad input, on every process alike
        message = str(e)
        for prefix in ("read_csv_rows: ", "fit_distributed: "):
            message = message.removeprefix(prefix)
        return fail(PROG, message)
    except Exception as e:  # the distributed runtime's: unreachable coordinator, a peer that died
        lines = str(e).strip().splitlines()
        print(f"{PROG}: error: {type(e).__name__}: {lines[0] if lines else ''}".rstrip(": "), file=sys.stderr)
        return 1


def _fit(args: argparse.Namespace) -> int:
    try:
        rows, error = _read_rows(args), None
    except (DataError, ValueError) as e:
        rows, error = None, e
    _raise_everywhere("read_csv_rows", error)
    assert rows is not None  # else _raise_everywhere raised, on every process
    n = int(_allsum(np.array(rows.y.shape[0])))
    if args.dropna:  # every process takes part in the sum
        dropped = int(_allsum(np.array(rows.dropped)))
        if jax.process_index() == 0:
            print(f"{args.data}: dropped {dropped} rows with a missing cell (--dropna)", file=sys.stderr)
    if n == 0:
        raise DataError(f"{args.data} has no data rows")
    x = rows.x
    standardization = None
    if args.standardize:
        standardization = _global_standardization(rows.x, n, rows.features)
        x = (rows.x - standardization.mean) / standardization.scale
    d = len(rows.features)
    process, count = jax.process_index(), jax.process_count()
    if process == 0:
        scaled = ", standardized" if standardization is not None else ""
        devices = jax.device_count()
        print(
            f"{args.data}: {n} rows over {count} process{'es' * (count != 1)} "
            f"({devices} device{'s' * (devices != 1)}), {d} feature{'s' * (d != 1)}{scaled}, "
            f"target {args.target!r}; {args.optimizer}, {args.steps} steps, "
            f"{args.dtype}, jax backend {jax.default_backend()}",
            flush=True,
        )
    params = Params(np.zeros(d, args.dtype), np.zeros((), args.dtype))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DivergenceWarning)
        result = fit_distributed(
            params,
            x.astype(args.dtype),
            rows.y.astype(args.dtype),
            learning_rate=args.lr,
            n_iters=args.steps,
            optimizer=args.optimizer,
            history="loss",
        )
    w, b, loss = (np.asarray(a) for a in jax.device_get((result.params.w, result.params.b, result.history.loss)))
    if result.diverged or not (np.all(np.isfinite(w)) and np.isfinite(b)):
        reasons = [str(m.message) for m in caught if issubclass(m.category, DivergenceWarning)]
        reason = reasons[0].removeprefix("fit_distributed: ") if reasons else "training diverged"
        print(f"{PROG}: error: {reason}. No result is reported or written.", file=sys.stderr)
        return 1
    # Every process must hold the same parameters, bit for bit: compare them all.
    mine = np.append(w, b).astype(np.float64)
    everyone = np.asarray(multihost_utils.process_allgather(mine)).reshape(count, -1)
    different = [p for p in range(count) if not np.array_equal(everyone[p], everyone[0])]
    if different:
        message = f"process(es) {different} ended with parameters different from process 0's"
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    if standardization is not None:
        fitted = unstandardize(Params(w, b), standardization)
    else:
        fitted = Params(w.astype(np.float64), b.astype(np.float64))
    weights, bias = np.asarray(fitted.w, np.float64), float(np.asarray(fitted.b))
    # The final loss over every row, in float64 on the data as read (original units).
    final_loss = float(_allsum(np.sum((rows.x @ weights + bias - rows.y) ** 2))) / n
    if process != 0:
        print(f"process {process} of {count}: done; parameters identical to process 0's (which prints the result)")
        return 0
    auto = args.lr == "auto"
    names = [*rows.features, "bias"]
    width = max(len("final loss (MSE)"), *(len(name) for name in names))
    print(f"{'':<{width}}  {'gradient descent':>16}")
    for name, value in zip(names, [*weights.tolist(), bias], strict=True):
        print(f"{name:<{width}}  {value:>16.8g}")
    print(f"{'final loss (MSE)':<{width}}  {final_loss:>16.8g}")
    print(f"learning rate {result.learning_rate:.6g}" + (" (auto: 1/L over all rows)" if auto else ""))
    if args.json is not None:
        try:
            write_json(
                args.json,
                {
                    **fit_record(
                        args,
                        names=rows.features,
                        weights=weights,
                        bias=bias,
                        loss_history=loss,
                        final_loss=final_loss,
                        learning_rate=result.learning_rate,
                        target=args.target,
                        source=args.data,
                        standardized=standardization is not None,
                    ),
                    "distributed": {"processes": count, "devices": jax.device_count(), "rows": n},
                },
            )
        except BrokenPipeError:  # the reader of stdout went away: jaxlr._cli ends quietly
            raise
        except OSError as e:
            return fail(PROG, f"cannot write the output: {e}")
        print(f"wrote {args.json}")
    return 0
