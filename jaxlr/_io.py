"""Output files: written whole or not at all, and never written over something they should not replace.

Where an output goes depends on what its path names:

* ``-``: the process's standard output (file descriptor 1).
* a regular file, or a path that does not exist yet: a temporary file in the same
  directory, flushed to disk, then renamed over the destination with
  ``os.replace``, which is atomic on POSIX and Windows. A reader sees the old file
  or the new one, never half of one; an error or an interrupt while writing leaves
  the destination untouched and no temporary file behind.
* a symlink: the same, applied to its target (in the target's directory); the link
  itself is never replaced.
* anything else that can be opened for writing (a FIFO, a character device such as
  ``/dev/null``): written in place, as ``open(path, "w")`` would.
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

# Temporary files being written now, for jaxlr._interrupt to remove on a signal.
_unfinished: set[str] = set()
_lock = threading.Lock()


def remove_unfinished_outputs() -> None:
    """Deletes the temporary files of writes still in progress (their destinations stay untouched)."""
    with _lock:
        paths = list(_unfinished)
    for tmp in paths:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _mode(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _standard_stream(info: os.stat_result) -> int | None:
    """1 or 2 if ``info`` is this process's stdout or stderr (``/dev/stdout``, or the file it is redirected to)."""
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            own = os.fstat(fd)
            if (own.st_dev, own.st_ino) == (info.st_dev, info.st_ino):
                return fd
    return None


def output_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` could not be written as an output, or ``None`` if it can (checked before any work)."""
    path = os.fspath(path)
    if path == STDOUT:
        return None
    info = _mode(path)  # through any symlinks
    if info is not None and stat.S_ISDIR(info.st_mode):
        return f"{path} is a directory"
    if info is not None and not stat.S_ISREG(info.st_mode):  # a FIFO, a device: written in place
        return None if os.access(path, os.W_OK) else f"{path} is not writable"
    directory = os.path.dirname(os.path.realpath(path))
    if not os.path.isdir(directory):
        return f"directory {directory} does not exist"
    if not os.access(directory, os.W_OK):
        return f"directory {directory} is not writable"
    return None


@contextlib.contextmanager
def _replace_atomically(path: str, binary: bool, mode: int | None) -> Iterator[IO[Any]]:
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    with _lock:
        _unfinished.add(tmp)
    try:
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if mode is None:  # a new file: the mode a plain open() would give it (mkstemp makes it 0600)
            umask = os.umask(0)
            os.umask(umask)
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
def _standard_stream_file(fd: int, binary: bool) -> Iterator[IO[Any]]:
    (sys.stdout if fd == 1 else sys.stderr).flush()  # what was printed before comes first
    with os.fdopen(os.dup(fd), "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
        yield f


def atomic_write(path: str | os.PathLike, *, binary: bool = False) -> contextlib.AbstractContextManager[IO[Any]]:
    """Opens the output ``path`` for writing, as the module docstring says: atomically where it can be.

    Args:
      path: the destination: ``-`` for standard output, a file (its directory must
        exist), a symlink, or a FIFO or device.
      binary: open it in binary mode (``"wb"``) rather than text (``"w"``, UTF-8).

    Returns:
      A context manager yielding the open file. A regular file is replaced only when
      the block ends without an exception.

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
        return _standard_stream_file(1, binary)
    info = _mode(path)  # through any symlinks, /dev/stdout's too
    stream = None if info is None else _standard_stream(info)
    if stream is not None:  # e.g. /dev/stdout redirected to a file: append where the stream is, never replace it
        return _standard_stream_file(stream, binary)
    if info is None or stat.S_ISREG(info.st_mode):
        target = os.path.realpath(path)  # a symlink's target: the link itself stays
        return _replace_atomically(target, binary, None if info is None else stat.S_IMODE(info.st_mode))
    return open(path, "wb" if binary else "w", encoding=None if binary else "utf-8")  # noqa: SIM115


def write_json(path: str | os.PathLike, value: Any) -> None:
    """Writes ``value`` as indented JSON to the output ``path``. Non-finite floats are refused."""
    text = json.dumps(value, indent=2, allow_nan=False) + "\n"
    with atomic_write(path) as f:
        f.write(text)
