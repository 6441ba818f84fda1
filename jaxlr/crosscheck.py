"""Cross-check: jaxlr against the lesson's PyTorch and NumPy programs (:data:`REFERENCES`), step by step, comparing
parameters, losses, the start's gradient and the final prediction (:func:`compare`). ``python -m jaxlr.crosscheck``
exits 0 when all pass, 1 on a failure, 2 on bad arguments, 3 without PyTorch."""

import functools
import json
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import jaxlr
from jaxlr import _io
from jaxlr._curvature import hessian_eigenvalues
from jaxlr._model import _predict, loss_and_gradient
from jaxlr._validate import check_choice, check_n_iters, check_positive

FLOAT64_RTOL = 1e-12  # float64: the largest relative error (to its scale) a passing case may have
FLOAT32_ULPS_PER_STEP = 4  # float32: the ulps one update may add besides the gradient's sum
EXIT_NO_TORCH = 3  # the command's exit code when PyTorch is not installed
DTYPES = ("float32", "float64")
HELP = "compare jaxlr, step by step, with the lesson's PyTorch and NumPy programs"
TORCH_INSTALL_HINT = (
    "PyTorch is not installed, and it is the reference the cross-check compares against.\n"
    "Install the extra:  pip install 'jaxlr[torch]'\n(on this project's machines:  pip install torch==2.13.0, "
    "the CPU build; a bare 'torch' pulls a multi-GB CUDA build)"
)

Fit = Callable[..., jaxlr.FitResult]  # jaxlr.fit, or a test's stand-in for it


class Problem(NamedTuple):
    """A regression problem and the initial parameters, in float64 (cast to the case's dtype when run)."""

    x: np.ndarray  # (n,) for the lesson's scalar w, or (n, d)
    y: np.ndarray  # (n,)
    w: np.ndarray  # the initial weight: 0-d or (d,)
    b: float | None  # the initial bias, or None for the lesson's model without one
    x_test: np.ndarray  # where the final prediction is compared (the lesson's f(5): [5.0])


class Trace(NamedTuple):
    """What one program computed; all arrays in the case's dtype."""

    params: np.ndarray  # (steps, P): the parameters [w..., b] after each step's update
    loss: np.ndarray  # (steps,): the loss computed at each step, before its update
    gradient: np.ndarray  # (P,): the gradient at the initial parameters
    prediction: np.ndarray  # the final model's prediction on Problem.x_test


class Case(NamedTuple):
    name: str  # what the problem is ("lesson", "random n=50", ...)
    reference: str  # a key of REFERENCES
    gradient: str  # the jaxlr.fit(gradient=...) that computes what the reference computes
    problem: Problem
    learning_rate: float
    n_iters: int


class Errors(NamedTuple):
    max_abs_err: float  # of one compared quantity against the reference
    max_rel_err: float  # to the quantity's scale
    max_ulps: float  # float32 ulps of the scale
    worst_step: int  # 1-based step count of the worst deviation relative to its bound
    within_bound: bool


class Row(NamedTuple):
    case: str  # one line of the table: Case.name
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
        row = {**self._asdict(), "errors": {name: e._asdict() for name, e in self.errors.items()}}
        return json.loads(json.dumps(row), parse_constant=lambda _: None)  # NaN and +-Infinity


class TorchNotInstalledError(ImportError):
    """PyTorch, the reference, cannot be imported."""


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as e:
        raise TorchNotInstalledError(f"{TORCH_INSTALL_HINT}\n(import torch failed: {e})") from None
    return torch


def float32_ulps_per_step(n: int) -> float:
    """The float32 ulps of the scale one step may add for ``n`` samples: 4, and ``sqrt(n) / 2`` for the gradient's sum.

    Examples:
      >>> float32_ulps_per_step(4), float32_ulps_per_step(100)
      (5.0, 9.0)
    """
    return FLOAT32_ULPS_PER_STEP + math.sqrt(n) / 2


def _flat_params(w: Any, b: Any, *lead: int) -> np.ndarray:
    """``[w..., b]`` along the last axis: ``(P,)``, or ``(*lead, P)`` for a history."""
    return np.concatenate([np.reshape(w, (*lead, -1)), *([] if b is None else [np.reshape(b, (*lead, 1))])], axis=-1)


def _trace(steps: list[tuple[Any, Any, Any]], prediction: Any) -> Trace:
    """The :class:`Trace` of each step's ``(params, loss, gradient)`` (NumPy or torch values) and a prediction."""
    params, loss, gradient = (np.stack([np.asarray(v) for v in values]) for values in zip(*steps, strict=True))
    return Trace(params.reshape(len(steps), -1), loss, gradient[0].reshape(-1), np.asarray(prediction).reshape(-1))


def _checked_dtype(fn: str, learning_rate: float, n_iters: int, dtype: str) -> str:
    """Checks a program's settings; returns ``dtype``."""
    check_positive(fn, "learning_rate", learning_rate)
    check_n_iters(fn, n_iters)
    return check_choice(fn, "dtype", dtype, DTYPES)


def torch_autograd_program(problem: Problem, *, learning_rate: float, n_iters: int, dtype: str = "float32") -> Trace:
    """The lesson's PyTorch program: ``f = w * x``, autograd, ``w -= lr * w.grad`` under ``no_grad``.

    Examples:
      >>> trace = torch_autograd_program(lesson_problem(), learning_rate=0.01, n_iters=100)
      >>> print(f"{trace.params[0, 0]:.3f} {trace.loss[0]:.8f} {trace.prediction[0]:.3f}")
      0.300 30.00000000 10.000
    """
    torch = _import_torch()
    torch_dtype = getattr(torch, _checked_dtype("torch_autograd_program", learning_rate, n_iters, dtype))
    X, Y, X_test = (torch.tensor(a, dtype=torch_dtype) for a in (problem.x, problem.y, problem.x_test))
    w = torch.tensor(float(problem.w), dtype=torch_dtype, requires_grad=True)
    steps = []  # (w, loss, gradient) at each step
    for _epoch in range(n_iters):
        y_pred = w * X  # predict = forward pass
        l = ((y_pred - Y) ** 2).mean()  # noqa: E741 (the lesson's name); loss = MSE
        l.backward()  # calculate gradients = backward pass
        dw = w.grad.clone()
        with torch.no_grad():  # update weights
            w -= learning_rate * w.grad
        w.grad.zero_()  # zero the gradients after updating
        steps.append((w.detach().clone(), l.detach(), dw))
    return _trace(steps, (w * X_test).detach())


def numpy_program(
    problem: Problem, *, learning_rate: float, n_iters: int, dtype: str = "float32", gradient: str = "original"
) -> Trace:
    """The lesson's NumPy program: ``f = w * x`` with a hand-written gradient, ``"original"`` (the lesson's
    ``np.dot(2*x, y_pred - y).mean()``, N times the true one) or ``"corrected"`` (``np.mean(2*x*(y_pred - y))``).

    Examples:
      >>> trace = numpy_program(lesson_problem(), learning_rate=0.01, n_iters=20)
      >>> print(f"{trace.params[0, 0]:.3f} {trace.params[2, 0]:.3f} {trace.loss[2]:.8f}")
      1.200 1.872 0.76800019
    """
    float_type = np.dtype(_checked_dtype("numpy_program", learning_rate, n_iters, dtype)).type
    original = check_choice("numpy_program", "gradient", gradient, ("original", "corrected")) == "original"
    X, Y = np.asarray(problem.x, dtype=float_type), np.asarray(problem.y, dtype=float_type)
    w = float_type(problem.w)  # the lesson's w = 0.0 becomes this type at its first update (NumPy 2)
    steps = []  # (w, loss, gradient) at each step
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported by the comparison
        for _epoch in range(n_iters):
            y_pred = w * X  # predict = forward pass
            l = ((y_pred - Y) ** 2).mean()  # noqa: E741 (the lesson's name); loss = MSE
            dw = np.dot(2 * X, y_pred - Y).mean() if original else np.mean(2 * X * (y_pred - Y))
            w -= learning_rate * dw  # update weights
            steps.append((w, l, dw))
        return _trace(steps, w * np.asarray(problem.x_test, dtype=float_type))


def torch_linear_program(problem: Problem, *, learning_rate: float, n_iters: int, dtype: str = "float32") -> Trace:
    """The lesson series' next step: ``nn.Linear(d, 1)``, ``nn.MSELoss``, ``torch.optim.SGD``, from the problem's start.

    Examples:
      >>> trace = torch_linear_program(random_problem(0, n=20, d=3), learning_rate=0.05, n_iters=5)
      >>> trace.params.shape, trace.loss.shape, trace.gradient.shape
      ((5, 4), (5,), (4,))
    """
    torch = _import_torch()
    torch_dtype = getattr(torch, _checked_dtype("torch_linear_program", learning_rate, n_iters, dtype))
    X, Y, X_test = (torch.tensor(a, dtype=torch_dtype) for a in (problem.x, problem.y, problem.x_test))
    model = torch.nn.Linear(X.shape[1], 1, dtype=torch_dtype)
    start = torch.tensor(_flat_params(problem.w, problem.b), dtype=torch_dtype)
    torch.nn.utils.vector_to_parameters(start, model.parameters())
    loss_fn, optimizer = torch.nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=learning_rate)
    steps = []  # ([weight..., bias], loss, gradient) at each step
    for _epoch in range(n_iters):
        l = loss_fn(model(X), Y.reshape(-1, 1))  # noqa: E741 (the lesson's name)
        l.backward()
        dw = torch.nn.utils.parameters_to_vector(p.grad for p in model.parameters())
        optimizer.step()
        optimizer.zero_grad()
        steps.append((torch.nn.utils.parameters_to_vector(model.parameters()).detach(), l.detach(), dw))
    return _trace(steps, model(X_test).detach())


REFERENCES: dict[str, Callable[..., Trace]] = {  # reference(problem, *, learning_rate, n_iters, dtype) -> Trace
    "torch autograd": torch_autograd_program,
    "numpy original": functools.partial(numpy_program, gradient="original"),
    "numpy corrected": functools.partial(numpy_program, gradient="corrected"),
    "torch nn.Linear+SGD": torch_linear_program,
}


def jaxlr_program(
    problem: Problem, *, gradient: str, learning_rate: float, n_iters: int, dtype: str = "float32", fit: Fit = jaxlr.fit
) -> Trace:
    """jaxlr on a :class:`Problem`: one ``fit`` call (or a test's stand-in), the start's gradient, the prediction."""
    _checked_dtype("jaxlr_program", learning_rate, n_iters, dtype)
    if dtype == "float64" and jax.dtypes.canonicalize_dtype(np.float64) != np.float64:
        raise ValueError(
            "jaxlr_program: dtype 'float64' needs JAX's 64-bit mode, which is off, so JAX would compute in "
            'float32; call jax.config.update("jax_enable_x64", True) before creating any array'
        )
    x, y, x_test, w = (jnp.asarray(a, dtype) for a in (problem.x, problem.y, problem.x_test, problem.w))
    params = jaxlr.Params(w, None if problem.b is None else jnp.asarray(problem.b, dtype))
    with warnings.catch_warnings(action="ignore", category=jaxlr.DivergenceWarning):  # reported in the row
        result = fit(params, x, y, learning_rate=learning_rate, n_iters=n_iters, gradient=gradient)
    start = loss_and_gradient(gradient, params, x, y)[1]  # what jaxlr.autograd_gradient etc. compute
    prediction = _predict(result.params, x_test)  # unchecked: a diverged run's NaN is part of what is compared
    history, loss, start, prediction = jax.device_get((result.history.params, result.history.loss, start, prediction))
    params_trace = _flat_params(history.w, history.b, np.shape(history.w)[0])
    return Trace(*(np.atleast_1d(np.asarray(a, dtype)) for a in (params_trace, loss, _flat_params(*start), prediction)))


def stable_learning_rate_limit(x: Any, *, bias: bool, gradient: str = "autograd") -> float:
    """The largest learning rate for which gradient descent on the MSE converges: ``2 / lambda_max(H)``, with
    ``H = 2/n A^T A`` (``A``: ``x`` and a column of ones for a bias); ``n`` times smaller for the lesson's gradient.

    Examples:
      >>> print(f"{stable_learning_rate_limit([1.0, 2.0, 3.0, 4.0], bias=False):.4f}")
      0.1333
    """
    limit = 1.0 / float(hessian_eigenvalues(x, bias=bias)[-1])  # eigenvalues of H / 2, exact in float64
    return limit / np.shape(x)[0] if gradient == "lesson" else limit


@np.errstate(over="ignore", invalid="ignore")  # a diverged trace is reported, not warned about
def _scales(case: Case, dtype: np.dtype, reference: Trace) -> dict[str, tuple[Any, Any]]:
    """Each quantity's scale and the steps its rounding carries (the README's cross-check section defines them)."""
    p = case.problem
    a, a_test = (  # [x 1] (with a bias) as each side actually used it
        _flat_params(v, None if p.b is None else np.ones(len(v)), len(v)).astype(dtype).astype(np.float64)
        for v in (p.x, p.x_test)
    )
    y = p.y.astype(dtype).astype(np.float64)
    c = 2.0 if case.gradient == "lesson" else 2.0 / a.shape[0]
    initial = _flat_params(p.w, p.b).astype(dtype).astype(np.float64)
    after = reference.params.astype(np.float64)
    before = np.concatenate([initial[None], after[:-1]])  # the parameters at step k
    row_norm = np.abs(a).sum(1)  # |a_i|_1
    magnitude = np.maximum.accumulate(np.abs(before).max(1))
    residual = np.abs(before @ a.T - y) + np.finfo(dtype).eps * row_norm * magnitude[:, None]  # (steps, n)
    gradient_scale = c * residual @ np.abs(a)  # (steps, P)
    step_scale = np.maximum(np.abs(before), np.abs(after)).max(1) + case.learning_rate * gradient_scale.max(1)
    params_scale = np.maximum.accumulate(np.maximum(step_scale, np.abs(initial).max()))
    params_scale_before = np.concatenate([[np.abs(initial).max()], params_scale[:-1]])
    loss_scale = np.mean(residual**2, axis=1) + 2 * np.mean(residual * row_norm, axis=1) * params_scale_before
    steps = np.arange(1, len(after) + 1)
    return {
        "params": (params_scale[:, None], steps[:, None]),
        "loss": (loss_scale, steps),
        "gradient": (gradient_scale[0].max(), 1),
        "prediction": (np.abs(a_test).sum(1) * params_scale[-1], case.n_iters + 1),
    }


def _errors(ours: np.ndarray, ref: np.ndarray, scale: Any, steps: Any, dtype: np.dtype, ulps_per_step: float) -> Errors:
    ours, ref = ours.astype(np.float64), ref.astype(np.float64)
    scale, steps = np.broadcast_to(scale, ref.shape), np.broadcast_to(steps, ref.shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        abs_err = np.where(ours == ref, 0.0, np.nan_to_num(abs(ours - ref), nan=np.inf, posinf=np.inf))  # inf == inf
        rel = np.where(abs_err == 0, 0.0, abs_err / scale)
        spacing = np.spacing(np.float32(np.minimum(scale, np.finfo(np.float32).max))).astype(np.float64)
        ulps = np.where(abs_err == 0, 0.0, abs_err / spacing)
        ratio = rel / FLOAT64_RTOL if dtype == np.float64 else ulps / (ulps_per_step * steps)
    rel, ulps, ratio = (np.where(np.isnan(v), np.inf, v) for v in (rel, ulps, ratio))
    worst = int(steps.flat[np.argmax(ratio)]) if ratio.size else 0
    abs_max, rel_max, ulps_max = (v.max(initial=0.0) for v in (abs_err, rel, ulps))
    return Errors(abs_max, rel_max, ulps_max, worst, bool(np.all(ratio <= 1)))


def compare(case: Case, dtype: str, ours: Trace, reference: Trace) -> Row:
    """The table row of two traces of ``case``: ``|ours - reference|`` relative to its scale (``_scales``) and in its
    float32 ulps; passing: ``rel <= FLOAT64_RTOL``, or ``k * float32_ulps_per_step(n)`` ulps after ``k`` steps."""
    np_dtype = np.dtype(dtype)
    ulps_per_step = float32_ulps_per_step(np.shape(case.problem.x)[0])
    bound = f"rel <= {FLOAT64_RTOL:g}" if np_dtype == np.float64 else f"<= {ulps_per_step:.3g} ulps/step"
    head = (case.name, case.reference, case.gradient, dtype, case.n_iters)
    pairs = list(zip(Trace._fields, ours, reference, strict=True))
    shapes = [(name, np.shape(a), np.shape(b)) for name, a, b in pairs]
    mismatched = [f"{k} has shape {s} on the jaxlr side, {r} on the reference side" for k, s, r in shapes if s != r]
    if mismatched:
        return Row(*head, math.inf, math.inf, math.inf, bound, False, "FAIL: " + "; ".join(mismatched), {})
    scales = _scales(case, np_dtype, reference)
    errors = {name: _errors(a, b, *scales[name], np_dtype, ulps_per_step) for name, a, b in pairs}
    diverged = [s for s, t in (("jaxlr", ours), ("reference", reference)) if not all(np.isfinite(a).all() for a in t)]
    measure = "rel {0.max_rel_err:.3g}" if np_dtype == np.float64 else "{0.max_ulps:.3g} ulps"
    failures = [f"{k} at step {e.worst_step}: " + measure.format(e) for k, e in errors.items() if not e.within_bound]
    if diverged:
        limit = stable_learning_rate_limit(case.problem.x, bias=case.problem.b is not None, gradient=case.gradient)
        failures = [f"{' and '.join(diverged)} diverged (lr {case.learning_rate:g}; stable below {limit:.4g})"]
    verdict = "FAIL: " + "; ".join(failures) if failures else "ok"
    abs_err, rel_err, ulps = (max(e[i] for e in errors.values()) for i in range(3))
    return Row(*head, float(abs_err), float(rel_err), float(ulps), bound, not failures, verdict, errors)


def run_case(case: Case, dtype: str = "float32", *, fit: Fit = jaxlr.fit) -> Row:
    """Runs ``case`` on both sides in ``dtype`` (float64 needs ``jax_enable_x64``) and compares them; ``fit`` is as
    in :func:`jaxlr_program`. Raises :class:`TorchNotInstalledError` without PyTorch.

    Examples:
      >>> row = run_case(lesson_cases()[1], "float32")  # the NumPy program, 20 steps
      >>> row.passed, row.max_ulps <= 4
      (True, True)
    """
    check_choice("run_case", "reference", case.reference, REFERENCES)
    settings = {"learning_rate": case.learning_rate, "n_iters": case.n_iters, "dtype": dtype}
    ours = jaxlr_program(case.problem, gradient=case.gradient, fit=fit, **settings)
    return compare(case, dtype, ours, REFERENCES[case.reference](case.problem, **settings))


def lesson_problem() -> Problem:
    """The lesson's data (``X = [1, 2, 3, 4]``, ``Y = 2X``), ``w = 0``, and ``f(5)``."""
    x = np.array([1.0, 2.0, 3.0, 4.0])
    return Problem(x, 2 * x, np.asarray(0.0), None, np.array([5.0]))


def random_problem(seed: int, n: int, d: int | None = None) -> Problem:
    """A seeded ``y = X w_true + b_true + noise``, random start: ``(n, d)`` with a bias, or ``(n,)`` for ``d=None``."""
    rng = np.random.default_rng(seed)
    shape = () if d is None else (d,)
    x = rng.normal(size=(n, *shape))
    w_true, b_true = rng.normal(size=shape), 0.0 if d is None else rng.normal()
    y = np.dot(x, w_true) + b_true + 0.1 * rng.normal(size=n)
    return Problem(x, y, rng.normal(size=shape), None if d is None else float(rng.normal()), x)


def lesson_cases(*, learning_rate: float = 0.01, n_iters: int | None = None) -> list[Case]:
    """The lesson's PyTorch program (100 steps), its NumPy program (20 steps), and the corrected one (100)."""
    cases = (("torch autograd", "autograd", 100), ("numpy original", "lesson", 20), ("numpy corrected", "manual", 100))
    return [Case("lesson", r, g, lesson_problem(), learning_rate, n_iters or steps) for r, g, steps in cases]


def random_cases(
    *, seed: int = 0, n: int = 50, d: int = 3, learning_rate: float = 0.01, n_iters: int | None = None
) -> list[Case]:
    """Seeded random problems: ``n`` samples with the lesson's model, and ``(n, d)`` with a bias."""
    scalar, matrix = (f"random n={n}", random_problem(seed, n)), (f"random n={n} d={d}", random_problem(seed, n, d))
    programs = [(*scalar, "torch autograd", "autograd"), (*scalar, "numpy corrected", "manual")]
    programs += [(*matrix, "torch nn.Linear+SGD", gradient) for gradient in ("autograd", "manual")]
    return [Case(name, r, g, p, learning_rate, n_iters or 100) for name, p, r, g in programs]


def run_all(cases: Sequence[Case], dtypes: Sequence[str] = DTYPES, *, fit: Fit = jaxlr.fit) -> list[Row]:
    """Every case in every dtype."""
    return [run_case(case, dtype, fit=fit) for case in cases for dtype in dtypes]


def format_table(rows: Sequence[Row]) -> str:
    """The rows as a fixed-width text table."""
    columns = "case|reference|jaxlr gradient|dtype|steps|max abs err|max rel err|max ulps|bound|verdict"
    table = [columns.split("|")]
    table += [[*r[:4], str(r.steps), *(f"{v:.3g}" for v in r[5:8]), r.bound, r.verdict] for r in rows]
    widths = [max(map(len, column)) for column in zip(*table, strict=True)]
    widths[-1] = len("verdict")  # the verdicts are not padded
    lines = ["  ".join(f"{cell:<{w}}" for cell, w in zip(line, widths, strict=True)).rstrip() for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(path: str, rows: Sequence[Row]) -> None:
    """Writes the rows as a JSON list of objects, atomically (see ``jaxlr._io``)."""
    _io.write_json(path, [row.as_json() for row in rows])


if __name__ == "__main__":
    from jaxlr._cli_lesson import crosscheck_main as main

    raise SystemExit(main())
