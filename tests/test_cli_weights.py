"""``jaxlr fit --weights COLUMN``: the weighted fit against statsmodels WLS and scikit-learn, and its errors."""

import json

import numpy as np
import pytest

import jaxlr
from jaxlr._cli import main

sm = pytest.importorskip("statsmodels.api")
sklearn_linear = pytest.importorskip("sklearn.linear_model")

RNG = np.random.default_rng(11)
N = 30
X = RNG.normal(size=(N, 2)) * np.array([1.0, 3.0]) + np.array([0.0, 5.0])
Y = X @ np.array([1.5, -0.7]) + 2.0 + 0.3 * RNG.normal(size=N)
W = RNG.integers(0, 4, size=N).astype(np.float64)  # integer weights, some zero
W[0] = 2.0


def _write(path, x, y, w=None):
    columns = [x[:, 0], x[:, 1], y] + ([] if w is None else [w])
    rows = [",".join(repr(float(v)) for v in row) for row in zip(*columns, strict=True)]
    path.write_text("a,b,y" + ("" if w is None else ",w") + "\n" + "\n".join(rows) + "\n")
    return path


def _fit(capsys, tmp_path, csv, *extra):
    out = tmp_path / "fit.json"
    argv = [
        "fit",
        str(csv),
        "--target",
        "y",
        "--dtype",
        "float64",
        "--optimizer",
        "heavy-ball",
        "--standardize",
        "--steps",
        "20000",
        "--tol",
        "1e-13",
        "--json",
        str(out),
        "--quiet",
        *extra,
    ]
    code = main(argv)
    printed, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out.read_text()), printed


def test_weights_match_statsmodels_wls_and_scikit_learn(capsys, tmp_path):
    result, printed = _fit(capsys, tmp_path, _write(tmp_path / "d.csv", X, Y, W), "--weights", "w")
    assert result["weights_column"] == "w" and result["converged"] is True
    assert "weights 'w'" in printed
    wls = sm.WLS(Y, sm.add_constant(X, prepend=False), weights=W).fit()
    fitted = [*result["weights"].values(), result["bias"]]
    np.testing.assert_allclose(fitted, wls.params, rtol=1e-8)
    lr = sklearn_linear.LinearRegression().fit(X, Y, sample_weight=W)
    np.testing.assert_allclose(fitted, [*lr.coef_, lr.intercept_], rtol=1e-8)
    # the MSE printed and written is the weighted one
    weighted_mse = float(np.average((Y - wls.fittedvalues) ** 2, weights=W))
    np.testing.assert_allclose(result["final_loss"], weighted_mse, rtol=1e-8)
    np.testing.assert_allclose(result["least_squares"]["final_loss"], weighted_mse, rtol=1e-10)
    stats = result["statistics"]
    np.testing.assert_allclose([stats["r2"], stats["adj_r2"]], [wls.rsquared, wls.rsquared_adj], rtol=1e-8)
    np.testing.assert_allclose(stats["residual_std_error"], np.sqrt(wls.scale), rtol=1e-8)
    names = ["a", "b", "bias"]
    np.testing.assert_allclose([stats["std_errors"][k] for k in names], wls.bse, rtol=1e-8)
    np.testing.assert_allclose([stats["t_values"][k] for k in names], wls.tvalues, rtol=1e-8)
    np.testing.assert_allclose([stats["conf_int_95"][k] for k in names], wls.conf_int(0.05), rtol=1e-8)
    # the condition number is the weighted design's (the [X 1] one standardized unweighted, then weighted)
    z = (X - X.mean(axis=0)) / X.std(axis=0)
    a = np.column_stack([z, np.ones(N)])
    eigenvalues = np.linalg.eigvalsh((W[:, None] * a).T @ a / W.sum())
    np.testing.assert_allclose(result["condition_number"], eigenvalues[-1] / eigenvalues[0], rtol=1e-8)


def test_integer_weights_equal_repeated_rows(capsys, tmp_path):
    weighted, _ = _fit(capsys, tmp_path, _write(tmp_path / "w.csv", X, Y, W), "--weights", "w")
    repeat = W.astype(int)
    repeated, _ = _fit(capsys, tmp_path, _write(tmp_path / "r.csv", np.repeat(X, repeat, 0), np.repeat(Y, repeat)))
    assert repeated["weights_column"] is None
    np.testing.assert_allclose(list(weighted["weights"].values()), list(repeated["weights"].values()), rtol=1e-8)
    np.testing.assert_allclose(weighted["bias"], repeated["bias"], rtol=1e-8)
    np.testing.assert_allclose(weighted["final_loss"], repeated["final_loss"], rtol=1e-8)


@pytest.mark.parametrize(
    ("cells", "extra", "words"),
    [
        ({3: "-1"}, (), "non-negative; row 3 has -1"),
        ("zero", (), "every weight is zero"),
        ({2: "heavy"}, (), "'heavy' is not a number"),
        (None, ("--weights", "nope"), "has no such column"),
        (None, ("--weights", "y"), "it is the target"),
        (None, ("--weights", "a", "--features", "a,b"), "also chosen as a feature"),
        (None, ("--weights", "w", "--distributed"), "cannot be used with --distributed"),
    ],
)
def test_bad_weights_get_a_one_line_error_naming_the_option(capsys, tmp_path, cells, extra, words):
    w = [str(v) for v in W]
    if cells == "zero":
        w = ["0"] * N
    elif cells:
        for row, text in cells.items():
            w[row] = text
    lines = ["a,b,y,w"] + [f"{xi[0]},{xi[1]},{yi},{wi}" for xi, yi, wi in zip(X, Y, w, strict=True)]
    csv = tmp_path / "d.csv"
    csv.write_text("\n".join(lines) + "\n")
    code = main(["fit", str(csv), "--target", "y", "--quiet", *(extra or ("--weights", "w"))])
    out, err = capsys.readouterr()
    assert code == 2 and out == "", (out, err)
    column = (extra or ("--weights", "w"))[1]
    assert err.count("\n") == 1 and err.startswith(f"jaxlr fit: error: --weights {column}: "), err
    assert words in err


def test_weights_column_of_a_built_in_dataset_is_not_a_feature():
    data = jaxlr.load_dataset("diabetes", weights="age")
    assert "age" not in data.feature_names and data.weights_name == "age"
    assert data.x.shape == (442, 9) and data.weights is not None and data.weights.shape == (442,)
