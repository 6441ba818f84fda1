"""``jaxlr fit``'s checks after training: one eigendecomposition for κ and L, and a message before long ones."""

import argparse

from helpers import ROOT

from jaxlr import _cli_fit, _convergence, _curvature
from jaxlr._cli import main


def test_condition_number_is_computed_once_per_fit(monkeypatch):
    calls = {"eigenvalues": 0, "largest_curvature": 0}
    host_eigenvalues, largest_curvature = _curvature._host_eigenvalues, _convergence.largest_curvature

    def counted_eigenvalues(*args):
        calls["eigenvalues"] += 1
        return host_eigenvalues(*args)

    def counted_curvature(*args, **kwargs):
        calls["largest_curvature"] += 1
        return largest_curvature(*args, **kwargs)

    monkeypatch.setattr(_curvature, "_host_eigenvalues", counted_eigenvalues)
    monkeypatch.setattr(_convergence, "largest_curvature", counted_curvature)
    argv = ["fit", str(ROOT / "docs" / "example.csv"), "--target", "price_k", "--standardize", "--quiet"]
    assert main(argv) == 0
    assert calls == {"eigenvalues": 1, "largest_curvature": 0}


def test_a_message_comes_before_long_post_fit_checks(capsys):
    loud, quiet = argparse.Namespace(quiet=False), argparse.Namespace(quiet=True)
    _cli_fit._announce_long_checks(loud, (1000, 4200))
    _cli_fit._announce_long_checks(quiet, (1000, 4200))
    _cli_fit._announce_long_checks(loud, (40, 3))  # instant: nothing to announce
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "jaxlr fit: checking against least squares (an SVD of 1000×4200), the condition number "
        "(eigenvalues of 4201×4201) and the statistics…\n"
    )
