"""Fits across the processes of JAX's distributed runtime: :func:`initialize_distributed` in each process,
then :func:`read_csv_rows` for its share of the rows and :func:`fit_distributed` on all of them together."""

import contextlib
import mmap
import os
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np
import optax
from jax.experimental import multihost_utils
from jax.sharding import Mesh

from jaxlr._data import CsvSource, DataError, _choose, compression_of, csv_source, parse, read_header
from jaxlr._fit import _fit_jit, check_options, finish
from jaxlr._rows import global_rows
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
    """Connects this process to the others (``jax.distributed.initialize``), once, before any JAX work. Give all of
    ``coordinator_address`` (process 0's ``"host:port"``), ``num_processes`` and ``process_id``, or none for JAX to
    find; the timeouts are seconds to wait for all to connect, and until a silent process is dead."""
    address = (coordinator_address, num_processes, process_id)
    if len({v is None for v in address}) > 1:
        raise ValueError("initialize_distributed: give all or none of coordinator_address, num_processes, process_id")
    if not jax.distributed.is_initialized():
        jax.distributed.initialize(
            *address, initialization_timeout=initialization_timeout, heartbeat_timeout_seconds=heartbeat_timeout
        )


def gather(value: Any) -> np.ndarray:
    """Every process's ``value`` (an array of the same shape everywhere), stacked in process order."""
    return np.asarray(multihost_utils.process_allgather(np.asarray(value)))


@contextlib.contextmanager
def raise_everywhere(fn: str) -> Iterator[None]:
    """A ``TypeError``/``ValueError`` in the block raised here, and one naming this process on the others."""
    try:
        yield
    except (TypeError, ValueError):
        gather(True)
        raise
    failed = np.flatnonzero(gather(False)).tolist()
    if failed:
        raise ValueError(f"{fn}: process(es) {failed} failed; see the error there")


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
    """:func:`jaxlr.fit` on the rows of all processes together (in process order), each passing only its own; the
    :class:`FitResult` is replicated on every device (``"auto"`` is 1/L over all rows).

    Args:
      params, learning_rate, n_iters, optimizer, gradient, history: as :func:`jaxlr.fit`, the same everywhere.
      x_local, y_local: this process's rows ``(n_p,)`` or ``(n_p, d)`` and targets ``(n_p,)``; may be empty.

    Examples:
      >>> import numpy as np, jaxlr
      >>> x = np.array([1.0, 2.0, 3.0, 4.0])  # this process's rows
      >>> print(jaxlr.fit_distributed(jaxlr.Params(w=0.0), x, 2 * x, learning_rate=0.01).params.w.round(3))
      2.0
    """
    fn = "fit_distributed"
    options, rate = check_options(fn, n_iters, optimizer, gradient, history, "plain", learning_rate)
    params = as_params(fn, params)
    with raise_everywhere(fn):
        x, y = np.asarray(as_input(fn, "x_local", x_local)), np.asarray(as_input(fn, "y_local", y_local))
        for name, value, ranks, shapes in (("x_local", x, (1, 2), "(n,) or (n, d)"), ("y_local", y, (1,), "(n,)")):
            check_dtype(fn, name, value)
            if value.ndim not in ranks:
                raise ValueError(f"{fn}: {name} must have shape {shapes}, got shape {value.shape}")
        if len(x) != len(y):
            raise ValueError(f"{fn}: x_local and y_local must have the same number of rows; got {len(x)} and {len(y)}")
        dtype = jax.dtypes.canonicalize_dtype(np.result_type(x.dtype, y.dtype, np.float32))
    counts, widths, sizes = gather([len(x), x.shape[1] if x.ndim == 2 else -1, dtype.itemsize]).T
    kinds = [f"{f'(n, {d})' if d >= 0 else '(n,)'} float{8 * size}" for d, size in zip(widths, sizes, strict=True)]
    if len(set(kinds)) > 1:
        listed = ", ".join(f"process {p}: {kind}" for p, kind in enumerate(kinds))
        raise ValueError(f"{fn}: the processes' x have different shapes or dtypes after promotion ({listed})")
    # each process's devices contiguous in the mesh, as its rows are in the data
    mesh = Mesh(np.array(sorted(jax.devices(), key=lambda d: (d.process_index, d.id))), ("data",))
    x, y, weights = global_rows(mesh, counts, x.astype(dtype), y.astype(dtype), None)
    with jax.set_mesh(mesh):
        result = _fit_jit(params, x, y, rate, None, None, weights, options)
        return finish(fn, result, options, x, params, None, weights)


class CsvRows(NamedTuple):
    """What :func:`read_csv_rows` returns: this process's rows, ``x`` ``(n_p, d)`` and ``y`` ``(n_p,)``."""

    x: np.ndarray
    y: np.ndarray
    features: tuple[str, ...]
    dropped: int  # rows of this share that ``dropna`` dropped for a missing cell


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
    """Reads process ``process_index``'s share of a CSV file's rows: those that *begin* in its one of ``process_count``
    equal byte ranges after the header, or, for a ``path`` with ``{process_index}`` in it, all of its own file.

    Args:
      path, target, features, sep, encoding, dropna: as :func:`jaxlr.load_csv`.

    Examples:
      >>> import pathlib, tempfile, jaxlr
      >>> _ = (path := pathlib.Path(tempfile.mkdtemp(), "data.csv")).write_text("x,y\\n1,2\\n2,4\\n3,6\\n4,8\\n")
      >>> [jaxlr.read_csv_rows(path, "y", process_index=i, process_count=2).y.tolist() for i in range(2)]
      [[2.0, 4.0], [6.0, 8.0]]
    """
    fn = "read_csv_rows"
    if not 0 <= process_index < process_count:
        raise ValueError(f"{fn}: need 0 <= process_index < process_count, got {process_index} and {process_count}")
    one_file = "{process_index}" not in os.fspath(path)
    path = os.fspath(path).replace("{process_index}", str(process_index))
    source = csv_source(path)
    try:
        header = read_header(source, sep, encoding)
    except DataError as e:
        if "is empty" in str(e):
            raise DataError(f"{fn}: {path} has no header line (expected column names, e.g. x1,x2,y)") from None
        raise
    features = _choose(header.names, path, target, features, None)[:-1]
    if one_file:  # this process's lines: those that begin in its range of the bytes after the header
        if source.path is None or compression_of(path) is not None:
            raise DataError(
                f"{fn}: {source.label} cannot be split into byte ranges (compressed, or standard input); "
                "give one file per process, path-{process_index}.csv"
            )
        with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as body:
            start = sum(len(file.readline()) for _ in range(header.skip))  # where the rows begin
            cuts = [start + (len(body) - start) * i // process_count for i in (process_index, process_index + 1)]
            begin, stop = (body.find(b"\n", cut - 1) + 1 or len(body) for cut in cuts)  # at the next line start
            source = CsvSource(f"{path} (the share from byte {begin})", None, body[begin:stop])
        header = header._replace(skip=0)
    values, dropped = parse(source, header, (*features, target), encoding=encoding, dropna=dropna, allow_empty=True)
    return CsvRows(values[:, :-1], values[:, -1], features, dropped)
