"""``jaxlr fit``'s checks after training: one eigendecomposition for κ and L, and a message before long ones."""

import argparse

from helpers import ROOT

from jaxlr import _cli_fit, _curvature
from jaxlr._cli import main


def test_condition_number_is_computed_once_per_fit(monkeypatch):
    # κ and L both come from this one eigendecomposition (judge takes L; it has no way to compute its own)
    calls = []
    host_eigenvalues = _curvature._host_eigenvalues

    def counted_eigenvalues(*args):
        calls.append(args)
        return host_eigenvalues(*args)

    monkeypatch.setattr(_curvature, "_host_eigenvalues", counted_eigenvalues)
    argv = ["fit", str(ROOT / "docs" / "example.csv"), "--target", "price_k", "--standardize", "--quiet"]
    assert main(argv) == 0
    assert len(calls) == 1


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
