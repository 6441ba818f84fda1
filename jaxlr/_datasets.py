"""Regression data sets: from a CSV file or built in, with the target and features chosen by name."""

import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from jaxlr._csv import DataError, csv_source, parse, read_header


class Dataset(NamedTuple):
    """A regression problem: features, target and their names.

    Attributes:
      x: float64 NumPy array of shape ``(n, d)``, one column per feature.
      y: float64 NumPy array of shape ``(n,)``, the target.
      feature_names: the ``d`` feature names, in the order of ``x``'s columns.
      target_name: the target's name.
      source: where the data came from (a path, ``"stdin"`` or ``"dataset NAME"``).
      weights: float64 ``(n,)`` sample weights read from a column, or ``None``.
      weights_name: the name of that column, or ``None``.
      dropped: how many rows of the file ``dropna`` dropped for a missing cell.
    """

    x: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str
    source: str
    weights: np.ndarray | None = None
    weights_name: str | None = None
    dropped: int = 0


class WeightsError(DataError):
    """A sample-weights column that cannot be used: ``column`` names it, ``reason`` says why."""

    def __init__(self, column: str, reason: str):
        super().__init__(f"weights column {column!r}: {reason}")
        self.column, self.reason = column, reason


def _lesson_columns() -> tuple[tuple[str, ...], np.ndarray, str]:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    return ("x", "y"), np.stack([x, 2 * x], axis=1), "y"


def _diabetes_columns() -> tuple[tuple[str, ...], np.ndarray, str]:
    try:
        from sklearn.datasets import load_diabetes
    except ImportError:
        raise DataError(
            "the diabetes dataset comes with scikit-learn, which is not installed: pip install 'jaxlr[data]'"
        ) from None
    # Unscaled: the features in their original units (age in years, BMI, ...), the target a
    # disease progression score one year later. 442 patients, 10 features.
    bunch: Any = load_diabetes(scaled=False)
    names = (*bunch.feature_names, "target")
    return names, np.column_stack([bunch.data, bunch.target]).astype(np.float64), "target"


# Built-in data sets by name: a loader returning (column names, values, default target).
DATASETS: dict[str, Callable[[], tuple[tuple[str, ...], np.ndarray, str]]] = {
    "diabetes": _diabetes_columns,
    "lesson": _lesson_columns,
}


def _choose(
    columns: Sequence[str], source: str, target: str, features: Sequence[str] | None, weights: str | None = None
) -> tuple[tuple[str, ...], str]:
    """The feature names and the target, checked against the available ``columns`` (and the ``weights`` column)."""
    columns = tuple(columns)
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
    else:
        features = tuple(features)
        if not features:
            raise DataError("no features chosen: give at least one feature column")
        for name in features:
            if name not in columns:
                raise DataError(f"{source} has no feature column {name!r}; its columns are {', '.join(columns)}")
            if name == target:
                raise DataError(f"column {name!r} cannot be both the target and a feature")
        duplicates = sorted({name for name in features if features.count(name) > 1})
        if duplicates:
            raise DataError(f"feature {duplicates[0]!r} is chosen more than once")
    return features, target


def _check_weights(name: str, values: np.ndarray) -> np.ndarray:
    """The weights column as float64, refused when negative or all zero (its cells are already finite numbers)."""
    values = np.asarray(values, np.float64)
    if np.any(values < 0):
        row = int(np.argmax(values < 0))
        raise WeightsError(name, f"sample weights must be non-negative; row {row} has {values[row]:g}")
    if not np.any(values > 0):
        raise WeightsError(name, "every weight is zero; at least one row needs a positive weight")
    return values


def _select(
    columns: Sequence[str],
    values: np.ndarray,
    source: str,
    target: str,
    features: Sequence[str] | None,
    weights: str | None = None,
) -> Dataset:
    features, target = _choose(columns, source, target, features, weights)
    index = {name: i for i, name in enumerate(columns)}
    x = values[:, [index[name] for name in features]]
    y = values[:, index[target]]
    w = None if weights is None else _check_weights(weights, values[:, index[weights]])
    return Dataset(x, y, features, target, source, w, weights)


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
    """Loads a regression problem from a CSV file with a header row.

    Args:
      path: the CSV file (``-`` for standard input; a ``.gz`` name is read
        through gzip). Every cell of the chosen columns must be a finite
        number; the other columns are not parsed.
      target: the name of the column to predict.
      features: the feature columns, by name, in the order wanted; ``None`` for
        every column but the target.
      rows: the 0-based data rows to read (``None``: all).
      weights: a column of sample weights (non-negative, not all zero), or
        ``None``. It is never a feature: with ``features=None`` the features are
        the columns other than the target and the weights.
      sep: the separator; ``None`` detects it from the header line (the most
        frequent of ``,`` ``;`` tab ``|``).
      encoding: the file's text encoding, e.g. ``"latin-1"``.
      dropna: drop rows with a missing cell (empty, ``NA``, ``NULL``) in the
        chosen columns; ``Dataset.dropped`` counts them. Without it a missing
        cell is an error.
      progress: show a progress bar on stderr for a load taking over a second.

    Returns:
      A :class:`Dataset`.

    Raises:
      DataError: for anything that makes the file unusable, with a one-line
        message naming the file and, where there is one, the row and column;
        :class:`WeightsError` (a ``DataError``) when the problem is the weights
        column.

    Examples:
      >>> import pathlib, tempfile
      >>> import jaxlr
      >>> path = pathlib.Path(tempfile.mkdtemp()) / "data.csv"
      >>> _ = path.write_text("a,b,y\\n1,0,2\\n2,1,4\\n3,0,6\\n")
      >>> data = jaxlr.load_csv(path, target="y", features=["a"])
      >>> data.x.shape, data.y.tolist(), data.feature_names
      ((3, 1), [2.0, 4.0, 6.0], ('a',))
    """
    source = csv_source(path)
    header = read_header(source, sep, encoding)
    features, target = _choose(header.names, source.label, target, features, weights)
    chosen = (*features, target, *(() if weights is None else (weights,)))
    try:
        values, dropped = parse(source, header, chosen, rows=rows, encoding=encoding, dropna=dropna, progress=progress)
    except DataError as e:
        if weights is not None and f"column {weights!r}" in str(e):  # a cell of the weights that is not a number
            raise WeightsError(weights, str(e)) from None
        raise
    d = len(features)
    w = None if weights is None else _check_weights(weights, values[:, d + 1])
    return Dataset(values[:, :d], values[:, d], features, target, source.label, w, weights, dropped)


def load_dataset(
    name: str, *, target: str | None = None, features: Sequence[str] | None = None, weights: str | None = None
) -> Dataset:
    """Loads a built-in data set.

    * ``"lesson"``: the tutorial's ``x = [1, 2, 3, 4]``, ``y = 2x``.
    * ``"diabetes"``: scikit-learn's diabetes data (442 patients, 10 features in
      their original units, target a disease progression score). Needs
      scikit-learn (``pip install 'jaxlr[data]'``); it is bundled, nothing is
      downloaded.

    Args:
      name: ``"lesson"`` or ``"diabetes"``.
      target: the column to predict; ``None`` for the data set's own target.
      features: feature columns by name; ``None`` for all the others.
      weights: a column to use as sample weights (not as a feature), or ``None``.

    Returns:
      A :class:`Dataset`.

    Raises:
      DataError: for an unknown name or column, or a missing scikit-learn;
        :class:`WeightsError` for an unusable weights column.

    Examples:
      >>> import jaxlr
      >>> data = jaxlr.load_dataset("lesson")
      >>> data.x[:, 0].tolist(), data.y.tolist(), data.feature_names, data.target_name
      ([1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0], ('x',), 'y')
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; the built-in datasets are {', '.join(map(repr, DATASETS))}")
    columns, values, default_target = DATASETS[name]()
    target = default_target if target is None else target
    return _select(columns, values, f"dataset {name}", target, features, weights)
