"""A progress bar driven from inside the compiled training loop, a few host calls per fit: one module-level
``jax.debug.callback`` feeds whichever ``tqdm`` bar is showing, so the compiled program does not depend on the bar.
"""

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

MAX_UPDATES = 20  # at most this many bar updates per fit
MIN_STEPS = 5000  # shorter fits finish too fast for a bar to help

_lock = threading.Lock()
_bars: list = []  # tqdm bars of the fits running now; the innermost receives the callbacks


def report_every(n_iters: int) -> int:
    """Steps between two updates for a fit of ``n_iters`` steps."""
    return max(1, -(-n_iters // MAX_UPDATES))


def report(step: jax.Array, loss: jax.Array) -> None:
    """Sends the step reached and the running loss to the bar of the fit running now (traceable)."""
    jax.debug.callback(_on_step, step, loss)


def _on_step(step: np.ndarray, loss: np.ndarray) -> None:
    with _lock:
        bar = _bars[-1] if _bars else None
    if bar is not None and int(step) + 1 > bar.n:
        bar.set_postfix_str(f"loss={float(np.max(loss)):.6g}", refresh=False)
        bar.update(int(step) + 1 - bar.n)


def scan_with_progress(step: Callable, init: Any, n_iters: int, *, every: int) -> tuple[Any, Any]:
    """``lax.scan`` of ``step`` (``(carry, i) -> (carry, (record, loss))``) over ``arange(n_iters)``, as chunks of
    ``every`` steps, each reporting its last step's loss; returns ``(carry, records)``."""
    steps = jnp.arange(n_iters, dtype=jnp.int32)
    n_chunks, tail = divmod(n_iters, every)

    def chunk(carry, indices):
        carry, (records, losses) = jax.lax.scan(step, carry, indices)
        report(indices[-1], losses[-1])
        return carry, records

    carry, records = jax.lax.scan(chunk, init, steps[: n_chunks * every].reshape(n_chunks, every))
    records = jax.tree.map(lambda a: a.reshape((n_chunks * every, *a.shape[2:])), records)
    if tail:
        carry, (tail_records, losses) = jax.lax.scan(step, carry, steps[n_chunks * every :])
        report(steps[-1], losses[-1])
        records = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), records, tail_records)
    return carry, records


@contextlib.contextmanager
def progress_bar(n_iters: int) -> Iterator[None]:
    """Shows a ``tqdm`` bar on stderr, fed by :func:`report`, while the block runs."""
    from tqdm import tqdm

    bar = tqdm(total=n_iters, desc="fit", unit="step", file=sys.stderr, dynamic_ncols=True, leave=False)
    with _lock:
        _bars.append(bar)
    try:
        yield
        jax.effects_barrier()  # every callback of this fit has run
    finally:
        with _lock:
            _bars.remove(bar)
        bar.close()


def stderr_is_terminal() -> bool:
    """Whether a progress bar on stderr would be seen by a person."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
