"""The curvature L, learning_rate="auto", the stability warning and divergence reports."""

import warnings

import numpy as np
import pytest

import jaxlr

RNG = np.random.default_rng(0)
X3 = RNG.normal(size=(50, 3)) * [1.0, 3.0, 0.5] + [0.0, 1.0, -0.5]
Y3 = X3 @ [1.0, -2.0, 0.5] + 0.3 + 0.01 * RNG.normal(size=50)


def _exact_lipschitz(x, bias):
    design = x[:, None] if x.ndim == 1 else x
    if bias:
        design = np.column_stack([design, np.ones(len(design))])
    return 2 * np.linalg.eigvalsh(design.T @ design / len(design)).max()


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x", [X3, X3[:, 0], X3 + 1e4], ids=["matrix", "vector", "offset 1e4"])
def test_lipschitz_constant_is_the_top_hessian_eigenvalue(x, bias):
    np.testing.assert_allclose(jaxlr.lipschitz_constant(x, bias=bias), _exact_lipschitz(x, bias), rtol=1e-6)


def test_the_intercept_column_matters_far_from_the_origin():
    """With x ≈ 1e4, the centred design's L is ~1e8 times too small: its 1/L diverges, "auto" does not."""
    x = 1e4 + np.linspace(-1.0, 1.0, 20)
    y = 3.0 * x - 2.0
    centred = _exact_lipschitz(x - x.mean(), bias=False)
    augmented = jaxlr.lipschitz_constant(x)
    assert augmented > 1e7 * centred
    params = jaxlr.Params(w=0.0, b=0.0)
    with pytest.warns(jaxlr.DivergenceWarning, match=r"step \d+.*2/L"):
        bad = jaxlr.fit(params, x, y, learning_rate=1 / centred, n_iters=50, history="loss")
    assert bad.diverged
    good = jaxlr.fit(params, x, y, learning_rate="auto", n_iters=50, history="loss")
    assert not good.diverged
    np.testing.assert_allclose(good.learning_rate, 1 / augmented, rtol=1e-12)
    loss = np.asarray(good.history.loss)
    assert np.all(loss[1:] < 1e-12 * loss[0])  # one step along the steep direction, then rounding noise


def test_auto_converges_on_a_well_posed_problem():
    params = jaxlr.Params(np.zeros(3), 0.0)
    result = jaxlr.fit(params, X3, Y3, learning_rate="auto", n_iters=3000, history="none")
    exact = jaxlr.least_squares(X3, Y3)
    np.testing.assert_allclose(result.params.w, exact.w, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(result.params.b, exact.b, rtol=1e-6, atol=1e-9)


def test_auto_with_the_lesson_gradient_accounts_for_its_factor_n():
    x, y = jaxlr.lesson_data()
    result = jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate="auto", n_iters=20, gradient="lesson")
    np.testing.assert_allclose(result.learning_rate, 1 / (4 * 15.0), rtol=1e-5)
    assert not result.diverged
    np.testing.assert_allclose(result.params.w, 2.0, atol=1e-5)


def test_learning_rate_is_reported():
    x, y = jaxlr.lesson_data()
    assert jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=0.01, n_iters=5).learning_rate == 0.01


@pytest.mark.parametrize(
    "optimizer, bound_factor", [(None, 2.0), ("sgd", 2.0), ("momentum", 3.8), ("adam", None)], ids=str
)
def test_warn_if_unstable(optimizer, bound_factor):
    x, _ = jaxlr.lesson_data()  # L = 2 mean(x**2) = 15 without a bias
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bound = jaxlr.warn_if_unstable(x, 0.01, bias=False, optimizer=optimizer)
    if bound_factor is None:
        assert bound is None
        return
    np.testing.assert_allclose(bound, bound_factor / 15.0, rtol=1e-5)
    with pytest.warns(jaxlr.DivergenceWarning, match="above the stability bound"):
        jaxlr.warn_if_unstable(x, 1.01 * bound, bias=False, optimizer=optimizer)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_the_bound_separates_stable_from_divergent(optimizer):
    x, y = jaxlr.lesson_data()
    bound = jaxlr.warn_if_unstable(x, 1e-3, bias=False, optimizer=optimizer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stable = jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=0.97 * bound, n_iters=2000, optimizer=optimizer)
    assert not stable.diverged
    with pytest.warns(jaxlr.DivergenceWarning) as caught:
        unstable = jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=1.05 * bound, n_iters=2000, optimizer=optimizer)
    assert unstable.diverged
    message = str(caught[0].message)
    assert f"step {unstable.diverged_at}" in message and f"{bound:.4g}" in message and "1/L" in message


def test_a_converging_fit_does_not_warn():
    x, y = jaxlr.lesson_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=0.1, n_iters=100)


@pytest.mark.parametrize("bad", ["Auto", "fast", ""])
def test_learning_rate_strings_other_than_auto_are_refused(bad):
    x, y = jaxlr.lesson_data()
    with pytest.raises(TypeError, match="'auto'"):
        jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=bad)


def test_auto_without_curvature_is_refused():
    with pytest.raises(ValueError, match="all zeros"):
        jaxlr.fit(jaxlr.Params(w=0.0), np.zeros(4), np.ones(4), learning_rate="auto")
