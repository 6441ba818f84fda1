"""Cross-check: jaxlr against the lesson's PyTorch and NumPy programs, step by step.

This is the project's proof of correctness. Each *case* runs one reference
program and jaxlr on the same data, from the same initial parameters, with the
same learning rate, number of steps and dtype, and compares

* the parameter trace (the parameters after every step's update),
* the loss trace (the loss computed at every step, before its update),
* the gradient at the start, and
* the final prediction,

reporting the largest absolute error, relative error and deviation in float32
ulps. The references are plain functions, written as the lesson writes them:

* :func:`torch_autograd_program`: the lesson's PyTorch program (``requires_grad``,
  ``backward()``, the ``no_grad`` update, ``grad.zero_()``);
* :func:`numpy_program`: the lesson's NumPy program, with its original gradient
  ``np.dot(2*x, y_pred - y).mean()`` (N times too large) or the corrected
  ``np.mean(2*x*(y_pred - y))``;
* :func:`torch_linear_program`: the lesson series' next step, ``nn.Linear`` +
  ``torch.optim.SGD`` + ``nn.MSELoss``, for the multi-feature model with a bias.

**How errors are measured.** Every compared number is a floating-point sum, and
the natural yardstick for the error of a sum is the sum of the absolute values of
its terms, its *scale* (the rounding error of any summation order is bounded by a
multiple of the unit roundoff times that scale). A value that cancels to nearly
zero, like the loss near convergence or a gradient at the optimum, is compared
with its scale, not with itself: there a one-ulp difference in ``w`` is a huge
*relative* difference in the loss (on the lesson's data ``loss = 7.5 (w - 2)**2``),
yet both libraries are right. The scales, computed in float64 from the reference
trace (``a_i`` is the ``i``-th row of ``x``, with a 1 appended when there is a bias), are

* residuals at step ``k``: ``rho_i = |r_i| + eps * |a_i|_1 * max_{j<=k} |p_j|``,
  with ``r = X w + b - y``: ``|r_i|`` plus what one rounding of the prediction makes
  of it (``eps`` is the dtype's machine epsilon), so that a residual of exactly 0
  still has a scale;
* the gradient ``c * A^T r`` (``c = 2/n``, or 2 for the lesson's N-times-too-large
  gradient): ``c * |A|^T rho``, its largest component;
* parameters after step ``k``: ``S_k``, the largest over steps ``1..k`` of
  ``max(|p_{k-1}|, |p_k|) + lr * (the gradient's scale)``, the terms of the update
  ``p - lr * g``;
* the loss ``mean(r**2)`` at step ``k`` (at the parameters after step ``k - 1``):
  ``mean(rho**2) + 2 * mean(rho_i * |a_i|_1) * S_{k-1}``, what the loss moves by
  when every parameter moves by the parameter scale;
* the final prediction ``a_i . p``: ``|a_i|_1 * S_n``.

``rel err = |ours - reference| / scale`` and ``ulps = |ours - reference| /
spacing32(scale)``, the deviation in float32 ulps of the scale; the table shows
the largest over the four quantities.

**The bounds.**

* float64 (:data:`FLOAT64_RTOL`): every relative error at most ``1e-12``, about
  4500 float64 ulps: far above what different summation orders make (measured:
  at most ``2e-15``), far below any real bug.
* float32 (:func:`float32_ulps_per_step`): after ``k`` steps, at most
  ``k * (4 + sqrt(n) / 2)`` ulps (``n`` samples). Why: a step ``p - lr * g`` rounds
  a product and a difference, and the gradient ``g`` is a sum of ``n`` terms that
  each library adds in its own order (XLA, PyTorch and NumPy vectorize and split it
  differently, and XLA may fuse multiply-adds). Each rounding errs by at most half
  an ulp of the scale, so two sides differ by a few ulps for the update (4 allows
  for 2 roundings on each side, twice over), plus the sum's rounding error, which
  for ``n`` terms is typically ``sqrt(n)`` half-ulps of its scale (Higham's rule of
  thumb; the worst case, ``n - 1``, assumes every rounding goes the same way, which
  real summation orders do not do). A difference made at one step is carried into
  the next as ``e_{k+1} = (I - lr H) e_k + d_k`` (``H`` the loss's Hessian); for a
  learning rate in the stable range ``lr < 2 / lambda_max(H)`` (see
  :func:`stable_learning_rate_limit`) that map shrinks it in the 2-norm, so the
  differences at most add up over ``k`` steps. The loss at step ``k`` carries the
  parameters' ``k - 1`` steps plus its own rounding, so it gets ``k`` steps' worth;
  the gradient at the start gets one step and the final prediction ``n_iters + 1``.
  In practice the deviation stays at 0 to 8 ulps for ``n`` up to 1000 and does not
  grow with the steps, because the contraction erases old differences.

The command, ``python -m jaxlr.crosscheck`` (also ``jaxlr crosscheck`` and
``scripts/crosscheck.py``), prints a table of the cases and exits 0 when all pass,
1 when one fails, 2 on bad arguments and 3 when PyTorch is not installed.

PyTorch is optional: it is imported by the functions that need it, never by
``import jaxlr`` or ``import jaxlr.crosscheck``.

Examples:
  >>> from jaxlr import crosscheck
  >>> case = crosscheck.lesson_cases()[1]  # the NumPy program, original gradient
  >>> case.name, case.reference, case.n_iters
  ('lesson', 'numpy original', 20)
  >>> row = crosscheck.run_case(case, "float32")
  >>> row.passed, row.max_ulps <= 4
  (True, True)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import jaxlr
from jaxlr import _io
from jaxlr._model import _predict
from jaxlr._validate import check_n_iters, check_positive

FLOAT64_RTOL = 1e-12
"""float64: the largest relative error (to the quantity's scale) a passing case may have."""

FLOAT32_ULPS_PER_STEP = 4
"""float32: the deviation one step may add, in ulps of the scale, besides the gradient's sum (see
:func:`float32_ulps_per_step`)."""

EXIT_NO_TORCH = 3
"""The command's exit code when PyTorch is not installed."""

DTYPES = ("float32", "float64")

HELP = "compare jaxlr, step by step, with the lesson's PyTorch and NumPy programs"

TORCH_INSTALL_HINT = (
    "PyTorch is not installed, and it is the reference the cross-check compares against.\n"
    "Install the extra:  pip install 'jaxlr[torch]'\n"
    "(on this project's machines:  pip install torch==2.13.0, the CPU build; a bare 'torch' "
    "pulls a multi-GB CUDA build)"
)

# The jaxlr gradient each name selects, for the gradient at the start.
_GRADIENT_FUNCTIONS = {
    "autograd": jaxlr.autograd_gradient,
    "manual": jaxlr.manual_gradient,
    "lesson": jaxlr.lesson_gradient_n_times_too_large,
}


class Problem(NamedTuple):
    """A regression problem and the initial parameters, in float64 (cast to the case's dtype when run).

    Attributes:
      x: inputs, ``(n,)`` for the lesson's scalar ``w`` or ``(n, d)``.
      y: targets, ``(n,)``.
      w: initial weight, a scalar or ``(d,)``.
      b: initial bias, or ``None`` for the lesson's model without one.
      x_test: where the final prediction is compared (the lesson's ``f(5)``: ``[5.0]``).
    """

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray  # 0-d or (d,)
    b: float | None
    x_test: np.ndarray


class Trace(NamedTuple):
    """What one program computed; all arrays in the case's dtype.

    Attributes:
      params: ``(steps, P)``, the parameters ``[w..., b]`` after each step's update.
      loss: ``(steps,)``, the loss computed at each step, before its update.
      gradient: ``(P,)``, the gradient at the initial parameters.
      prediction: the final model's prediction on ``Problem.x_test``.
    """

    params: np.ndarray
    loss: np.ndarray
    gradient: np.ndarray
    prediction: np.ndarray


class Case(NamedTuple):
    """One comparison: a reference program against jaxlr with the matching gradient.

    Attributes:
      name: what the problem is (``"lesson"``, ``"random n=50"``, ...).
      reference: a key of :data:`REFERENCES`.
      gradient: the ``jaxlr.fit(gradient=...)`` that computes what the reference computes.
      problem: the :class:`Problem`.
      learning_rate: the step size.
      n_iters: the number of steps.
    """

    name: str
    reference: str
    gradient: str
    problem: Problem
    learning_rate: float
    n_iters: int


class Errors(NamedTuple):
    """How far one compared quantity is from the reference."""

    max_abs_err: float
    max_rel_err: float  # to the quantity's scale
    max_ulps: float  # float32 ulps of the scale
    worst_step: int  # 1-based step count of the worst deviation relative to its bound
    within_bound: bool


class Row(NamedTuple):
    """One line of the cross-check's table (and one object of its ``--json`` output)."""

    case: str
    reference: str
    gradient: str  # the jaxlr gradient compared
    dtype: str
    steps: int
    max_abs_err: float
    max_rel_err: float
    max_ulps: float
    bound: str
    passed: bool
    verdict: str
    errors: dict[str, Errors]

    def as_json(self) -> dict[str, Any]:
        """The row as a JSON object; non-finite numbers become ``null``."""

        def number(value: float) -> float | None:
            return float(value) if math.isfinite(value) else None

        out: dict[str, Any] = {
            "case": self.case,
            "reference": self.reference,
            "gradient": self.gradient,
            "dtype": self.dtype,
            "steps": self.steps,
            "max_abs_err": number(self.max_abs_err),
            "max_rel_err": number(self.max_rel_err),
            "max_ulps": number(self.max_ulps),
            "bound": self.bound,
            "passed": self.passed,
            "verdict": self.verdict,
        }
        out["errors"] = {
            name: {
                "max_abs_err": number(e.max_abs_err),
                "max_rel_err": number(e.max_rel_err),
                "max_ulps": number(e.max_ulps),
                "worst_step": e.worst_step,
                "within_bound": e.within_bound,
            }
            for name, e in self.errors.items()
        }
        return out


class TorchNotInstalledError(ImportError):
    """PyTorch, the reference, cannot be imported."""


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as e:
        raise TorchNotInstalledError(f"{TORCH_INSTALL_HINT}\n(import torch failed: {e})") from None
    return torch


def float32_ulps_per_step(n: int) -> float:
    """The float32 bound per step for ``n`` samples: ``4 + sqrt(n) / 2`` ulps of the scale.

    4 ulps for the update's own roundings, and ``sqrt(n) / 2`` for the gradient, a sum of
    ``n`` terms that each library adds in its own order: its rounding error is typically
    ``sqrt(n)`` unit roundoffs (half-ulps) of the sum of the terms' absolute values
    (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., section 2.8),
    where the worst case, ``n - 1`` of them, is never approached by real summation orders.

    Examples:
      >>> from jaxlr import crosscheck
      >>> crosscheck.float32_ulps_per_step(4), crosscheck.float32_ulps_per_step(100)
      (5.0, 9.0)
    """
    return FLOAT32_ULPS_PER_STEP + math.sqrt(n) / 2


def _check_dtype(fn: str, dtype: str) -> np.dtype:
    if dtype not in DTYPES:
        raise ValueError(f"{fn}: dtype must be one of {', '.join(map(repr, DTYPES))}; got {dtype!r}")
    if dtype == "float64" and jax.dtypes.canonicalize_dtype(np.float64) != np.float64:
        raise ValueError(
            f"{fn}: dtype 'float64' needs JAX's 64-bit mode, which is off, so JAX would compute in float32; "
            'call jax.config.update("jax_enable_x64", True) before creating any array'
        )
    return np.dtype(dtype)


def _check_settings(fn: str, learning_rate: Any, n_iters: Any, dtype: Any) -> tuple[float, int]:
    if dtype not in DTYPES:
        raise ValueError(f"{fn}: dtype must be one of {', '.join(map(repr, DTYPES))}; got {dtype!r}")
    return float(check_positive(fn, "learning_rate", learning_rate)), check_n_iters(fn, n_iters)


def _flat_params(w: Any, b: Any) -> np.ndarray:
    w = np.atleast_1d(np.asarray(w))
    return w if b is None else np.concatenate([w, np.atleast_1d(np.asarray(b))])


# --------------------------------------------------------------------------- the references


def torch_autograd_program(problem: Problem, *, learning_rate: float, n_iters: int, dtype: str = "float32") -> Trace:
    """The lesson's PyTorch program: ``f = w * x``, autograd, ``w -= lr * w.grad`` under ``no_grad``.

    Written as the lesson writes it (scalar ``w``, no bias), recording every step.

    Examples:
      >>> from jaxlr import crosscheck
      >>> problem = crosscheck.lesson_cases()[0].problem  # the lesson's data, w = 0
      >>> trace = crosscheck.torch_autograd_program(problem, learning_rate=0.01, n_iters=100)
      >>> print(f"{trace.params[0, 0]:.3f} {trace.loss[0]:.8f} {trace.prediction[0]:.3f}")
      0.300 30.00000000 10.000
    """
    learning_rate, n_iters = _check_settings("torch_autograd_program", learning_rate, n_iters, dtype)
    torch = _import_torch()
    torch_dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
    if problem.b is not None or np.ndim(problem.w) != 0:
        raise ValueError("torch_autograd_program: the lesson's model is f = w * x: scalar w, no bias")

    X = torch.tensor(problem.x, dtype=torch_dtype)
    Y = torch.tensor(problem.y, dtype=torch_dtype)
    w = torch.tensor(float(problem.w), dtype=torch_dtype, requires_grad=True)

    # model output
    def forward(x):
        return w * x

    # loss = MSE
    def loss(y, y_pred):
        return ((y_pred - y) ** 2).mean()

    ws, losses, gradient = [], [], None
    for _epoch in range(n_iters):
        # predict = forward pass
        y_pred = forward(X)
        # loss
        l = loss(Y, y_pred)  # noqa: E741 (the lesson's name)
        # calculate gradients = backward pass
        l.backward()
        if gradient is None:
            gradient = w.grad.detach().clone()
        # update weights
        with torch.no_grad():
            w -= learning_rate * w.grad
        # zero the gradients after updating
        w.grad.zero_()
        ws.append(w.detach().clone())
        losses.append(l.detach())
    with torch.no_grad():
        prediction = forward(torch.tensor(problem.x_test, dtype=torch_dtype))
    assert gradient is not None  # n_iters >= 1
    return Trace(
        torch.stack(ws).numpy()[:, None],
        torch.stack(losses).numpy(),
        gradient.numpy()[None],
        prediction.numpy(),
    )


def numpy_program(
    problem: Problem,
    *,
    learning_rate: float,
    n_iters: int,
    dtype: str = "float32",
    gradient: str = "original",
) -> Trace:
    """The lesson's NumPy program: ``f = w * x`` with a hand-written gradient.

    Args:
      problem: a :class:`Problem` with a scalar ``w`` and no bias.
      learning_rate, n_iters: as in the lesson (0.01, 20).
      dtype: ``"float32"`` (the lesson's) or ``"float64"``.
      gradient: ``"original"``, the lesson's ``np.dot(2*x, y_pred - y).mean()``,
        which is N times the true gradient (``np.dot`` already returns a scalar,
        so ``.mean()`` does nothing); ``"corrected"``, the upstream fix
        ``np.mean(2*x*(y_pred - y))``.

    Examples:
      >>> from jaxlr import crosscheck
      >>> case = crosscheck.lesson_cases()[1]
      >>> trace = crosscheck.numpy_program(case.problem, learning_rate=0.01, n_iters=20)
      >>> print(f"{trace.params[0, 0]:.3f} {trace.params[2, 0]:.3f} {trace.loss[2]:.8f}")
      1.200 1.872 0.76800019
    """
    learning_rate, n_iters = _check_settings("numpy_program", learning_rate, n_iters, dtype)
    if gradient not in ("original", "corrected"):
        raise ValueError(f"numpy_program: gradient must be 'original' or 'corrected'; got {gradient!r}")
    if problem.b is not None or np.ndim(problem.w) != 0:
        raise ValueError("numpy_program: the lesson's model is f = w * x: scalar w, no bias")
    float_type = np.dtype(dtype).type
    X = np.asarray(problem.x, dtype=float_type)
    Y = np.asarray(problem.y, dtype=float_type)
    # The lesson writes w = 0.0; under NumPy 2's promotion rules that Python float
    # becomes float32 at the first update, so starting from float_type is the same.
    w = float_type(problem.w)

    # model output
    def forward(x):
        return w * x

    # loss = MSE
    def loss(y, y_pred):
        return ((y_pred - y) ** 2).mean()

    # J = MSE = 1/N * (w*x - y)**2
    # dJ/dw = 1/N * 2x(w*x - y)
    def original_gradient(x, y, y_pred):
        return np.dot(2 * x, y_pred - y).mean()

    def corrected_gradient(x, y, y_pred):
        return np.mean(2 * x * (y_pred - y))

    gradient_fn = original_gradient if gradient == "original" else corrected_gradient
    ws, losses, first_gradient = [], [], None
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported by the comparison
        for _epoch in range(n_iters):
            # predict = forward pass
            y_pred = forward(X)
            # loss
            l = loss(Y, y_pred)  # noqa: E741 (the lesson's name)
            # calculate gradients
            dw = gradient_fn(X, Y, y_pred)
            if first_gradient is None:
                first_gradient = dw
            # update weights
            w -= learning_rate * dw
            ws.append(w)
            losses.append(l)
    prediction = forward(np.asarray(problem.x_test, dtype=float_type))
    return Trace(
        np.asarray(ws, dtype=float_type)[:, None],
        np.asarray(losses, dtype=float_type),
        np.asarray([first_gradient], dtype=float_type),
        np.asarray(prediction, dtype=float_type),
    )


def torch_linear_program(problem: Problem, *, learning_rate: float, n_iters: int, dtype: str = "float32") -> Trace:
    """The lesson series' next step: ``nn.Linear(d, 1)``, ``nn.MSELoss``, ``torch.optim.SGD``.

    The model's weight and bias are overwritten with the problem's initial
    parameters, so both sides start from the same point.

    Examples:
      >>> from jaxlr import crosscheck
      >>> case = crosscheck.random_cases(seed=0, n=20, d=3)[-1]
      >>> trace = crosscheck.torch_linear_program(case.problem, learning_rate=0.05, n_iters=5)
      >>> trace.params.shape, trace.loss.shape, trace.gradient.shape
      ((5, 4), (5,), (4,))
    """
    learning_rate, n_iters = _check_settings("torch_linear_program", learning_rate, n_iters, dtype)
    torch = _import_torch()
    torch_dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
    if np.ndim(problem.w) != 1 or problem.b is None:
        raise ValueError("torch_linear_program: nn.Linear needs w of shape (d,) and a bias")
    n, d = problem.x.shape
    X = torch.tensor(problem.x, dtype=torch_dtype)
    Y = torch.tensor(problem.y, dtype=torch_dtype).reshape(n, 1)

    model = torch.nn.Linear(d, 1, dtype=torch_dtype)
    with torch.no_grad():
        model.weight.copy_(torch.tensor(problem.w, dtype=torch_dtype).reshape(1, d))
        model.bias.copy_(torch.tensor([problem.b], dtype=torch_dtype))
    loss_fn = torch.nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)

    def flat(weight, bias):
        return torch.cat([weight.detach().reshape(-1), bias.detach().reshape(-1)]).clone()

    def step():  # one SGD step; returns (params after it, loss before it, its gradient)
        l = loss_fn(model(X), Y)  # noqa: E741 (the lesson's name)
        l.backward()
        gradient = flat(model.weight.grad, model.bias.grad)
        optimizer.step()
        optimizer.zero_grad()
        return flat(model.weight, model.bias), l.detach(), gradient

    params, losses, gradients = zip(*(step() for _ in range(n_iters)), strict=True)
    with torch.no_grad():
        prediction = model(torch.tensor(problem.x_test, dtype=torch_dtype)).reshape(-1)
    return Trace(torch.stack(params).numpy(), torch.stack(losses).numpy(), gradients[0].numpy(), prediction.numpy())


def _numpy_original(problem: Problem, **kwargs: Any) -> Trace:
    return numpy_program(problem, gradient="original", **kwargs)


def _numpy_corrected(problem: Problem, **kwargs: Any) -> Trace:
    return numpy_program(problem, gradient="corrected", **kwargs)


REFERENCES: dict[str, Callable[..., Trace]] = {
    "torch autograd": torch_autograd_program,
    "numpy original": _numpy_original,
    "numpy corrected": _numpy_corrected,
    "torch nn.Linear+SGD": torch_linear_program,
}
"""The reference programs by name: ``reference(problem, *, learning_rate, n_iters, dtype) -> Trace``."""

_NEEDS_TORCH = {"torch autograd", "torch nn.Linear+SGD"}


# --------------------------------------------------------------------------- the jaxlr side


def jaxlr_program(
    problem: Problem,
    *,
    gradient: str,
    learning_rate: float,
    n_iters: int,
    dtype: str = "float32",
    fit: Callable[..., jaxlr.FitResult] = jaxlr.fit,
) -> Trace:
    """jaxlr on a :class:`Problem`: one ``fit`` call, the gradient at the start, the final prediction.

    Args:
      problem: the :class:`Problem`.
      gradient: ``"autograd"``, ``"manual"`` or ``"lesson"``, passed to ``fit``.
      learning_rate, n_iters: passed to ``fit``.
      dtype: ``"float32"`` or ``"float64"`` (needs JAX's 64-bit mode).
      fit: the function under test, with :func:`jaxlr.fit`'s signature; a test
        passes a deliberately broken one to see the cross-check fail.
    """
    float_type = _check_dtype("jaxlr_program", dtype).type
    if gradient not in _GRADIENT_FUNCTIONS:
        choices = ", ".join(map(repr, _GRADIENT_FUNCTIONS))
        raise ValueError(f"jaxlr_program: gradient must be one of {choices}; got {gradient!r}")
    x = jnp.asarray(problem.x, dtype=float_type)
    y = jnp.asarray(problem.y, dtype=float_type)
    params = jaxlr.Params(
        jnp.asarray(problem.w, dtype=float_type), None if problem.b is None else jnp.asarray(problem.b, float_type)
    )
    with warnings.catch_warnings():  # a diverged case is reported in its row, with the stable limit
        warnings.simplefilter("ignore", jaxlr.DivergenceWarning)
        result = fit(params, x, y, learning_rate=learning_rate, n_iters=n_iters, gradient=gradient)
    start_gradient = _GRADIENT_FUNCTIONS[gradient](params, x, y)
    # unchecked: a diverged run's NaN prediction is part of what is compared
    prediction = _predict(result.params, jnp.asarray(problem.x_test, dtype=float_type))
    history, start_gradient, prediction = jax.device_get((result.history.params, start_gradient, prediction))
    n_steps = np.shape(history.w)[0]
    w = np.reshape(history.w, (n_steps, -1))
    params_trace = w if history.b is None else np.concatenate([w, np.reshape(history.b, (n_steps, 1))], axis=1)
    return Trace(
        np.asarray(params_trace, float_type),
        np.asarray(jax.device_get(result.history.loss), float_type),
        _flat_params(*start_gradient).astype(float_type),
        np.atleast_1d(np.asarray(prediction, float_type)),
    )


# --------------------------------------------------------------------------- the comparison


def _design(x: np.ndarray, bias: bool) -> np.ndarray:
    """``x`` as an ``(n, P)`` matrix, with a column of ones for the bias."""
    x = x.reshape(x.shape[0], -1)
    return np.concatenate([x, np.ones((x.shape[0], 1))], axis=1) if bias else x


def stable_learning_rate_limit(x: Any, *, bias: bool, gradient: str = "autograd") -> float:
    """The largest learning rate for which gradient descent on the MSE converges: ``2 / lambda_max(H)``.

    ``H = 2/n A^T A`` is the loss's Hessian (``A`` is ``x`` with a column of ones
    when there is a bias); the lesson's gradient is ``n`` times too large, so its
    limit is ``n`` times smaller.

    Examples:
      >>> from jaxlr import crosscheck
      >>> print(f"{crosscheck.stable_learning_rate_limit([1.0, 2.0, 3.0, 4.0], bias=False):.4f}")
      0.1333
    """
    a = _design(np.asarray(x, dtype=np.float64), bias)
    n = a.shape[0]
    hessian = 2.0 / n * a.T @ a
    if gradient == "lesson":
        hessian = hessian * n
    return 2.0 / float(np.linalg.eigvalsh(hessian)[-1])


def _scales(case: Case, dtype: np.dtype, reference: Trace) -> dict[str, np.ndarray]:
    """Per-step scales (see the module docstring), from the reference trace, in float64."""
    p = case.problem
    bias = p.b is not None
    a = _design(p.x.astype(dtype).astype(np.float64), bias)  # the data each side actually used
    y = p.y.astype(dtype).astype(np.float64)
    n = a.shape[0]
    c = 2.0 if case.gradient == "lesson" else 2.0 / n
    initial = _flat_params(p.w, p.b).astype(dtype).astype(np.float64)
    before = np.concatenate([initial[None], reference.params.astype(np.float64)[:-1]])  # params at step k
    after = reference.params.astype(np.float64)
    row_norm = np.abs(a).sum(1)  # |x_i|_1 + [bias]
    # |r_i|, plus what one rounding of the prediction makes of it: where r is 0 the
    # loss and the gradient are still off by the square of the prediction's rounding.
    magnitude = np.maximum.accumulate(np.abs(before).max(1))
    residual = np.abs(before @ a.T - y) + np.finfo(dtype).eps * row_norm * magnitude[:, None]  # (steps, n)
    gradient_scale = c * residual @ np.abs(a)  # (steps, P)
    step_scale = np.maximum(np.abs(before), np.abs(after)).max(1) + case.learning_rate * gradient_scale.max(1)
    params_scale = np.maximum.accumulate(np.maximum(step_scale, np.abs(initial).max()))
    params_scale_before = np.concatenate([[np.abs(initial).max()], params_scale[:-1]])
    loss_scale = np.mean(residual**2, axis=1) + 2 * np.mean(residual * row_norm, axis=1) * params_scale_before
    a_test = _design(p.x_test.astype(dtype).astype(np.float64), bias)
    prediction_scale = np.abs(a_test).sum(1) * params_scale[-1]
    return {
        "params": params_scale[:, None],
        "loss": loss_scale,
        "gradient": np.full(initial.shape, gradient_scale[0].max()),
        "prediction": prediction_scale,
    }


def _steps(name: str, shape: tuple[int, ...], n_iters: int) -> np.ndarray:
    """How many steps' rounding each compared value carries (1-based), for the float32 bound."""
    if name in ("params", "loss"):
        steps = np.arange(1, shape[0] + 1)
        return steps.reshape((-1,) + (1,) * (len(shape) - 1))
    if name == "gradient":
        return np.ones(shape)
    return np.full(shape, n_iters + 1)


def _errors(
    ours: np.ndarray, ref: np.ndarray, scale: np.ndarray, steps: np.ndarray, dtype: np.dtype, ulps_per_step: float
) -> Errors:
    ours = ours.astype(np.float64)
    ref = ref.astype(np.float64)
    scale = np.broadcast_to(scale, ref.shape)
    steps = np.broadcast_to(steps, ref.shape)
    finite = np.isfinite(ours) & np.isfinite(ref)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        abs_err = np.where(ours == ref, 0.0, np.abs(ours - ref))  # inf == inf is agreement
        abs_err = np.where(finite | (ours == ref), abs_err, np.inf)
        rel = np.where(abs_err == 0, 0.0, abs_err / scale)
        spacing = np.spacing(np.float32(np.minimum(scale, np.finfo(np.float32).max))).astype(np.float64)
        ulps = np.where(abs_err == 0, 0.0, abs_err / spacing)
        if dtype == np.float64:
            ratio = rel / FLOAT64_RTOL
        else:
            ratio = ulps / (ulps_per_step * steps)
    rel, ulps, ratio = (np.where(np.isnan(v), np.inf, v) for v in (rel, ulps, ratio))
    return Errors(
        float(abs_err.max(initial=0.0)),
        float(rel.max(initial=0.0)),
        float(ulps.max(initial=0.0)),
        int(steps.flat[np.argmax(ratio)]) if ratio.size else 0,
        bool(np.all(ratio <= 1.0)),
    )


def compare(case: Case, dtype: str, ours: Trace, reference: Trace) -> Row:
    """Compares two traces of ``case`` and returns its table row (see the module docstring for the measures)."""
    np_dtype = np.dtype(dtype)
    if np_dtype == np.float64:
        bound = f"rel <= {FLOAT64_RTOL:g}"
    else:
        bound = f"<= {float32_ulps_per_step(np.shape(case.problem.x)[0]):.3g} ulps/step"
    mismatched = [
        f"{name} has shape {np.shape(getattr(ours, name))} on the jaxlr side, "
        f"{np.shape(getattr(reference, name))} on the reference side"
        for name in Trace._fields
        if np.shape(getattr(ours, name)) != np.shape(getattr(reference, name))
    ]
    if mismatched:
        inf = math.inf
        return Row(
            *(case.name, case.reference, case.gradient, dtype, case.n_iters, inf, inf, inf, bound, False),
            verdict="FAIL: " + "; ".join(mismatched),
            errors={},
        )
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged trace is reported, not warned about
        scales = _scales(case, np_dtype, reference)
    ulps_per_step = float32_ulps_per_step(np.shape(case.problem.x)[0])
    errors = {
        name: _errors(
            getattr(ours, name),
            getattr(reference, name),
            scales[name],
            _steps(name, np.shape(getattr(reference, name)), case.n_iters),
            np_dtype,
            ulps_per_step,
        )
        for name in Trace._fields
    }
    diverged = [
        side
        for side, trace in (("jaxlr", ours), ("reference", reference))
        if not all(np.all(np.isfinite(getattr(trace, name))) for name in Trace._fields)
    ]
    passed = not diverged and all(e.within_bound for e in errors.values())
    if diverged:
        limit = stable_learning_rate_limit(case.problem.x, bias=case.problem.b is not None, gradient=case.gradient)
        verdict = f"FAIL: {' and '.join(diverged)} diverged (lr {case.learning_rate:g}; stable below {limit:.4g})"
    elif passed:
        verdict = "ok"
    else:
        failures = [
            f"{name} at step {e.worst_step}: "
            + (f"rel {e.max_rel_err:.3g}" if np_dtype == np.float64 else f"{e.max_ulps:.3g} ulps")
            for name, e in errors.items()
            if not e.within_bound
        ]
        verdict = "FAIL: " + "; ".join(failures)
    return Row(
        case=case.name,
        reference=case.reference,
        gradient=case.gradient,
        dtype=dtype,
        steps=case.n_iters,
        max_abs_err=max(e.max_abs_err for e in errors.values()),
        max_rel_err=max(e.max_rel_err for e in errors.values()),
        max_ulps=max(e.max_ulps for e in errors.values()),
        bound=bound,
        passed=passed,
        verdict=verdict,
        errors=errors,
    )


def run_case(case: Case, dtype: str = "float32", *, fit: Callable[..., jaxlr.FitResult] = jaxlr.fit) -> Row:
    """Runs ``case`` on both sides in ``dtype`` and compares them.

    Args:
      case: the :class:`Case`.
      dtype: ``"float32"`` or ``"float64"``; float64 needs
        ``jax.config.update("jax_enable_x64", True)`` first.
      fit: the jaxlr side's ``fit`` (see :func:`jaxlr_program`).

    Raises:
      ValueError: for an unknown dtype, or float64 with JAX's 64-bit mode off.
      TorchNotInstalledError: when the case's reference needs PyTorch and it is missing.
    """
    _check_dtype("run_case", dtype)
    if case.reference not in REFERENCES:
        raise ValueError(
            f"run_case: reference must be one of {', '.join(map(repr, REFERENCES))}; got {case.reference!r}"
        )
    settings = {"learning_rate": case.learning_rate, "n_iters": case.n_iters, "dtype": dtype}
    reference = REFERENCES[case.reference](case.problem, **settings)
    ours = jaxlr_program(case.problem, gradient=case.gradient, fit=fit, **settings)
    return compare(case, dtype, ours, reference)


# --------------------------------------------------------------------------- the cases


def lesson_problem() -> Problem:
    """The lesson's data (``X = [1, 2, 3, 4]``, ``Y = 2X``), ``w = 0``, and ``f(5)``."""
    x = np.array([1.0, 2.0, 3.0, 4.0])
    return Problem(x, 2 * x, np.asarray(0.0), None, np.array([5.0]))


def random_problem(seed: int, n: int, d: int | None = None) -> Problem:
    """A seeded random problem: ``y = X w_true + b_true + noise``, a random start, predictions on ``X``.

    ``d=None`` gives the lesson's model (scalar ``w``, no bias) on ``n`` samples;
    an integer ``d`` gives ``x`` of shape ``(n, d)`` and a bias.
    """
    rng = np.random.default_rng(seed)
    if d is None:
        x = rng.normal(size=n)
        y = x * rng.normal() + 0.1 * rng.normal(size=n)
        return Problem(x, y, np.asarray(rng.normal()), None, x)
    x = rng.normal(size=(n, d))
    w_true, b_true = rng.normal(size=d), rng.normal()
    y = x @ w_true + b_true + 0.1 * rng.normal(size=n)
    return Problem(x, y, rng.normal(size=d), float(rng.normal()), x)


def lesson_cases(*, learning_rate: float = 0.01, n_iters: int | None = None) -> list[Case]:
    """The lesson's configurations: its PyTorch program (100 steps) and its NumPy program (20 steps,
    original gradient), and the NumPy program with the corrected gradient (100 steps)."""
    problem = lesson_problem()
    return [
        Case("lesson", "torch autograd", "autograd", problem, learning_rate, n_iters or 100),
        Case("lesson", "numpy original", "lesson", problem, learning_rate, n_iters or 20),
        Case("lesson", "numpy corrected", "manual", problem, learning_rate, n_iters or 100),
    ]


def random_cases(
    *, seed: int = 0, n: int = 50, d: int = 3, learning_rate: float = 0.01, n_iters: int | None = None
) -> list[Case]:
    """Seeded random problems: ``n`` samples with the lesson's model, and ``(n, d)`` with a bias."""
    scalar = random_problem(seed, n)
    matrix = random_problem(seed, n, d)
    steps = n_iters or 100
    return [
        Case(f"random n={n}", "torch autograd", "autograd", scalar, learning_rate, steps),
        Case(f"random n={n}", "numpy corrected", "manual", scalar, learning_rate, steps),
        Case(f"random n={n} d={d}", "torch nn.Linear+SGD", "autograd", matrix, learning_rate, steps),
        Case(f"random n={n} d={d}", "torch nn.Linear+SGD", "manual", matrix, learning_rate, steps),
    ]


def run_all(
    cases: Sequence[Case], dtypes: Sequence[str] = DTYPES, *, fit: Callable[..., jaxlr.FitResult] = jaxlr.fit
) -> list[Row]:
    """Every case in every dtype."""
    return [run_case(case, dtype, fit=fit) for case in cases for dtype in dtypes]


# --------------------------------------------------------------------------- the command


def format_table(rows: Sequence[Row]) -> str:
    """The rows as a fixed-width text table."""
    table = [
        (
            "case",
            "reference",
            "jaxlr gradient",
            "dtype",
            "steps",
            "max abs err",
            "max rel err",
            "max ulps",
            "bound",
            "verdict",
        )
    ]
    for row in rows:
        table.append(
            (
                row.case,
                row.reference,
                row.gradient,
                row.dtype,
                str(row.steps),
                f"{row.max_abs_err:.3g}",
                f"{row.max_rel_err:.3g}",
                f"{row.max_ulps:.3g}",
                row.bound,
                row.verdict,
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]) - 1)]
    out = []
    for i, line in enumerate(table):
        out.append("  ".join(f"{cell:<{w}}" for cell, w in zip(line[:-1], widths, strict=False)) + "  " + line[-1])
        if i == 0:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * len(line[-1]))
    return "\n".join(out)


def write_json(path: str, rows: Sequence[Row]) -> None:
    """Writes the rows as a JSON list of objects, atomically (see ``jaxlr._io``)."""
    _io.write_json(path, [row.as_json() for row in rows])


if __name__ == "__main__":
    from jaxlr._cli_crosscheck import main

    raise SystemExit(main())
