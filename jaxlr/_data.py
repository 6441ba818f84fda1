"""Data in, model out: regression problems from a CSV file or a built-in data set, standardization, model files.
CSV files are read by pyarrow; if it refuses anything, a Python pass names the bad row or cell."""

import codecs
import contextlib
import csv
import json
import math
import os
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

import jaxlr
from jaxlr._io import write_json
from jaxlr._model import predict
from jaxlr._types import Params

PROGRESS_DELAY_S = 1.0  # a progress bar shows itself once a load has taken this long
MISSING = ("", "NA", "N/A", "n/a", "NULL", "null")  # dropped with ``dropna``, an error without it
PIECE_BYTES = 32 << 20  # uncompressed inputs are parsed a piece of this size at a time
FORMAT, FORMAT_VERSION = "jaxlr-model", 1
DATASETS = ("diabetes", "lesson")  # the built-in data sets


class DataError(ValueError):
    """Data that cannot be fitted (a missing file or column, a non-numeric cell, no rows): one line naming where."""


class WeightsError(DataError):
    """A sample-weights column that cannot be used: ``column`` names it, ``reason`` says why."""

    def __init__(self, column: str, reason: str):
        super().__init__(f"weights column {column!r}: {reason}")
        self.column, self.reason = column, reason


class CsvSource(NamedTuple):
    """Where the bytes come from: a file (decompressed by its extension, e.g. ``.gz``) or a buffer."""

    label: str  # the name used in messages
    path: str | None
    buffer: bytes | None

    def open(self) -> tuple[Any, Any]:
        """The raw input (its position measures progress) and the stream of its decompressed bytes."""
        import pyarrow as pa

        compression = compression_of(self.path)
        try:
            raw = pa.BufferReader(self.buffer) if self.path is None else pa.OSFile(self.path)
        except OSError as e:
            raise DataError(f"cannot read {self.path}: {e.strerror or str(e).splitlines()[0]}") from None
        return raw, raw if compression is None else pa.CompressedInputStream(raw, compression)


def compression_of(path: str | None) -> str | None:
    """The codec pyarrow reads ``path`` through, detected from its extension (``.gz``, ``.zst``, ...), or ``None``."""
    import pyarrow as pa

    with contextlib.suppress(TypeError, ValueError):  # no path, or not the extension of a compressed file
        return pa.Codec.detect(path).name
    return None


class CsvHeader(NamedTuple):
    names: tuple[str, ...]
    sep: str
    skip: int  # physical lines up to and including the header


def csv_source(path: str | os.PathLike) -> CsvSource:
    """The source of a path; ``-`` reads all of standard input."""
    path = os.fspath(path)
    if path == "-":
        return CsvSource("stdin", None, sys.stdin.buffer.read())
    if os.path.isdir(path):
        raise DataError(f"cannot read {path}: it is a directory")
    if not os.path.exists(path):
        raise DataError(f"cannot read {path}: No such file or directory")
    return CsvSource(path, path, None)


def read_header(source: CsvSource, sep: str | None, encoding: str) -> CsvHeader:
    """The first line that is not blank: its column names and separator (detected when ``sep`` is ``None``)."""
    try:
        codecs.lookup(encoding)  # checked here, so parse (always called after read_header) need not
    except LookupError:
        raise DataError(f"--encoding {encoding!r} is not a text encoding Python knows (e.g. utf-8, latin-1)") from None
    raw, stream = source.open()
    with raw, stream:
        head = stream.read(1 << 16)
        while not any(line.strip() for line in head.split(b"\n")[:-1]) and (more := stream.read(1 << 16)):
            head += more  # up to the first whole line that is not blank
    lines = head.split(b"\n")
    index = next((i for i, line in enumerate(lines) if line.strip(b" \t\r\xef\xbb\xbf")), None)
    if index is None:
        raise DataError(f"{source.label} is empty: expected a header row with column names, then rows of numbers")
    try:
        line = lines[index].decode(encoding).lstrip("\ufeff").rstrip("\r")  # without a byte-order mark
    except UnicodeDecodeError as e:
        raise DataError(
            f"{source.label} is not a {encoding} text file ({e.reason} at byte {e.start} of the header); "
            "give its encoding with --encoding, e.g. --encoding latin-1"
        ) from None
    sep = max((",", ";", "\t", "|"), key=line.count) if sep is None else sep  # the first wins a tie; ',' if none occurs
    if len(sep) != 1 or sep in '\r\n"':
        raise DataError(f"--sep expects one character such as ',' ';' '\\t' '|', got {sep!r}")
    names = tuple(name.strip() for name in next(csv.reader([line], delimiter=sep)))
    for i, name in enumerate(names):
        if not name:
            raise DataError(f"{source.label}: column {i + 1} of the header has no name")
        if name in names[:i]:
            raise DataError(f"{source.label}: the header names column {name!r} twice")
    return CsvHeader(names, sep, index + 1)


def parse(
    source: CsvSource,
    header: CsvHeader,
    chosen: tuple[str, ...],
    *,
    rows: range | None = None,
    encoding: str = "utf-8",
    dropna: bool = False,
    progress: bool = False,
    allow_empty: bool = False,
) -> tuple[np.ndarray, int]:
    """The ``chosen`` columns of ``source`` as one float64 array, and the number of rows ``dropna`` dropped."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    from tqdm import tqdm

    span = range(sys.maxsize) if rows is None else rows
    read = pa_csv.ReadOptions(column_names=list(header.names), skip_rows=header.skip, encoding=encoding)
    split = pa_csv.ParseOptions(delimiter=header.sep)
    convert = pa_csv.ConvertOptions(
        include_columns=list(chosen), column_types=dict.fromkeys(chosen, pa.float64()), null_values=list(MISSING)
    )
    raw, stream = source.open()
    # Room for the most rows an uncompressed input can hold (a byte a cell); its pages past the rows are never touched.
    capacity = (size := raw.size()) // len(header.names) + 1
    values, missing = np.empty((capacity, len(chosen))), np.zeros(capacity, bool)
    bar = tqdm(
        total=size, desc="read", unit="B", unit_scale=True, delay=PROGRESS_DELAY_S, leave=False, disable=not progress
    )
    seen, count, tail, more = 0, 0, b"", True
    try:  # pyarrow parses a piece of whole lines at a time
        with raw, stream, bar:
            while more and seen < span.stop:
                data = tail + stream.read(PIECE_BYTES)
                more = len(data) > len(tail)
                end = data.rfind(b"\n") + 1 if more else len(data)  # whole lines; at the end, the last one too
                tail = data[end:]
                bar.update(raw.tell() - bar.n)
                if not end:
                    continue
                table = pa_csv.read_csv(pa.py_buffer(data)[:end], read, split, convert)
                read.skip_rows = 0  # the header was in the first piece
                piece = table[max(span.start - seen, 0) : max(span.stop - seen, 0)]
                seen += table.num_rows
                if count + piece.num_rows > capacity:  # compressed: the file's size does not bound its rows
                    capacity = 2 * (count + piece.num_rows)
                    values.resize((capacity, len(chosen)), refcheck=False)
                    missing.resize(capacity, refcheck=False)
                for j, name in enumerate(chosen):
                    column = piece.column(name)
                    values[count : count + piece.num_rows, j] = column.to_numpy()
                    missing[count : count + piece.num_rows] |= column.is_null().to_numpy()
                count += piece.num_rows
        values, missing = values[: count : span.step], missing[: count : span.step]
        bad = (missing.any() and not dropna) or not (missing | np.isfinite(values).all(axis=1)).all()
    except pa.ArrowInvalid:  # a cell that is not a number, a row of the wrong length
        bad = True
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{source.label}: not a readable CSV file ({str(e).splitlines()[0]})") from None
    if bad:  # a Python pass: raises for the first bad row or cell, or reads the rows
        raw, stream = source.open()
        with raw, stream:
            lines = enumerate(stream.read().split(b"\n")[header.skip :], start=header.skip + 1)
        kept = [(row, *line) for row, line in enumerate(line for line in lines if line[1].strip()) if row in span]
        values, missing = np.empty((len(kept), len(chosen))), np.zeros(len(kept), bool)
        for i, (row, number, line) in enumerate(kept):
            where = f"{source.label}: row {row + 1} (line {number})"
            cells = next(csv.reader([line.rstrip(b"\r").decode(encoding, "replace")], delimiter=header.sep))
            if len(cells) != len(header.names):
                raise DataError(f"{where} has {len(cells)} cells, but the header has {len(header.names)} columns")
            for j, name in enumerate(chosen):
                text = cells[header.names.index(name)].strip().strip('"')
                missing[i] |= text in MISSING
                if text in MISSING and not dropna:
                    what = repr(text) if text else "an empty cell"
                    problem = f"{what} is a missing value; use --dropna (dropna=True) to drop rows with missing cells"
                    raise DataError(f"{where}, column {name!r}: {problem}")
                try:
                    values[i, j] = math.nan if text in MISSING else float(text)
                except ValueError:
                    raise DataError(f"{where}, column {name!r}: {text[:40]!r} is not a number") from None
                if not (math.isfinite(values[i, j]) or text in MISSING):
                    raise DataError(f"{where}, column {name!r}: {text!r} is not a finite number")
    dropped = int(missing.sum())
    values = values[~missing] if dropped else values
    if len(values) == 0 and not allow_empty:
        which = "" if rows is None else f" in rows {rows.start}..{rows.stop - 1}"
        left = f" once {dropped} rows with missing cells are dropped" if dropped else ""
        raise DataError(f"{source.label} has a header ({', '.join(header.names)}) but no rows of data{which}{left}")
    return values, dropped


class Dataset(NamedTuple):
    """A regression problem: features, target and their names (float64 NumPy arrays)."""

    x: np.ndarray  # (n, d), one column per feature
    y: np.ndarray  # (n,) the target
    feature_names: tuple[str, ...]  # the d feature names, in the order of x's columns
    target_name: str
    source: str  # where the data came from: a path, "stdin" or "dataset NAME"
    weights: np.ndarray | None = None  # (n,) sample weights read from a column
    weights_name: str | None = None  # the name of that column
    dropped: int = 0  # how many rows of the file ``dropna`` dropped for a missing cell


def lesson_data() -> tuple[jax.Array, jax.Array]:
    """The lesson's training set: ``X = [1, 2, 3, 4]``, ``Y = 2 * X``, float32.

    Examples:
      >>> [a.tolist() for a in jaxlr.lesson_data()]
      [[1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0]]
    """
    x = jnp.array([1.0, 2.0, 3.0, 4.0], dtype=jnp.float32)
    return x, 2 * x


def _choose(
    columns: tuple[str, ...], source: str, target: str, features: Sequence[str] | None, weights: str | None
) -> tuple[str, ...]:
    """The columns to read, features first, then the target and the ``weights`` column, checked against ``columns``."""
    if weights is not None:
        if weights not in columns:
            raise WeightsError(weights, f"{source} has no such column; its columns are {', '.join(columns)}")
        if weights == target:
            raise WeightsError(weights, "it is the target; the weights must be another column")
        if features is not None and weights in features:
            raise WeightsError(weights, "it is also chosen as a feature; a column is either a feature or the weights")
        columns = tuple(name for name in columns if name != weights)
    if target not in columns:
        raise DataError(f"{source} has no column {target!r} to use as the target; its columns are {', '.join(columns)}")
    if features is None:
        features = tuple(name for name in columns if name != target)
        if not features:
            raise DataError(f"{source} has only the target column {target!r}: no feature columns to fit on")
    elif not features:
        raise DataError("no features chosen: give at least one feature column")
    for name in features:
        if name not in columns:
            raise DataError(f"{source} has no feature column {name!r}; its columns are {', '.join(columns)}")
        if name == target:
            raise DataError(f"column {name!r} cannot be both the target and a feature")
        if list(features).count(name) > 1:
            raise DataError(f"feature {name!r} is chosen more than once")
    return (*features, target, *(() if weights is None else (weights,)))


def _dataset(chosen: tuple[str, ...], values: np.ndarray, source: str, weights: str | None, dropped: int) -> Dataset:
    d = len(chosen) - 1 - (weights is not None)
    w = None
    if weights is not None:
        w = values[:, -1]
        if np.any(w < 0):
            row = int(np.argmax(w < 0))
            raise WeightsError(weights, f"sample weights must be non-negative; row {row} has {w[row]:g}")
        if not np.any(w > 0):
            raise WeightsError(weights, "every weight is zero; at least one row needs a positive weight")
    return Dataset(values[:, :d], values[:, d], chosen[:d], chosen[d], source, w, weights, dropped)


def load_csv(
    path: str | os.PathLike,
    *,
    target: str,
    features: Sequence[str] | None = None,
    rows: range | None = None,
    weights: str | None = None,
    sep: str | None = None,
    encoding: str = "utf-8",
    dropna: bool = False,
    progress: bool = False,
) -> Dataset:
    """Loads a regression problem from a CSV file with a header line; only the chosen columns are parsed.

    Args:
      path: the CSV file; ``-`` for standard input; a ``.gz`` name is read through gzip.
      features: the feature columns, in order; ``None`` for every column but the target (and weights).
      rows: the 0-based data rows to read, e.g. ``range(1000, 2000)`` (``None``: all).
      weights: a column of sample weights (non-negative, not all zero, never a feature), or ``None``.
      sep: the separator; ``None`` picks the most frequent of ``,`` ``;`` tab ``|`` in the header line.
      dropna: drop the rows with a missing cell (empty, ``NA``, ``NULL``; counted in ``Dataset.dropped``).

    Examples:
      >>> import pathlib, tempfile
      >>> _ = (path := pathlib.Path(tempfile.mkdtemp(), "data.csv")).write_text("a,b,y\\n1,0,2\\n2,1,4\\n3,0,6\\n")
      >>> jaxlr.load_csv(path, target="y", features=["a"]).x.tolist()
      [[1.0], [2.0], [3.0]]
    """
    source = csv_source(path)
    header = read_header(source, sep, encoding)
    chosen = _choose(header.names, source.label, target, features, weights)
    try:
        values, dropped = parse(source, header, chosen, rows=rows, encoding=encoding, dropna=dropna, progress=progress)
    except DataError as e:
        if weights is not None and f"column {weights!r}" in str(e):  # a cell of the weights that is not a number
            raise WeightsError(weights, str(e)) from None
        raise
    return _dataset(chosen, values, source.label, weights, dropped)


def load_dataset(
    name: str, *, target: str | None = None, features: Sequence[str] | None = None, weights: str | None = None
) -> Dataset:
    """Loads a built-in data set: ``"lesson"`` (``y = 2x`` on ``x = 1..4``) or ``"diabetes"`` (scikit-learn's 442
    patients, 10 features in original units, target a disease progression score; needs ``pip install 'jaxlr[data]'``);
    ``target``, ``features``, ``weights`` as for :func:`load_csv`, ``target=None`` for the data set's own target.

    Examples:
      >>> jaxlr.load_dataset("lesson").x[:, 0].tolist()
      [1.0, 2.0, 3.0, 4.0]
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; the built-in datasets are {', '.join(map(repr, DATASETS))}")
    if name == "lesson":
        columns, values = ("x", "y"), np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0], [4.0, 8.0]])
    else:
        try:
            from sklearn.datasets import load_diabetes
        except ImportError:
            raise DataError(
                "the diabetes dataset comes with scikit-learn, which is not installed: pip install 'jaxlr[data]'"
            ) from None
        bunch: Any = load_diabetes(scaled=False)  # the features in their original units (age in years, BMI, ...)
        columns, values = (*bunch.feature_names, "target"), np.column_stack([bunch.data, bunch.target])
    chosen = _choose(columns, f"dataset {name}", columns[-1] if target is None else target, features, weights)
    return _dataset(chosen, values[:, [columns.index(column) for column in chosen]], f"dataset {name}", weights, 0)


class Standardization(NamedTuple):
    """The per-feature shift and scale :func:`standardize` applied."""

    mean: np.ndarray  # (d,) each feature's mean (0 with center=False)
    scale: np.ndarray  # (d,) each feature's population standard deviation (root mean square uncentred)


def standardize(
    x: np.ndarray, feature_names: Sequence[str] | None = None, *, center: bool = True
) -> tuple[np.ndarray, Standardization]:
    """Shifts and scales each column of ``x`` (``(n, d)`` or ``(n,)``) to mean 0 and standard deviation 1, in float64:
    ``(z, Standardization)``; ``center=False`` (a model without a bias) only scales, to root mean square 1.
    ``feature_names`` name the columns in the error for a constant one.

    Examples:
      >>> z, s = jaxlr.standardize(np.array([[1.0], [3.0]]))
      >>> z[:, 0].tolist(), s.mean.tolist(), s.scale.tolist()
      ([-1.0, 1.0], [2.0], [1.0])
    """
    x = np.asarray(x, dtype=np.float64)
    matrix = x[:, None] if x.ndim == 1 else x
    mean = matrix.mean(axis=0) if center else np.zeros(matrix.shape[1])
    scale = matrix.std(axis=0) if center else np.sqrt(np.mean(matrix**2, axis=0))
    # Constant up to rounding: the spread is at the level of float64 noise in the values.
    bad = np.flatnonzero(~(scale > (1e-12 * np.maximum(1.0, np.abs(mean)) if center else 0.0)))
    if bad.size:
        name = feature_names[bad[0]] if feature_names is not None else f"column {bad[0]}"
        what = f"is constant (every value is {matrix[0, bad[0]]:g}), so it cannot be standardized"
        what = what if center else "is all zeros, so it cannot be scaled"
        raise DataError(f"feature {name!r} {what}; leave it out of the features")
    z = (matrix - mean) / scale
    return (z[:, 0] if x.ndim == 1 else z), Standardization(mean, scale)


def unstandardize(params: Params, standardization: Standardization) -> Params:
    """Maps ``params`` fitted on ``standardize``'d features (``center=False`` without a bias) to the original units.

    Examples:
      >>> _, s = jaxlr.standardize(np.array([[1.0], [3.0]]))
      >>> p = jaxlr.unstandardize(jaxlr.Params(w=np.array([2.0]), b=5.0), s)
      >>> p.w.tolist(), float(p.b)
      ([2.0], 1.0)
    """
    v = np.asarray(params.w, dtype=np.float64)
    w = v / standardization.scale.reshape(v.shape)
    if params.b is not None:
        return Params(w, np.asarray(params.b, np.float64) - np.sum(w * standardization.mean.reshape(v.shape)))
    if np.any(standardization.mean != 0):
        raise ValueError(
            "unstandardize: params.b is None; a model fitted on centred features needs a bias "
            "(standardize(..., center=False) scales without centring, for a model without one)"
        )
    return Params(w, None)


class Model(NamedTuple):
    """A fitted linear model, ready to predict with: ``model.predict(x)``."""

    features: tuple[str, ...]  # the d feature names, in the order of the weights
    target: str | None  # the name of what is predicted
    weights: np.ndarray  # (d,) float64 as trained: on the standardized features when standardization is given
    bias: float | None  # None for a model through the origin
    standardization: Standardization | None  # the shift and scale applied to raw features before the weights
    dtype: str  # "float32" or "float64": the precision it was trained in and predict computes in

    def predict(self, x: ArrayLike) -> jax.Array:
        """``jaxlr.predict`` on raw features ``x`` of shape ``(n, d)``, standardized first if the model was.

        Examples:
          >>> jaxlr.Model(("a",), "y", np.array([2.0]), 1.0, None, "float32").predict(np.array([[1.0], [2.0]])).tolist()
          [3.0, 5.0]
        """
        x = np.asarray(x, np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.features):
            raise ValueError(
                f"Model.predict: x must have shape (n, {len(self.features)}) for the features "
                f"{', '.join(self.features)}; got shape {x.shape}"
            )
        if self.standardization is not None:  # as jaxlr.standardize computes it: float64, on the host
            x = (x - self.standardization.mean) / self.standardization.scale
        bias = None if self.bias is None else np.asarray(self.bias, self.dtype)
        return predict(Params(np.asarray(self.weights, self.dtype), bias), np.asarray(x, self.dtype))


def save_model(path: str | os.PathLike, model: Model) -> None:
    """Writes ``model`` to ``path`` as a versioned JSON model file (atomically; ``-`` is stdout); a ``ValueError``
    for a weight, bias or standardization that is not finite or does not match the features.

    Examples:
      >>> import tempfile
      >>> jaxlr.save_model(p := tempfile.mkdtemp() + "/m.json", jaxlr.Model(("a",), "y", [0.1], None, None, "float64"))
      >>> jaxlr.load_model(p).weights.tolist()
      [0.1]
    """
    s = model.standardization
    record = {"format": FORMAT, "format_version": FORMAT_VERSION, "jaxlr_version": jaxlr.__version__, **model._asdict()}
    record.update(  # in place: the keys keep the order of the Model's fields
        features=list(model.features),
        weights=np.asarray(model.weights, np.float64).tolist(),
        bias=None if model.bias is None else float(model.bias),
        standardization=None if s is None else {k: np.asarray(v, np.float64).tolist() for k, v in s._asdict().items()},
    )
    _check(record, "save_model", ValueError)
    write_json(path, record)


def load_model(path: str | os.PathLike) -> Model:
    """Reads a model file that :func:`save_model` (or ``jaxlr fit --save-model``) wrote; a one-line
    :class:`DataError` if it cannot be read, is not a jaxlr model file of this version, or has a bad field."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except OSError as e:
        raise DataError(f"cannot read the model file {path}: {e.strerror or e}") from None
    except ValueError as e:  # a UnicodeDecodeError or JSONDecodeError
        raise DataError(f"{path} is not a jaxlr model file: it is not valid JSON ({e})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise DataError(f'{path} is not a jaxlr model file: it has no "format": "{FORMAT}"')
    if record.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{path} is a jaxlr model file of format version {record.get('format_version')!r}; "
            f"this jaxlr ({jaxlr.__version__}) reads version {FORMAT_VERSION}"
        )
    _check(record, path, DataError)
    s = record["standardization"]
    scaling = None if s is None else Standardization(*(np.asarray(s[key], np.float64) for key in ("mean", "scale")))
    params = Params(np.asarray(record["weights"], np.float64), record["bias"])
    return model_from_fit(record["features"], record["target"], params, scaling, record["dtype"])


def _numbers(value: Any, d: int, positive: bool = False) -> bool:
    """Whether ``value`` is a list of ``d`` finite numbers (all positive ones with ``positive``)."""
    numbers = isinstance(value, list) and all(type(v) in (int, float) and math.isfinite(v) for v in value)
    return numbers and len(value) == d and not (positive and any(v <= 0 for v in value))


def _check(record: dict[str, Any], where: str, error: type[Exception]) -> None:
    """Raises ``error`` naming the first field of a model record that is wrong."""
    features, scaling, bias = (record.get(key, "missing") for key in ("features", "standardization", "bias"))
    d = len(features) if isinstance(features, list) else 0
    for field, ok, expected in [
        ("features", d and all(isinstance(f, str) and f for f in features) and len(set(features)) == d,
         "a non-empty list of distinct column names"),
        ("target", record.get("target") is None or isinstance(record["target"], str), "a column name or null"),
        ("weights", _numbers(record.get("weights"), d), f"a list of {d} finite numbers, one per feature"),
        ("bias", bias is None or _numbers([bias], 1), "a finite number or null"),
        ("standardization",
         scaling is None or (isinstance(scaling, dict) and _numbers(scaling.get("mean"), d)
                             and _numbers(scaling.get("scale"), d, positive=True)),
         f'null or {{"mean": [{d} numbers], "scale": [{d} positive numbers]}}'),
        ("dtype", record.get("dtype") in ("float32", "float64"), "'float32' or 'float64'"),
    ]:  # fmt: skip
        if not ok:
            raise error(f"{where}: field {field!r}: expected {expected}, got {record.get(field)!r:.80}")


def model_from_fit(
    features: Sequence[str], target: str | None, params: Params, standardization: Standardization | None, dtype: str
) -> Model:
    """The :class:`Model` of trained ``params`` (on standardized features when ``standardization`` is given)."""
    bias = None if params.b is None else float(np.asarray(params.b, np.float64))
    return Model(tuple(features), target, np.asarray(params.w, np.float64).reshape(-1), bias, standardization, dtype)
