"""A scikit-learn estimator: :class:`GradientDescentRegressor`, linear regression by :func:`jaxlr.fit`.

Needs scikit-learn (``pip install 'jaxlr[sklearn]'``); ``import jaxlr`` never imports it.

    >>> import numpy as np
    >>> from jaxlr.sklearn import GradientDescentRegressor
    >>> X = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0]])
    >>> model = GradientDescentRegressor().fit(X, X @ [2.0, -1.0] + 0.5)
    >>> print(np.round(model.coef_, 6), round(model.intercept_, 6))
    [ 2. -1.] 0.5
"""

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
from jaxlr._least_squares import check_sample_weight

__all__ = ["GradientDescentRegressor"]

_OPTIMIZERS = ("sgd", "momentum", "adam")


def _positive_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 < float(value) < math.inf


class GradientDescentRegressor(RegressorMixin, BaseEstimator):
    """Linear least squares (optionally weighted and ridge-penalised) fitted by gradient descent in JAX.

    It minimizes ``sum(s * (X @ coef_ + intercept_ - y)**2) / sum(s) + l2 * sum(coef_**2)``
    (``s`` = ``sample_weight``), as :func:`jaxlr.least_squares`: scikit-learn's ``Ridge(alpha=a)`` is
    ``l2 = a / sum(s)``. With ``fit_intercept``, ``X`` and ``y`` are centred on their (weighted) means,
    which makes the intercept exact, and :func:`jaxlr.fit` trains ``coef_`` on the centred (and, with
    ``standardize``, scaled) problem. It computes in float64 when JAX has x64 on, else in float32,
    and never changes JAX's configuration. Not converging within ``max_iter`` steps is a
    ``ConvergenceWarning``; diverging a ``ValueError``. See the README's "With scikit-learn".

    Parameters:
      learning_rate: a positive step size, or ``"auto"`` (default): ``1/L`` from the data's curvature.
      max_iter: the most gradient steps (default 1000).
      tol: stop when the gradient's norm is ``tol`` times its first value; ``None``: 1e-8 (float64), 1e-6.
      optimizer: ``"sgd"`` (default), ``"momentum"``, ``"adam"`` or an ``optax.GradientTransformation``.
      fit_intercept: fit ``intercept_`` (default ``True``); else it is 0.
      l2: the ridge penalty (``>= 0``, default 0).
      standardize: train on features scaled to unit (weighted) standard deviation (default ``True``).

    Attributes:
      coef_: ``(n_features,)`` the weights, float64, in the original units.
      intercept_: the intercept, a float.
      n_iter_: the gradient steps taken (at most ``max_iter``; fewer when ``tol`` was met).
      n_features_in_: the number of features seen in ``fit``.
      feature_names_in_: the column names, when ``X`` was a DataFrame with string column names.
      learning_rate_: the learning rate used, or ``None`` for an optax transformation.
    """

    def __init__(
        self,
        learning_rate: float | str = "auto",
        max_iter: int = 1000,
        tol: float | None = None,
        optimizer: str | optax.GradientTransformation = "sgd",
        fit_intercept: bool = True,
        l2: float = 0.0,
        standardize: bool = True,
    ):
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.optimizer = optimizer
        self.fit_intercept = fit_intercept
        self.l2 = l2
        self.standardize = standardize

    def _check_params(self, dtype: np.dtype) -> float:
        """Checks the hyperparameters (scikit-learn checks them in ``fit``, not ``__init__``); returns ``tol``."""
        name, rate, max_iter = type(self).__name__, self.learning_rate, self.max_iter
        if not (rate == "auto" if isinstance(rate, str) else _positive_real(rate)):
            raise ValueError(f"{name}: learning_rate must be a positive number or 'auto', got {rate!r}")
        if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, numbers.Integral):
            raise ValueError(f"{name}: max_iter must be a positive integer, got {max_iter!r}")
        if max_iter < 1:
            raise ValueError(f"{name}: max_iter must be at least 1, got {max_iter}")
        if self.tol is not None and not _positive_real(self.tol):
            raise ValueError(f"{name}: tol must be a positive number or None, got {self.tol!r}")
        if not (self.optimizer in _OPTIMIZERS or isinstance(self.optimizer, optax.GradientTransformation)):
            raise ValueError(
                f"{name}: optimizer must be one of {', '.join(map(repr, _OPTIMIZERS))} or an "
                f"optax.GradientTransformation, got {self.optimizer!r}"
            )
        if not (isinstance(self.l2, numbers.Real) and not isinstance(self.l2, bool) and 0 <= float(self.l2) < math.inf):
            raise ValueError(f"{name}: l2 must be a non-negative finite number, got {self.l2!r}")
        for flag in ("fit_intercept", "standardize"):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise ValueError(f"{name}: {flag} must be True or False, got {getattr(self, flag)!r}")
        if self.tol is None:  # well above what rounding leaves of the gradient on a standardized problem
            return 1e-8 if dtype == np.float64 else 1e-6
        return float(self.tol)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "GradientDescentRegressor":
        """Fits ``coef_`` and ``intercept_`` by gradient descent, until ``tol`` or ``max_iter`` steps; returns ``self``.

        Args:
          X: ``(n_samples, n_features)`` numbers, a dense array or DataFrame.
          y: ``(n_samples,)`` targets.
          sample_weight: ``None`` or ``(n_samples,)`` non-negative weights, not all zero.

        Raises:
          ValueError: for bad input or hyperparameters, and when training diverged.
        """
        name = type(self).__name__
        dtype = np.dtype(np.float64 if jax.config.read("jax_enable_x64") else np.float32)
        tol = self._check_params(dtype)
        X, y = validate_data(self, X, y, accept_sparse=False, dtype=np.float64, y_numeric=True)
        n, d = X.shape
        check_sample_weight(name, sample_weight, n, None)
        weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
        total = float(np.sum(weight))
        x_mean, y_mean = (weight @ X / total, float(weight @ y) / total) if self.fit_intercept else (np.zeros(d), 0.0)
        xc = X - x_mean
        scale = np.sqrt(weight @ (xc * xc) / total)
        units = np.where(scale > 0, scale, 1.0) if self.standardize else np.ones(d)  # coef_ = v / units
        z = (xc / units).astype(dtype)
        # l2·|coef_|² = Σ_j (l2 / units_j²) v_j²: the penalty on coef_, in the training coordinates
        penalty = (self.l2 / units**2).astype(dtype) if self.l2 > 0 else None
        flat = not np.any(z[weight > 0]) and penalty is None  # no curvature: every step is stable, the answer 0
        rate = 1.0 if flat and self.learning_rate == "auto" else self.learning_rate
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", jaxlr.DivergenceWarning)
            result = jaxlr.fit(
                jaxlr.Params(np.zeros(d, dtype), None),
                z,
                (y - y_mean).astype(dtype),
                learning_rate=float(rate) if isinstance(rate, numbers.Real) else rate,
                n_iters=int(self.max_iter),
                optimizer=self.optimizer,
                history="none",
                tol=tol,
                sample_weight=weight.astype(dtype),
                l2=penalty,
            )
        diverging = [w for w in caught if issubclass(w.category, jaxlr.DivergenceWarning)]
        v = np.asarray(result.params.w, np.float64)
        if bool(result.diverged) or not np.all(np.isfinite(v)):
            reason = str(diverging[0].message) if diverging else "training diverged (the coefficients are not finite)"
            raise ValueError(f"{name}: {reason.removeprefix('fit: ')}")
        for w in caught:
            if w not in diverging:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if not (flat or bool(result.converged)):
            warnings.warn(
                f"{name}: gradient descent has not converged in max_iter={self.max_iter} steps: the gradient's "
                f"norm has not fallen to tol={tol:g} times its first value; increase max_iter"
                + ("" if self.standardize else " or set standardize=True"),
                ConvergenceWarning,
                stacklevel=2,
            )
        self.coef_ = v / units
        self.intercept_ = float(y_mean - x_mean @ self.coef_) if self.fit_intercept else 0.0
        self.n_iter_ = int(np.asarray(result.n_steps))
        self.learning_rate_ = None if result.learning_rate is None else float(np.asarray(result.learning_rate))
        return self

    def predict(self, X: Any) -> np.ndarray:
        """``X @ coef_ + intercept_``, float64, for ``(n_samples, n_features)`` ``X``."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=False, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_
