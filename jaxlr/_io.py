"""Output files written whole or not at all, and a clean stop on SIGINT or SIGTERM. ``-`` is stdout; a regular file
(a symlink's target) is written beside itself, then renamed over it; a FIFO, a device, or this process's stdout or
stderr (``/dev/stdout > out.txt``) is written to."""

import contextlib
import json
import os
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

STDOUT = "-"

_unfinished: set[str] = set()  # temporary files being written now


def remove_unfinished_outputs() -> None:
    """Deletes the temporary files of writes still in progress (their destinations stay untouched)."""
    for tmp in list(_unfinished):  # list(): one step, even while a worker thread adds to the set
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def output_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` could not be written as an output, or ``None`` if it can (checked before any work)."""
    path = os.fspath(path)
    if path == STDOUT:
        return None
    info = os.stat(path) if os.path.exists(path) else None  # through any symlinks
    if info is not None and stat.S_ISDIR(info.st_mode):
        return f"{path} is a directory"
    if info is not None and not stat.S_ISREG(info.st_mode):  # a FIFO, a device: written in place
        return None if os.access(path, os.W_OK) else f"{path} is not writable"
    directory = os.path.dirname(os.path.realpath(path))
    if not os.path.isdir(directory):
        return f"directory {directory} does not exist"
    return None if os.access(directory, os.W_OK) else f"directory {directory} is not writable"


@contextlib.contextmanager
def _replace_atomically(path: str, kind: str, encoding: str | None, permissions: int | None) -> Iterator[IO[Any]]:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    _unfinished.add(tmp)
    try:
        with os.fdopen(fd, kind, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if permissions is None:  # a new file: the mode open() would give it (mkstemp's is 0600)
            os.umask(umask := os.umask(0))
            permissions = 0o666 & ~umask
        os.chmod(tmp, permissions)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        _unfinished.discard(tmp)


def atomic_write(path: str | os.PathLike, *, binary: bool = False) -> contextlib.AbstractContextManager[IO[Any]]:
    """Opens the output ``path`` (text in UTF-8, or ``binary``); a regular file is replaced when the block ends."""
    path = os.fspath(path)
    kind, encoding = ("wb", None) if binary else ("w", "utf-8")
    info = os.stat(path) if os.path.exists(path) else None
    for fd, stream in ((1, sys.stdout), (2, sys.stderr)):  # e.g. /dev/stdout redirected to a file: never replace it
        with contextlib.suppress(OSError):
            if (path == STDOUT and fd == 1) or (info is not None and os.path.samestat(os.fstat(fd), info)):
                stream.flush()  # what was printed before comes first
                return os.fdopen(os.dup(fd), kind, encoding=encoding)
    if info is not None and not stat.S_ISREG(info.st_mode):
        return open(path, kind, encoding=encoding)  # noqa: SIM115
    permissions = None if info is None else stat.S_IMODE(info.st_mode)
    return _replace_atomically(os.path.realpath(path), kind, encoding, permissions)


def write_json(path: str | os.PathLike, value: Any) -> None:
    """Writes ``value`` as indented JSON to the output ``path``. Non-finite floats are refused."""
    text = json.dumps(value, indent=2, allow_nan=False) + "\n"
    with atomic_write(path) as f:
        f.write(text)


def run_interruptibly(prog: str, work: Callable[[], int]) -> int:
    """``work()``'s exit code; a SIGINT or SIGTERM ends the process at once (``work`` runs in a worker thread: XLA's
    thread waits in C++, where Python's signal handlers cannot run)."""
    if threading.current_thread() is not threading.main_thread():
        return work()

    def stop(signum: int, frame: Any) -> None:
        remove_unfinished_outputs()
        name = signal.Signals(signum).name
        print(f"{prog}: interrupted by {name}; stopped, no output was left half-written", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(128 + signum)  # not sys.exit: that would wait for the device to finish the fit

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with ThreadPoolExecutor(1, thread_name_prefix=prog) as worker:
            return worker.submit(work).result()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
