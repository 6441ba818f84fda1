"""Model files (``jaxlr.save_model``/``load_model``, ``jaxlr fit --save-model``) and ``jaxlr predict``."""

import importlib.metadata
import json

import numpy as np
import pytest
from helpers import ROOT

import jaxlr
from jaxlr._cli import main

EXAMPLE = ROOT / "docs" / "example.csv"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """One ``jaxlr fit --standardize --save-model --json --history full`` on the README's example."""
    folder = tmp_path_factory.mktemp("fit")
    model, record = folder / "model.json", folder / "fit.json"
    argv = ["fit", str(EXAMPLE), "--target", "price_k", "--standardize", "--steps", "300", "--quiet"]
    code = main([*argv, "--save-model", str(model), "--json", str(record), "--history", "full"])
    assert code == 0
    return model, json.loads(record.read_text())


def test_saved_model_holds_no_history_and_says_what_it_is(fitted):
    model_path, _ = fitted
    record = json.loads(model_path.read_text())
    assert sorted(record) == sorted(
        [
            "format",
            "format_version",
            "jaxlr_version",
            "features",
            "target",
            "weights",
            "bias",
            "standardization",
            "dtype",
        ]
    )
    assert record["format_version"] == 1 and record["jaxlr_version"] == jaxlr.__version__
    assert record["features"] == ["area_m2", "rooms", "age_years"] and record["target"] == "price_k"
    assert record["dtype"] == "float32" and len(record["standardization"]["mean"]) == 3


def test_fit_save_predict_round_trip_equals_jaxlr_predict(fitted, tmp_path, capsys):
    model_path, fit_json = fitted
    out = tmp_path / "pred.csv"
    capsys.readouterr()
    assert main(["predict", str(model_path), str(EXAMPLE), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    lines = out.read_text().splitlines()
    assert lines[0] == "price_k" and len(lines) == 41
    got = np.array(lines[1:], np.float32)
    # The same standardized data and trained params, through jaxlr.predict directly.
    data = jaxlr.load_csv(EXAMPLE, target="price_k")
    z, _ = jaxlr.standardize(data.x, data.feature_names)
    model = jaxlr.load_model(model_path)
    expected = jaxlr.predict(jaxlr.Params(np.float32(model.weights), np.float32(model.bias)), np.float32(z))
    np.testing.assert_array_equal(got, np.asarray(expected))
    # ... and, in original units, the fit's reported weights (float64 rounding of the conversion apart).
    weights = np.array([fit_json["weights"][name] for name in data.feature_names])
    np.testing.assert_allclose(got, data.x @ weights + fit_json["bias"], rtol=1e-5)
    mse = np.mean((got.astype(np.float64) - data.y) ** 2)
    r2 = 1 - np.sum((got - data.y) ** 2) / np.sum((data.y - data.y.mean()) ** 2)
    assert f"MSE {mse:.8g}, R² {r2:.6g} (40 rows)" in printed


def test_predict_to_stdout_puts_the_scores_on_stderr_and_takes_columns_in_any_order(fitted, tmp_path, capfd):
    model_path, _ = fitted
    shuffled = tmp_path / "shuffled.csv"
    rows = [line.split(",") for line in EXAMPLE.read_text().splitlines()]
    order = [3, 2, 0, 1]  # price_k, age_years, area_m2, rooms, plus a column the model does not use
    shuffled.write_text(
        "\n".join(",".join([*(row[i] for i in order), "x" if k == 0 else "7"]) for k, row in enumerate(rows))
    )
    capfd.readouterr()
    assert main(["predict", str(model_path), str(shuffled)]) == 0
    captured = capfd.readouterr()  # "-" is file descriptor 1
    assert "MSE" in captured.err and "MSE" not in captured.out
    reference = tmp_path / "reference.csv"
    assert main(["predict", str(model_path), str(EXAMPLE), "--out", str(reference)]) == 0
    assert captured.out == reference.read_text()


def test_predict_without_the_target_column_prints_no_scores(tmp_path, capfd):
    model = jaxlr.Model(("a",), None, np.array([2.0]), None, None, "float64")
    jaxlr.save_model(tmp_path / "m.json", model)
    (tmp_path / "new.csv").write_text("a\n1\n0.5\n")
    assert main(["predict", str(tmp_path / "m.json"), str(tmp_path / "new.csv")]) == 0
    captured = capfd.readouterr()
    assert captured.out == "prediction\n2.0\n1.0\n" and "MSE" not in captured.err


@pytest.mark.parametrize(
    "model",
    [
        jaxlr.Model(("a", "b"), "y", np.array([0.1, 1 / 3]), 2.0**-1074, None, "float64"),
        jaxlr.Model(
            ("only",),
            None,
            np.array([-1e300]),
            None,
            jaxlr.Standardization(np.array([0.0]), np.array([np.pi])),
            "float32",
        ),
    ],
)
def test_save_and_load_round_trip_exactly(tmp_path, model):
    path = tmp_path / "model.json"
    jaxlr.save_model(path, model)
    loaded = jaxlr.load_model(path)
    assert loaded.features == model.features and loaded.target == model.target and loaded.dtype == model.dtype
    assert loaded.weights.tobytes() == model.weights.tobytes() and loaded.bias == model.bias
    if model.standardization is None:
        assert loaded.standardization is None
    else:
        assert loaded.standardization.mean.tobytes() == model.standardization.mean.tobytes()
        assert loaded.standardization.scale.tobytes() == model.standardization.scale.tobytes()


def test_save_model_refuses_a_non_finite_weight(tmp_path):
    with pytest.raises(ValueError, match="weights"):
        jaxlr.save_model(tmp_path / "m.json", jaxlr.Model(("a",), "y", np.array([np.nan]), None, None, "float32"))
    assert not (tmp_path / "m.json").exists()


def _good_record():
    return {
        "format": "jaxlr-model",
        "format_version": 1,
        "jaxlr_version": "0.1.0",
        "features": ["area_m2", "rooms", "age_years"],
        "target": "price_k",
        "weights": [1.0, 2.0, 3.0],
        "bias": 0.5,
        "standardization": None,
        "dtype": "float32",
    }


def _corrupt(**changes):
    record = _good_record()
    record.update(changes)
    return json.dumps({k: v for k, v in record.items() if v != "DROP"})


@pytest.mark.parametrize(
    "model_text, expected",
    [
        (_corrupt(format_version=2), "format version 2; this jaxlr"),
        (_corrupt()[:-10], "not valid JSON"),
        ("[1, 2]", "not a jaxlr model file"),
        (_corrupt(weights=[1.0, 2.0]), "field 'weights': expected a list of 3 finite numbers"),
        (_corrupt(bias="DROP"), "field 'bias'"),
        (_corrupt(dtype="int8"), "field 'dtype'"),
        (_corrupt(standardization={"mean": [0, 0, 0], "scale": [1, 0, 1]}), "field 'standardization'"),
        (_corrupt(features=["rooms", "rooms", "age_years"]), "field 'features'"),
        (_corrupt(features=["area_m2", "rooms", "floor"]), "has no column 'floor', a feature of the model"),
        (None, "cannot read the model file"),
    ],
)
def test_predict_bad_input_is_one_line_and_exit_2(tmp_path, capsys, model_text, expected):
    path = tmp_path / "model.json"
    if model_text is not None:
        path.write_text(model_text)
    assert main(["predict", str(path), str(EXAMPLE), "--out", str(tmp_path / "pred.csv")]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxlr predict: error: ") and expected in lines[0], captured.err
    assert captured.out == "" and not (tmp_path / "pred.csv").exists()


def test_fit_history_options_bound_the_json(fitted, tmp_path):
    _, full = fitted
    assert len(full["loss_history"]) == 300
    assert np.shape(full["params_history"]["w"]) == (300, 3) and len(full["params_history"]["b"]) == 300
    sizes = {}
    for history in ("loss", "none"):
        out = tmp_path / f"{history}.json"
        argv = ["fit", str(EXAMPLE), "--target", "price_k", "--standardize", "--steps", "300", "--quiet"]
        assert main([*argv, "--json", str(out), "--history", history]) == 0
        record = json.loads(out.read_text())
        assert "params_history" not in record
        assert record["loss_history"] == (full["loss_history"] if history == "loss" else None)
        assert record["weights"] == full["weights"]
        sizes[history] = out.stat().st_size
    assert sizes["loss"] - sizes["none"] > 300 * 15  # the history is what grows with --steps


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"jaxlr {importlib.metadata.version('jaxlr')}\n"


def test_a_history_too_large_for_memory_is_refused_in_one_line(capsys):
    argv = ["fit", str(EXAMPLE), "--target", "price_k", "--steps", "200000000", "--history", "full"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("jaxlr fit: error: --history full: ") and "use --history none" in err[0]
