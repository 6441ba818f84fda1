"""fit(sample_weight=, l2=) and jaxlr fit --l2/--tol: the one loop, plain and gram alike, against scikit-learn."""

import json

import numpy as np
import pytest

import jaxlr
from jaxlr._cli import main

sklearn_linear = pytest.importorskip("sklearn.linear_model")

RNG = np.random.default_rng(7)
X = RNG.normal(size=(60, 3)) * np.array([1.0, 2.0, 0.5])
Y = X @ np.array([1.5, -0.7, 2.0]) + 3.0 + 0.2 * RNG.normal(size=60)
S = RNG.uniform(0.2, 3.0, size=60)
P0 = jaxlr.Params(np.zeros(3), 0.0)
_CSV = "a,b,c,y\n" + "\n".join(",".join(map(str, [*row.tolist(), float(t)])) for row, t in zip(X, Y, strict=True))


def _fit(**kwargs):
    # heavy-ball to a gradient tolerance of 1e-13: float64 coefficients to ~1e-12 on this κ ≈ 40 problem
    result = jaxlr.fit(P0, X, Y, optimizer="heavy-ball", n_iters=20_000, tol=1e-13, history="none", **kwargs)
    assert bool(result.converged)
    return np.append(np.asarray(result.params.w), float(result.params.b))


@pytest.mark.parametrize("method", ["plain", "gram"])
def test_sample_weight_matches_weighted_linear_regression(method):
    model = sklearn_linear.LinearRegression().fit(X, Y, sample_weight=S)
    np.testing.assert_allclose(
        _fit(sample_weight=S, method=method), np.append(model.coef_, model.intercept_), rtol=1e-8
    )


@pytest.mark.parametrize("method", ["plain", "gram"])
def test_l2_matches_ridge_with_alpha_l2_times_the_total_weight(method):
    l2 = 0.05
    ridge = sklearn_linear.Ridge(alpha=l2 * len(Y)).fit(X, Y)  # Ridge penalises the sum of squares
    np.testing.assert_allclose(_fit(l2=l2, method=method), np.append(ridge.coef_, ridge.intercept_), rtol=1e-8)
    weighted = sklearn_linear.Ridge(alpha=l2 * S.sum()).fit(X, Y, sample_weight=S)
    np.testing.assert_allclose(
        _fit(l2=l2, sample_weight=S, method=method), np.append(weighted.coef_, weighted.intercept_), rtol=1e-8
    )


@pytest.mark.parametrize("method", ["plain", "gram"])
def test_per_weight_l2_is_the_scalar_penalty_on_rescaled_features(method):
    # features x_j / c_j have weights c_j w_j, so l2 |w|² is the per-weight penalty (l2 / c_j²) (c_j w_j)²
    c = np.array([10.0, 0.5, 3.0])
    result = jaxlr.fit(
        P0, X / c, Y, optimizer="heavy-ball", n_iters=20_000, tol=1e-13, history="none", l2=0.05 / c**2, method=method
    )
    ridge = sklearn_linear.Ridge(alpha=0.05 * len(Y)).fit(X, Y)
    np.testing.assert_allclose(np.asarray(result.params.w) / c, ridge.coef_, rtol=1e-8)
    np.testing.assert_allclose(float(result.params.b), ridge.intercept_, rtol=1e-8)


def test_auto_learning_rate_accounts_for_weights_and_l2():
    design = np.column_stack([X, np.ones(60)])
    hessian = 2 * (design.T * S) @ design / S.sum() + 2 * 0.3 * np.diag([1.0, 1.0, 1.0, 0.0])
    result = jaxlr.fit(P0, X, Y, learning_rate="auto", sample_weight=S, l2=0.3, n_iters=2)
    np.testing.assert_allclose(1 / float(result.learning_rate), np.linalg.eigvalsh(hessian)[-1], rtol=1e-6)
    lipschitz = jaxlr.lipschitz_constant(X, sample_weight=S, l2=0.3)
    np.testing.assert_allclose(float(lipschitz), np.linalg.eigvalsh(hessian)[-1], rtol=1e-6)
    unpenalised = np.linalg.eigvalsh(2 * (design.T * S) @ design / S.sum())
    kappa = jaxlr.condition_number(X, sample_weight=S)
    np.testing.assert_allclose(float(kappa), unpenalised[-1] / unpenalised[0], rtol=1e-8)
    with pytest.raises(ValueError, match=r"condition_number: sample_weight must be non-negative"):
        jaxlr.condition_number(X, sample_weight=-S)


def test_bad_weights_are_refused():
    with pytest.raises(ValueError, match=r"fit: sample_weight must have shape \(60,\)"):
        jaxlr.fit(P0, X, Y, sample_weight=S[:5])
    with pytest.raises(ValueError, match=r"fit: sample_weight must be finite and non-negative"):
        jaxlr.fit(P0, X, Y, sample_weight=-S)
    with pytest.raises(ValueError, match=r"fit: l2 must be non-negative and finite"):
        jaxlr.fit(P0, X, Y, l2=-1.0)
    with pytest.raises(ValueError, match=r"fit: l2 must be non-negative and finite"):
        jaxlr.fit(P0, X, Y, l2=np.array([0.1, -1.0, 0.2]))
    with pytest.raises(
        ValueError, match=r"fit: l2 must be a scalar or one penalty per weight, shape \(3,\); got shape \(2,\)"
    ):
        jaxlr.fit(P0, X, Y, l2=np.array([0.1, 0.2]))


def test_cli_l2_is_ridge_on_the_trained_weights(tmp_path, capsys):
    csv = tmp_path / "d.csv"
    csv.write_text(_CSV)
    out = tmp_path / "fit.json"
    code = main(
        [
            "fit",
            str(csv),
            "--target",
            "y",
            "--l2",
            "0.05",
            "--dtype",
            "float64",
            "--steps",
            "5000",
            "--json",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    result = json.loads(out.read_text())
    ridge = sklearn_linear.Ridge(alpha=0.05 * len(Y)).fit(X, Y)
    np.testing.assert_allclose(list(result["weights"].values()), ridge.coef_, rtol=1e-6)  # 5000 steps at 1/L: ~1e-9
    np.testing.assert_allclose(result["least_squares"]["bias"], ridge.intercept_, rtol=1e-10)  # the reference itself
    assert result["l2"] == 0.05 and result["converged"] is True


def test_cli_tol_stops_early_and_says_so(tmp_path, capsys):
    csv = tmp_path / "d.csv"
    csv.write_text(_CSV)
    out = tmp_path / "fit.json"
    argv = [
        "fit",
        str(csv),
        "--target",
        "y",
        "--tol",
        "1e-9",
        "--steps",
        "100000",
        "--dtype",
        "float64",
        "--optimizer",
        "heavy-ball",
        "--json",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert 0 < result["steps_taken"] < 100_000 and f"met after {result['steps_taken']} of at most 100000" in printed
