"""``jaxlr.sklearn.GradientDescentRegressor``: scikit-learn's estimator checks in full, Pipeline and
GridSearchCV, and agreement with ``LinearRegression`` and ``Ridge``."""

import textwrap
import warnings

import numpy as np
import pytest
from helpers import run_python

sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LinearRegression, Ridge  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from jaxlr.sklearn import GradientDescentRegressor  # noqa: E402

# float64 (conftest turns x64 on): gradient descent on the standardized diabetes data (κ ≈ 470) reaches
# least squares to ~1e-14 relative in 3000 momentum steps; 1e-8 is the bar.
RTOL = 1e-8


@parametrize_with_checks([GradientDescentRegressor()])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # iris in 1000 plain steps: honest
def test_scikit_learn_estimator_checks(estimator, check):
    # Every check runs (none is expected to fail); the array-API one skips itself unless SCIPY_ARRAY_API=1.
    check(estimator)


@pytest.fixture(scope="module")
def diabetes():
    x, y = load_diabetes(return_X_y=True, scaled=False)
    return x, y, np.random.default_rng(0).uniform(0.0, 3.0, len(y))


def _converging(**params):
    return GradientDescentRegressor(optimizer="momentum", max_iter=3000, tol=1e-13, **params)


def test_matches_linear_regression_with_sample_weights(diabetes):
    x, y, w = diabetes
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = _converging().fit(x, y, sample_weight=w)
    reference = LinearRegression().fit(x, y, sample_weight=w)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=RTOL)
    np.testing.assert_allclose(model.intercept_, reference.intercept_, rtol=RTOL)
    np.testing.assert_allclose(model.score(x, y, sample_weight=w), reference.score(x, y, sample_weight=w), rtol=RTOL)
    assert 0 < model.n_iter_ < 3000 and model.n_features_in_ == 10 and model.learning_rate_ > 0
    assert model.coef_.dtype == np.float64 and isinstance(model.intercept_, float)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_matches_ridge(diabetes, fit_intercept):
    x, y, w = diabetes
    if not fit_intercept:  # the raw features' offsets make the uncentred design too ill-conditioned for 3000 steps
        x = x - x.mean(axis=0)
    l2 = 0.01
    model = _converging(l2=l2, fit_intercept=fit_intercept).fit(x, y, sample_weight=w)
    # jaxlr's l2 multiplies the weighted mean of squares' penalty; Ridge's alpha the weighted sum's
    reference = Ridge(alpha=l2 * w.sum(), fit_intercept=fit_intercept, solver="svd").fit(x, y, sample_weight=w)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=RTOL)
    np.testing.assert_allclose(model.intercept_, reference.intercept_, rtol=RTOL, atol=0 if fit_intercept else 1e-300)


def test_warns_when_not_converged_and_raises_on_divergence(diabetes):
    x, y, _ = diabetes
    with pytest.warns(ConvergenceWarning, match=r"not converged in max_iter=10 steps: .* tol=1e-08 times its first"):
        model = GradientDescentRegressor(max_iter=10).fit(x, y)
    assert model.n_iter_ == 10
    with pytest.raises(
        ValueError, match=r"GradientDescentRegressor: training diverged at step \d+ .* learning rate 3 is above"
    ):
        GradientDescentRegressor(learning_rate=3.0, max_iter=50).fit(x, y)


@pytest.mark.parametrize(
    "params, words",
    [
        (dict(learning_rate=-1.0), "learning_rate must be a positive number or 'auto', got -1.0"),
        (dict(learning_rate="fast"), "learning_rate must be a positive number or 'auto'"),
        (dict(max_iter=0), "max_iter must be at least 1, got 0"),
        (dict(max_iter=2.5), "max_iter must be a positive integer"),
        (dict(tol=0.0), "tol must be a positive number or None"),
        (dict(optimizer="lbfgs"), "optimizer must be one of 'sgd', 'momentum', 'adam'"),
        (dict(l2=-1.0), "l2 must be a non-negative finite number, got -1.0"),
        (dict(standardize="yes"), "standardize must be True or False"),
    ],
)
def test_bad_hyperparameters_are_refused_in_fit(params, words):
    model = GradientDescentRegressor(**params)  # scikit-learn's rule: __init__ only stores them
    with pytest.raises(ValueError, match="GradientDescentRegressor: ") as e:
        model.fit(np.eye(3), np.ones(3))
    assert words in str(e.value)


def test_sparse_input_is_refused_with_a_message_saying_so():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="Sparse data was passed .* dense data is required"):
        GradientDescentRegressor().fit(scipy_sparse.csr_array(np.eye(3)), np.ones(3))


def test_in_a_pipeline_and_grid_search(diabetes):
    x, y, _ = diabetes
    pipeline = make_pipeline(StandardScaler(), _converging(standardize=False)).fit(x, y)
    reference = LinearRegression().fit(x, y)
    np.testing.assert_allclose(pipeline.predict(x), reference.predict(x), rtol=RTOL)
    # two folds of 221 rows and two penalties > 0: every fit has the same shapes, so one compiled program
    search = GridSearchCV(_converging(), {"l2": [1e-3, 1e-1]}, cv=2, error_score="raise").fit(x, y)
    assert search.best_params_ == {"l2": 1e-3} and np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    refit = _converging(l2=1e-3).fit(x, y)
    np.testing.assert_allclose(search.best_estimator_.coef_, refit.coef_, rtol=1e-12)


def test_dataframes_set_feature_names():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"area": [50.0, 70.0, 90.0, 120.0], "rooms": [2.0, 3.0, 3.0, 5.0]})
    y = 2 * frame["area"] - 5 * frame["rooms"] + 10
    model = _converging().fit(frame, y)
    assert list(model.feature_names_in_) == ["area", "rooms"]
    np.testing.assert_allclose(model.predict(frame), y, rtol=1e-9)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        model.predict(frame.to_numpy())


def test_float32_without_x64_and_no_sklearn_in_plain_import():
    # A fresh process without x64 (conftest turns it on here): the estimator computes in float32 and
    # must not switch x64 on; `import jaxlr` alone must not import scikit-learn.
    script = textwrap.dedent(
        """
        import sys, warnings
        import jax, jaxlr
        assert "sklearn" not in sys.modules
        import numpy as np
        from sklearn.datasets import load_diabetes
        from sklearn.linear_model import LinearRegression
        from jaxlr.sklearn import GradientDescentRegressor
        x, y = load_diabetes(return_X_y=True, scaled=False)
        counts = np.random.default_rng(0).integers(0, 3, len(y))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = GradientDescentRegressor(optimizer="momentum", max_iter=3000, tol=1e-8)
            model.fit(x, y, sample_weight=counts)
        assert not jax.config.read("jax_enable_x64")
        reference = LinearRegression().fit(x, y, sample_weight=counts)
        # float32, the gradient to 1e-8 of its first norm (~1600 steps): the coefficients to ~1e-5 relative
        np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-3)
        np.testing.assert_allclose(model.predict(x), reference.predict(x), rtol=1e-5)
        print("ok", model.coef_.dtype)
        """
    )
    result = run_python("-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok float64"
