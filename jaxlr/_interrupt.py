"""Prompt, clean stops on SIGINT and SIGTERM, even while a compiled loop runs.

While XLA runs, the main thread waits in C++ where Python's signal handlers cannot run, so the ``jaxlr``
command runs its work in a worker thread and keeps the main thread free to take the signal at once.
"""

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from jaxlr import _io


class Interrupted(Exception):
    """A stop was requested by ``signum``."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


def run_interruptibly(prog: str, work: Callable[[], int]) -> int:
    """Runs ``work()`` in a worker thread and returns its exit code; a SIGINT or SIGTERM ends the process at once.

    On a signal it removes the outputs still being written, prints one line and exits with ``128 + signal``
    without waiting for the device. Outside the main thread (where handlers cannot be installed) it just
    calls ``work()``.
    """
    if threading.current_thread() is not threading.main_thread():
        return work()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["code"] = work()
        except BaseException as e:  # re-raised in the main thread
            outcome["error"] = e

    previous = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
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
