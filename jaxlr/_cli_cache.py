"""The persistent compilation cache of the lesson scripts and the CLI (importing jaxlr never turns it on).

It lives in ``$JAXLR_CACHE_DIR`` if set (an empty value turns it off), else ``$XDG_CACHE_HOME/jaxlr``,
else ``~/.cache/jaxlr``; a directory the user already gave JAX (``JAX_COMPILATION_CACHE_DIR``) is kept.
"""

import os
from pathlib import Path

import jax


def enable_compilation_cache() -> Path | None:
    """Caches all programs compiled from now on, even quick ones like the lesson's; returns the directory, or None."""
    configured = jax.config.jax_compilation_cache_dir  # pyright: ignore[reportAttributeAccessIssue]  # set at runtime
    if configured:
        return Path(configured)
    explicit = os.environ.get("JAXLR_CACHE_DIR")
    if explicit == "":
        return None
    path = Path(explicit) if explicit else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jaxlr"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home: run without the cache
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
