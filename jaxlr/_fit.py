"""Training: the lesson's loop as one traceable function, :func:`fit_core`, and :func:`fit`, its eager shell.

One step is a pure function that ``lax.scan`` runs ``n_iters`` times in one compiled program
(``lax.while_loop`` when ``tol`` may stop it early). As in optimistix, static checks raise while
``jax.jit`` traces the core, failures come back as arrays in the :class:`FitResult`, and only the eager
shell raises and warns. Every variant (``method``, ``tol``, progress, sample weights, which also mask the
rows padded for ``devices=``, ``l2``) is an argument of the core; :func:`jaxlr.sweep` is ``jax.vmap`` of it.
"""

import contextlib
import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, cast

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.core import Tracer
from jax.flatten_util import ravel_pytree
from jax.sharding import Mesh
from jax.typing import ArrayLike

from jaxlr import _curvature, _validate
from jaxlr._model import GRADIENTS, PRECISION, _predict, loss_and_gradient
from jaxlr._progress import MIN_STEPS as MIN_PROGRESS_STEPS
from jaxlr._progress import progress_bar, report, report_every, scan_with_progress
from jaxlr._rows import on_rows_of, restore_axes
from jaxlr._types import FitResult, History, Params

OPTIMIZERS = ("sgd", "momentum", "adam", "heavy-ball")
HISTORY_MODES = ("full", "loss", "none")
METHODS = ("auto", "plain", "gram")
INPUT_NAMES = ("x", "y", "params.w", "params.b", "sample_weight")
BLOWUP_FACTOR = 1e10  # a loss this many times above max(initial loss, mean(y**2)) counts as diverged

# method="auto" picks "gram" for data of at least this many bytes, this many steps, at most this many features.
AUTO_MIN_BYTES = 1 << 20
AUTO_MIN_ITERS = 8
AUTO_MAX_FEATURES = 4096


class Options(NamedTuple):
    """The static options of one fit: hashable, so ``jax.jit`` compiles once per combination."""

    n_iters: int
    optimizer: str | optax.GradientTransformation = "sgd"
    gradient: str = "autograd"
    history: str = "full"
    method: str = "auto"
    rule: Any = None  # None (learning_rate is the rate), "auto" (1/L) or an optax schedule
    progress_every: int = 0
    caller: str = "fit"


def choose_method(method: str, x_shape: tuple[int, ...], itemsize: int, n_iters: int) -> str:
    """``method``, or for ``"auto"`` (from shapes only) ``"gram"`` when ``x`` takes at least 1 MiB, ``n ≥ 4 (d + 1)``,
    ``d ≤ 4096`` and ``n_iters ≥ max(8, (d + 1) / 8)`` (the statistics cost ``d / 10`` to ``d / 20`` plain steps)."""
    if method != "auto":
        return method
    n, d = x_shape[0], 1 if len(x_shape) == 1 else x_shape[1]
    big = n * d * itemsize >= AUTO_MIN_BYTES
    worth = n_iters >= max(AUTO_MIN_ITERS, (d + 1) / 8)
    return "gram" if big and n >= 4 * (d + 1) and d <= AUTO_MAX_FEATURES and worth else "plain"


def gram_loss_and_grad(
    gradient: str, params: Params, x: jax.Array, y: jax.Array, weights: jax.Array | None, l2: Any
) -> Callable[[Params], tuple[jax.Array, Params]]:
    """The gram step: the loss and gradient from sufficient statistics, ``O(d²)`` per step.

    Before the loop, ``A = [X 1]ᵀS[X 1]`` and ``[X 1]ᵀSy`` (``S`` the sample weights), and the residual at
    their least-squares solution ``z0`` (with a ridge of a few epsilons, for rank-deficient data). The loss
    is written around ``z0``, ``SSE(z) = SSE(z0) + 2 δᵀ g0 + δᵀ A δ`` with ``δ = z - z0``, ``g0 = [X 1]ᵀ S r0``,
    so that it keeps its relative accuracy in float32 near the optimum, where ``wᵀAw - 2wᵀc + yᵀy`` cancels.
    """
    columns = x[:, None] if x.ndim == 1 else x
    weighted = columns if weights is None else columns * weights[:, None]
    total = y.shape[0] if weights is None else jnp.sum(weights)
    a = jnp.matmul(columns.T, weighted, precision=PRECISION, out_sharding=jax.typeof(x).sharding.update(spec=()))
    c_sx = jnp.matmul(
        jnp.stack([y, jnp.ones_like(y)]), weighted, precision=PRECISION, out_sharding=jax.typeof(a).sharding
    )  # [Xᵀ S y, Xᵀ S 1]
    c = c_sx[0]
    if params.b is not None:
        a = jnp.block([[a, c_sx[1][:, None]], [c_sx[1][None, :], jnp.full((1, 1), total, a.dtype)]])
        c = jnp.concatenate([c, jnp.sum(y if weights is None else weights * y)[None]])
    k = a.shape[0]
    ridge = k * jnp.finfo(a.dtype).eps * jnp.maximum(jnp.trace(a) / k, jnp.finfo(a.dtype).tiny)
    z0 = jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(a + ridge * jnp.eye(k, dtype=a.dtype)), c)
    z0 = jnp.where(jnp.all(jnp.isfinite(z0)), z0, jnp.zeros((k,), a.dtype)).astype(x.dtype)
    unravel = ravel_pytree(params)[1]  # [w..., b] back to Params
    r0 = _predict(unravel(z0), x) - y
    r0w = r0 if weights is None else weights * r0
    sse0 = jnp.sum(r0 * r0w)
    g0 = jnp.sum(columns * r0w[:, None], axis=0)
    if params.b is not None:
        g0 = jnp.concatenate([g0, jnp.sum(r0w)[None]])

    def sse(params: Params) -> jax.Array:
        delta = ravel_pytree(params)[0] - z0
        quadratic = jnp.dot(delta, 2 * g0 + jnp.matmul(a, delta, precision=PRECISION), precision=PRECISION)
        return jnp.maximum(sse0 + quadratic, 0)  # it can dip a rounding error below zero at an exact fit

    def loss(params: Params) -> jax.Array:
        return sse(params) / total + (0.0 if l2 is None else jnp.sum(l2 * jnp.square(params.w)))

    def loss_and_grad(params: Params) -> tuple[jax.Array, Params]:  # "manual" is the same formula, 2(g0 + Aδ)
        value, grads = jax.value_and_grad(loss)(params)
        return value, jax.tree.map(lambda g: g * total, grads) if gradient == "lesson" else grads  # the SSE's

    return loss_and_grad


def _learning_rate(
    learning_rate: Any, options: Options, x: jax.Array, bias: bool, weights: Any, l2: Any
) -> tuple[optax.GradientTransformation, jax.Array | None]:
    """``(the optimizer, the learning rate it uses as an array or None)``, traceable."""
    optimizer, rule = options.optimizer, options.rule
    if not isinstance(optimizer, str):
        return optimizer, None  # a transformation carries its own
    total = x.shape[0] if weights is None else jnp.sum(weights)
    scale = total if options.gradient == "lesson" else 1  # the lesson's gradient is N times too large, so is its L
    momentum = _curvature.MOMENTUM if optimizer == "momentum" else None
    rate = learning_rate
    if optimizer == "heavy-ball":
        top, bottom = _curvature.curvature_bounds(x, bias=bias, weights=weights, l2=l2)
        auto_rate, momentum = _curvature.heavy_ball_constants(top * scale, bottom * scale)
        rate = auto_rate if rule == "auto" else rate
    elif rule == "auto":
        rate = 1 / (_curvature.lipschitz(x, bias=bias, weights=weights, l2=l2) * scale)
    reported = None
    if not callable(rule):
        rate = reported = jnp.asarray(rate, x.dtype)
        # 1/L = inf (L = 0: nothing to fit) or 0 (L overflowed): the run is flagged at step 0
        rate = jnp.where(jnp.isfinite(rate) & (rate > 0), rate, jnp.nan)
    step_size: Any = rule if callable(rule) else rate  # a number, an array or an optax schedule
    return optax.adam(step_size) if optimizer == "adam" else optax.sgd(step_size, momentum=momentum), reported


def fit_core(
    params: Params,
    x: jax.Array,
    y: jax.Array,
    learning_rate: Any,
    tol: Any,
    l2: Any,
    sample_weight: Any,
    options: Options,
) -> FitResult:
    """The one traceable fit: ``jax.jit``, ``vmap`` and ``grad`` (without ``tol``) apply as to any function.

    ``learning_rate`` is an array (unused for ``options.rule`` ``"auto"`` or a schedule); ``tol``, ``l2`` and
    ``sample_weight`` are arrays or ``None``; ``options`` is static. Checks raise while tracing; NaN/inf inputs and
    divergence are flags (bad inputs flag step 0). A zero sample weight drops a row (``devices=`` pads with those).
    """
    fn, n_iters = options.caller, options.n_iters
    check_names(options)
    params, x, y = _validate.check_data(fn, params, x, y)
    weights = _validate.check_sample_weight(fn, sample_weight, y.shape[0], x.dtype)
    l2 = None if l2 is None else jnp.asarray(l2, x.dtype)
    if l2 is not None and l2.ndim != 0 and l2.shape != jnp.shape(params.w):
        raise ValueError(
            f"{fn}: l2 must be a scalar or one penalty per weight, shape {jnp.shape(params.w)}; got shape {l2.shape}"
        )
    _validate.check_history_size(
        fn, n_iters, options.history, int(np.size(params.w)) + (params.b is not None), x.dtype.itemsize
    )
    finite = _validate.all_finite(x, y, params.w, params.b, weights)
    if weights is not None:
        finite = finite.at[4].set(finite[4] & jnp.all(weights >= 0) & (jnp.sum(weights) > 0))
    if choose_method(options.method, x.shape, x.dtype.itemsize, n_iters) == "gram":
        loss_and_grad = gram_loss_and_grad(options.gradient, params, x, y, weights, l2)
    else:
        loss_and_grad = functools.partial(loss_and_gradient, options.gradient, x=x, y=y, weights=weights, l2=l2)
    tx, reported = _learning_rate(learning_rate, options, x, params.b is not None, weights, l2)
    total = y.shape[0] if weights is None else jnp.sum(weights)
    scale = jnp.sum(y * y if weights is None else weights * y * y) / total

    def step(carry, i):
        params, opt_state, reference, diverged_at = carry
        loss, grads = loss_and_grad(params)
        # a Params NamedTuple is a pytree, as optax wants; its b may be None, which optax's alias omits
        updates, opt_state = tx.update(grads, opt_state, params)  # pyright: ignore[reportArgumentType]
        new = cast(Params, optax.apply_updates(params, updates))
        reference = jnp.where(i == 0, jnp.maximum(loss, reference), reference)
        bad = ~jnp.isfinite(loss) | (loss > BLOWUP_FACTOR * reference)
        for leaf in jax.tree.leaves(new):
            bad = bad | ~jnp.all(jnp.isfinite(leaf))
        diverged_at = jnp.where((diverged_at < 0) & bad, i, diverged_at)
        record = History(new if options.history == "full" else None, None if options.history == "none" else loss)
        return (new, opt_state, reference, diverged_at), (record, grads, loss)

    # NaN/inf inputs flag step 0 from the start (the tol loop then takes no step)
    diverged_at = jnp.where(jnp.all(finite), -1, 0).astype(jnp.int32)
    init = (params, tx.init(params), scale, diverged_at)  # pyright: ignore[reportArgumentType]
    if tol is None:
        (final, _, _, diverged_at), records, n_steps = _scan(step, init, n_iters, options.progress_every)
        converged = None
    else:
        final, records, diverged_at, n_steps, converged = _while(step, init, n_iters, tol, options.progress_every)
    chex.assert_trees_all_equal_shapes(final, params)
    return FitResult(final, records, diverged_at, finite, reported, n_steps, converged)


def _scan(step: Callable, init: Any, n_iters: int, every: int) -> tuple[Any, Any, jax.Array]:
    """``(carry, records, steps taken)`` of ``lax.scan`` over ``n_iters`` steps; with ``every``, in chunks that
    feed the progress bar (a callback between chunks leaves the step itself as it is)."""

    def recorded(carry, i):
        carry, (record, _, loss) = step(carry, i)
        return carry, (record, loss)

    if every:
        carry, records = scan_with_progress(recorded, init, n_iters, every=every)
        return carry, records, jnp.array(n_iters, jnp.int32)

    def counted(carry, _):  # the step index carried, not read from an array of indices
        inner, i = carry
        inner, (record, _) = recorded(inner, i)
        return (inner, i + 1), record

    (carry, n_steps), records = jax.lax.scan(counted, (init, jnp.array(0, jnp.int32)), None, length=n_iters)
    return carry, records, n_steps


def _while(step: Callable, init: Any, n_iters: int, tol: Any, every: int) -> tuple[Any, ...]:
    """The loop with a stopping test: ``|g| ≤ tol · |g₀|``, checked before each update, capped at ``n_iters``."""
    _, (record_shape, _, _) = jax.eval_shape(step, init, jnp.array(0, jnp.int32))
    buffers = jax.tree.map(lambda s: jnp.zeros((n_iters, *s.shape), s.dtype), record_shape)

    def cond(state):
        i, carry, _, done, _ = state
        return (i < n_iters) & ~done & (carry[3] < 0)

    def body(state):
        i, carry, g0, done, buffers = state
        new_carry, (record, grads, loss) = step(carry, i)
        norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(grads)))
        g0 = jnp.where(i == 0, norm, g0)
        done = norm <= tol * g0
        keep = lambda old, new: jnp.where(done, old, new)  # noqa: E731  (a converged run is not updated)
        new_carry = jax.tree.map(keep, carry, new_carry)
        if record.params is not None:
            record = record._replace(params=jax.tree.map(keep, carry[0], record.params))
        buffers = jax.tree.map(lambda buf, value: buf.at[i].set(value), buffers, record)
        if every:
            jax.lax.cond((i + 1) % every == 0, lambda: report(i, loss), lambda: None)
        return i + 1, new_carry, g0, done, buffers

    zero = jnp.zeros((), jnp.result_type(*jax.tree.leaves(init[0])))
    i, carry, _, done, buffers = jax.lax.while_loop(
        cond, body, (jnp.array(0, jnp.int32), init, zero, jnp.array(False), buffers)
    )
    last, keep = jnp.maximum(i - 1, 0), jnp.arange(n_iters) < i
    records = jax.tree.map(lambda buf: jnp.where(keep.reshape(-1, *([1] * (buf.ndim - 1))), buf, buf[last]), buffers)
    return carry[0], records, carry[3], i - done.astype(jnp.int32), done


_fit_jit = jax.jit(fit_core, static_argnums=7)


def check_options(
    fn: str, n_iters: Any, optimizer: Any, gradient: Any, history: Any, method: Any, learning_rate: Any, progress=False
) -> tuple[Options, Any]:
    """``(the static options, the learning rate value or None)``, checked without reading an array. The option
    names are checked by :func:`check_names` when ``jax.jit`` traces the core, so a repeated call skips them."""
    if not (type(n_iters) is int and 1 <= n_iters <= _validate.MAX_ITERS):
        n_iters = _validate.check_n_iters(fn, n_iters)
    if not (type(gradient) is str and type(history) is str and type(method) is str):  # hashable, as jit needs
        check_names(Options(n_iters, "sgd", gradient, history, method, caller=fn))
    if optimizer is None:
        optimizer = "sgd"
    elif not isinstance(optimizer, (str, optax.GradientTransformation)):
        raise TypeError(
            f"{fn}: optimizer must be None, one of {', '.join(map(repr, OPTIMIZERS))} "
            f"or an optax.GradientTransformation; got {type(optimizer).__name__}"
        )
    rate, rule = None, None  # rule: None, "auto" or a schedule (static)
    if not isinstance(optimizer, str):
        if learning_rate is not None:
            raise ValueError(
                f"{fn}: learning_rate={learning_rate!r} would not be used: optimizer is an "
                "optax.GradientTransformation, which carries its own learning rate; leave learning_rate unset"
            )
    elif learning_rate is None:  # the lesson's 0.01; heavy-ball's own step
        rate, rule = (None, "auto") if optimizer == "heavy-ball" else (0.01, None)
    elif isinstance(learning_rate, str):
        if learning_rate != "auto":
            raise TypeError(
                f"{fn}: learning_rate must be a positive real number, 'auto' or an optax schedule, "
                f"got str {learning_rate!r}"
            )
        rule = "auto"
    elif callable(learning_rate):
        rule = learning_rate
    else:
        rate = _validate.check_positive(fn, "learning_rate", learning_rate)
    every = report_every(n_iters) if progress and n_iters >= MIN_PROGRESS_STEPS else 0
    return Options(n_iters, optimizer, gradient, history, method, rule, every, fn), rate


def check_names(options: Options) -> None:
    """Raises for an unknown optimizer (a string), gradient, history or method name."""
    choices = {"optimizer": OPTIMIZERS, "gradient": GRADIENTS, "history": HISTORY_MODES, "method": METHODS}
    for name, allowed in choices.items():
        if name != "optimizer" or isinstance(options.optimizer, str):
            _validate.check_choice(options.caller, name, getattr(options, name), allowed)


def eager_report(fn: str, result: Any, options: Options) -> bool:
    """Raises for NaN/inf inputs and an unusable ``"auto"`` rate; ``False`` when the flags are traced."""
    if _validate.is_traced(result.inputs_finite, result.learning_rate):
        return False  # under a transformation: the flags are the answer
    finite = np.asarray(result.inputs_finite)
    if not finite.all():
        if not finite[..., 4].all():
            raise ValueError(f"{fn}: sample_weight must be finite and non-negative, with a positive sum")
        _validate.raise_if_not_finite(fn, INPUT_NAMES[:4], finite[..., :4])
    rate = None if options.rule != "auto" or result.learning_rate is None else np.asarray(result.learning_rate)
    if rate is not None and np.any(np.isinf(rate)):
        raise ValueError(
            f"{fn}: learning_rate='auto' needs the loss to curve, but L = 0: x is all zeros and there is "
            "no bias; give learning_rate explicitly"
        )
    if rate is not None and np.any(~(rate > 0)):
        raise ValueError(
            f"{fn}: learning_rate='auto' cannot be computed: the data's squares overflow {rate.dtype} "
            "(L is not finite); standardize the features or compute in float64"
        )
    return True


def finish(fn: str, result: FitResult, options: Options, x: Any, params: Params, l2: Any, weights: Any) -> FitResult:
    """The eager shell's last word: raise for bad inputs, warn on divergence; a traced result passes. Every
    failure flags step 0, so a fit that did not diverge costs one host read of ``diverged_at``."""
    at = result.diverged_at
    if isinstance(at, Tracer) or np.asarray(at).item() < 0 or not eager_report(fn, result, options):
        return result
    # a stand-in y of the fit's own dtype, so that L is computed at the precision the fit ran in
    checked, x, _ = _validate.check_data(fn, params, x, jnp.zeros(jnp.shape(x)[:1], jnp.asarray(result.params.w).dtype))
    weights = None if weights is None else jnp.asarray(weights, x.dtype)
    lipschitz_value = float(_curvature.lipschitz(x, bias=checked.b is not None, weights=weights, l2=l2))
    if options.gradient == "lesson":
        lipschitz_value *= float(jnp.shape(x)[0] if weights is None else jnp.sum(weights))
    rate = None if result.learning_rate is None else float(result.learning_rate)
    message = _curvature.divergence_message(fn, int(at), rate, lipschitz_value, options.optimizer)
    warnings.warn(message, _curvature.DivergenceWarning, stacklevel=3)
    return result


_NOTHING = contextlib.nullcontext()  # reusable


def fit(
    params: Params,
    x: ArrayLike,
    y: ArrayLike,
    *,
    learning_rate: float | str | Callable | None = None,
    n_iters: int = 100,
    optimizer: str | optax.GradientTransformation | None = None,
    gradient: str = "autograd",
    history: str = "full",
    progress: bool = False,
    devices: int | Sequence[Any] | None = None,
    mesh: Mesh | None = None,
    method: str = "auto",
    tol: float | None = None,
    sample_weight: ArrayLike | None = None,
    l2: ArrayLike | None = None,
) -> FitResult:
    """Fits the linear model to ``(x, y)`` by gradient descent on the MSE, all steps in one compiled program.

    ``jax.jit``, ``jax.vmap`` and ``jax.grad`` apply (``grad`` without ``tol``). The defaults are the lesson's,
    so ``fit(Params(w=0.0), x, y)`` is the PyTorch lesson's loop step for step; on other data standardize the
    features and pass ``learning_rate="auto"`` with ``n_iters`` of several times the condition number, or ``tol``.

    Args:
      params: initial :class:`Params`; ``Params(w=0.0)`` is the lesson's model.
      x: inputs, ``(n,)`` for a scalar ``w`` or ``(n, d)`` for ``w`` of shape ``(d,)``.
      y: targets, ``(n,)`` (or ``(n, 1)``).
      learning_rate: a positive step size (an array or tracer too), ``"auto"`` (``1/L``, see
        :func:`lipschitz_constant`) or an optax schedule. ``None``: the lesson's 0.01 (heavy-ball: its own
        optimal step). Must stay unset when ``optimizer`` is an ``optax.GradientTransformation``.
      n_iters: number of steps, at least 1; the cap when ``tol`` is given.
      optimizer: ``"sgd"`` (``None``; the lesson's ``w -= learning_rate * w.grad``), ``"momentum"`` (0.9),
        ``"adam"``, ``"heavy-ball"`` (Polyak's optimal step and momentum from the data's curvature: about
        ``√κ`` times fewer steps on an ill-conditioned problem), or any ``optax.GradientTransformation``.
      gradient: ``"autograd"`` (``jax.grad``), ``"manual"`` (analytic) or ``"lesson"`` (N times too large).
      history: ``"full"`` keeps the loss and parameters of every step, ``"loss"`` the loss, ``"none"`` neither.
      progress: a progress bar on stderr for ``n_iters`` of at least 5000, fed from inside the compiled loop.
      devices: split the rows across devices (an int: the first that many; or a list), padded with weight 0.
      mesh: like ``devices``, over a ``jax.sharding.Mesh``. Rows already sharded stay where they are.
      method: ``"plain"`` reads the data every step; ``"gram"`` once, for ``[X 1]ᵀ[X 1]`` and ``[X 1]ᵀy``,
        then ``O(d²)`` per step; ``"auto"`` picks by shape (:func:`jaxlr._fit.choose_method`).
      tol: stop when the gradient's norm falls to ``tol`` times its initial norm (``result.n_steps`` and
        ``result.converged`` say when and whether); under ``vmap`` each run stops on its own.
      sample_weight: ``(n,)`` non-negative weights: the loss is ``Σ sᵢ rᵢ² / Σ sᵢ``.
      l2: a ridge penalty ``l2 · |w|²`` (``b`` is not penalised; scikit-learn's ``Ridge(alpha)`` is
        ``alpha = l2 · n``), a scalar or one per weight.

    Returns:
      A :class:`FitResult`: ``history.loss[i]`` is the loss before step ``i``'s update and ``history.params[i]``
      the parameters after it, as the lesson prints them. Called eagerly, a diverged run warns
      :class:`DivergenceWarning`, and NaN/inf inputs raise ``ValueError``.

    Examples:
      >>> import jaxlr
      >>> x, y = jaxlr.lesson_data()
      >>> result = jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=0.01, n_iters=100)
      >>> print(f"w = {result.params.w:.3f}, f(5) = {jaxlr.predict(result.params, 5.0):.3f}, {result.history.loss[0]}")
      w = 2.000, f(5) = 10.000, 30.0
    """
    options, rate = check_options("fit", n_iters, optimizer, gradient, history, method, learning_rate, progress)
    tol = None if tol is None else _validate.check_positive("fit", "tol", tol)
    l2 = _validate.check_l2("fit", l2, per_weight=True)
    params = _validate.as_params("fit", params)
    x, y = _validate.as_input("fit", "x", x), _validate.as_input("fit", "y", y)
    weights = None if sample_weight is None else _validate.as_input("fit", "sample_weight", sample_weight)
    rows = on_rows_of("fit", x, y, weights, devices, mesh)
    bar = progress_bar(options.n_iters) if options.progress_every else _NOTHING
    with bar, _NOTHING if rows.mesh is None else jax.set_mesh(rows.mesh):
        result = restore_axes(_fit_jit(params, rows.x, rows.y, rate, tol, l2, rows.weights, options), rows.home)
    return finish("fit", result, options, rows.x, params, l2, rows.weights)
