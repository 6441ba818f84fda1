"""Output files, written whole or not at all.

``-`` is standard output. A regular file (or a new path) is written to a temporary file beside it, then
renamed over it with ``os.replace`` (atomic), so a reader sees the old file or the new one, never half;
a symlink's target is replaced, never the link. A FIFO or device (``/dev/null``) is written in place,
and a path that is this process's stdout or stderr (``/dev/stdout > out.txt``) is appended to.
"""

import contextlib
import json
import os
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import IO, Any

STDOUT = "-"

_unfinished: set[str] = set()  # temporary files being written now, removed by jaxlr._interrupt on a signal
_lock = threading.Lock()


def remove_unfinished_outputs() -> None:
    """Deletes the temporary files of writes still in progress (their destinations stay untouched)."""
    with _lock:
        for tmp in list(_unfinished):
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)  # through any symlinks
    except FileNotFoundError:
        return None


def output_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` could not be written as an output, or ``None`` if it can (checked before any work)."""
    path = os.fspath(path)
    if path == STDOUT:
        return None
    info = _stat(path)
    if info is not None and stat.S_ISDIR(info.st_mode):
        return f"{path} is a directory"
    if info is not None and not stat.S_ISREG(info.st_mode):  # a FIFO, a device: written in place
        return None if os.access(path, os.W_OK) else f"{path} is not writable"
    directory = os.path.dirname(os.path.realpath(path))
    if not os.path.isdir(directory):
        return f"directory {directory} does not exist"
    return None if os.access(directory, os.W_OK) else f"directory {directory} is not writable"


@contextlib.contextmanager
def _replace_atomically(path: str, binary: bool, mode: int | None) -> Iterator[IO[Any]]:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    with _lock:
        _unfinished.add(tmp)
    try:
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if mode is None:  # a new file: the mode open() would give it (mkstemp's is 0600)
            os.umask(umask := os.umask(0))  # reads the umask (setting it back)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        with _lock:
            _unfinished.discard(tmp)


@contextlib.contextmanager
def _standard_stream(fd: int, binary: bool) -> Iterator[IO[Any]]:
    (sys.stdout if fd == 1 else sys.stderr).flush()  # what was printed before comes first
    with os.fdopen(os.dup(fd), "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
        yield f


def atomic_write(path: str | os.PathLike, *, binary: bool = False) -> contextlib.AbstractContextManager[IO[Any]]:
    """Opens the output ``path`` for writing, atomically where it can be (see the module docstring).

    Args:
      path: ``-`` for standard output, a file (its directory must exist), a symlink, a FIFO or device.
      binary: open it in binary mode (``"wb"``) rather than text (``"w"``, UTF-8).

    Returns:
      A context manager yielding the open file; a regular file is replaced when the block ends without error.

    Examples:
      >>> import pathlib, tempfile
      >>> from jaxlr._io import atomic_write
      >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
      >>> with atomic_write(target) as f:
      ...     _ = f.write("all or nothing")
      >>> target.read_text()
      'all or nothing'
    """
    path = os.fspath(path)
    if path == STDOUT:
        return _standard_stream(1, binary)
    info = _stat(path)
    for fd in (1, 2):  # e.g. /dev/stdout redirected to a file: append where the stream is, never replace it
        with contextlib.suppress(OSError):
            if info is not None and os.path.samestat(os.fstat(fd), info):
                return _standard_stream(fd, binary)
    if info is None or stat.S_ISREG(info.st_mode):
        mode = None if info is None else stat.S_IMODE(info.st_mode)
        return _replace_atomically(os.path.realpath(path), binary, mode)  # a symlink's target: the link stays
    return open(path, "wb" if binary else "w", encoding=None if binary else "utf-8")  # noqa: SIM115


def write_json(path: str | os.PathLike, value: Any) -> None:
    """Writes ``value`` as indented JSON to the output ``path``. Non-finite floats are refused."""
    text = json.dumps(value, indent=2, allow_nan=False) + "\n"
    with atomic_write(path) as f:
        f.write(text)
