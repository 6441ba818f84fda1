"""A progress bar driven from inside the compiled training loop, a few host calls per fit: one module-level
``jax.debug.callback`` feeds whichever ``tqdm`` bar is showing, so the compiled program does not depend on the bar.
"""

import contextlib
import sys
import threading
from collections.abc import Iterator

import jax
import numpy as np

MAX_UPDATES = 20  # at most this many bar updates per fit
MIN_STEPS = 5000  # shorter fits finish too fast for a bar to help

_lock = threading.Lock()
_bars: list = []  # tqdm bars of the fits running now; the innermost receives the callbacks


def report_every(n_iters: int) -> int:
    """Steps between two updates for a fit of ``n_iters`` steps."""
    return max(1, -(-n_iters // MAX_UPDATES))


def report(step: jax.Array, loss: jax.Array, every: int, n_iters: int) -> None:
    """Sends the step reached and the loss to the bar of the fit running now, every ``every`` steps and at the
    last (traceable: a ``lax.cond`` around a ``jax.debug.callback``)."""
    due = ((step + 1) % every == 0) | (step == n_iters - 1)
    jax.lax.cond(due, lambda: jax.debug.callback(_on_step, step, loss), lambda: None)


def _on_step(step: np.ndarray, loss: np.ndarray) -> None:
    with _lock:
        bar = _bars[-1] if _bars else None
    if bar is not None and int(step) + 1 > bar.n:
        bar.set_postfix_str(f"loss={float(np.max(loss)):.6g}", refresh=False)
        bar.update(int(step) + 1 - bar.n)


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
