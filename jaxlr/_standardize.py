"""Fitting on standardized features (gradient descent on features of very different scales is slow or
diverges) and mapping the model back: with ``z = (x - mean) / scale`` and ``f = z @ v + c``,
``f = x @ (v / scale) + (c - sum(v * mean / scale))``. A model without a bias has no bias to add the means
back to, so its columns are only scaled to root mean square 1 (``center=False``).
"""

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from jaxlr._csv import DataError
from jaxlr._types import Params


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
