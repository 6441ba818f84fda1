"""Regression data sets (the lesson's, a CSV file's, built-in ones) with columns chosen by name; standardization.

Gradient descent on features of very different scales is slow or diverges, so a fit can run on standardized
features and map the model back: with ``z = (x - mean) / scale`` and ``f = z @ v + c``,
``f = x @ (v / scale) + (c - sum(v * mean / scale))``. A model without a bias has no bias to add the means
back to, so its columns are only scaled to root mean square 1 (``center=False``).
"""

import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlr._csv import DataError, csv_source, parse, read_header
from jaxlr._types import Params


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


class WeightsError(DataError):
    """A sample-weights column that cannot be used: ``column`` names it, ``reason`` says why."""

    def __init__(self, column: str, reason: str):
        super().__init__(f"weights column {column!r}: {reason}")
        self.column, self.reason = column, reason


def lesson_data() -> tuple[jax.Array, jax.Array]:
    """The lesson's training set: ``X = [1, 2, 3, 4]``, ``Y = 2 * X``, float32.

    Examples:
      >>> import jaxlr
      >>> x, y = jaxlr.lesson_data()
      >>> x.tolist(), y.tolist()
      ([1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0])
    """
    x = jnp.array([1.0, 2.0, 3.0, 4.0], dtype=jnp.float32)
    return x, 2 * x


def _diabetes() -> tuple[tuple[str, ...], np.ndarray, str]:
    try:
        from sklearn.datasets import load_diabetes
    except ImportError:
        raise DataError(
            "the diabetes dataset comes with scikit-learn, which is not installed: pip install 'jaxlr[data]'"
        ) from None
    bunch: Any = load_diabetes(scaled=False)  # the features in their original units (age in years, BMI, ...)
    return (*bunch.feature_names, "target"), np.column_stack([bunch.data, bunch.target]).astype(np.float64), "target"


# Built-in data sets by name: a loader returning (column names, values, default target).
DATASETS: dict[str, Callable[[], tuple[tuple[str, ...], np.ndarray, str]]] = {
    "diabetes": _diabetes,
    "lesson": lambda: (("x", "y"), np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0], [4.0, 8.0]]), "y"),
}


def _choose(
    columns: Sequence[str], source: str, target: str, features: Sequence[str] | None, weights: str | None
) -> tuple[str, ...]:
    """The columns to read, features first, then the target and the ``weights`` column, checked against ``columns``."""
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
    """The :class:`Dataset` of ``values``, whose columns are ``chosen`` as :func:`_choose` orders them."""
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
      target: the name of the column to predict.
      features: the feature columns, in order; ``None`` for every column but the target (and weights).
      rows: the 0-based data rows to read, e.g. ``range(1000, 2000)`` (``None``: all).
      weights: a column of sample weights (non-negative, not all zero, never a feature), or ``None``.
      sep: the separator; ``None`` picks the most frequent of ``,`` ``;`` tab ``|`` in the header line.
      encoding: the file's text encoding, e.g. ``"latin-1"``.
      dropna: drop the rows with a missing cell (empty, ``NA``, ``NULL``; counted in ``Dataset.dropped``).
      progress: show a progress bar on stderr for a load taking over a second.

    Raises:
      DataError: one line naming the file and the row, line and column (:class:`WeightsError`: the weights).

    Examples:
      >>> import pathlib, tempfile, jaxlr
      >>> path = pathlib.Path(tempfile.mkdtemp()) / "data.csv"
      >>> _ = path.write_text("a,b,y\\n1,0,2\\n2,1,4\\n3,0,6\\n")
      >>> data = jaxlr.load_csv(path, target="y", features=["a"])
      >>> data.x.shape, data.y.tolist(), data.feature_names
      ((3, 1), [2.0, 4.0, 6.0], ('a',))
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
    """Loads a built-in data set: ``"lesson"`` (``y = 2x`` on ``x = 1..4``) or ``"diabetes"``.

    ``"diabetes"`` is scikit-learn's (442 patients, 10 features in their original units, the target a disease
    progression score a year later); it needs ``pip install 'jaxlr[data]'``.

    Args:
      name: ``"lesson"`` or ``"diabetes"``.
      target: the column to predict; ``None`` for the data set's own target.
      features, weights: as for :func:`load_csv`.

    Raises:
      DataError: an unknown name or column, or no scikit-learn (:class:`WeightsError`: the weights column).

    Examples:
      >>> import jaxlr
      >>> data = jaxlr.load_dataset("lesson")
      >>> data.x[:, 0].tolist(), data.y.tolist(), data.feature_names, data.target_name
      ([1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0], ('x',), 'y')
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; the built-in datasets are {', '.join(map(repr, DATASETS))}")
    columns, values, default_target = DATASETS[name]()
    chosen = _choose(columns, f"dataset {name}", default_target if target is None else target, features, weights)
    values = values[:, [columns.index(column) for column in chosen]]
    return _dataset(chosen, values, f"dataset {name}", weights, 0)


class Standardization(NamedTuple):
    """The per-feature shift and scale :func:`standardize` applied."""

    mean: np.ndarray  # (d,) each feature's mean (0 with center=False)
    scale: np.ndarray  # (d,) each feature's population standard deviation (root mean square uncentred)


def standardize(
    x: np.ndarray, feature_names: Sequence[str] | None = None, *, center: bool = True
) -> tuple[np.ndarray, Standardization]:
    """Shifts and scales each column of ``x`` to mean 0 and standard deviation 1, in float64.

    Args:
      x: ``(n, d)`` features (or ``(n,)`` for one).
      feature_names: names for error messages.
      center: ``False`` for a model without a bias: the columns are only scaled, to root mean square 1.

    Returns:
      ``(standardized x, Standardization)``; a :class:`DataError` for a constant feature (all zeros uncentred).

    Examples:
      >>> import numpy as np, jaxlr
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
        j = bad[0]
        name = feature_names[j] if feature_names is not None else f"column {j}"
        what = f"is constant (every value is {matrix[0, j]:g}), so it cannot be standardized"
        what = what if center else "is all zeros, so it cannot be scaled"
        raise DataError(f"feature {name!r} {what}; leave it out of the features")
    z = (matrix - mean) / scale
    return (z[:, 0] if x.ndim == 1 else z), Standardization(mean, scale)


def unstandardize(params: Params, standardization: Standardization) -> Params:
    """Maps ``params`` fitted on ``standardize``'d features (``center=False`` without a bias) to the original units.

    Examples:
      >>> import numpy as np, jaxlr
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
