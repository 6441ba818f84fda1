"""float32 data with large offsets: the fit converges, or says it has not, with κ and the fix."""

import json

import numpy as np
import pytest

import jaxlr
from jaxlr._cli import main


@pytest.fixture
def offset_csv(tmp_path):
    rng = np.random.default_rng(0)
    x = 1e4 + rng.normal(size=200)
    y = 3 * x - 29990 + 0.1 * rng.normal(size=200)
    path = tmp_path / "offset.csv"
    np.savetxt(path, np.c_[x, y], delimiter=",", header="x,y", comments="", fmt="%.6f")
    slope, intercept = np.polyfit(np.loadtxt(path, delimiter=",", skiprows=1)[:, 0], y, 1)
    return path, slope, intercept


def test_least_squares_survives_large_offsets_in_float32(offset_csv):
    path, slope, intercept = offset_csv
    data = np.loadtxt(path, delimiter=",", skiprows=1).astype(np.float32)
    exact = jaxlr.least_squares(data[:, 0], data[:, 1])
    np.testing.assert_allclose(exact.w, slope, rtol=1e-4)
    np.testing.assert_allclose(exact.b, intercept, rtol=1e-4)


def test_unstandardized_fit_reports_ill_conditioning_and_the_fix(offset_csv, tmp_path, capsys):
    path, slope, _ = offset_csv
    out = tmp_path / "fit.json"
    code = main(["fit", str(path), "--target", "y", "--steps", "500", "--quiet", "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 3
    error = captured.err.strip().splitlines()[-1]
    assert "has not converged" in error and "condition number 1" in error and "--standardize" in error
    result = json.loads(out.read_text())
    assert result["converged"] is False and result["condition_number"] > 1e12
    np.testing.assert_allclose(result["least_squares"]["weights"]["x"], slope, rtol=1e-4)


def test_standardized_fit_converges_to_the_right_answer(offset_csv, tmp_path, capsys):
    path, slope, intercept = offset_csv
    out = tmp_path / "fit.json"
    code = main(["fit", str(path), "--target", "y", "--standardize", "--steps", "500", "--quiet", "--json", str(out)])
    assert code == 0, capsys.readouterr().err
    result = json.loads(out.read_text())
    assert result["converged"] is True and result["condition_number"] < 2
    np.testing.assert_allclose(result["weights"]["x"], slope, rtol=1e-4)
    np.testing.assert_allclose(result["bias"], intercept, rtol=1e-4)


def test_too_few_steps_on_a_well_conditioned_problem_says_more_steps(tmp_path, capsys):
    code = main(["fit", "--dataset", "lesson", "--intercept", "--steps", "2", "--quiet"])
    assert code == 3
    assert "too few steps" in capsys.readouterr().err
