"""How a fit computes each step's loss and gradient: ``method="plain"`` or ``"gram"``.

Both methods compute the same numbers (up to float rounding) for every
``gradient`` option and every optimizer; they differ in what a step reads.

* ``"plain"`` reads the data once per step. For data larger than a cache block
  the step is a loop over blocks of rows: each block's residual ``r = X_b w + b -
  y_b`` stays in the cache while its contributions to the loss and the gradient
  are summed, so the data travels from memory once per step instead of three
  times (read for the residual, write and re-read it, read ``X`` again).
* ``"gram"`` reads the data once before the loop, for the sufficient statistics
  ``A = [X 1]ᵀ[X 1]`` and ``[X 1]ᵀy``, and a second time for the residual at a
  reference point ``z0`` (the least-squares solution of those statistics). Each
  step then costs ``O(d²)``, independent of ``n``.

The gram step writes the sum of squared errors around ``z0``::

    SSE(z) = SSE(z0) + 2 δᵀ g0 + δᵀ A δ,   δ = z - z0,   g0 = [X 1]ᵀ r0

with ``SSE(z0)`` and ``g0`` computed exactly from the data. Near the optimum the
three terms are each about the size of the loss, so the loss history keeps its
relative accuracy in float32, where the textbook expansion ``wᵀAw - 2wᵀc + yᵀy``
would cancel to noise.

``method="auto"`` (the default of :func:`jaxlr.fit`) picks ``"gram"`` when the
statistics are cheaper than the steps they replace; see :func:`choose_method`.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxlr._gradients import GRADIENTS
from jaxlr._loss import _mse_loss
from jaxlr._model import PRECISION, Params, _predict

METHODS = ("auto", "plain", "gram")

# The plain step loops over blocks of about this many bytes of x and y. For the
# lesson's model (elementwise work) a block fits a core's L2 cache: 32768 samples
# in float32. For (n, d) data the two matrix-vector products run best on blocks
# that fit the L3 cache (measured on a 2-core AMD EPYC: 4 MiB beat 256 KiB and
# 16 MiB).
SCALAR_BLOCK_BYTES = 256 * 1024
MATRIX_BLOCK_BYTES = 4 * 1024 * 1024
# Narrow (n, d) data runs faster in one fused pass than in blocks (measured on the 2-core CPU,
# ms per step blocked vs fused: d=4 10.4 vs 8.2, d=8 2.8 vs 2.2, d=16 1.43 vs 1.10; and the other
# way for d=32 3.1 vs 5.7, d=64 2.9 vs 4.1, d=128 3.6 vs 5.7, d=512 8.2 vs 11.2).
MIN_BLOCKED_FEATURES = 32
# Only CPUs loop over blocks. A GPU streams the whole array through one fused
# kernel at full bandwidth, and a loop of small blocks would cost a kernel
# launch per block.
BLOCKED_BACKENDS = ("cpu",)

# method="auto" picks "gram" only for data of at least this many bytes, at least
# this many steps, and at most this many features (A is (d+1)² numbers).
AUTO_MIN_BYTES = 1 << 20
AUTO_MIN_ITERS = 8
AUTO_MAX_FEATURES = 4096

# lax.scan's unroll per backend. On a CPU each step's kernels run back to back in
# one thread and unrolling only grows the program (measured on the lesson's fit:
# unroll 2 and 4 no faster, 10 three times slower). On a GPU each step of a small
# fit is a few kernel launches; unrolling lets XLA fuse across steps (unroll 10
# halved the launch overhead on an H200 in the prototype). Large data
# gains nothing from it and pays in compile time.
SCAN_UNROLL = {"cpu": 1}
ACCELERATOR_SCAN_UNROLL = 10
UNROLL_MAX_ELEMENTS = 1 << 16

LossAndGrad = Callable[[Params], tuple[jax.Array, Params]]


def choose_method(method: str, x_shape: tuple[int, ...], itemsize: int, n_iters: int) -> str:
    """The method ``fit`` uses: ``method`` itself, or the choice for ``"auto"``.

    ``"auto"`` picks ``"gram"`` when all of these hold, else ``"plain"``:

    * the data ``x`` takes at least 1 MiB (below that a step is cheap anyway, and
      the plain path reproduces the lesson's arithmetic exactly);
    * ``n ≥ 4 (d + 1)``: the statistics are much smaller than the data;
    * ``d ≤ 4096``, so the ``(d+1)²`` statistics stay small;
    * ``n_iters ≥ max(8, (d + 1) / 8)``: building the statistics (a
      compute-bound matrix product) cost ``d / 10`` to ``d / 20`` plain
      (memory-bound) steps on a 2-core CPU; ``d / 8`` leaves a margin, so
      fewer steps would not pay for them.

    The dtype enters through its size in bytes. Both float32 and float64 are
    allowed; low-precision inputs are computed in float32 (see ``fit``).

    Examples:
      >>> from jaxlr._methods import choose_method
      >>> choose_method("auto", (4,), 4, 100)  # the lesson
      'plain'
      >>> choose_method("auto", (1_000_000, 64), 4, 1000)
      'gram'
      >>> choose_method("auto", (1_000_000, 64), 4, 5)
      'plain'
    """
    if method != "auto":
        return method
    n = x_shape[0]
    d = 1 if len(x_shape) == 1 else x_shape[1]
    big = n * d * itemsize >= AUTO_MIN_BYTES
    tall = n >= 4 * (d + 1)
    worth = n_iters >= max(AUTO_MIN_ITERS, (d + 1) / 8)
    return "gram" if big and tall and d <= AUTO_MAX_FEATURES and worth else "plain"


def scan_unroll(n_iters: int, x: jax.Array) -> int:
    """The ``unroll`` of the training scan: see ``SCAN_UNROLL``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> from jaxlr._methods import scan_unroll
      >>> scan_unroll(100, jnp.zeros(4)) == (1 if jax.default_backend() == "cpu" else 10)
      True
    """
    backend = jax.default_backend()
    unroll = SCAN_UNROLL.get(backend, ACCELERATOR_SCAN_UNROLL)
    if x.size > UNROLL_MAX_ELEMENTS:
        return 1
    return max(1, min(unroll, n_iters))


def _sse(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
    """Sum of squared errors: the MSE times ``n``."""
    r = _predict(params, x) - y
    return jnp.sum(r * r)


def _sum_gradient_manual(params: Params, x: jax.Array, y: jax.Array) -> tuple[jax.Array, Params]:
    """``(SSE, dSSE/dparams)`` written out: ``2 Xᵀr`` and ``2 sum(r)``."""
    r = _predict(params, x) - y
    if jnp.ndim(params.w) == 0:
        dw = 2 * jnp.sum(x * r)
    else:
        dw = 2 * jnp.matmul(r, x, precision=PRECISION)
    db = None if params.b is None else 2 * jnp.sum(r)
    return jnp.sum(r * r), Params(dw, db)


def _sum_loss_and_grad(gradient: str) -> Callable[[Params, jax.Array, jax.Array], tuple[jax.Array, Params]]:
    """``(SSE, its gradient)`` on a block; ``jax.grad`` for ``"autograd"``."""
    if gradient == "autograd":
        return jax.value_and_grad(_sse)
    return _sum_gradient_manual  # "manual" and "lesson" both sum 2 Xᵀr; they differ in the final scale


def _finish(gradient: str, n: int, sse: jax.Array, grads: Params) -> tuple[jax.Array, Params]:
    """The MSE and the gradient ``fit`` asked for, from sums over all ``n`` samples."""
    loss = sse / n
    if gradient == "lesson":  # the lesson's gradient is N times the MSE's: the SSE's gradient
        return loss, grads
    return loss, jax.tree.map(lambda g: g / n, grads)


def _block_rows(x: jax.Array) -> int:
    """Rows per block of the plain step: all of them (one piece) off the CPU."""
    if jax.default_backend() not in BLOCKED_BACKENDS:
        return x.shape[0]
    if x.ndim == 1:
        return max(1, SCALAR_BLOCK_BYTES // (2 * x.dtype.itemsize))
    return max(1, MATRIX_BLOCK_BYTES // ((x.shape[1] + 1) * x.dtype.itemsize))


def _blocked_sums(
    block_fn: Callable[[Params, jax.Array, jax.Array], tuple[jax.Array, Params]],
    params: Params,
    x: jax.Array,
    y: jax.Array,
    rows: int,
) -> tuple[jax.Array, Params]:
    """``block_fn`` summed over blocks of ``rows`` rows: a loop, so each block is read once while in cache."""
    n = y.shape[0]
    rows = min(rows, n)
    n_blocks = n // rows
    tail = n_blocks * rows

    def body(i, acc):
        start = i * rows
        xb = jax.lax.dynamic_slice_in_dim(x, start, rows)
        yb = jax.lax.dynamic_slice_in_dim(y, start, rows)
        return jax.tree.map(jnp.add, acc, block_fn(params, xb, yb))

    zero = (jnp.zeros((), y.dtype), jax.tree.map(jnp.zeros_like, params))
    sse, grads = jax.lax.fori_loop(0, n_blocks, body, zero)
    if tail < n:
        sse_tail, grads_tail = block_fn(params, x[tail:], y[tail:])
        sse, grads = sse + sse_tail, jax.tree.map(jnp.add, grads, grads_tail)
    return sse, grads


def whole_loss_and_grad(gradient: str) -> Callable[[Params, jax.Array, jax.Array], tuple[jax.Array, Params]]:
    """``(params, x, y) -> (MSE, gradient)`` in one piece, with ``gradient``'s own function."""
    if gradient == "autograd":
        return jax.value_and_grad(_mse_loss)
    grad_fn = GRADIENTS[gradient]
    return lambda params, x, y: (_mse_loss(params, x, y), grad_fn(params, x, y))


def plain_loss_and_grad(
    gradient: str, x: jax.Array, y: jax.Array, *, block_rows: int | None = None, blocked: bool = True
) -> LossAndGrad:
    """The plain step: one pass over the data, in cache-sized blocks of rows.

    Data smaller than two blocks, or not ``blocked`` (rows split across devices),
    is handled in one piece by ``gradient``'s own function, which reproduces the
    lesson's arithmetic exactly. ``block_rows`` overrides the block size (for tests).
    """
    n = y.shape[0]
    rows = _block_rows(x) if block_rows is None else block_rows
    narrow = x.ndim == 2 and x.shape[1] < MIN_BLOCKED_FEATURES and block_rows is None
    if n < 2 * rows or not blocked or narrow:
        whole = whole_loss_and_grad(gradient)
        return lambda params: whole(params, x, y)

    block_fn = _sum_loss_and_grad(gradient)

    def loss_and_grad(params: Params) -> tuple[jax.Array, Params]:
        sse, grads = _blocked_sums(block_fn, params, x, y, rows)
        return _finish(gradient, n, sse, grads)

    return loss_and_grad


class GramStats:
    """Sufficient statistics of ``(x, y)`` around a reference point ``z0``.

    Two passes over the data: one for ``A`` (a matrix product, compute-bound)
    and ``[X 1]ᵀy``, one for the residual at ``z0``.

    Attributes:
      a: ``[X 1]ᵀ[X 1]`` (without the ones column when the model has no bias), ``(k, k)``.
      z0: the reference point, ``(k,)``: the least-squares solution with a
        ridge of a few float epsilons (so that rank-deficient data works too),
        or zeros if even that is not finite. Any ``z0`` gives the same
        iterates; one near the optimum keeps the loss accurate.
      sse0: the sum of squared residuals at ``z0``, computed from the data.
      g0: ``[X 1]ᵀ r0``, the residual at ``z0`` against each column, ``(k,)``.
    """

    def __init__(self, x: jax.Array, y: jax.Array, *, bias: bool, blocked: bool = True):
        columns = x[:, None] if x.ndim == 1 else x
        d = columns.shape[1]
        k = d + int(bias)
        a = jnp.matmul(columns.T, columns, precision=PRECISION)
        # Xᵀy and the column sums in one pass: [y 1]ᵀ X.
        c_sx = jnp.matmul(jnp.stack([y, jnp.ones_like(y)]), columns, precision=PRECISION)
        c = c_sx[0]
        if bias:
            sx = c_sx[1]
            a = jnp.block([[a, sx[:, None]], [sx[None, :], jnp.full((1, 1), y.shape[0], a.dtype)]])
            c = jnp.concatenate([c, jnp.sum(y)[None]])
        ridge = k * jnp.finfo(a.dtype).eps * jnp.maximum(jnp.trace(a) / k, jnp.finfo(a.dtype).tiny)
        factor = jax.scipy.linalg.cho_factor(a + ridge * jnp.eye(k, dtype=a.dtype))
        z0 = jax.scipy.linalg.cho_solve(factor, c)
        z0 = jnp.where(jnp.all(jnp.isfinite(z0)), z0, jnp.zeros((k,), a.dtype))
        w0 = z0[0] if x.ndim == 1 else z0[:d]
        # in x's dtype: older jax (0.7) widens cho_solve's float32 result under x64
        params0 = Params(w0.astype(x.dtype), z0[d].astype(x.dtype) if bias else None)
        rows = _block_rows(x) if blocked else x.shape[0]
        sse0, g0 = _blocked_sums(_sum_gradient_manual, params0, x, y, rows)
        self.a, self.z0, self.sse0, self.g0 = a, z0, sse0, _flatten(g0) / 2


def _flatten(params: Params) -> jax.Array:
    w = jnp.reshape(params.w, (-1,))
    return w if params.b is None else jnp.concatenate([w, jnp.reshape(params.b, (1,))])


def gram_loss_and_grad(
    gradient: str, params: Params, x: jax.Array, y: jax.Array, *, blocked: bool = True
) -> LossAndGrad:
    """The gram step: loss and gradient from :class:`GramStats`, ``O(d²)`` per step."""
    n = y.shape[0]
    stats = GramStats(x, y, bias=params.b is not None, blocked=blocked)

    def sse(params: Params) -> jax.Array:
        delta = _flatten(params) - stats.z0
        a_delta = jnp.matmul(stats.a, delta, precision=PRECISION)
        return stats.sse0 + jnp.dot(delta, 2 * stats.g0 + a_delta, precision=PRECISION)

    def sse_and_manual_grad(params: Params) -> tuple[jax.Array, Params]:
        delta = _flatten(params) - stats.z0
        a_delta = jnp.matmul(stats.a, delta, precision=PRECISION)
        flat = 2 * (stats.g0 + a_delta)
        value = stats.sse0 + jnp.dot(delta, 2 * stats.g0 + a_delta, precision=PRECISION)
        d = jnp.size(params.w)
        dw = jnp.reshape(flat[:d], jnp.shape(params.w))
        db = None if params.b is None else flat[d]
        return value, Params(dw, db)

    value_and_grad = jax.value_and_grad(sse) if gradient == "autograd" else sse_and_manual_grad

    def loss_and_grad(params: Params) -> tuple[jax.Array, Params]:
        value, grads = value_and_grad(params)
        # The quadratic can dip a rounding error below zero at an exact fit.
        return _finish(gradient, n, jnp.maximum(value, 0), grads)

    return loss_and_grad


def build_loss_and_grad(
    method: str, gradient: str, params: Params, x: jax.Array, y: jax.Array, *, blocked: bool = True
) -> LossAndGrad:
    """The per-step ``params -> (loss, grads)`` of ``method`` (``"plain"`` or ``"gram"``), traceable.

    ``blocked=False`` for rows split across devices: no loop over blocks of rows,
    which would slice across the devices' shards.
    """
    if method == "gram":
        return gram_loss_and_grad(gradient, params, x, y, blocked=blocked)
    return plain_loss_and_grad(gradient, x, y, blocked=blocked)
