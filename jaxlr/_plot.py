"""Plots of fits and sweeps with matplotlib (the ``plot`` extra), on a ``matplotlib.figure.Figure``, not ``pyplot``:
no global state, no GUI backend, nothing shown; files are written whole or not at all (see ``jaxlr._io``)."""

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxlr._io import atomic_write
from jaxlr._types import Params

Path = str | os.PathLike | None


def _figure(n_panels: int) -> tuple[Any, list[Any]]:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plotting needs matplotlib, which is not installed: pip install 'jaxlr[plot]'") from None
    fig = Figure(figsize=(5.5 * n_panels, 4.2), layout="constrained")
    return fig, list(fig.subplots(1, n_panels, squeeze=False)[0])


def _save(fig: Any, path: Path) -> Any:
    """Gives each panel a grid and its legend; writes ``fig`` to ``path`` (unless ``None``) atomically, default png."""
    for ax in fig.axes:  # a minor-tick grid shows only on log axes
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    if path is not None:
        with atomic_write(path, binary=True) as f:
            fig.savefig(f, format=os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png", dpi=120)
    return fig


def _draw_loss(ax: Any, loss: Any) -> None:
    loss = np.asarray(loss, dtype=np.float64)
    finite = np.isfinite(loss)
    ax.plot(np.arange(loss.shape[0]), np.where(finite & (loss > 0), loss, np.nan), color="C0", lw=1.5)
    ax.set(yscale="log", xlabel="step", ylabel="loss (MSE, log scale)", title="loss curve")
    if not finite.all():
        first = int(np.argmin(finite))
        ax.axvline(first, color="C3", ls="--", label=f"diverged at step {first}")


def plot_loss(loss: Any, *, path: Path = None) -> Any:
    """The per-step ``loss`` (e.g. ``fit(...).history.loss``) on a log y axis; returns the ``matplotlib.figure.Figure``,
    also written to ``path`` if given (``.png``, ``.pdf``, ``.svg``: by its extension).

    Examples:
      >>> import jaxlr
      >>> jaxlr.plot_loss([4.0, 1.0, 0.25]).axes[0].get_yscale()
      'log'
    """
    fig, (ax,) = _figure(1)
    _draw_loss(ax, loss)
    return _save(fig, path)


def plot_fit(
    params: Params,
    x: Any,
    y: Any,
    *,
    loss: Any = None,
    feature_names: Sequence[str] | None = None,
    target_name: str = "y",
    path: Path = None,
) -> Any:
    """The data and the fitted ``params`` (in the units of ``x``): the line for one feature, predicted against actual
    values for several, beside the loss curve if ``loss`` is given; returns the figure, also written to ``path``.

    Examples:
      >>> import jaxlr
      >>> fig = jaxlr.plot_fit(jaxlr.Params(w=2.0, b=0.0), [1.0, 2.0, 3.0], [2.1, 3.9, 6.0], loss=[4.0, 0.5])
      >>> [ax.get_title() for ax in fig.axes]
      ['loss curve', 'data and fitted line']
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    matrix = x[:, None] if x.ndim == 1 else x
    w = np.atleast_1d(np.asarray(params.w, dtype=np.float64))
    b = 0.0 if params.b is None else np.asarray(params.b, np.float64).item()
    if w.shape[0] != matrix.shape[1]:
        raise ValueError(
            f"plot_fit: params.w has {w.shape[0]} weights but x has {matrix.shape[1]} features (shape {x.shape})"
        )
    fig, axes = _figure(1 if loss is None else 2)
    if loss is not None:
        _draw_loss(axes[0], loss)
    ax = axes[-1]
    if matrix.shape[1] == 1:
        name = feature_names[0] if feature_names else "x"
        ax.scatter(matrix[:, 0], y, s=18, alpha=0.7, color="C0", label="data")
        grid = np.linspace(matrix[:, 0].min(), matrix[:, 0].max(), 200)
        label = f"fit: {w[0]:.4g}·{name} {'+' if b >= 0 else '-'} {abs(b):.4g}"
        ax.plot(grid, w[0] * grid + b, color="C1", lw=2, label=label)
        ax.set(xlabel=name, ylabel=target_name, title="data and fitted line")
    else:
        predicted = matrix @ w + b
        ax.scatter(y, predicted, s=18, alpha=0.7, color="C0", label="samples")
        low, high = min(y.min(), predicted.min()), max(y.max(), predicted.max())
        ax.plot([low, high], [low, high], color="C1", lw=2, label="perfect fit")
        title = f"predicted vs actual ({matrix.shape[1]} features)"
        ax.set(xlabel=f"{target_name} (actual)", ylabel=f"{target_name} (predicted)", title=title)
    return _save(fig, path)


def plot_sweep(
    learning_rates: Any, final_loss: Any, diverged: Any, *, stable_bound: float | None = None, path: Path = None
) -> Any:
    """Final loss against learning rate (``(k,)`` each, e.g. a ``SweepResult``'s fields), log-log, diverged runs marked,
    and a line at ``stable_bound`` (e.g. ``2 / jaxlr.lipschitz_constant(x)``) if given, divergence to its right;
    returns the figure, also written to ``path`` if given.

    Examples:
      >>> import jaxlr
      >>> r = jaxlr.sweep(jaxlr.Params(w=0.0), *jaxlr.lesson_data(), learning_rates=[0.01, 0.1, 0.2], n_iters=100)
      >>> jaxlr.plot_sweep(r.learning_rates, r.final_loss, r.diverged).axes[0].get_xscale()
      'log'
    """
    rates, loss = np.asarray(learning_rates, dtype=np.float64), np.asarray(final_loss, dtype=np.float64)
    diverged = np.asarray(diverged, dtype=bool) | ~np.isfinite(loss)
    ok = ~diverged
    shown = np.maximum(loss, np.finfo(np.float64).tiny)  # a loss of exactly 0 cannot sit on a log axis
    fig, (ax,) = _figure(1)
    ax.plot(rates[ok], shown[ok], "o-", color="C0", ms=4, label="converged / stable")
    if diverged.any():
        top, count = (shown[ok].max() * 10 if ok.any() else 1.0), int(diverged.sum())
        ax.plot(rates[diverged], np.full(count, top), "x", color="C3", ms=8, mew=2, label=f"diverged ({count} runs)")
    if ok.any():
        best = int(np.argmin(np.where(ok, loss, np.inf)))
        ax.plot(rates[best], shown[best], "*", color="C2", ms=16, label=f"best lr {rates[best]:.3g}")
    if stable_bound is not None and np.isfinite(stable_bound):
        ax.axvline(stable_bound, color="0.4", ls="--", label=f"2/L = {stable_bound:.3g}")
    ax.set(xscale="log", yscale="log", xlabel="learning rate", ylabel="final loss (MSE)", title="learning-rate sweep")
    return _save(fig, path)
