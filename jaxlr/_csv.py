"""Reading the numeric columns of a CSV file with a header row, through pyarrow's multi-threaded CSV reader.

The header is read here first (separator, names, leading blank lines), then pyarrow converts the chosen
columns to float64. If it refuses anything, a plain Python pass over the same rows names the first bad
row or cell in a one-line :class:`DataError`. pyarrow is imported only when a file is read.
"""

import codecs
import contextlib
import csv
import math
import os
import sys
from typing import Any, NamedTuple

import numpy as np

SEPARATORS = (",", ";", "\t", "|")  # tried when none is given; the first wins a tie
PROGRESS_DELAY_S = 1.0  # a progress bar shows itself once a load has taken this long
MISSING = ("", "NA", "N/A", "n/a", "NULL", "null")  # dropped with ``dropna``, an error without it
PIECE_BYTES = 32 << 20  # uncompressed inputs are parsed a piece of this size at a time


class DataError(ValueError):
    """Data that cannot be fitted (a missing file or column, a non-numeric cell, no rows): one line naming where."""


class CsvSource(NamedTuple):
    """Where the bytes come from: a file (decompressed by its extension, e.g. ``.gz``) or a buffer."""

    label: str  # the name used in messages
    path: str | None
    buffer: bytes | None

    def open(self) -> tuple[Any, Any]:
        """The raw input (whose size and position measure progress) and the stream of its decompressed bytes."""
        import pyarrow as pa

        compression = None
        with contextlib.suppress(TypeError, ValueError):  # no path, or not the extension of a compressed file
            compression = pa.Codec.detect(self.path).name
        try:
            raw = pa.BufferReader(self.buffer) if self.path is None else pa.OSFile(self.path)
        except OSError as e:
            raise DataError(f"cannot read {self.path}: {e.strerror or str(e).splitlines()[0]}") from None
        return raw, raw if compression is None else pa.CompressedInputStream(raw, compression)


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


def _codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise DataError(f"--encoding {encoding!r} is not a text encoding Python knows (e.g. utf-8, latin-1)") from None


def read_header(source: CsvSource, sep: str | None, encoding: str) -> CsvHeader:
    """The first line that is not blank: its column names and separator (detected when ``sep`` is ``None``)."""
    (raw, stream), codec = source.open(), _codec(encoding)
    with raw, stream:
        head = stream.read(1 << 16)
        while not any(line.strip() for line in head.split(b"\n")[:-1]) and (more := stream.read(1 << 16)):
            head += more  # up to the first whole line that is not blank
    lines = head.split(b"\n")
    index = next((i for i, line in enumerate(lines) if line.strip(b" \t\r\xef\xbb\xbf")), None)
    if index is None:
        raise DataError(f"{source.label} is empty: expected a header row with column names, then rows of numbers")
    try:
        line = lines[index].decode(codec).lstrip("\ufeff").rstrip("\r")  # without a byte-order mark
    except UnicodeDecodeError as e:
        raise DataError(
            f"{source.label} is not a {encoding} text file ({e.reason} at byte {e.start} of the header); "
            "give its encoding with --encoding, e.g. --encoding latin-1"
        ) from None
    sep = max(SEPARATORS, key=line.count) if sep is None else sep  # ',' when none occurs
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

    codec, span = _codec(encoding), range(sys.maxsize) if rows is None else rows
    try:
        values, missing = _read(source, header, chosen, span, codec, progress)
        bad = (missing.any() and not dropna) or not (missing | np.isfinite(values).all(axis=1)).all()
    except pa.ArrowInvalid:  # a cell that is not a number, a row of the wrong length
        values, missing, bad = None, None, True
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{source.label}: not a readable CSV file ({str(e).splitlines()[0]})") from None
    if bad or values is None or missing is None:  # raises for the first bad row or cell, or reads the rows
        values, missing = _read_slowly(source, header, chosen, span, codec, dropna)
    dropped = int(missing.sum())
    values = values[~missing] if dropped else values
    if len(values) == 0 and not allow_empty:
        which = "" if rows is None else f" in rows {rows.start}..{rows.stop - 1}"
        left = f" once {dropped} rows with missing cells are dropped" if dropped else ""
        raise DataError(f"{source.label} has a header ({', '.join(header.names)}) but no rows of data{which}{left}")
    return values, dropped


def _read(
    source: CsvSource, header: CsvHeader, chosen: tuple[str, ...], rows: range, codec: str, progress: bool
) -> tuple[np.ndarray, np.ndarray]:
    """pyarrow's float64 parse of the chosen columns, and the rows with a missing cell.

    The input is parsed a piece of whole lines at a time, each piece copied at once into an array with room
    for the most rows an uncompressed input could hold (a byte a cell): the peak memory is the array plus a
    piece, and the array's pages past the rows read are never touched.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    from tqdm import tqdm

    read = pa_csv.ReadOptions(column_names=list(header.names), skip_rows=header.skip, encoding=codec)
    parse = pa_csv.ParseOptions(delimiter=header.sep)
    convert = pa_csv.ConvertOptions(
        include_columns=list(chosen),
        column_types=dict.fromkeys(chosen, pa.float64()),
        null_values=list(MISSING),
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    raw, stream = source.open()
    size, start = raw.size(), max(rows.start, 0)
    capacity = size // len(header.names) + 1
    values, missing = np.empty((capacity, len(chosen))), np.zeros(capacity, bool)
    bar = tqdm(
        total=size, desc="read", unit="B", unit_scale=True, delay=PROGRESS_DELAY_S, leave=False, disable=not progress
    )
    seen, count, tail, more = 0, 0, b"", True
    with raw, stream, bar:
        while more and seen < rows.stop:
            data = tail + stream.read(PIECE_BYTES)
            more = len(data) > len(tail)
            end = data.rfind(b"\n") + 1 if more else len(data)  # whole lines; at the end, the last one too
            tail = data[end:]
            bar.update(raw.tell() - bar.n)
            if not end:
                continue
            table = pa_csv.read_csv(pa.py_buffer(data)[:end], read, parse, convert)
            read.skip_rows = 0  # the header was in the first piece
            piece = table[max(start - seen, 0) : max(rows.stop - seen, 0)]
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
    return values[: count : rows.step], missing[: count : rows.step]


def _read_slowly(
    source: CsvSource, header: CsvHeader, chosen: tuple[str, ...], rows: range, codec: str, dropna: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The chosen columns read line by line in Python; a :class:`DataError` at the first bad row or cell."""
    columns = [header.names.index(name) for name in chosen]
    values, missing, row = [], [], -1
    raw, stream = source.open()
    with raw, stream:
        lines = stream.read().split(b"\n")[header.skip :]
    for number, line in enumerate(lines, start=header.skip + 1):
        if not line.strip():
            continue
        row += 1
        if row >= rows.stop:
            break
        if row not in rows:
            continue
        where = f"{source.label}: row {row + 1} (line {number})"
        cells = next(csv.reader([line.rstrip(b"\r").decode(codec, "replace")], delimiter=header.sep))
        if len(cells) != len(header.names):
            raise DataError(f"{where} has {len(cells)} cells, but the header has {len(header.names)} columns")
        texts = [cells[j].strip().strip('"') for j in columns]
        missing.append(dropna and any(text in MISSING for text in texts))
        for name, text in zip(chosen, texts, strict=True):
            if text in MISSING and not dropna:
                what = repr(text) if text else "an empty cell"
                problem = f"{what} is a missing value; use --dropna (dropna=True) to drop rows with missing cells"
                raise DataError(f"{where}, column {name!r}: {problem}")
            try:
                values.append(math.nan if text in MISSING else float(text))
            except ValueError:
                raise DataError(f"{where}, column {name!r}: {text[:40]!r} is not a number") from None
            if not (math.isfinite(values[-1]) or text in MISSING):
                raise DataError(f"{where}, column {name!r}: {text!r} is not a finite number")
    return np.array(values, np.float64).reshape(len(missing), len(chosen)), np.array(missing, bool)
