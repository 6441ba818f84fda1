"""What the ``jaxlr`` subcommands and scripts share: argument parsing, the data options and loading, output files."""

import argparse
import contextlib
import math
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, NoReturn

import jax
import jax.numpy as jnp
import numpy as np

from jaxlr import _data, _io
from jaxlr._data import DataError
from jaxlr._fit import OPTIMIZERS
from jaxlr._progress import stderr_is_terminal

OUTPUTS = ("json", "plot", "save_model", "out")  # the options that name an output file


def fail(prog: str, message: str, code: int = 2) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise SystemExit(fail(self.prog, message))


def _number(kind: type, what: str, ok: Callable[[Any], bool], also: str | None = None) -> Callable[[str], Any]:
    """A parser of ``also`` or a ``kind`` (float or int) for which ``ok`` holds; else an argparse error: ``what``."""

    def parse(text: str) -> Any:
        if text == also:
            return text
        with contextlib.suppress(ValueError):
            if math.isfinite(value := kind(text)) and ok(value):
                return value
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")

    return parse


positive_float = _number(float, "a positive finite number", lambda v: v > 0)
non_negative_float = _number(float, "a finite number >= 0", lambda v: v >= 0)
positive_int = _number(int, "a positive integer", lambda v: v >= 1)
positive_or_auto = _number(float, "a positive number or 'auto'", lambda v: v > 0, also="auto")


def json_numbers(value: Any) -> Any:
    value = np.asarray(value, np.float64)
    return np.where(np.isfinite(value), value, np.array(None)).tolist()  # JSON has no NaN or inf


class Problem(NamedTuple):  # a regression problem ready to train on
    data: _data.Dataset  # as loaded (with --distributed, this process's rows), original units, float64
    x: jax.Array | np.ndarray  # (n, d) training features in the chosen dtype, standardized if asked
    y: jax.Array | np.ndarray  # (n,) in the chosen dtype
    standardization: _data.Standardization | None
    rows: int | None = None  # with --distributed, the number of rows of all processes together


def _feature_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return names


def add_problem_arguments(parser: argparse.ArgumentParser, *, default_steps: int) -> None:
    """The options every fitting command shares, after the command's own ``--lr``."""
    add = parser.add_argument
    add("data", nargs="?", metavar="DATA.csv", help="a CSV file with a header row (.gz: gzip-compressed; -: stdin)")
    add("--sep", help="the CSV separator (default: detected from the header line)")
    add("--encoding", default="utf-8", help="the CSV file's text encoding, e.g. latin-1 (%(default)s)")
    add("--dropna", action="store_true", help="drop the rows with a missing cell (empty, NA, NULL) and say how many")
    datasets = sorted(_data.DATASETS)
    add("--dataset", choices=datasets, help="a built-in dataset instead of a file (diabetes needs scikit-learn)")
    add("--target", help="the column to predict (required with a file)")
    add("--features", type=_feature_list, metavar="A,B,...", help="feature columns (default: every other column)")
    add("--steps", type=positive_int, default=default_steps, help="gradient steps (%(default)s)")
    add("--optimizer", choices=sorted(OPTIMIZERS), default="sgd", help="optimizer (%(default)s)")
    add("--standardize", action="store_true", help="train on features scaled to mean 0, standard deviation 1")
    add("--dtype", choices=("float32", "float64"), default="float32", help="precision (%(default)s)")
    add("--json", metavar="OUT.json", help="write the result as JSON")
    add("--plot", metavar="OUT.png", help="write a plot (needs matplotlib)")
    add("--quiet", action="store_true", help="no progress bar")


def check_outputs(args: argparse.Namespace) -> None:
    """Refuses, before any work, outputs that could not be written; raises ``DataError``."""
    given = {f"--{o.replace('_', '-')}": getattr(args, o) for o in OUTPUTS if getattr(args, o, None) is not None}
    if len(on_stdout := [option for option, path in given.items() if path == _io.STDOUT]) > 1:
        raise DataError(f"only one output can go to standard output (-); got {' and '.join(on_stdout)}")
    for option, path in given.items():
        if (problem := _io.output_problem(path)) is not None:
            raise DataError(f"{option} {path}: {problem}")
    if "--plot" in given:
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
        except ImportError:
            raise DataError("--plot needs matplotlib, which is not installed: pip install 'jaxlr[plot]'") from None
        suffix = os.path.splitext(args.plot)[1].lstrip(".").lower() or "png"
        if suffix not in (formats := FigureCanvasAgg.get_supported_filetypes()):
            raise DataError(f"--plot {args.plot}: cannot write .{suffix} files; use one of .{', .'.join(formats)}")


@contextlib.contextmanager
def output_errors() -> Iterator[None]:
    """Turns a failed write into a ``DataError``; a closed stdout passes (``jaxlr._cli`` ends quietly)."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as e:  # a full disk, a vanished directory: the files are whole or absent
        raise DataError(f"cannot write the output: {e}") from None


def write_outputs(*outputs: tuple[str | None, Callable[[str], Any]]) -> None:
    with output_errors():
        for path, write in outputs:
            if path is not None:
                write(path)
                print(f"wrote {path}")


def as_dtype(x: Any, y: Any, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(over="ignore"):
        x, y = np.asarray(x, dtype), np.asarray(y, dtype)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        hint = "; use --dtype float64" if dtype == "float32" else ""
        raise DataError(f"the data does not fit in {dtype}: some values overflow to inf{hint}")
    return x, y


def load_problem(args: argparse.Namespace, *, intercept: bool = True) -> Problem:
    """Loads and prepares the data the arguments name; without an ``intercept``, ``--standardize`` does not centre."""
    if (args.data is None) == (args.dataset is None):
        raise DataError("give either a CSV file or --dataset NAME (not both)")
    if args.dataset is None and args.target is None:
        raise DataError(f"--target is required with a file: which column of {args.data} should be predicted?")
    chosen = {"target": args.target, "features": args.features, "weights": getattr(args, "weights", None)}
    try:
        if args.dataset is not None:
            data = _data.load_dataset(args.dataset, **chosen)
        else:
            options = {"sep": args.sep, "encoding": args.encoding, "dropna": args.dropna}
            data = _data.load_csv(args.data, **chosen, **options, progress=not args.quiet and stderr_is_terminal())
    except _data.WeightsError as e:
        raise DataError(f"--weights {e.column}: {e.reason}") from None
    if args.dropna and args.dataset is None:
        print(f"{data.source}: dropped {data.dropped} rows with a missing cell (--dropna)", file=sys.stderr)
    x, standardization = data.x, None
    if args.standardize:
        x, standardization = _data.standardize(x, data.feature_names, center=intercept)
    x, y = as_dtype(x, data.y, args.dtype)
    return Problem(data, jnp.asarray(x), jnp.asarray(y), standardization)


def describe(problem: Problem, args: argparse.Namespace, *, intercept: bool = True) -> str:
    """The line that opens a fit's report: the data, the model and how it is trained."""
    data, (n, d) = problem.data, problem.data.x.shape
    rows = f"{n} rows"
    if problem.rows is not None:
        procs, devs = jax.process_count(), jax.device_count()
        rows = f"{problem.rows} rows over {procs} process{'es' * (procs != 1)} ({devs} device{'s' * (devs != 1)})"
    scaling = ", standardized" if intercept else ", scaled to unit root mean square"
    model = ("" if problem.standardization is None else scaling) + ("" if intercept else ", no intercept")
    weighted = "" if data.weights_name is None else f", weights {data.weights_name!r}"
    return (
        f"{data.source}: {rows}, {d} feature{'s' * (d != 1)}{model}, target {data.target_name!r}{weighted}; "
        f"{args.optimizer}, {args.steps} steps, {args.dtype}, jax backend {jax.default_backend()}"
    )
