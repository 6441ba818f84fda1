"""Multi-host fits on JAX's own distributed runtime: one process per host, each with its own rows.

Every process runs the same program: :func:`initialize_distributed` connects them, each reads
only its own rows (:func:`read_csv_rows`), and :func:`fit_distributed` makes one global array of
them, row-sharded over every device of every process, for the same compiled fit as
:func:`jaxlr.fit`. ``jaxlr fit ... --distributed`` runs all three steps on a CSV file.
"""

import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import numpy as np
import optax
from jax.experimental import multihost_utils
from jax.sharding import AxisType, Mesh

from jaxlr._csv import CsvSource, DataError, csv_source, parse, read_header
from jaxlr._fit import _fit_jit, check_options, finish
from jaxlr._sharding import DATA_AXIS, auto_axes_context, padded_length, replicated, row_shardings
from jaxlr._types import FitResult, Params
from jaxlr._validate import as_input, as_params, check_dtype, check_params, compute_dtype


def initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    initialization_timeout: int = 300,
    heartbeat_timeout: int = 100,
) -> None:
    """Connects this process to the others: ``jax.distributed.initialize``, once (a second call does nothing).

    Call it before any JAX computation. With no arguments JAX detects the cluster
    (Slurm, Open MPI, Kubernetes, Cloud TPU) from its environment; elsewhere give all three.

    Args:
      coordinator_address: ``"host:port"`` where process 0 listens.
      num_processes: how many processes take part.
      process_id: this process's index, ``0 <= process_id < num_processes``.
      initialization_timeout: seconds to wait for all processes to connect.
      heartbeat_timeout: seconds after which a silent peer counts as dead and the others stop.
    """
    if jax.distributed.is_initialized():
        return
    given = [v is not None for v in (coordinator_address, num_processes, process_id)]
    if any(given) and not all(given):
        raise ValueError(
            "initialize_distributed: give all of coordinator_address, num_processes and process_id, "
            "or none of them (to detect the cluster from the environment)"
        )
    jax.distributed.initialize(
        coordinator_address,
        num_processes,
        process_id,
        initialization_timeout=initialization_timeout,
        heartbeat_timeout_seconds=heartbeat_timeout,
    )


def process_mesh() -> Mesh:
    """A 1-D ``"data"`` mesh of every device of every process, each process's devices contiguous (its rows too)."""
    devices = sorted(jax.devices(), key=lambda d: (d.process_index, d.id))
    return Mesh(np.array(devices), (DATA_AXIS,), axis_types=(AxisType.Auto,))


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

    Every process passes the same ``params`` and options. Row counts may differ (a process may
    have none): each block is padded with zero rows, masked out exactly. Only the counts cross
    the network before the fit. In one process this is ``jaxlr.fit(..., devices=len(jax.devices()))``.

    Args:
      params: the initial :class:`Params`, the same on every process.
      x_local: this process's rows, ``(n_p,)`` or ``(n_p, d)``.
      y_local: this process's targets, ``(n_p,)``.
      learning_rate, n_iters, optimizer, gradient, history: as :func:`jaxlr.fit` (``"auto"``: L over all rows).

    Returns:
      A :class:`FitResult` replicated on every device, so each process can read it.

    Raises:
      TypeError, ValueError: as :func:`jaxlr.fit`, on every process alike.

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
    error = None
    try:
        x_local, y_local = _local_rows(fn, x_local, y_local)
    except (TypeError, ValueError) as e:
        error = e
    # All processes raise or none does: one that raised alone would leave the others waiting for it.
    raise_everywhere(fn, error)
    record = [x_local.shape[0], x_local.ndim, x_local.shape[1] if x_local.ndim == 2 else -1, x_local.dtype.itemsize]
    shapes = np.asarray(multihost_utils.process_allgather(np.array(record))).reshape(jax.process_count(), 4)
    if len({tuple(s[1:3]) for s in shapes}) != 1:
        per_process = ", ".join(f"process {p}: {'(n,)' if s[1] == 1 else f'(n, {s[2]})'}" for p, s in enumerate(shapes))
        raise ValueError(f"{fn}: the processes' x have different shapes ({per_process})")
    if len({s[3] for s in shapes}) != 1:
        raise ValueError(
            f"{fn}: the processes' rows have different dtypes after promotion "
            f"({', '.join(f'process {p}: float{8 * s[3]}' for p, s in enumerate(shapes))})"
        )
    counts = shapes[:, 0]
    if counts.sum() == 0:
        raise ValueError(f"{fn}: the data is empty: no process has any rows")

    mesh = process_mesh()
    block = padded_length(int(counts.max()), jax.local_device_count())
    n_padded = block * jax.process_count()
    x_sharding, y_sharding = row_shardings(mesh)

    def global_array(local: np.ndarray, sharding: Any) -> jax.Array:
        padded = np.concatenate([local, np.zeros((block - len(local), *local.shape[1:]), local.dtype)])
        return jax.make_array_from_process_local_data(sharding, padded, (n_padded, *local.shape[1:]))

    x = global_array(x_local, x_sharding if x_local.ndim == 2 else y_sharding)
    y = global_array(y_local, y_sharding)
    weights = None  # the padded rows get weight 0
    if n_padded != counts.sum():
        weights = global_array(np.ones(len(x_local), np.float32), y_sharding)

    # shapes and dtypes only: x is not on this host; NaN and inf are found on the devices, in the fit
    check_params(fn, params)
    dtype = compute_dtype(x, y, params.w, params.b)
    params = jax.tree.map(lambda leaf: jax.device_put(np.asarray(leaf, dtype), replicated(mesh)), params)
    with auto_axes_context():
        result = _fit_jit(params, x, y, rate, None, None, weights, options)
        return finish(fn, result, options, x, params, None, weights)


def raise_everywhere(fn: str, error: Exception | None) -> None:
    """Raises ``error`` here, and an error naming the failed processes on every other process."""
    failed = np.asarray(multihost_utils.process_allgather(np.array(error is not None))).reshape(-1)
    if error is not None:
        raise error
    if failed.any():
        raise ValueError(f"{fn}: process(es) {np.flatnonzero(failed).tolist()} failed; see the error there")


def _local_rows(fn: str, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """This process's rows as host arrays of the dtype to compute in (as ``fit``); a process may have none."""
    x, y = np.asarray(as_input(fn, "x_local", x)), np.asarray(as_input(fn, "y_local", y))
    check_dtype(fn, "x_local", x)
    check_dtype(fn, "y_local", y)
    if x.ndim not in (1, 2):
        raise ValueError(f"{fn}: x_local must have shape (n,) or (n, d), got shape {x.shape}")
    if y.ndim != 1:
        raise ValueError(f"{fn}: y_local must have shape (n,), got shape {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{fn}: x_local and y_local must have the same number of rows; got {x.shape[0]} and {y.shape[0]}"
        )
    dtype = jax.dtypes.canonicalize_dtype(np.result_type(x.dtype, y.dtype, np.float32))
    return x.astype(dtype, copy=False), y.astype(dtype, copy=False)


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

    One shared file: the bytes after the header are cut into ``process_count`` equal ranges, and
    a process parses the lines that *begin* in its range, so every line is read by exactly one
    process, in file order. If ``path`` contains ``{process_index}``, each process reads the whole
    of its own file, ``path.format(process_index=...)`` (which may then be compressed).

    Args:
      path: the CSV file: a header line of column names, then one line of numbers per sample.
      target: the column to predict (``y``).
      features: the input columns, in order; ``None`` means every column but ``target``.
      process_index: this process's share, ``0 <= process_index < process_count``.
      process_count: how many shares.
      sep: the separator; ``None`` detects it from the header line, as :func:`jaxlr.load_csv` does.
      encoding: the file's text encoding.
      dropna: drop this share's rows with a missing cell (counted in ``dropped``).

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
    per_process_file = "{process_index}" in path
    if per_process_file:
        path = path.format(process_index=process_index)
    source = csv_source(path)
    try:
        header = read_header(source, sep, encoding)
    except DataError as e:
        if "is empty" in str(e):
            raise DataError(f"{fn}: {path} has no header line (expected column names, e.g. x1,x2,y)") from None
        raise
    features = _pick_columns(fn, path, list(header.names), target, features)
    if not per_process_file:
        source, header = _share(source, header.skip, process_index, process_count), header._replace(skip=0)
        if source is None:
            return CsvRows(np.zeros((0, len(features))), np.zeros(0), features)
    values, dropped = parse(source, header, (*features, target), encoding=encoding, dropna=dropna, allow_empty=True)
    return CsvRows(values[:, :-1], values[:, -1], features, dropped)


def _share(source: CsvSource, skip: int, process_index: int, process_count: int) -> CsvSource | None:
    """The bytes of the lines that begin in this process's range (after ``skip`` header lines), or ``None``."""
    if source.path is None or source.path.endswith((".gz", ".bz2", ".zst", ".lz4")):
        raise DataError(
            f"read_csv_rows: {source.label} cannot be split into byte ranges (compressed, or standard input); "
            "give one file per process, path-{process_index}.csv"
        )
    with open(source.path, "rb") as file:
        for _ in range(skip):
            file.readline()
        body_start = file.tell()
        body_end = file.seek(0, os.SEEK_END)

        def line_start(share: int) -> int:
            """Where the first line beginning at or after the start of ``share`` begins."""
            offset = body_start + (body_end - body_start) * share // process_count
            if offset in (body_start, body_end):
                return offset
            file.seek(offset - 1)
            file.readline()  # the rest of the line that began before (or just its newline)
            return file.tell()

        begin, end = line_start(process_index), line_start(process_index + 1)
        file.seek(begin)
        data = file.read(end - begin)
    if not data.strip():
        return None
    return CsvSource(f"{source.label} (the share from byte {begin})", None, data)


def _pick_columns(
    fn: str, path: str, columns: list[str], target: str, features: Sequence[str] | None
) -> tuple[str, ...]:
    """The feature names, checked as :func:`jaxlr.load_csv` does (read_header refuses repeated names)."""
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
    return features
