"""``jaxlr fit DATA.csv --target y --distributed``: connecting the processes and reading their rows.

Exit codes: 0 for a fit; 1 when training diverged or the processes could not work together; 2 for bad input.
"""

import argparse
import sys
from collections.abc import Callable

import jax
import numpy as np

from jaxlr._cli_util import Problem, as_dtype, fail, positive_int
from jaxlr._data import DataError, Dataset, Standardization
from jaxlr._distributed import gather, initialize_distributed, raise_everywhere, read_csv_rows

PROG = "jaxlr fit"
CONNECTION = ("coordinator_address", "num_processes", "process_id")
ALL_OR_NONE = "give all of --coordinator-address, --num-processes and --process-id, or none of them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--distributed", action="store_true", help="fit across processes, each reading its rows")
    about = f"{ALL_OR_NONE.capitalize()} (JAX finds them on Slurm, Open MPI, Kubernetes and Cloud TPU)."
    add = parser.add_argument_group("connecting the processes", about).add_argument
    add("--coordinator-address", metavar="HOST:PORT", help="where process 0 listens")
    add("--num-processes", type=positive_int, metavar="N", help="how many processes take part")
    add("--process-id", type=int, metavar="I", help="this process's index, 0 to N-1")
    add("--init-timeout", type=positive_int, default=300, metavar="S", help="seconds to wait for all processes")
    add("--heartbeat-timeout", type=positive_int, default=100, metavar="S", help="seconds until a silent one is dead")


def refusal(args: argparse.Namespace) -> str | None:
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


def allsum(value) -> np.ndarray:
    """The sum over processes of a same-shaped float64 array (every process gets it)."""
    return gather(np.asarray(value, np.float64)).sum(axis=0)


def run(args: argparse.Namespace, fit: Callable[[Problem], int]) -> int:
    """Connects, reads this process's rows and returns ``fit(problem)``; errors become exit codes 1 and 2."""
    if args.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    try:
        connection = (getattr(args, name) for name in CONNECTION)
        initialize_distributed(
            *connection, initialization_timeout=args.init_timeout, heartbeat_timeout=args.heartbeat_timeout
        )
        with raise_everywhere("read_csv_rows"):
            share = {"process_index": jax.process_index(), "process_count": jax.process_count()}
            options = {"sep": args.sep, "encoding": args.encoding, "dropna": args.dropna}
            rows = read_csv_rows(args.data, args.target, args.features, **share, **options)
            as_dtype(rows.x, rows.y, args.dtype)
        n, dropped = (int(total) for total in allsum([len(rows.y), rows.dropped]))
        if args.dropna and jax.process_index() == 0:
            print(f"{args.data}: dropped {dropped} rows with a missing cell (--dropna)", file=sys.stderr)
        if n == 0:
            raise DataError(f"{args.data} has no data rows")
        x, scaling = rows.x, None
        if args.standardize:  # each feature's mean and std over every process's rows
            mean = allsum(rows.x.sum(axis=0)) / n
            scaling = Standardization(mean, np.sqrt(allsum(((rows.x - mean) ** 2).sum(axis=0)) / n))
            for name, m, s in zip(rows.features, *scaling, strict=True):
                if not s > 1e-12 * max(1.0, abs(m)):  # as jaxlr.standardize
                    reason = f"feature {name!r} is constant (every value is {m:g}), so it cannot be standardized"
                    raise DataError(f"{reason}; leave it out of the features")
            x = (rows.x - mean) / scaling.scale
        data = Dataset(rows.x, rows.y, rows.features, args.target, args.data)
        return fit(Problem(data, *as_dtype(x, rows.y, args.dtype), scaling, rows=n))
    except (DataError, TypeError, ValueError) as e:  # bad input, on every process alike
        message = str(e).removeprefix("read_csv_rows: ").removeprefix("fit_distributed: ")
        if not jax.distributed.is_initialized() and args.coordinator_address is None:
            message = (
                "jax.distributed.initialize() found no cluster it knows (Slurm, Open MPI, Kubernetes, Cloud TPU) "
                f"in the environment ({message.rstrip('.')}); "
                "elsewhere give --coordinator-address, --num-processes and --process-id"
            )
        return fail(PROG, message)
    except Exception as e:  # the distributed runtime's: unreachable coordinator, a peer that died
        lines = str(e).strip().splitlines()
        print(f"{PROG}: error: {type(e).__name__}: {lines[0] if lines else ''}".rstrip(": "), file=sys.stderr)
        return 1
