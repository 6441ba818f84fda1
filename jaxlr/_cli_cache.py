"""The persistent compilation cache of the lesson scripts and the CLI.

A second run of ``scripts/gradient_descent_*.py`` loads its compiled programs
from disk instead of compiling them again. The cache lives in a per-user
directory: ``$JAXLR_CACHE_DIR`` if set (an empty value turns the cache off),
else ``$XDG_CACHE_HOME/jaxlr``, else ``~/.cache/jaxlr``. A directory the user
already gave JAX (``JAX_COMPILATION_CACHE_DIR``) is left as it is.

Only the command-line entry points turn it on: importing jaxlr never changes
JAX's configuration.
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
      >>> str(cache_dir({"JAXLR_CACHE_DIR": "/tmp/jaxlr-cache"}))
      '/tmp/jaxlr-cache'
      >>> str(cache_dir({"XDG_CACHE_HOME": "/home/me/.cache"}))
      '/home/me/.cache/jaxlr'
      >>> cache_dir({"JAXLR_CACHE_DIR": ""}) is None
      True
    """
    environ = os.environ if environ is None else environ
    explicit = environ.get("JAXLR_CACHE_DIR")
    if explicit is not None:
        return Path(explicit) if explicit else None
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jaxlr"


def enable_compilation_cache() -> Path | None:
    """Turns on JAX's persistent compilation cache in :func:`cache_dir`; returns the directory used.

    Every program is cached, however fast it compiled: the lesson's programs
    compile in well under JAX's default one-second threshold, and skipping
    that compile is the point. Call it before the first compilation.
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
