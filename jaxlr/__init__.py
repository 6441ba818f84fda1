"""jaxlr: the PyTorch lesson "Gradient Descent Using Autograd", ported to functional JAX.

The whole public API is re-exported below; ``jaxlr.sklearn`` (the scikit-learn estimator) and ``jaxlr.crosscheck``
(the comparison with the lesson's PyTorch and NumPy programs) are imported on their own.
"""

import importlib.metadata

from jaxlr._curvature import DivergenceWarning as DivergenceWarning
from jaxlr._curvature import condition_number as condition_number
from jaxlr._curvature import lipschitz_constant as lipschitz_constant
from jaxlr._curvature import warn_if_unstable as warn_if_unstable
from jaxlr._data import DataError as DataError
from jaxlr._data import Dataset as Dataset
from jaxlr._data import Model as Model
from jaxlr._data import Standardization as Standardization
from jaxlr._data import lesson_data as lesson_data
from jaxlr._data import load_csv as load_csv
from jaxlr._data import load_dataset as load_dataset
from jaxlr._data import load_model as load_model
from jaxlr._data import save_model as save_model
from jaxlr._data import standardize as standardize
from jaxlr._data import unstandardize as unstandardize
from jaxlr._distributed import fit_distributed as fit_distributed
from jaxlr._distributed import initialize_distributed as initialize_distributed
from jaxlr._distributed import read_csv_rows as read_csv_rows
from jaxlr._fit import fit as fit
from jaxlr._least_squares import RegressionStats as RegressionStats
from jaxlr._least_squares import least_squares as least_squares
from jaxlr._least_squares import regression_stats as regression_stats
from jaxlr._model import autograd_gradient as autograd_gradient
from jaxlr._model import lesson_gradient_n_times_too_large as lesson_gradient_n_times_too_large
from jaxlr._model import manual_gradient as manual_gradient
from jaxlr._model import mse_loss as mse_loss
from jaxlr._model import predict as predict
from jaxlr._plot import plot_fit as plot_fit
from jaxlr._plot import plot_loss as plot_loss
from jaxlr._plot import plot_sweep as plot_sweep
from jaxlr._sweep import sweep as sweep
from jaxlr._types import FitResult as FitResult
from jaxlr._types import History as History
from jaxlr._types import Params as Params
from jaxlr._types import SweepResult as SweepResult

try:
    __version__ = importlib.metadata.version("jaxlr")
except importlib.metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"
