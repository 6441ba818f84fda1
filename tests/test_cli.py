"""``jaxlr fit`` and ``jaxlr sweep``: results, JSON, exit codes, and a one-line error for each bad input."""

import json
import os

import numpy as np
import pytest
from helpers import run_cli, run_python

# y = 2a - 3b + 1 + small noise; a around 10, b around 0.
ROWS = [(1.0, 0.5), (2.0, -1.0), (3.0, 0.25), (4.0, 1.5), (5.0, -0.5), (6.0, 0.0), (7.0, 2.0), (8.0, -2.0)]
NOISE = [0.01, -0.02, 0.015, 0.0, -0.01, 0.02, -0.015, 0.01]


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "data.csv"
    lines = ["a,b,y"] + [f"{a + 10},{b},{2 * (a + 10) - 3 * b + 1 + e}" for (a, b), e in zip(ROWS, NOISE, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(capsys, *argv):
    return run_cli(capsys, *argv)


def _one_line_error(capsys, *argv):
    code, out, err = _run(capsys, *argv)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "error" in lines[0] and "Traceback" not in err
    return lines[0]


def test_fit_matches_least_squares_and_writes_json(capsys, csv_file, tmp_path):
    out_json = tmp_path / "fit.json"
    code, out, _ = _run(
        capsys, "fit", csv_file, "--target", "y", "--standardize", "--steps", "3000", "--dtype", "float64",
        "--json", out_json,
    )  # fmt: skip
    assert code == 0
    assert "least squares" in out and "gap" in out and "bias" in out and "final loss" in out
    result = json.loads(out_json.read_text())
    expected_keys = {"weights", "bias", "loss_history", "final_loss", "learning_rate", "steps", "optimizer", "dtype"}
    assert expected_keys | {"backend"} <= set(result)
    assert list(result["weights"]) == ["a", "b"]
    exact = result["least_squares"]
    for name in ("a", "b"):
        np.testing.assert_allclose(result["weights"][name], exact["weights"][name], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(result["bias"], exact["bias"], rtol=1e-6)
    np.testing.assert_allclose(result["weights"]["a"], 2.0, atol=0.02)
    np.testing.assert_allclose(result["weights"]["b"], -3.0, atol=0.02)
    assert len(result["loss_history"]) == result["steps"] == 3000
    assert result["optimizer"] == "sgd" and result["dtype"] == "float64" and result["backend"] == "cpu"
    np.testing.assert_allclose(result["final_loss"], exact["final_loss"], rtol=1e-6)
    assert result["learning_rate"] > 0


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_fit_with_other_optimizers(capsys, csv_file, tmp_path, optimizer):
    out_json = tmp_path / "fit.json"
    lr = "0.05" if optimizer == "adam" else "auto"
    code, _, _ = _run(
        capsys, "fit", csv_file, "--target", "y", "--features", "a,b", "--standardize", "--steps", "3000",
        "--optimizer", optimizer, "--lr", lr, "--json", out_json, "--dtype", "float64",
    )  # fmt: skip
    assert code == 0
    result = json.loads(out_json.read_text())
    assert result["optimizer"] == optimizer
    np.testing.assert_allclose(result["weights"]["a"], result["least_squares"]["weights"]["a"], rtol=1e-3)


def test_fit_with_a_chosen_feature(capsys, csv_file, tmp_path):
    out_json = tmp_path / "fit.json"
    code, out, _ = _run(
        capsys, "fit", csv_file, "--target", "y", "--features", "a", "--standardize", "--json", out_json
    )  # fmt: skip
    assert code == 0
    result = json.loads(out_json.read_text())
    assert list(result["weights"]) == ["a"] and result["dtype"] == "float32"


def test_diverging_fit_warns_before_training_fails_and_writes_nothing(capsys, csv_file, tmp_path):
    out_json = tmp_path / "fit.json"
    code, out, err = _run(capsys, "fit", csv_file, "--target", "y", "--lr", "0.5", "--steps", "200", "--json", out_json)
    assert code == 1
    warning, error = err.strip().splitlines()
    assert "warning" in warning and "2/L" in warning and "will diverge" in warning
    assert "diverged at step" in error and "1/L" in error
    assert "nan" not in out.lower() and "gradient descent" not in out
    assert not out_json.exists() and os.listdir(tmp_path) == ["data.csv"]


def test_lesson_dataset(capsys, tmp_path):
    out_json = tmp_path / "fit.json"
    code, out, _ = _run(capsys, "fit", "--dataset", "lesson", "--steps", "2000", "--json", out_json)
    assert code == 0
    result = json.loads(out_json.read_text())
    # the lesson's model f = w * x has no bias: none is fitted, and the JSON says so
    assert result["bias"] is None and result["intercept"] is False and result["least_squares"]["bias"] is None
    assert "bias" not in out and "no intercept" in out
    np.testing.assert_allclose(result["weights"]["x"], 2.0, rtol=1e-6)


def test_lesson_dataset_with_an_intercept(capsys, tmp_path):
    out_json = tmp_path / "fit.json"
    code, out, _ = _run(capsys, "fit", "--dataset", "lesson", "--intercept", "--steps", "2000", "--json", out_json)
    assert code == 0
    result = json.loads(out_json.read_text())
    assert result["intercept"] is True and "bias" in out
    np.testing.assert_allclose(result["weights"]["x"], 2.0, atol=1e-3)
    np.testing.assert_allclose(result["bias"], 0.0, atol=3e-3)


def test_diabetes_matches_scikit_learn(capsys, tmp_path):
    linear_model = pytest.importorskip("sklearn.linear_model")
    datasets = pytest.importorskip("sklearn.datasets")
    out_json = tmp_path / "fit.json"
    code, _, _ = _run(
        capsys, "fit", "--dataset", "diabetes", "--standardize", "--lr", "auto", "--dtype", "float64",
        "--steps", "10000", "--json", out_json, "--quiet",
    )  # fmt: skip
    assert code == 0
    result = json.loads(out_json.read_text())
    data = datasets.load_diabetes(scaled=False)
    reference = linear_model.LinearRegression().fit(data.data, data.target)
    weights = [result["weights"][name] for name in data.feature_names]
    np.testing.assert_allclose(weights, reference.coef_, rtol=1e-3, atol=0)
    np.testing.assert_allclose(result["bias"], reference.intercept_, rtol=1e-3, atol=0)


def test_sweep_reports_best_and_diverged(capsys, csv_file, tmp_path):
    out_json = tmp_path / "sweep.json"
    code, out, _ = _run(
        capsys, "sweep", csv_file, "--target", "y", "--standardize", "--lr", "1e-3:3:12", "--steps", "300",
        "--json", out_json,
    )  # fmt: skip
    assert code == 0
    result = json.loads(out_json.read_text())
    best = next(value for key, value in result.items() if "best" in key and "learning_rate" in key)
    diverged = np.array(next(value for key, value in result.items() if key == "diverged"))
    rates = np.array(result["learning_rates"])
    np.testing.assert_allclose(rates, np.logspace(-3, np.log10(3), 12), rtol=1e-12)
    bound = result["stable_learning_rate_bound"]
    # Plain gradient descent on a quadratic: stable strictly below 2/L, divergent above.
    np.testing.assert_array_equal(diverged, rates > bound)
    assert diverged.any() and not diverged.all()
    assert best in rates[~diverged] and f"best learning rate: {best:.6g}" in out
    assert all(loss is None for loss, d in zip(result["final_loss"], diverged, strict=True) if d)
    assert "diverged at step" in out


def test_sweep_default_range_straddles_the_bound(capsys, csv_file, tmp_path):
    out_json = tmp_path / "sweep.json"
    code, _, _ = _run(capsys, "sweep", csv_file, "--target", "y", "--standardize", "--steps", "100", "--json", out_json)
    assert code == 0
    result = json.loads(out_json.read_text())
    rates, lipschitz = np.array(result["learning_rates"]), result["lipschitz_constant"]
    np.testing.assert_allclose(rates[[0, -1]], [1e-3 / lipschitz, 4 / lipschitz], rtol=1e-9)
    np.testing.assert_array_equal(result["diverged"], rates > 2 / lipschitz)


def test_sweep_where_every_run_diverges_exits_non_zero(capsys, csv_file):
    code, out, err = _run(capsys, "sweep", csv_file, "--target", "y", "--lr", "10:100:3", "--steps", "100")
    assert code == 1
    assert "every learning rate diverged" in err and "best learning rate" not in out


@pytest.fixture
def bad_files(tmp_path):
    files = {
        "empty": "",
        "header only": "a,b,y\n",
        "non-numeric": "a,b,y\n1,2,3\n4,oops,6\n",
        "empty cell": "a,b,y\n1,2,3\n4,,6\n",
        "ragged": "a,b,y\n1,2,3\n4,5\n",
        "constant": "a,b,y\n1,7,3\n2,7,5\n3,7,8\n",
        "nan": "a,b,y\n1,2,3\n4,nan,6\n",
    }
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / f"{name.replace(' ', '_')}.csv"
        paths[name].write_text(text)
    paths["missing"] = tmp_path / "no_such_file.csv"
    return paths


BAD_INPUTS = [
    # (file key or None, extra arguments, words the one-line error must contain)
    ("missing", ["--target", "y"], ["no_such_file.csv", "No such file"]),
    ("constant", ["--target", "nope"], ["'nope'", "a, b, y"]),
    ("non-numeric", ["--target", "y"], ["row 2", "line 3", "'b'", "'oops'", "not a number"]),
    ("empty cell", ["--target", "y"], ["row 2", "'b'", "empty cell"]),
    ("nan", ["--target", "y"], ["row 2", "'b'", "finite"]),
    ("ragged", ["--target", "y"], ["row 2", "2 cells", "3 columns"]),
    ("empty", ["--target", "y"], ["empty", "header"]),
    ("header only", ["--target", "y"], ["header", "no rows"]),
    ("constant", ["--target", "y", "--standardize"], ["'b'", "constant"]),
    ("constant", ["--target", "y", "--features", "a,zz"], ["'zz'"]),
    ("constant", ["--target", "y", "--features", "a,y"], ["'y'", "both"]),
    (None, ["--dataset", "iris"], ["--dataset", "invalid choice", "'iris'"]),
    (None, [], ["--dataset"]),
    ("non-numeric", [], ["--target"]),
    ("non-numeric", ["--target", "y", "--lr", "-1"], ["--lr", "'-1'"]),
    ("non-numeric", ["--target", "y", "--steps", "0"], ["--steps"]),
    ("non-numeric", ["--target", "y", "--json", "/no/such/dir/out.json"], ["/no/such/dir"]),
    ("non-numeric", ["--target", "y", "--plot", "out.xyz"], [".xyz", ".png"]),
]


@pytest.mark.parametrize("command", ["fit", "sweep"])
@pytest.mark.parametrize("key, extra, words", BAD_INPUTS, ids=[f"{k}-{' '.join(e)}" for k, e, _ in BAD_INPUTS])
def test_bad_input_gets_a_one_line_error(capsys, bad_files, command, key, extra, words):
    if command == "sweep" and "--lr" in extra:
        extra = ["--target", "y", "--lr", "1:2"]
        words = ["--lr", "START:STOP:COUNT"]
    argv = [command, *([bad_files[key]] if key else []), *extra]
    line = _one_line_error(capsys, *argv)
    assert line.startswith(f"jaxlr {command}: error: "), line
    for word in words:
        assert word in line, line


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--no-intercept", "--distributed"], ["--no-intercept", "--distributed"]),
        (["--no-intercept", "--standardize", "--features", "a,z"], ["'z'", "all zeros"]),
    ],
)
def test_bad_no_intercept_options(capsys, tmp_path, extra, words):
    path = tmp_path / "zeros.csv"
    path.write_text("a,z,y\n1,0,3\n2,0,5\n3,0,8\n")
    line = _one_line_error(capsys, "fit", path, "--target", "y", *extra)
    assert all(word in line for word in words), line


@pytest.mark.parametrize("spec", ["1e-4:3", "a:b:3", "0:1:3", "1e-4:3:0", "2:2:5"])
def test_bad_sweep_range(capsys, csv_file, spec):
    line = _one_line_error(capsys, "sweep", csv_file, "--target", "y", f"--lr={spec}")
    assert "--lr" in line


def test_real_process_exit_codes_and_stderr(csv_file, tmp_path):
    """Two subprocess runs: a fit that succeeds (no progress bar: stderr is a pipe), and a missing file."""
    out_json = tmp_path / "fit.json"
    done = run_python(
        "-m", "jaxlr", "fit", str(csv_file), "--target", "y", "--standardize", "--steps", "6000",
        "--json", str(out_json),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "step" not in done.stderr and "%" not in done.stderr  # no bar when stderr is not a terminal
    assert json.loads(out_json.read_text())["steps"] == 6000
    missing = run_python("-m", "jaxlr", "fit", str(tmp_path / "nope.csv"), "--target", "y")
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "nope.csv" in missing.stderr
