"""jaxlr's CSV reader before pyarrow (the stdlib ``csv`` module and one ``float()`` per cell), unchanged.

Kept only so that ``scripts/benchmark.py`` (the ``csv_load`` entry) can measure
``speedup_vs_old`` in the same run. Nothing in ``jaxlr/`` imports it.
"""

import contextlib
import csv
import math
import os
from collections.abc import Sequence
from typing import IO, Any, NamedTuple

import numpy as np


class DataError(ValueError):
    """Data that cannot be fitted: a missing file or column, a non-numeric cell, no rows, ...

    The message is one line and names the file, row and column where it can.
    """


class CsvTable(NamedTuple):
    """A CSV file's contents.

    Attributes:
      columns: the header's column names, in file order.
      values: float64 array of shape ``(n_rows, len(columns))``.
      path: where it was read from.
    """

    columns: tuple[str, ...]
    values: np.ndarray
    path: str


def _open(path: str) -> IO[str]:
    try:
        return open(path, newline="", encoding="utf-8-sig")
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None


def _read_header(path: str, reader: Any) -> tuple[str, ...]:
    header = next(reader, None)
    while header is not None and not any(cell.strip() for cell in header):
        header = next(reader, None)  # leading blank lines
    if header is None:
        raise DataError(f"{path} is empty: expected a header row with column names, then rows of numbers")
    columns = tuple(cell.strip() for cell in header)
    for index, name in enumerate(columns):
        if not name:
            raise DataError(f"{path}: column {index + 1} of the header has no name")
        if name in columns[:index]:
            raise DataError(f"{path}: the header names column {name!r} twice")
    return columns


def _decoding_errors(path: str, reader: Any) -> Any:
    @contextlib.contextmanager
    def guard():
        try:
            yield
        except csv.Error as e:
            raise DataError(f"{path}: line {reader.line_num}: not valid CSV ({e})") from None
        except UnicodeDecodeError as e:
            raise DataError(f"{path} is not a UTF-8 text file ({e.reason} at byte {e.start})") from None

    return guard()


def read_csv_header(path: str | os.PathLike) -> tuple[str, ...]:
    """The column names in the header of a CSV file (the rest of the file is not read).

    Raises:
      DataError: as :func:`read_csv`, for the header.
    """
    path = os.fspath(path)
    with _open(path) as f:
        reader = csv.reader(f)
        with _decoding_errors(path, reader):
            return _read_header(path, reader)


def read_csv(path: str | os.PathLike, *, columns: Sequence[str] | None = None, rows: range | None = None) -> CsvTable:
    """Reads a CSV file whose first line is a header and whose cells are finite numbers.

    Args:
      path: the file.
      columns: the columns to read, by name, in the order wanted; ``None`` for
        all. Cells of the other columns are not parsed, so they may hold text
        (names, dates, ...).
      rows: which data rows to keep (0-based, the header not counted, e.g.
        ``range(1000, 2000)``); ``None`` for all. Rows outside it are skipped
        without being parsed.

    Returns:
      A :class:`CsvTable` with the chosen columns.
    """
    path = os.fspath(path)
    with _open(path) as f:
        reader = csv.reader(f)
        with _decoding_errors(path, reader):
            header = _read_header(path, reader)
            chosen = header if columns is None else tuple(columns)
            for name in chosen:
                if name not in header:
                    raise DataError(f"{path} has no column {name!r}; its columns are {', '.join(header)}")
            index = [header.index(name) for name in chosen]
            data = []
            row_index = -1
            for line in reader:
                if not any(cell.strip() for cell in line):
                    continue  # blank lines, e.g. a trailing one
                row_index += 1
                if rows is not None and row_index not in rows:
                    if rows.step > 0 and row_index >= rows.stop:
                        break  # past the range: the rest of the file is not read
                    continue
                if len(line) != len(header):
                    raise DataError(
                        f"{path}: row {row_index + 1} (line {reader.line_num}) has {len(line)} cells, "
                        f"but the header has {len(header)} columns"
                    )
                row, line_num = row_index + 1, reader.line_num
                data.append([_number(path, row, line_num, header[j], line[j]) for j in index])
    if not data:
        which = "" if rows is None else f" in rows {rows.start}..{rows.stop - 1}"
        raise DataError(f"{path} has a header ({', '.join(header)}) but no rows of data{which}")
    return CsvTable(chosen, np.array(data, dtype=np.float64), path)


def _number(path: str, row: int, line: int, column: str, cell: str) -> float:
    text = cell.strip()
    try:
        value = float(text)
    except ValueError:
        what = "an empty cell" if not text else f"{text[:40]!r}"
        raise DataError(f"{path}: row {row} (line {line}), column {column!r}: {what} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{path}: row {row} (line {line}), column {column!r}: {text!r} is not a finite number")
    return value
