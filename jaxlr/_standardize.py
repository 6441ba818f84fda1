"""Fitting on standardized features and reporting the model in the original units.

Gradient descent on raw features of very different scales is slow (the loss's
Hessian is badly conditioned) or diverges. Standardizing each feature to mean 0
and standard deviation 1 fixes the conditioning; the fitted model is then mapped
back: if ``z = (x - mean) / scale`` and ``f = z @ v + c``, then
``f = x @ (v / scale) + (c - sum(v * mean / scale))``.

A model without a bias (through the origin) cannot be centred: subtracting the
means would need a bias to add them back. Such data is only scaled
(``center=False``): each column divided by its root mean square, so that the
diagonal of ``XᵀX/n`` is 1, and ``f = z @ v = x @ (v / scale)``.
"""

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from jaxlr._csv import DataError
from jaxlr._types import Params


class Standardization(NamedTuple):
    """The per-feature shift and scale :func:`standardize` applied.

    Attributes:
      mean: shape ``(d,)``, each feature's mean.
      scale: shape ``(d,)``, each feature's (population) standard deviation.
    """

    mean: np.ndarray
    scale: np.ndarray


def standardize(
    x: np.ndarray, feature_names: Sequence[str] | None = None, *, center: bool = True
) -> tuple[np.ndarray, Standardization]:
    """Shifts and scales each column of ``x`` to mean 0 and standard deviation 1.

    Computed in float64 on the host, once, before training.

    Args:
      x: ``(n, d)`` features (or ``(n,)`` for one).
      feature_names: names for error messages.
      center: ``False`` for a model without a bias: the columns are not shifted
        (``mean`` is recorded as 0) and are scaled to root mean square 1.

    Returns:
      ``(standardized x, Standardization)``.

    Raises:
      DataError: if a feature is constant: it has no scale to divide by (and with
        a bias it carries no information the bias does not); with
        ``center=False``, if a feature is all zeros.

    Examples:
      >>> import numpy as np
      >>> import jaxlr
      >>> z, s = jaxlr.standardize(np.array([[1.0], [3.0]]))
      >>> z[:, 0].tolist(), s.mean.tolist(), s.scale.tolist()
      ([-1.0, 1.0], [2.0], [1.0])
    """
    x = np.asarray(x, dtype=np.float64)
    matrix = x[:, None] if x.ndim == 1 else x
    if not center:
        scale = np.sqrt(np.mean(matrix**2, axis=0))
        for j, s in enumerate(scale):
            if not s > 0:
                name = feature_names[j] if feature_names is not None else f"column {j}"
                raise DataError(f"feature {name!r} is all zeros, so it cannot be scaled; leave it out of the features")
        return (x / scale[0] if x.ndim == 1 else x / scale), Standardization(np.zeros_like(scale), scale)
    mean = matrix.mean(axis=0)
    scale = matrix.std(axis=0)
    for j, s in enumerate(scale):
        # Constant up to rounding: the spread is at the level of float64 noise in the values.
        if not s > 1e-12 * max(1.0, abs(mean[j])):
            name = feature_names[j] if feature_names is not None else f"column {j}"
            raise DataError(
                f"feature {name!r} is constant (every value is {matrix[0, j]:g}), so it cannot be standardized; "
                "leave it out of the features"
            )
    z = (matrix - mean) / scale
    return (z[:, 0] if x.ndim == 1 else z), Standardization(mean, scale)


def unstandardize(params: Params, standardization: Standardization) -> Params:
    """Maps a model fitted on standardized features back to the original units.

    Args:
      params: :class:`Params` fitted on ``standardize``'d features, with a bias,
        or without one when the features were only scaled (``center=False``).
      standardization: what :func:`standardize` returned.

    Returns:
      :class:`Params` with ``x @ w + b`` on the original features equal to the
      fitted model on the standardized ones (float64 NumPy values).

    Examples:
      >>> import numpy as np
      >>> import jaxlr
      >>> z, s = jaxlr.standardize(np.array([[1.0], [3.0]]))
      >>> p = jaxlr.unstandardize(jaxlr.Params(w=np.array([2.0]), b=5.0), s)
      >>> p.w.tolist(), float(p.b)
      ([2.0], 1.0)
    """
    v = np.asarray(params.w, dtype=np.float64)
    if params.b is None:
        if np.any(standardization.mean != 0):
            raise ValueError(
                "unstandardize: params.b is None; a model fitted on centred features needs a bias "
                "(standardize(..., center=False) scales without centring, for a model without one)"
            )
        return Params(v / standardization.scale.reshape(v.shape), None)
    c = np.asarray(params.b, np.float64)
    w = v / standardization.scale.reshape(v.shape)
    b = c - np.sum(w * standardization.mean.reshape(v.shape))
    return Params(w, b)
