"""jaxlr: the PyTorch lesson "Gradient Descent Using Autograd", ported to functional JAX.

The whole public API is on this page.

* Model: :class:`Params` and :func:`predict` (the lesson's ``forward``).
* Loss: :func:`mse_loss`.
* Gradients, one signature ``(params, x, y) -> Params``: :func:`autograd_gradient`
  (``jax.grad``), :func:`manual_gradient` (by hand) and
  :func:`lesson_gradient_n_times_too_large` (the lesson's original, N times too large).
* Training: :func:`fit`, returning a :class:`FitResult` with a :class:`History`.
* Data: :func:`lesson_data`; :func:`load_csv` and :func:`load_dataset` return a
  :class:`Dataset` (or raise :class:`DataError`); :func:`standardize` and
  :func:`unstandardize` for fitting on standardized features.
* Learning rates: :func:`lipschitz_constant` (L; ``learning_rate="auto"`` is
  ``1/L``), :func:`warn_if_unstable`, :class:`DivergenceWarning`; :func:`sweep`
  fits many learning rates in one compiled call (:class:`SweepResult`).
* Checking: :func:`least_squares`, the closed-form solution (with sample weights and a
  ridge penalty too).
* Statistics: :func:`regression_stats` (a :class:`RegressionStats`): R², standard errors,
  t, p-values and confidence intervals, as statsmodels reports them.
* scikit-learn: ``jaxlr.sklearn.GradientDescentRegressor`` (imported on its own; needs
  the ``sklearn`` extra).
* Plots (needs matplotlib): :func:`plot_loss`, :func:`plot_fit`, :func:`plot_sweep`.
* Scaling out: ``fit(..., devices=...)`` or row-sharded ``x``, ``y`` on one host;
  :func:`initialize_distributed`, :func:`read_csv_rows` and :func:`fit_distributed`
  across hosts.
* Diagnostics: :func:`condition_number` (how many steps gradient descent needs).
* Model files: :func:`save_model` and :func:`load_model` write and read a fitted
  :class:`Model` (what ``jaxlr fit --save-model`` writes and ``jaxlr predict`` uses).

The module ``jaxlr.crosscheck`` (imported on its own, ``python -m jaxlr.crosscheck``)
compares all of this, step by step, with the lesson's PyTorch and NumPy programs.
"""

import importlib.metadata

from jaxlr._csv import DataError as DataError
from jaxlr._curvature import condition_number as condition_number
from jaxlr._curvature import lipschitz_constant as lipschitz_constant
from jaxlr._data import lesson_data as lesson_data
from jaxlr._datasets import Dataset as Dataset
from jaxlr._datasets import load_csv as load_csv
from jaxlr._datasets import load_dataset as load_dataset
from jaxlr._distributed import fit_distributed as fit_distributed
from jaxlr._distributed import initialize_distributed as initialize_distributed
from jaxlr._distributed import read_csv_rows as read_csv_rows
from jaxlr._fit import fit as fit
from jaxlr._least_squares import least_squares as least_squares
from jaxlr._lr import DivergenceWarning as DivergenceWarning
from jaxlr._lr import warn_if_unstable as warn_if_unstable
from jaxlr._model import autograd_gradient as autograd_gradient
from jaxlr._model import lesson_gradient_n_times_too_large as lesson_gradient_n_times_too_large
from jaxlr._model import manual_gradient as manual_gradient
from jaxlr._model import mse_loss as mse_loss
from jaxlr._model import predict as predict
from jaxlr._model_file import Model as Model
from jaxlr._model_file import load_model as load_model
from jaxlr._model_file import save_model as save_model
from jaxlr._plot import plot_fit as plot_fit
from jaxlr._plot import plot_loss as plot_loss
from jaxlr._plot import plot_sweep as plot_sweep
from jaxlr._standardize import Standardization as Standardization
from jaxlr._standardize import standardize as standardize
from jaxlr._standardize import unstandardize as unstandardize
from jaxlr._stats import RegressionStats as RegressionStats
from jaxlr._stats import regression_stats as regression_stats
from jaxlr._sweep import sweep as sweep
from jaxlr._types import FitResult as FitResult
from jaxlr._types import History as History
from jaxlr._types import Params as Params
from jaxlr._types import SweepResult as SweepResult

try:
    __version__ = importlib.metadata.version("jaxlr")
except importlib.metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "DataError",
    "Dataset",
    "DivergenceWarning",
    "FitResult",
    "History",
    "Model",
    "Params",
    "RegressionStats",
    "Standardization",
    "SweepResult",
    "autograd_gradient",
    "condition_number",
    "fit",
    "fit_distributed",
    "initialize_distributed",
    "least_squares",
    "lesson_data",
    "lesson_gradient_n_times_too_large",
    "lipschitz_constant",
    "load_csv",
    "load_dataset",
    "load_model",
    "manual_gradient",
    "mse_loss",
    "plot_fit",
    "plot_loss",
    "plot_sweep",
    "predict",
    "read_csv_rows",
    "regression_stats",
    "save_model",
    "standardize",
    "sweep",
    "unstandardize",
    "warn_if_unstable",
]
