"""A fitted model as a small, versioned JSON file: what ``jaxlr fit --save-model`` writes and ``jaxlr predict`` reads.

It holds what predicting needs (no loss history). ``json`` writes floats as their shortest round-tripping
``repr``, so a model loads back bit for bit.
"""

import json
import math
import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import numpy as np
from jax.typing import ArrayLike

import jaxlr
from jaxlr._csv import DataError
from jaxlr._datasets import Standardization
from jaxlr._io import write_json
from jaxlr._model import predict
from jaxlr._types import Params

FORMAT = "jaxlr-model"
FORMAT_VERSION = 1
DTYPES = ("float32", "float64")


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
          >>> import numpy as np, jaxlr
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
    """Writes ``model`` to ``path`` as a versioned JSON model file (atomically; ``-`` is stdout).

    Raises:
      ValueError: for a weight, bias or standardization that is not finite or does not match the features.

    Examples:
      >>> import pathlib, tempfile, numpy as np, jaxlr
      >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.json"
      >>> jaxlr.save_model(path, jaxlr.Model(("a",), "y", np.array([0.1]), None, None, "float64"))
      >>> jaxlr.load_model(path).weights.tolist()
      [0.1]
    """
    scaling = model.standardization
    record = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "jaxlr_version": jaxlr.__version__,
        "features": list(model.features),
        "target": model.target,
        "weights": np.asarray(model.weights, np.float64).tolist(),
        "bias": None if model.bias is None else float(model.bias),
        "standardization": None
        if scaling is None
        else {key: np.asarray(v, np.float64).tolist() for key, v in scaling._asdict().items()},
        "dtype": model.dtype,
    }
    _check(record, "save_model", ValueError)
    write_json(path, record)


def load_model(path: str | os.PathLike) -> Model:
    """Reads a model file that :func:`save_model` (or ``jaxlr fit --save-model``) wrote.

    Raises:
      DataError: one line: the file cannot be read, is not a jaxlr model file of this version, or has a bad field.
    """
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
    scaling = record["standardization"]
    if scaling is not None:
        scaling = Standardization(np.asarray(scaling["mean"], np.float64), np.asarray(scaling["scale"], np.float64))
    params = Params(np.asarray(record["weights"], np.float64), record["bias"])
    return model_from_fit(record["features"], record["target"], params, scaling, record["dtype"])


def _numbers(value: Any, d: int, positive: bool = False) -> bool:
    """Whether ``value`` is a list of ``d`` finite numbers (all positive ones with ``positive``)."""
    ok = isinstance(value, list) and len(value) == d
    ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    return ok and not (positive and any(v <= 0 for v in value))


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
        ("dtype", record.get("dtype") in DTYPES, " or ".join(map(repr, DTYPES))),
    ]:  # fmt: skip
        if not ok:
            raise error(f"{where}: field {field!r}: expected {expected}, got {record.get(field)!r:.80}")


def model_from_fit(
    features: Sequence[str], target: str | None, params: Params, standardization: Standardization | None, dtype: str
) -> Model:
    """The :class:`Model` of trained ``params`` (on standardized features when ``standardization`` is given)."""
    bias = None if params.b is None else float(np.asarray(params.b, np.float64))
    return Model(tuple(features), target, np.asarray(params.w, np.float64).reshape(-1), bias, standardization, dtype)
