"""Output files written whole or not at all.

A file is written to a temporary file in the same directory, flushed to disk,
then renamed over the destination with ``os.replace``, which is atomic on POSIX
and Windows. A reader sees the old file or the new one, never half of one; an
error or an interrupt while writing leaves the destination untouched and no
temporary file behind.
"""

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from typing import IO, Any

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


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, *, binary: bool = False) -> Iterator[IO[Any]]:
    """Opens a temporary file next to ``path``; on a clean exit it replaces ``path``.

    Args:
      path: the destination. Its directory must exist.
      binary: open the file in binary mode (``"wb"``) rather than text (``"w"``, UTF-8).

    Yields:
      The open temporary file.

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
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    with _lock:
        _unfinished.add(tmp)
    try:
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        with _lock:
            _unfinished.discard(tmp)


def write_json(path: str | os.PathLike, value: Any) -> None:
    """Writes ``value`` as indented JSON, atomically. Non-finite floats are refused."""
    text = json.dumps(value, indent=2, allow_nan=False) + "\n"
    with atomic_write(path) as f:
        f.write(text)
