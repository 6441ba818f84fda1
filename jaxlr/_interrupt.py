"""Prompt, clean stops on SIGINT and SIGTERM, even while a compiled loop runs.

While a compiled XLA program runs, the main thread waits inside C++, where
Python's signal handlers cannot run: Ctrl-C would only take effect when the whole
fit had finished. The ``jaxlr`` command therefore runs its work in a worker
thread and keeps the main thread free to take the signal at once
(:func:`run_interruptibly`). On a signal it removes any output file still being
written (see :mod:`jaxlr._io`), prints one line and ends the process with
``128 + signal`` (130 for SIGINT, 143 for SIGTERM), without waiting for the
device to finish. Inputs are only ever read, so they are never touched.
"""

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from jaxlr import _io

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    """A stop was requested by ``signum``."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, frame: Any) -> None:
    del frame  # unused
    raise Interrupted(signum)


def run_interruptibly(prog: str, work: Callable[[], int]) -> int:
    """Runs ``work()`` in a worker thread; a SIGINT or SIGTERM ends the process at once, cleanly.

    Returns ``work()``'s exit code. Outside the main thread (where signal handlers
    cannot be installed) it simply calls ``work()``.
    """
    if threading.current_thread() is not threading.main_thread():
        return work()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["code"] = work()
        except BaseException as e:  # re-raised in the main thread
            outcome["error"] = e

    previous = {s: signal.signal(s, _raise_interrupted) for s in _SIGNALS}
    try:
        worker = threading.Thread(target=target, name=f"{prog} worker", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.05)
    except Interrupted as e:
        _io.remove_unfinished_outputs()
        print(f"{prog}: interrupted by {e}; stopped, no output was left half-written", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(128 + e.signum)  # not sys.exit: that would wait for the device to finish the fit
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["code"]
