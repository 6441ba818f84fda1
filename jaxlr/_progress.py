"""A progress bar driven from inside the compiled training loop.

The scan body calls :func:`report` with the step index and the loss. Every
``every`` steps (and at the last one) it emits a ``jax.debug.callback``, so the
host hears from the device a bounded number of times (``MAX_UPDATES``) however
long the fit: the bar costs a few dozen host calls, not one per step. Between
callbacks the loop runs undisturbed.

The host side is :func:`progress_bar`, a context manager that makes a ``tqdm``
bar the receiver of those callbacks while a fit runs. The callback function is
one module-level function, so the compiled program does not depend on which bar
is showing and is reused across fits. It is also the one place where the host
hears from a running fit, which is where a stop request could be polled.
"""

import contextlib
import sys
import threading
from collections.abc import Iterator

import jax
import numpy as np

# At most this many bar updates per fit.
MAX_UPDATES = 50

# Fits shorter than this many steps finish too fast for a bar to help.
MIN_STEPS = 2000

_lock = threading.Lock()
_bars: list = []  # tqdm bars of the fits running now; the innermost receives the callbacks


def report_every(n_iters: int) -> int:
    """Steps between two updates for a fit of ``n_iters`` steps."""
    return max(1, -(-n_iters // MAX_UPDATES))


def _on_step(step: np.ndarray, loss: np.ndarray) -> None:
    with _lock:
        bar = _bars[-1] if _bars else None
    if bar is None:
        return
    done = int(step) + 1
    if done > bar.n:
        bar.set_postfix_str(f"loss={float(np.max(loss)):.6g}", refresh=False)
        bar.update(done - bar.n)


def report(step: jax.Array, loss: jax.Array, *, every: int, n_iters: int) -> None:
    """Inside the scan body: sends ``(step, loss)`` to the host every ``every`` steps and at the last."""
    due = (step % every == every - 1) | (step == n_iters - 1)
    jax.lax.cond(due, lambda: jax.debug.callback(_on_step, step, loss), lambda: None)


@contextlib.contextmanager
def progress_bar(n_iters: int, *, description: str = "fit") -> Iterator[None]:
    """Shows a ``tqdm`` bar on stderr, fed by :func:`report`, while the block runs."""
    from tqdm import tqdm

    bar = tqdm(total=n_iters, desc=description, unit="step", file=sys.stderr, dynamic_ncols=True, leave=False)
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
