"""Reading a numeric CSV file with a header row, through pyarrow's CSV reader.

pyarrow parses and converts the chosen columns to float64 on every core; the
columns are then copied once into one ``(n_rows, n_columns)`` NumPy array (a
large file a piece at a time, so that pyarrow's copy never holds the whole).
The header is read here first (separator detection, names, leading blank
lines), so that every failure can be told in one line: when pyarrow refuses a
cell, the columns are read again as raw bytes to find the first bad cell and
name its row, line and column.
"""

import codecs
import csv
import io
import math
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pa_compute
import pyarrow.csv as pa_csv

# The separators tried, in this order of preference on a tie, when none is given.
SEPARATORS = (",", ";", "\t", "|")

# A progress bar shows itself once a load has taken this long.
PROGRESS_DELAY_S = 1.0

# Cells that mean "no value": dropped with ``dropna``, an error without it.
MISSING = ("", "NA", "N/A", "n/a", "NULL", "null")


class DataError(ValueError):
    """Data that cannot be fitted: a missing file or column, a non-numeric cell, no rows, ...

    The message is one line and names the file, row and column where it can.
    """


class CsvTable(NamedTuple):
    """A CSV file's contents.

    Attributes:
      columns: the chosen columns' names, in the order asked for.
      values: float64 array of shape ``(n_rows, len(columns))``.
      path: where it was read from (``"stdin"`` for ``-``).
      dropped: how many rows ``dropna`` dropped for a missing cell.
    """

    columns: tuple[str, ...]
    values: np.ndarray
    path: str
    dropped: int = 0


class CsvSource(NamedTuple):
    """Where the bytes come from: a file (gzip-compressed if its name ends ``.gz``) or a buffer."""

    label: str  # the name used in messages
    path: str | None
    buffer: pa.Buffer | None

    def stream(self) -> Any:
        if self.buffer is not None:
            return pa.BufferReader(self.buffer)
        try:
            return pa.input_stream(self.path)  # decompresses by extension (.gz, .bz2, ...)
        except OSError as e:
            raise DataError(f"cannot read {self.path}: {_reason(e)}") from None

    def read_all(self) -> bytes:
        with self.stream() as f:
            return f.read()


class CsvHeader(NamedTuple):
    names: tuple[str, ...]
    sep: str
    skip: int  # physical lines up to and including the header


def _reason(e: OSError) -> str:
    return e.strerror or str(e).splitlines()[0]


def csv_source(path: str | os.PathLike) -> CsvSource:
    path = os.fspath(path)
    if path == "-":
        return CsvSource("stdin", None, pa.py_buffer(sys.stdin.buffer.read()))
    if os.path.isdir(path):
        raise DataError(f"cannot read {path}: it is a directory")
    if not os.path.exists(path):
        raise DataError(f"cannot read {path}: No such file or directory")
    return CsvSource(path, path, None)


def _codec(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise DataError(f"--encoding {encoding!r} is not a text encoding Python knows (e.g. utf-8, latin-1)") from None
    return "utf-8-sig" if name == "utf-8" else name  # a byte-order mark is not part of the first name


def _check_sep(sep: str) -> str:
    if len(sep) != 1 or sep in '\r\n"':
        raise DataError(f"--sep expects one character such as ',' ';' '\\t' '|', got {sep!r}")
    return sep


def read_header(source: CsvSource, sep: str | None, encoding: str) -> CsvHeader:
    codec = _codec(encoding)
    head = b""
    with source.stream() as f:
        while True:
            chunk = f.read(1 << 16)
            head += chunk
            lines = head.split(b"\n")
            if not chunk or any(line.strip() for line in lines[:-1]):
                break
    index = next((i for i, raw in enumerate(lines) if raw.strip(b" \t\r\xef\xbb\xbf")), None)
    if index is None:
        raise DataError(f"{source.label} is empty: expected a header row with column names, then rows of numbers")
    try:
        line = lines[index].decode(codec).rstrip("\r")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{source.label} is not a {encoding} text file ({e.reason} at byte {e.start} of the header); "
            "give its encoding with --encoding, e.g. --encoding latin-1"
        ) from None
    if sep is None:
        sep = max(SEPARATORS, key=line.count)  # the first of the most frequent; ',' when none occurs
    names = tuple(name.strip() for name in next(csv.reader([line], delimiter=_check_sep(sep))))
    for i, name in enumerate(names):
        if not name:
            raise DataError(f"{source.label}: column {i + 1} of the header has no name")
        if name in names[:i]:
            raise DataError(f"{source.label}: the header names column {name!r} twice")
    return CsvHeader(names, sep, index + 1)


def read_csv(
    path: str | os.PathLike,
    *,
    columns: Sequence[str] | None = None,
    rows: range | None = None,
    sep: str | None = None,
    encoding: str = "utf-8",
    dropna: bool = False,
    progress: bool = False,
) -> CsvTable:
    """Reads a CSV file whose first line is a header and whose cells are finite numbers.

    Args:
      path: the file; ``-`` for standard input. A name ending ``.gz`` is read
        through gzip.
      columns: the columns to read, by name, in the order wanted; ``None`` for
        all. Cells of the other columns are not parsed, so they may hold text
        (names, dates, ...).
      rows: which data rows to keep (0-based, the header and blank lines not
        counted, e.g. ``range(1000, 2000)``); ``None`` for all.
      sep: the separator; ``None`` picks the most frequent of ``,`` ``;`` tab
        ``|`` in the header line.
      encoding: the file's text encoding (``"latin-1"``, ...).
      dropna: drop rows with a missing cell (empty, ``NA``, ``NULL``, ...)
        among the chosen columns, counting them in ``dropped``; without it a
        missing cell is an error.
      progress: show a progress bar on stderr for a load taking over a second.

    Returns:
      A :class:`CsvTable` with the chosen columns.

    Raises:
      DataError: a file that cannot be read, is empty, has a header and no rows,
        duplicate or empty column names, a column asked for that the header
        lacks, a row with the wrong number of cells, or a cell that is not a
        finite number (naming its row, line and column).

    Examples:
      >>> import pathlib, tempfile
      >>> from jaxlr._csv import read_csv
      >>> path = pathlib.Path(tempfile.mkdtemp()) / "data.csv"
      >>> _ = path.write_text("name;x;y\\nada;1;2\\nbob;2;4.5\\n")
      >>> table = read_csv(path, columns=["x", "y"])
      >>> table.columns, table.values.tolist()
      (('x', 'y'), [[1.0, 2.0], [2.0, 4.5]])
    """
    source = csv_source(path)
    header = read_header(source, sep, encoding)
    chosen = header.names if columns is None else tuple(columns)
    for name in chosen:
        if name not in header.names:
            raise DataError(f"{source.label} has no column {name!r}; its columns are {', '.join(header.names)}")
    values, dropped = parse(source, header, chosen, rows=rows, encoding=encoding, dropna=dropna, progress=progress)
    return CsvTable(chosen, values, source.label, dropped)


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
    """The ``chosen`` columns of ``source`` as one float64 array, and the number of rows dropped."""
    ragged: list[str] = []

    def on_invalid_row(row: Any) -> str:
        ragged.append(row.text)
        return "skip"  # told after the read, with its row and line

    options = {
        "read_options": pa_csv.ReadOptions(
            column_names=list(header.names),
            skip_rows=header.skip,
            skip_rows_after_names=0 if rows is None else max(rows.start, 0),
            encoding=_codec(encoding).removesuffix("-sig"),
        ),
        "parse_options": pa_csv.ParseOptions(delimiter=header.sep, invalid_row_handler=on_invalid_row),
    }
    try:
        if rows is None and source.path is not None and _plain_and_big(source.path):
            values, missing = _read_in_pieces(source, header, chosen, options, progress)
        else:
            values, missing = _to_numpy(_read(source, options, chosen, pa.float64(), rows, progress), chosen)
    except pa.ArrowInvalid:  # a cell that is not a number: find it
        values, missing = None, None
    except (pa.ArrowException, UnicodeDecodeError, OSError) as e:
        raise DataError(f"{source.label}: not a readable CSV file ({str(e).splitlines()[0]})") from None
    bad_row = _ragged_row(source, header, rows, ragged)
    if values is None or (missing is not None and missing.any() and not dropna) or not _finite(values, missing):
        try:
            values, missing = _exact(source, header, chosen, options, rows, encoding, dropna)
        except _CellError as e:  # the first error in the file is told (rows skipped as ragged come later)
            if bad_row is None or e.row < bad_row.row:
                raise DataError(str(e)) from None
    if bad_row is not None:
        raise DataError(str(bad_row))
    assert values is not None  # read by pyarrow, or else by _exact
    dropped = 0
    if dropna and missing is not None and missing.any():
        dropped = int(missing.sum())
        values = values[~missing]
    if len(values) == 0 and not allow_empty:
        which = "" if rows is None else f" in rows {rows.start}..{rows.stop - 1}"
        left = f" once {dropped} rows with missing cells are dropped" if dropped else ""
        raise DataError(f"{source.label} has a header ({', '.join(header.names)}) but no rows of data{which}{left}")
    return values, dropped


def _convert_options(chosen: tuple[str, ...], dtype: Any) -> Any:
    return pa_csv.ConvertOptions(
        include_columns=list(chosen),
        column_types=dict.fromkeys(chosen, dtype),
        null_values=list(MISSING),
        strings_can_be_null=dtype == pa.float64(),
        quoted_strings_can_be_null=dtype == pa.float64(),
    )


def _read(source: CsvSource, options: dict, chosen: tuple[str, ...], dtype: Any, rows: range | None, progress: bool):
    convert = _convert_options(chosen, dtype)
    with _input(source, progress) as stream:
        if rows is None:
            return pa_csv.read_csv(stream, convert_options=convert, **options)
        wanted = max(rows.stop - max(rows.start, 0), 0)
        batches, count = [], 0
        with pa_csv.open_csv(stream, convert_options=convert, **options) as reader:
            for batch in reader:
                if count >= wanted:
                    break  # the rest of the file is not read
                batches.append(batch)
                count += batch.num_rows
        table = pa.Table.from_batches(batches, schema=reader.schema)
        return table.slice(0, wanted)[:: rows.step] if rows.step != 1 else table.slice(0, wanted)


# Files larger than this are parsed a piece of this size at a time (each piece on every core).
PIECE_BYTES = 32 << 20


def _plain_and_big(path: str) -> bool:
    try:
        pa.Codec.detect(path)
        return False  # compressed: read as one stream
    except (TypeError, ValueError, pa.ArrowException):
        return os.path.getsize(path) > PIECE_BYTES


def _read_in_pieces(
    source: CsvSource, header: CsvHeader, chosen: tuple[str, ...], options: dict, progress: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Parses a large uncompressed file in pieces of whole lines, each copied at once into one array.

    Only one piece is held by pyarrow at a time, so the peak memory is the
    float64 array plus a piece, not twice the array. The array is allocated
    for the most rows the file could hold (a filled row has at least one byte
    a column); the pages past the rows read are never touched, so they cost
    address space, not memory.
    """
    assert source.path is not None
    read_options = pa_csv.ReadOptions(column_names=list(header.names), encoding=options["read_options"].encoding)
    convert = _convert_options(chosen, pa.float64())
    masks: list[np.ndarray] = []
    offset = 0
    with open(source.path, "rb") as f, _bar(os.path.getsize(source.path), progress) as bar:
        for _ in range(header.skip):
            f.readline()
        bar.update(f.tell())
        values = np.empty(((os.fstat(f.fileno()).st_size - f.tell()) // len(header.names) + 1, len(chosen)))
        while data := f.read(PIECE_BYTES):
            data += f.readline()  # to the end of the line
            bar.update(len(data))
            if not data.strip():
                continue
            table = pa_csv.read_csv(
                pa.py_buffer(data),
                read_options=read_options,
                parse_options=options["parse_options"],
                convert_options=convert,
            )
            n, missing = _fill(table, chosen, values, offset)
            del table
            masks.append(np.zeros(n, bool) if missing is None else missing)
            offset += n
    missing = np.concatenate(masks) if any(mask.any() for mask in masks) else None
    return values[:offset], missing


def _to_numpy(table: pa.Table, chosen: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    """One C-ordered float64 array of the chosen columns; the rows with a null."""
    values = np.empty((table.num_rows, len(chosen)), np.float64)
    _, missing = _fill(table, chosen, values, 0)
    return values, missing


def _fill(table: pa.Table, chosen: tuple[str, ...], out: np.ndarray, offset: int) -> tuple[int, np.ndarray | None]:
    """Copies the chosen columns into ``out[offset : offset + n]``, chunk by chunk; ``n`` and the rows with a null."""
    missing = None
    for j, name in enumerate(chosen):
        column = table.column(name)
        if column.null_count:
            valid = np.concatenate([chunk.is_valid().to_numpy(zero_copy_only=False) for chunk in column.chunks])
            missing = ~valid if missing is None else missing | ~valid
        start = offset
        for chunk in column.chunks:
            out[start : start + len(chunk), j] = chunk.to_numpy(zero_copy_only=False)
            start += len(chunk)
    return table.num_rows, missing


def _finite(values: np.ndarray, missing: np.ndarray | None) -> bool:
    if missing is None:
        return bool(np.isfinite(values).all())
    return bool(np.isfinite(values[~missing]).all())


class _Counting(io.RawIOBase):
    """A file that moves a progress bar by the bytes read from it."""

    def __init__(self, file: Any, bar: Any):
        self.file, self.bar = file, bar

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.file.readinto(buffer)
        self.bar.update(n)
        return n

    def close(self) -> None:
        self.file.close()
        self.bar.close()
        super().close()


def _bar(total: int, progress: bool) -> Any:
    """A byte-counting bar on stderr that shows itself only after a second; a silent one without ``progress``."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc="read",
        unit="B",
        unit_scale=True,
        file=sys.stderr,
        delay=PROGRESS_DELAY_S,
        leave=False,
        disable=not progress,
    )


def _input(source: CsvSource, progress: bool) -> Any:
    if not progress or source.path is None:
        return source.stream()
    try:
        raw = open(source.path, "rb")  # noqa: SIM115 (closed with the stream)
    except OSError as e:
        raise DataError(f"cannot read {source.path}: {_reason(e)}") from None
    stream = pa.PythonFile(_Counting(raw, _bar(os.fstat(raw.fileno()).st_size, True)), mode="r")
    try:
        return pa.CompressedInputStream(stream, pa.Codec.detect(source.path).name)
    except (TypeError, ValueError, pa.ArrowException):
        return stream  # not compressed


def _data_lines(source: CsvSource, header: CsvHeader) -> Iterator[tuple[int, int, bytes]]:
    """(data row, physical line, text) of each non-blank line after the header; for messages only."""
    row = -1
    for number, line in enumerate(source.read_all().split(b"\n")[header.skip :], start=header.skip + 1):
        if line.strip():
            row += 1
            yield row, number, line.rstrip(b"\r")


def _line_of(source: CsvSource, header: CsvHeader, row: int) -> int:
    return next((number for r, number, _ in _data_lines(source, header) if r == row), 0)


class _CellError(DataError):
    """An error at a data row (0-based ``row``), so that the first of two can be told."""

    def __init__(self, message: str, row: int):
        super().__init__(message)
        self.row = row


def _ragged_row(source: CsvSource, header: CsvHeader, rows: range | None, ragged: list[str]) -> _CellError | None:
    """The first row pyarrow skipped for its number of cells (within ``rows``), as an error, or ``None``."""
    if not ragged:
        return None
    texts = set(ragged)
    for row, number, line in _data_lines(source, header):
        text = line.decode("latin-1")
        if text in texts or line.decode("utf-8", "replace") in texts:
            if rows is not None and row not in rows:
                continue  # outside the rows asked for
            cells = len(next(csv.reader([line.decode("utf-8", "replace")], delimiter=header.sep)))
            return _CellError(
                f"{source.label}: row {row + 1} (line {number}) has {cells} cells, "
                f"but the header has {len(header.names)} columns",
                row,
            )
    return None


def _clean_numbers(column: Any) -> np.ndarray | None:
    """A column of bytes as finite float64s (blanks around a number allowed), or ``None`` if a cell is not one."""
    try:
        trim = pa_compute.utf8_trim_whitespace  # pyright: ignore[reportAttributeAccessIssue]  # generated at import
        numbers = pa_compute.cast(trim(column.cast(pa.string())), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    values = numbers.to_numpy()
    return values if numbers.null_count == 0 and np.isfinite(values).all() else None


def _exact(
    source: CsvSource,
    header: CsvHeader,
    chosen: tuple[str, ...],
    options: dict,
    rows: range | None,
    encoding: str,
    dropna: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The slow path, for a file pyarrow's conversion refused: every cell read as bytes, converted one by one.

    It raises the one-line error for the first bad cell in file order, or
    returns the values if there is none (e.g. rows beyond ``rows`` were the bad ones).
    """
    table = _read(source, options, chosen, pa.binary(), rows, progress=False)
    first_row = 0 if rows is None else max(rows.start, 0)
    step = 1 if rows is None else rows.step
    codec = _codec(encoding)
    values = np.empty((table.num_rows, len(chosen)), np.float64)
    missing = np.zeros(table.num_rows, bool)
    worst: tuple[int, str, str] | None = None  # (row, column, what is wrong)
    for j, name in enumerate(chosen):
        clean = _clean_numbers(table.column(name))
        if clean is not None:  # the whole column converts: no cell to look at one by one
            values[:, j] = clean
            continue
        for i, cell in enumerate(table.column(name).to_pylist()):
            if worst is not None and i >= worst[0]:
                break
            text = cell.decode(codec, "replace").strip() if cell is not None else ""
            problem = None
            if text.strip('"') in MISSING:
                if dropna:
                    missing[i] = True
                    continue
                what = "an empty cell" if not text.strip('"') else f"{text!r}"
                problem = f"{what} is a missing value; use --dropna (dropna=True) to drop rows with missing cells"
            else:
                try:
                    values[i, j] = value = float(text.strip('"'))
                except ValueError:
                    problem = f"{text[:40]!r} is not a number"
                else:
                    if not math.isfinite(value):
                        problem = f"{text!r} is not a finite number"
            if problem is not None:
                worst = (i, name, problem)
                break
    if worst is not None:
        i, name, problem = worst
        row = first_row + i * step
        line = _line_of(source, header, row)
        raise _CellError(f"{source.label}: row {row + 1} (line {line}), column {name!r}: {problem}", row)
    return values, missing if missing.any() else None
