"""The persistent compilation cache of the lesson scripts and the CLI (importing jaxlr never turns it on).

It lives in ``$JAXLR_CACHE_DIR`` if set (an empty value turns it off), else ``$XDG_CACHE_HOME/jaxlr``,
else ``~/.cache/jaxlr``; a directory the user already gave JAX (``JAX_COMPILATION_CACHE_DIR``) is kept.
"""

import os
from collections.abc import Mapping
from pathlib import Path

import jax


def cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The per-user cache directory, or ``None`` when ``JAXLR_CACHE_DIR`` is set empty.

    Args:
      environ: the environment to read; ``os.environ`` by default.

    Examples:
      >>> from jaxlr._cli_cache import cache_dir
      >>> str(cache_dir({"JAXLR_CACHE_DIR": "/tmp/jaxlr-cache"})), str(cache_dir({"XDG_CACHE_HOME": "/home/me/.cache"}))
      ('/tmp/jaxlr-cache', '/home/me/.cache/jaxlr')
      >>> cache_dir({"JAXLR_CACHE_DIR": ""}) is None
      True
    """
    environ = os.environ if environ is None else environ
    explicit = environ.get("JAXLR_CACHE_DIR")
    if explicit is not None:
        return Path(explicit) if explicit else None
    return Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jaxlr"


def enable_compilation_cache() -> Path | None:
    """Caches every compiled program in :func:`cache_dir` (the lesson's compile in well under JAX's 1 s threshold).

    Call it before the first compilation; returns the directory used, or ``None`` for none.
    """
    configured = jax.config.jax_compilation_cache_dir  # pyright: ignore[reportAttributeAccessIssue]  # set at runtime
    if configured:
        return Path(configured)
    path = cache_dir()
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home: run without the cache
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
