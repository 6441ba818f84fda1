"""A scikit-learn estimator, :class:`GradientDescentRegressor`: linear regression by :func:`jaxlr.fit`. Needs
scikit-learn (``pip install 'jaxlr[sklearn]'``); ``import jaxlr`` never imports it."""

import dataclasses
import math
import numbers
import warnings
from typing import Any

import jax
import numpy as np
import optax

try:
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as e:  # pragma: no cover - the extra is missing
    raise ImportError("jaxlr.sklearn needs scikit-learn 1.6 or later: pip install 'jaxlr[sklearn]'") from e

import jaxlr
from jaxlr._least_squares import centre
from jaxlr._validate import checked_sample_weight

__all__ = ["GradientDescentRegressor"]

_OPTIMIZERS = ("sgd", "momentum", "adam")


def _real(value: Any) -> float:
    """``value`` as a float if it is a finite real number (not a bool), else NaN, which fails every comparison."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else math.nan


@dataclasses.dataclass(eq=False, repr=False)  # the __init__ scikit-learn asks for; its own __repr__
class GradientDescentRegressor(RegressorMixin, BaseEstimator):
    """Linear least squares (optionally weighted and ridge-penalised) fitted by gradient descent in JAX.

    It minimizes :func:`jaxlr.least_squares`' loss on ``X``, ``y`` centred and scaled, in float64 if JAX's x64 is
    on, else float32. Not converging in ``max_iter`` steps is a ``ConvergenceWarning``; diverging a ``ValueError``.

    Parameters
    ----------
    learning_rate : float or "auto", default="auto". A positive step size, or 1/L from the data's curvature.
    max_iter : int, default=1000. The most gradient steps.
    tol : float or None, default=None. Stop when the gradient's norm is tol times its first; None: 1e-8 (float32: 1e-6).
    optimizer : "sgd", "momentum", "adam" or an optax.GradientTransformation, default="sgd".
    fit_intercept : bool, default=True. Fit ``intercept_``; else it is 0.
    l2 : float, default=0.0. The ridge penalty, >= 0; scikit-learn's ``Ridge(alpha=a)`` is ``l2 = a / sum(s)``.
    standardize : bool, default=True. Train on features scaled to unit (weighted) standard deviation.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,). The fitted weights, float64, in the original units.
    intercept_ : float. The fitted intercept (0.0 without ``fit_intercept``).
    n_iter_ : int. The gradient steps taken.
    learning_rate_ : float or None. The step size used (1/L for "auto"); None for an optax transformation.
    n_features_in_ : int. The number of features seen in ``fit``.

    Examples:
      >>> from jaxlr.sklearn import GradientDescentRegressor
      >>> X = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0]])
      >>> model = GradientDescentRegressor().fit(X, X @ [2.0, -1.0] + 0.5)
      >>> print(np.round(model.coef_, 6), round(model.intercept_, 6))
      [ 2. -1.] 0.5
    """

    learning_rate: float | str = "auto"
    max_iter: int = 1000
    tol: float | None = None
    optimizer: str | optax.GradientTransformation = "sgd"
    fit_intercept: bool = True
    l2: float = 0.0
    standardize: bool = True

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "GradientDescentRegressor":
        """Fits the attributes to ``(n_samples, n_features)`` ``X``, ``y`` and optional ``sample_weight``."""
        name, rate, max_iter, optimizer = type(self).__name__, self.learning_rate, self.max_iter, self.optimizer
        integer = isinstance(max_iter, numbers.Integral) and not isinstance(max_iter, (bool, np.bool_))
        rate_ok = rate == "auto" if isinstance(rate, str) else _real(rate) > 0
        known = optimizer in _OPTIMIZERS or isinstance(optimizer, optax.GradientTransformation)
        rules = [  # scikit-learn checks the hyperparameters in fit, not __init__
            ("learning_rate", rate_ok, "a positive number or 'auto'"),
            ("max_iter", integer and max_iter >= 1, "at least 1" if integer else "a positive integer"),
            ("tol", self.tol is None or _real(self.tol) > 0, "a positive number or None"),
            ("optimizer", known, f"one of {', '.join(map(repr, _OPTIMIZERS))} or an optax.GradientTransformation"),
            ("l2", _real(self.l2) >= 0, "a non-negative finite number"),
            ("fit_intercept", isinstance(self.fit_intercept, (bool, np.bool_)), "True or False"),
            ("standardize", isinstance(self.standardize, (bool, np.bool_)), "True or False"),
        ]
        for param, ok, what in rules:
            if not ok:
                raise ValueError(f"{name}: {param} must be {what}, got {getattr(self, param)!r}")
        dtype = np.dtype(np.float64 if jax.config.read("jax_enable_x64") else np.float32)
        tol = float(self.tol) if self.tol is not None else 1e-8 if dtype == np.float64 else 1e-6  # well above rounding
        X, y = validate_data(self, X, y, accept_sparse=False, dtype=np.float64, y_numeric=True)
        n, d = X.shape
        checked_sample_weight(name, sample_weight, n, None)
        weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
        c = centre(X, y, weight, bias=self.fit_intercept, xp=np)
        units = c.scale if self.standardize else np.ones(d)  # coef_ = v / units, v the trained weights
        z = (c.x / units).astype(dtype)
        penalty = (self.l2 / units**2).astype(dtype) if self.l2 > 0 else None  # l2·|coef_|², in v = coef_·units
        flat = not np.any(z[weight > 0]) and penalty is None  # no curvature: every step is stable, the answer 0
        rate = 1.0 if flat and rate == "auto" else rate
        with warnings.catch_warnings(action="error", category=jaxlr.DivergenceWarning):  # fit warns iff it diverged
            try:
                result = jaxlr.fit(
                    jaxlr.Params(np.zeros(d, dtype), None),
                    z,
                    c.y.astype(dtype),
                    learning_rate=float(rate) if isinstance(rate, numbers.Real) else rate,
                    n_iters=int(self.max_iter),
                    optimizer=self.optimizer,
                    history="none",
                    tol=tol,
                    sample_weight=weight.astype(dtype),
                    l2=penalty,
                )
            except jaxlr.DivergenceWarning as e:
                raise ValueError(f"{name}: {str(e).removeprefix('fit: ')}") from None
        if not (flat or bool(result.converged)):
            warnings.warn(
                f"{name}: gradient descent has not converged in max_iter={self.max_iter} steps: the gradient's "
                f"norm has not fallen to tol={tol:g} times its first value; increase max_iter"
                + ("" if self.standardize else " or set standardize=True"),
                ConvergenceWarning,
                stacklevel=2,
            )
        self.coef_ = np.asarray(result.params.w, np.float64) / units
        self.intercept_ = float(c.y_mean - c.x_mean @ self.coef_) if self.fit_intercept else 0.0
        self.n_iter_ = int(np.asarray(result.n_steps))
        self.learning_rate_ = None if result.learning_rate is None else float(np.asarray(result.learning_rate))
        return self

    def predict(self, X: Any) -> np.ndarray:
        """``X @ coef_ + intercept_``, float64, for ``(n_samples, n_features)`` ``X``."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=False, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_
