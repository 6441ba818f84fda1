"""Plots: what they show, files written whole, and a clear error without matplotlib."""

import sys

import numpy as np
import pytest

import jaxlr
from jaxlr._cli import main

pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _lesson_fit():
    x, y = jaxlr.lesson_data()
    return x, y, jaxlr.fit(jaxlr.Params(w=0.0, b=0.0), x, y, learning_rate=0.05, n_iters=200)


def test_fit_plot_has_a_log_loss_curve_and_the_fitted_line(tmp_path):
    x, y, result = _lesson_fit()
    path = tmp_path / "fit.png"
    fig = jaxlr.plot_fit(result.params, x, y, loss=result.history.loss, feature_names=["x"], path=path)
    assert path.read_bytes().startswith(PNG_MAGIC)
    loss_ax, fit_ax = fig.axes
    assert loss_ax.get_yscale() == "log"
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), result.history.loss, rtol=1e-6)
    line = fit_ax.lines[0]
    grid = line.get_xdata()
    np.testing.assert_allclose(line.get_ydata(), jaxlr.predict(result.params, grid), rtol=1e-5, atol=1e-6)
    assert "fit:" in line.get_label()


def test_fit_plot_with_several_features_shows_predicted_vs_actual():
    x = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 2.0]])
    fig = jaxlr.plot_fit(jaxlr.Params(np.array([1.0, 1.0]), 0.5), x, x.sum(axis=1))
    assert "predicted vs actual" in fig.axes[0].get_title()


def test_sweep_plot_marks_diverged_runs(tmp_path):
    x, y = jaxlr.lesson_data()
    result = jaxlr.sweep(jaxlr.Params(w=0.0), x, y, learning_rates=np.logspace(-3, 0, 6), n_iters=100)
    path = tmp_path / "sweep.svg"
    fig = jaxlr.plot_sweep(result.learning_rates, result.final_loss, result.diverged, stable_bound=2 / 15, path=path)
    assert path.read_text().lstrip().startswith("<?xml")
    (ax,) = fig.axes
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    labels = [line.get_label() for line in ax.lines]
    assert any(label.startswith(f"diverged ({int(result.diverged.sum())} runs") for label in labels)
    assert any(label.startswith("2/L") for label in labels) and any(label.startswith("best") for label in labels)


def test_cli_plots(capsys, tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("x,y\n1,2.1\n2,3.9\n3,6.2\n4,7.8\n")
    assert main(["fit", str(data), "--target", "y", "--plot", str(tmp_path / "fit.png")]) == 0
    assert main(["sweep", str(data), "--target", "y", "--lr", "1e-3:1:5", "--plot", str(tmp_path / "s.png")]) == 0
    capsys.readouterr()
    for name in ("fit.png", "s.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG_MAGIC)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "fit.png", "s.png"]  # no temporary files left


def test_a_failed_save_leaves_nothing(tmp_path, monkeypatch):
    x, y, result = _lesson_fit()
    path = tmp_path / "fit.png"
    path.write_bytes(b"old")

    def broken_savefig(self, *args, **kwargs):
        args[0].write(b"partial")
        raise RuntimeError("disk on fire")

    from matplotlib.figure import Figure

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="disk on fire"):
        jaxlr.plot_loss(result.history.loss, path=path)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["fit.png"]


def test_without_matplotlib_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"jaxlr\[plot\]"):
        jaxlr.plot_loss([1.0, 0.5])
