"""jaxlr: the PyTorch lesson "Gradient Descent Using Autograd", ported to functional JAX.

The whole public API is on this page.

* Model: :class:`Params` and :func:`predict` (the lesson's ``forward``).
* Loss: :func:`mse_loss`.
* Gradients, one signature ``(params, x, y) -> Params``: :func:`autograd_gradient`
  (``jax.grad``), :func:`manual_gradient` (by hand) and
  :func:`lesson_gradient_n_times_too_large` (the lesson's original, N times too large).
* Training: :func:`fit`, returning a :class:`FitResult` with a :class:`History`.
* Data: :func:`lesson_data`.
* Scaling out: ``fit(..., devices=...)`` or row-sharded ``x``, ``y`` on one host;
  :func:`initialize_distributed`, :func:`read_csv_rows` and :func:`fit_distributed`
  across hosts.
"""

import importlib.metadata

from jaxlr._data import lesson_data as lesson_data
from jaxlr._distributed import fit_distributed as fit_distributed
from jaxlr._distributed import initialize_distributed as initialize_distributed
from jaxlr._distributed import read_csv_rows as read_csv_rows
from jaxlr._gradients import autograd_gradient as autograd_gradient
from jaxlr._gradients import lesson_gradient_n_times_too_large as lesson_gradient_n_times_too_large
from jaxlr._gradients import manual_gradient as manual_gradient
from jaxlr._loss import mse_loss as mse_loss
from jaxlr._model import Params as Params
from jaxlr._model import predict as predict
from jaxlr._train import FitResult as FitResult
from jaxlr._train import History as History
from jaxlr._train import fit as fit

try:
    __version__ = importlib.metadata.version("jaxlr")
except importlib.metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "FitResult",
    "History",
    "Params",
    "autograd_gradient",
    "fit",
    "fit_distributed",
    "initialize_distributed",
    "lesson_data",
    "lesson_gradient_n_times_too_large",
    "manual_gradient",
    "mse_loss",
    "predict",
    "read_csv_rows",
]
