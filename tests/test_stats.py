"""``jaxlr.regression_stats`` against statsmodels' OLS/WLS and an exact rational reference; weighted and
ridge ``jaxlr.least_squares`` against scikit-learn; the statistics ``jaxlr fit`` prints and writes."""

import json
import re
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import ROOT

import jaxlr
from jaxlr._cli import main

sm = pytest.importorskip("statsmodels.api")
scipy_stats = pytest.importorskip("scipy.stats")
linear_model = pytest.importorskip("sklearn.linear_model")
metrics = pytest.importorskip("sklearn.metrics")
datasets = pytest.importorskip("sklearn.datasets")

# The bar for float64 agreement with statsmodels, for every field. Measured: ≤ 5e-13 on diabetes
# (the p-values carry jax's betainc error, ~1e-13 at 431 degrees of freedom); ≤ 1e-11 on the ill-conditioned designs.
RTOL = 1e-8
FIELDS = ("r2", "adj_r2", "rmse", "residual_std_error", "std_errors", "t_values", "p_values", "conf_int_95", "coef")


@pytest.fixture(scope="module")
def diabetes():
    x, y = datasets.load_diabetes(return_X_y=True, scaled=False)
    return x, y


@pytest.fixture(scope="module")
def weights(diabetes):
    w = np.random.default_rng(0).uniform(0.2, 3.0, len(diabetes[1]))
    w[:5] = 0.0  # zero-weight rows count in nobs, as in statsmodels' WLS
    return w


def _statsmodels(x, y, weight=None, *, intercept=True):
    """statsmodels' results as a dict in jaxlr's order: the weights, then the intercept."""
    design = sm.add_constant(x, prepend=False) if intercept else x
    model = sm.OLS(y, design) if weight is None else sm.WLS(y, design, weights=weight)
    r = model.fit()
    total = len(y) if weight is None else np.sum(weight)
    return {
        "r2": r.rsquared,
        "adj_r2": r.rsquared_adj,
        "rmse": np.sqrt(r.ssr / total),
        "residual_std_error": np.sqrt(r.scale),
        "std_errors": r.bse,
        "t_values": r.tvalues,
        "p_values": r.pvalues,
        "conf_int_95": r.conf_int(0.05),
        "coef": r.params,
        "nobs": r.nobs,
        "df_model": r.df_model,
        "df_resid": r.df_resid,
    }


def _exact(x, y, weight=None):
    """OLS/WLS with an intercept in exact rational arithmetic on the float64 inputs, whatever their conditioning.

    The coefficients, residuals and covariance are exact fractions; only the final square roots, p-values and
    quantiles are floats (scipy's, ~1e-15 relative).
    """
    n, d = x.shape
    rows = [[Fraction(float(v)) for v in row] + [Fraction(1)] for row in x]
    ys = [Fraction(float(v)) for v in y]
    ws = [Fraction(1)] * n if weight is None else [Fraction(float(v)) for v in weight]
    k = d + 1
    gram = [[sum(ws[i] * rows[i][a] * rows[i][b] for i in range(n)) for b in range(k)] for a in range(k)]
    moments = [sum(ws[i] * rows[i][a] * ys[i] for i in range(n)) for a in range(k)]
    augmented = [gram[a] + [Fraction(int(a == b)) for b in range(k)] for a in range(k)]
    for col in range(k):  # Gauss-Jordan inversion
        pivot = next(r for r in range(col, k) if augmented[r][col] != 0)
        augmented[col], augmented[pivot] = augmented[pivot], augmented[col]
        head = augmented[col][col]
        augmented[col] = [v / head for v in augmented[col]]
        for r in range(k):
            if r != col and augmented[r][col] != 0:
                f = augmented[r][col]
                augmented[r] = [a - f * b for a, b in zip(augmented[r], augmented[col], strict=True)]
    inverse = [row[k:] for row in augmented]
    coef = [sum(inverse[a][b] * moments[b] for b in range(k)) for a in range(k)]
    residuals = [ys[i] - sum(rows[i][a] * coef[a] for a in range(k)) for i in range(n)]
    ssr = sum(ws[i] * residuals[i] ** 2 for i in range(n))
    total = sum(ws)
    mean = sum(w * v for w, v in zip(ws, ys, strict=True)) / total
    tss = sum(w * (v - mean) ** 2 for w, v in zip(ws, ys, strict=True))
    df = n - k
    r2 = 1 - ssr / tss
    se = np.sqrt([float(ssr / df * inverse[a][a]) for a in range(k)])
    coef_f = np.array([float(c) for c in coef])
    t = coef_f / se
    q = scipy_stats.t.ppf(0.975, df)
    return {
        "r2": float(r2),
        "adj_r2": float(1 - Fraction(n - 1, df) * (1 - r2)),
        "rmse": np.sqrt(float(ssr / total)),
        "residual_std_error": np.sqrt(float(ssr / df)),
        "std_errors": se,
        "t_values": t,
        "p_values": 2 * scipy_stats.t.sf(np.abs(t), df),
        "conf_int_95": np.stack([coef_f - q * se, coef_f + q * se], axis=1),
        "coef": coef_f,
    }


def _assert_fields(stats, reference, rtol=RTOL, fields=FIELDS):
    for field in fields:
        np.testing.assert_allclose(np.asarray(getattr(stats, field)), reference[field], rtol=rtol, err_msg=field)


def _cubic(offset, n=40, seed=1):
    """Polynomial columns t, t², t³ of t = offset ± 1: nearly collinear, with large offsets."""
    rng = np.random.default_rng(seed)
    t = offset + rng.uniform(-1, 1, n)
    x = np.stack([t, t**2, t**3], axis=1)
    y = 1 + 0.5 * t - 0.02 * t**2 + 0.001 * t**3 + rng.normal(0, 0.1, n)
    return x, y


def test_ols_on_diabetes_matches_statsmodels(diabetes):
    x, y = diabetes
    stats = jaxlr.regression_stats(x, y)
    reference = _statsmodels(x, y)
    _assert_fields(stats, reference)
    assert stats.conf_int_95.shape == (11, 2) and stats.std_errors.dtype == jnp.float64
    for field in ("nobs", "df_model", "df_resid"):
        assert float(getattr(stats, field)) == reference[field], field


def test_ols_without_intercept_matches_statsmodels(diabetes):
    x, y = diabetes
    stats = jaxlr.regression_stats(x, y, intercept=False)
    _assert_fields(stats, _statsmodels(x, y, intercept=False))  # R² about zero: statsmodels' uncentred R²
    assert stats.coef.shape == (10,)


def test_wls_on_diabetes_matches_statsmodels(diabetes, weights):
    x, y = diabetes
    stats = jaxlr.regression_stats(x, y, sample_weight=weights)
    reference = _statsmodels(x, y, weights)
    _assert_fields(stats, reference)
    assert float(stats.df_resid) == reference["df_resid"] == len(y) - 11
    rmse = metrics.root_mean_squared_error(y, x @ reference["coef"][:-1] + reference["coef"][-1], sample_weight=weights)
    np.testing.assert_allclose(float(stats.rmse), rmse, rtol=RTOL)


def test_ill_conditioned_design_matches_statsmodels_and_exact_arithmetic():
    # cond([X 1]) ≈ 7e6: statsmodels' pinv solve is still accurate to ~1e-13 here (checked against the
    # exact answer), while the normal equations XᵀX would lose ~13 of the 16 digits.
    x, y = _cubic(10.0)
    assert np.linalg.cond(sm.add_constant(x)) > 1e6
    exact, reference = _exact(x, y), _statsmodels(x, y)
    _assert_fields(jaxlr.regression_stats(x, y), reference)
    _assert_fields(jaxlr.regression_stats(x, y), exact)
    np.testing.assert_allclose(reference["std_errors"], exact["std_errors"], rtol=1e-10)  # the reference holds
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(y))
    _assert_fields(jaxlr.regression_stats(x, y, sample_weight=w), _statsmodels(x, y, w))
    _assert_fields(jaxlr.regression_stats(x, y, sample_weight=w), _exact(x, y, w))


def test_near_collinear_columns_match_statsmodels():
    rng = np.random.default_rng(3)
    a = rng.normal(size=60)
    x = np.stack([a, a + 1e-5 * rng.normal(size=60), rng.normal(size=60) + 500.0], axis=1)
    y = 2 * x[:, 0] - x[:, 1] + 0.1 * x[:, 2] + rng.normal(0, 0.5, 60)
    _assert_fields(jaxlr.regression_stats(x, y), _exact(x, y))
    _assert_fields(jaxlr.regression_stats(x, y), _statsmodels(x, y))


def test_severely_ill_conditioned_design_matches_exact_arithmetic():
    # cond([X 1]) ≈ 5e15: statsmodels' pinv drops a singular value here (its coefficients are wrong by 100%),
    # so the reference is exact rational arithmetic. Measured: coefficients 4e-11, p-values 4e-10 relative.
    x, y = _cubic(300.0)
    assert np.linalg.cond(sm.add_constant(x)) > 1e15
    _assert_fields(jaxlr.regression_stats(x, y), _exact(x, y))


def test_under_jit_and_vmap(diabetes, weights):
    x, y = diabetes
    jitted = jax.jit(lambda x, y, w: jaxlr.regression_stats(x, y, sample_weight=w))
    _assert_fields(jitted(x, y, weights), _statsmodels(x, y, weights))
    # one statistic per bootstrap-like reweighting, in one vmapped call
    ws = np.stack([weights, np.ones_like(weights)])
    batched = jax.vmap(lambda w: jaxlr.regression_stats(x, y, sample_weight=w))(ws)
    np.testing.assert_allclose(np.asarray(batched.r2), [_statsmodels(x, y, weights)["r2"], _statsmodels(x, y)["r2"]])


def test_given_params_describe_those_params(diabetes):
    x, y = diabetes
    exact = jaxlr.least_squares(x, y)
    _assert_fields(jaxlr.regression_stats(x, y, exact), _statsmodels(x, y))
    off = jaxlr.Params(np.asarray(exact.w) * 1.01, exact.b)
    stats = jaxlr.regression_stats(x, y, off)
    prediction = x @ np.asarray(off.w) + float(off.b)
    np.testing.assert_allclose(float(stats.r2), metrics.r2_score(y, prediction), rtol=RTOL)
    np.testing.assert_allclose(float(stats.rmse), metrics.root_mean_squared_error(y, prediction), rtol=RTOL)
    np.testing.assert_allclose(np.asarray(stats.coef), np.append(off.w, off.b))
    with pytest.raises(ValueError, match="regression_stats: params has no bias .* intercept=True"):
        jaxlr.regression_stats(x, y, jaxlr.Params(exact.w))


def test_one_feature_without_intercept():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    y = 2 * x + np.array([0.1, -0.2, 0.05, 0.0, 0.1])
    stats = jaxlr.regression_stats(x, y, intercept=False)
    _assert_fields(stats, _statsmodels(x[:, None], y, intercept=False))


def test_no_residual_degrees_of_freedom_leave_the_inference_undefined():
    stats = jaxlr.regression_stats(np.array([[1.0, 2.0], [3.0, 1.0], [0.0, 5.0]]), np.array([1.0, 2.0, 3.0]))
    assert float(stats.df_resid) == 0 and float(stats.df_model) == 2
    np.testing.assert_allclose(float(stats.r2), 1.0, rtol=1e-12)  # three coefficients through three points
    for field in ("adj_r2", "residual_std_error", "std_errors", "t_values", "p_values", "conf_int_95"):
        assert np.all(np.isnan(np.asarray(getattr(stats, field)))), field


def test_ridge_r2_and_rmse_match_scikit_learn_and_inference_is_nan(diabetes, weights):
    x, y = diabetes
    l2 = 0.01
    stats = jaxlr.regression_stats(x, y, sample_weight=weights, l2=l2)
    ridge = linear_model.Ridge(alpha=l2 * weights.sum(), solver="svd").fit(x, y, sample_weight=weights)
    np.testing.assert_allclose(np.asarray(stats.coef), np.append(ridge.coef_, ridge.intercept_), rtol=RTOL)
    np.testing.assert_allclose(float(stats.r2), ridge.score(x, y, sample_weight=weights), rtol=RTOL)
    rmse = metrics.root_mean_squared_error(y, ridge.predict(x), sample_weight=weights)
    np.testing.assert_allclose(float(stats.rmse), rmse, rtol=RTOL)
    for field in ("std_errors", "t_values", "p_values", "conf_int_95"):
        assert np.all(np.isnan(np.asarray(getattr(stats, field)))), field


def test_t_distribution_against_scipy():
    from jaxlr._least_squares import t_two_sided_critical, t_two_sided_p  # no public handle: regression_stats uses them

    df = np.array([1, 2, 3, 7, 30, 431, 1e4])[:, None]
    t = np.array([0.0, 0.5, 2.0, 10.0, 40.0])[None, :]
    quantiles = jax.jit(lambda df: t_two_sided_critical(0.05, df))(jnp.asarray(df[:, 0]))
    np.testing.assert_allclose(np.asarray(quantiles), scipy_stats.t.ppf(0.975, df[:, 0]), rtol=1e-12)
    p = jax.jit(t_two_sided_p)(jnp.asarray(t), jnp.asarray(df))
    # rtol: jax's betainc, measured ≤ 4e-12 relative to scipy for these degrees of freedom
    np.testing.assert_allclose(np.asarray(p), 2 * scipy_stats.t.sf(t, df), rtol=1e-11)


# ---- least_squares with sample weights and ridge ----


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_weighted_least_squares_matches_linear_regression(diabetes, weights, jit):
    x, y = diabetes
    solve = jax.jit(lambda x, y, w: jaxlr.least_squares(x, y, sample_weight=w)) if jit else None
    p = solve(x, y, weights) if jit else jaxlr.least_squares(x, y, sample_weight=weights)
    reference = linear_model.LinearRegression().fit(x, y, sample_weight=weights)
    np.testing.assert_allclose(np.asarray(p.w), reference.coef_, rtol=RTOL)
    np.testing.assert_allclose(float(p.b), reference.intercept_, rtol=RTOL)


@pytest.mark.parametrize("l2", [1e-4, 0.01, 1.0])
def test_ridge_least_squares_matches_ridge(diabetes, weights, l2):
    x, y = diabetes
    for w in (None, weights):
        total = len(y) if w is None else w.sum()
        reference = linear_model.Ridge(alpha=l2 * total, solver="svd").fit(x, y, sample_weight=w)
        p = jaxlr.least_squares(x, y, sample_weight=w, l2=l2)
        np.testing.assert_allclose(np.asarray(p.w), reference.coef_, rtol=RTOL)
        np.testing.assert_allclose(float(p.b), reference.intercept_, rtol=RTOL)
    jitted = jax.jit(lambda l2: jaxlr.least_squares(x, y, sample_weight=weights, l2=l2))(l2)  # l2 traced
    np.testing.assert_allclose(np.asarray(jitted.w), np.asarray(p.w), rtol=1e-12)


def test_ridge_without_bias_and_integer_weights_repeat_rows(diabetes):
    x, y = diabetes
    reference = linear_model.Ridge(alpha=0.5 * len(y), fit_intercept=False, solver="svd").fit(x, y)
    p = jaxlr.least_squares(x, y, bias=False, l2=0.5)
    assert p.b is None
    np.testing.assert_allclose(np.asarray(p.w), reference.coef_, rtol=RTOL)
    counts = np.random.default_rng(4).integers(0, 3, len(y))
    repeated = jaxlr.least_squares(np.repeat(x, counts, axis=0), np.repeat(y, counts))
    weighted = jaxlr.least_squares(x, y, sample_weight=counts)
    np.testing.assert_allclose(np.asarray(weighted.w), np.asarray(repeated.w), rtol=1e-9)
    scaled = jaxlr.least_squares(x, y, sample_weight=counts * 1000.0)  # only the weights' ratios matter
    np.testing.assert_allclose(np.asarray(scaled.w), np.asarray(weighted.w), rtol=1e-9)


def test_weighted_least_squares_survives_large_offsets_in_float32():
    rng = np.random.default_rng(5)
    x = (1e4 + rng.uniform(-1, 1, 200)).astype(np.float32)
    y = (3 * (x - 1e4) + 2 + rng.normal(0, 0.01, 200)).astype(np.float32)
    w = rng.uniform(0.5, 2, 200).astype(np.float32)
    p = jaxlr.least_squares(x, y, sample_weight=w)
    assert p.w.dtype == jnp.float32
    # float32 data: the centred slope keeps ~5 digits (the offsets' rounding is 1e4 · 6e-8 ≈ 6e-4 of a unit of x)
    np.testing.assert_allclose(float(p.w), 3.0, rtol=1e-3)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(sample_weight=np.ones(3)), "sample_weight must have shape (442,)"),
        (dict(sample_weight=-np.ones(442)), "sample_weight must be non-negative"),
        (dict(sample_weight=np.zeros(442)), "sample_weight is all zeros"),
        (dict(sample_weight=np.full(442, np.nan)), "sample_weight contains NaN"),
        (dict(sample_weight=np.ones(442, complex)), "sample_weight must hold real numbers"),
        (dict(l2=-1.0), "l2 must be non-negative and finite, got -1.0"),
        (dict(l2=np.inf), "l2 must be non-negative and finite"),
        (dict(l2=[1.0, 2.0]), "l2 must be a scalar, got shape (2,)"),
        (dict(l2="0.1"), "l2 must be a non-negative real number"),
        (dict(l2=np.ones(2)), "l2 must be a scalar"),
    ],
)
@pytest.mark.parametrize("fn", ["least_squares", "regression_stats"])
def test_bad_weights_and_penalties_get_one_line_errors(diabetes, fn, kwargs, words):
    x, y = diabetes
    with pytest.raises(ValueError) as e:
        getattr(jaxlr, fn)(x, y, **kwargs)
    message = str(e.value)
    assert message.startswith(f"{fn}: ") and words in message and "\n" not in message


# ---- jaxlr fit: the printed table and the JSON ----


def _fit_json(capsys, tmp_path, *extra):
    path = tmp_path / "fit.json"
    code = main(["fit", "docs/example.csv", "--target", "price_k", "--json", str(path), *extra])
    out, err = capsys.readouterr()
    return code, out, err, json.loads(path.read_text())


def _example():
    data = jaxlr.load_csv("docs/example.csv", target="price_k")
    return data, _statsmodels(data.x, data.y)


def _check_statistics(record, names, reference, rtol):
    stats = record["statistics"]
    assert stats["describes"] == "least_squares"
    for field in ("r2", "adj_r2", "rmse", "residual_std_error"):
        np.testing.assert_allclose(stats[field], reference[field], rtol=rtol, err_msg=field)
    for field in ("std_errors", "t_values", "p_values", "conf_int_95"):
        assert list(stats[field]) == names
        values = np.array([stats[field][name] for name in names])
        np.testing.assert_allclose(values, reference[field], rtol=rtol, err_msg=field)


def test_cli_statistics_match_statsmodels_in_float64(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, out, _, record = _fit_json(capsys, tmp_path, "--standardize", "--dtype", "float64", "--steps", "3000")
    assert code == 0
    data, reference = _example()
    names = [*data.feature_names, "bias"]
    _check_statistics(record, names, reference, RTOL)
    # the printed output itself, read back and held to statsmodels to the digits printed (6 for R², 8 for the
    # coefficients, 6 for the standard errors and intervals, 4 for t, 3 for p)
    lines = out.splitlines()
    summary = next(line for line in lines if line.startswith("statistics of the least-squares solution: "))
    printed_r2, printed_adj = (float(v) for v in re.findall(r"R² ([-0-9.e+]+),", summary))
    np.testing.assert_allclose([printed_r2, printed_adj], [reference["r2"], reference["adj_r2"]], rtol=1e-5)
    header = next(i for i, line in enumerate(lines) if "std err" in line and "P>|t|" in line and "[0.025" in line)
    table = [line.split() for line in lines[header + 1 : header + 1 + len(names)]]
    assert [row[0] for row in table] == names
    columns = np.array([[float(v) for v in row[1:]] for row in table])  # coef, std err, t, P>|t|, [0.025, 0.975]
    np.testing.assert_allclose(columns[:, 0], reference["coef"], rtol=1e-7)
    np.testing.assert_allclose(columns[:, 1], reference["std_errors"], rtol=1e-5)
    np.testing.assert_allclose(columns[:, 2], reference["t_values"], rtol=1e-3)
    np.testing.assert_allclose(columns[:, 3], reference["p_values"], rtol=1e-2)
    np.testing.assert_allclose(columns[:, 4:], reference["conf_int_95"], rtol=1e-5)


def test_cli_statistics_in_float32_say_they_are_not_the_unconverged_weights(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, out, _, record = _fit_json(capsys, tmp_path, "--steps", "50")
    assert code == 3 and record["converged"] is False and record["dtype"] == "float32"
    assert "statistics of the least-squares solution, not the unconverged gradient-descent weights" in out
    data, reference = _example()
    # float32: the least-squares solve and the residuals carry ~1e-6 relative rounding (κ([X 1]) ≈ 3e5 on the
    # raw features); the smallest p-value (1e-20) moves by its t-value's error times about t² ≈ 400.
    _check_statistics(record, [*data.feature_names, "bias"], reference, 1e-3)
