"""Multi-host fits on JAX's own distributed runtime: one process per host, each with its own rows.

Every process runs the same program: :func:`initialize_distributed` connects them, each reads only its
own rows (:func:`read_csv_rows`), and :func:`fit_distributed` fits one global array of them, split by
rows over every device of every process, with the same compiled fit as :func:`jaxlr.fit`.
"""

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np
import optax
from jax.experimental import multihost_utils
from jax.sharding import Mesh

from jaxlr._csv import CsvSource, DataError, csv_source, parse, read_header
from jaxlr._fit import _fit_jit, check_options, finish
from jaxlr._sharding import auto_context, global_rows
from jaxlr._types import FitResult, Params
from jaxlr._validate import as_input, as_params, check_dtype


def initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    initialization_timeout: int = 300,
    heartbeat_timeout: int = 100,
) -> None:
    """Connects this process to the others (``jax.distributed.initialize``), once; call it before any JAX work.

    Args:
      coordinator_address, num_processes, process_id: ``"host:port"`` where process 0 listens, how many
        processes take part and this one's index; all three, or none for JAX to find them in the
        environment (Slurm, Open MPI, Kubernetes, Cloud TPU).
      initialization_timeout: seconds to wait for all processes to connect.
      heartbeat_timeout: seconds after which a silent peer counts as dead and the others stop.
    """
    if jax.distributed.is_initialized():
        return
    address = (coordinator_address, num_processes, process_id)
    if len({v is None for v in address}) > 1:
        raise ValueError(
            "initialize_distributed: give all of coordinator_address, num_processes and process_id, "
            "or none of them (to detect the cluster from the environment)"
        )
    jax.distributed.initialize(
        *address, initialization_timeout=initialization_timeout, heartbeat_timeout_seconds=heartbeat_timeout
    )


def gather(value: Any) -> np.ndarray:
    """Every process's ``value`` (of the same shape everywhere), stacked in process order."""
    value = np.asarray(value)
    return np.asarray(multihost_utils.process_allgather(value)).reshape(-1, *value.shape)


@contextlib.contextmanager
def raise_everywhere(fn: str) -> Iterator[None]:
    """A ``TypeError`` or ``ValueError`` of the block raised here, and one naming this process on the others.

    One process that raised alone would leave the others waiting for it.
    """
    error = None
    try:
        yield
    except (TypeError, ValueError) as e:
        error = e
    failed = gather(error is not None)
    if error is not None:
        raise error
    if failed.any():
        raise ValueError(f"{fn}: process(es) {np.flatnonzero(failed).tolist()} failed; see the error there")


def fit_distributed(
    params: Params,
    x_local: Any,
    y_local: Any,
    *,
    learning_rate: float | str | None = None,
    n_iters: int = 100,
    optimizer: str | optax.GradientTransformation | None = None,
    gradient: str = "autograd",
    history: str = "full",
) -> FitResult:
    """:func:`jaxlr.fit` on the rows of all processes together (in process order), each passing only its own.

    Every process passes the same ``params`` and options. Row counts may differ (a process may have
    none). In one process this is ``jaxlr.fit(..., devices=len(jax.devices()))``.

    Args:
      params: the initial :class:`Params`, the same on every process.
      x_local: this process's rows, ``(n_p,)`` or ``(n_p, d)``; ``y_local``: its targets, ``(n_p,)``.
      learning_rate, n_iters, optimizer, gradient, history: as :func:`jaxlr.fit` (``"auto"``: L over all rows).

    Returns:
      A :class:`FitResult` replicated on every device, so each process can read it.

    Examples:
      >>> import numpy as np, jaxlr
      >>> x = np.array([1.0, 2.0, 3.0, 4.0]); y = 2 * x  # this process's rows
      >>> result = jaxlr.fit_distributed(jaxlr.Params(w=0.0), x, y, learning_rate=0.01, n_iters=100)
      >>> print(f"w = {float(result.params.w):.3f}")
      w = 2.000
    """
    fn = "fit_distributed"
    options, rate = check_options(fn, n_iters, optimizer, gradient, history, "plain", learning_rate)
    params = as_params(fn, params)
    with raise_everywhere(fn):
        x, y = np.asarray(as_input(fn, "x_local", x_local)), np.asarray(as_input(fn, "y_local", y_local))
        check_dtype(fn, "x_local", x)
        check_dtype(fn, "y_local", y)
        if x.ndim not in (1, 2):
            raise ValueError(f"{fn}: x_local must have shape (n,) or (n, d), got shape {x.shape}")
        if y.ndim != 1:
            raise ValueError(f"{fn}: y_local must have shape (n,), got shape {y.shape}")
        if len(x) != len(y):
            raise ValueError(f"{fn}: x_local and y_local must have the same number of rows; got {len(x)} and {len(y)}")
        dtype = jax.dtypes.canonicalize_dtype(np.result_type(x.dtype, y.dtype, np.float32))
    counts, widths, sizes = gather([len(x), x.shape[1] if x.ndim == 2 else -1, dtype.itemsize]).T
    if len(set(widths)) > 1:
        shapes = ", ".join(f"process {p}: {f'(n, {d})' if d >= 0 else '(n,)'}" for p, d in enumerate(widths))
        raise ValueError(f"{fn}: the processes' x have different shapes ({shapes})")
    if len(set(sizes)) > 1:
        dtypes = ", ".join(f"process {p}: float{8 * size}" for p, size in enumerate(sizes))
        raise ValueError(f"{fn}: the processes' rows have different dtypes after promotion ({dtypes})")
    if counts.sum() == 0:
        raise ValueError(f"{fn}: the data is empty: no process has any rows")
    # each process's devices contiguous in the mesh, as its rows are in the data
    mesh = Mesh(np.array(sorted(jax.devices(), key=lambda d: (d.process_index, d.id))), ("data",))
    x, y, weights = global_rows(mesh, counts, x.astype(dtype), y.astype(dtype), None)
    with auto_context():
        result = _fit_jit(params, x, y, rate, None, None, weights, options)
        return finish(fn, result, options, x, params, None, weights)


class CsvRows(NamedTuple):
    """What :func:`read_csv_rows` returns: this process's ``x`` ``(n_p, d)``, ``y`` ``(n_p,)``, feature names."""

    x: np.ndarray
    y: np.ndarray
    features: tuple[str, ...]
    dropped: int = 0  # rows of this share that ``dropna`` dropped for a missing cell


def read_csv_rows(
    path: str | os.PathLike,
    target: str,
    features: Sequence[str] | None = None,
    *,
    process_index: int = 0,
    process_count: int = 1,
    sep: str | None = None,
    encoding: str = "utf-8",
    dropna: bool = False,
) -> CsvRows:
    """Reads process ``process_index``'s share of the rows of a numeric CSV file with a header.

    One shared file is cut after the header into ``process_count`` equal byte ranges; a process parses
    the lines that *begin* in its range, so every line is read once, in file order. A ``path`` with
    ``{process_index}`` in it names one whole file per process.

    Args:
      path: the CSV file: a header line of column names, then one line of numbers per sample.
      target, features: the column to predict, and the input columns (``None``: every other column).
      process_index, process_count: this process's share, ``0 <= process_index < process_count``.
      sep, encoding, dropna: as :func:`jaxlr.load_csv` (``dropped`` counts this share's dropped rows).

    Raises:
      DataError: as :func:`jaxlr.load_csv`; a row or line number counts from the start of this share.

    Examples:
      >>> import pathlib, tempfile, jaxlr
      >>> path = pathlib.Path(tempfile.mkdtemp()) / "data.csv"
      >>> _ = path.write_text("x,y\\n1,2\\n2,4\\n3,6\\n4,8\\n")
      >>> [jaxlr.read_csv_rows(path, "y", process_index=i, process_count=2).y.tolist() for i in range(2)]
      [[2.0, 4.0], [6.0, 8.0]]
    """
    fn = "read_csv_rows"
    if not 0 <= process_index < process_count:
        raise ValueError(f"{fn}: need 0 <= process_index < process_count, got {process_index} and {process_count}")
    path = os.fspath(path)
    one_file = "{process_index}" not in path
    path = path.replace("{process_index}", str(process_index))
    source = csv_source(path)
    try:
        header = read_header(source, sep, encoding)
    except DataError as e:
        if "is empty" in str(e):
            raise DataError(f"{fn}: {path} has no header line (expected column names, e.g. x1,x2,y)") from None
        raise
    columns = list(header.names)
    if target not in columns:
        raise DataError(f"{fn}: target column {target!r} is not in {path}; its columns are {columns}")
    features = tuple(c for c in columns if c != target) if features is None else tuple(features)
    missing = [f for f in features if f not in columns]
    if missing:
        raise DataError(f"{fn}: feature column(s) {missing} not in {path}; its columns are {columns}")
    if target in features:
        raise DataError(f"{fn}: the target {target!r} is also listed as a feature")
    if not features:
        raise DataError(f"{fn}: no feature columns: {path} has only {columns}")
    if one_file:
        source, header = _share(source, header.skip, process_index, process_count), header._replace(skip=0)
        if source is None:
            return CsvRows(np.zeros((0, len(features))), np.zeros(0), features)
    values, dropped = parse(source, header, (*features, target), encoding=encoding, dropna=dropna, allow_empty=True)
    return CsvRows(values[:, :-1], values[:, -1], features, dropped)


def _share(source: CsvSource, skip: int, index: int, count: int) -> CsvSource | None:
    """The bytes of the lines that begin in share ``index`` of ``count`` of the body after ``skip`` lines."""
    if source.path is None or source.path.endswith((".gz", ".bz2", ".zst", ".lz4")):
        raise DataError(
            f"read_csv_rows: {source.label} cannot be split into byte ranges (compressed, or standard input); "
            "give one file per process, path-{process_index}.csv"
        )
    with open(source.path, "rb") as file:
        for _ in range(skip):
            file.readline()
        start, end = file.tell(), file.seek(0, os.SEEK_END)
        bounds = []
        for share in (index, index + 1):
            bounds.append(start + (end - start) * share // count)
            if start < bounds[-1] < end:
                file.seek(bounds[-1] - 1)
                file.readline()  # the rest of the line that began before (or just its newline)
                bounds[-1] = file.tell()
        file.seek(bounds[0])
        data = file.read(bounds[1] - bounds[0])
    return CsvSource(f"{source.label} (the share from byte {bounds[0]})", None, data) if data.strip() else None
