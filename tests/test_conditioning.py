import numpy as np
import pytest

import jaxlr


def _reference(x, bias):
    a = np.c_[x, np.ones(len(x))] if bias else x.reshape(len(x), -1)
    return np.linalg.cond(a.T @ a / len(x))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_numpy_on_moderately_conditioned_designs(seed, bias):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(200, 4)) * [1.0, 3.0, 0.5, 10.0] + [0.0, 2.0, -1.0, 5.0]
    np.testing.assert_allclose(jaxlr.condition_number(x, bias=bias), _reference(x, bias), rtol=1e-8)


def test_large_offsets_are_resolved_beyond_what_forming_xtx_can():
    """x ≈ 1e4 ± 1: κ ≈ (1 + m² + s²)² / s², about 3e16, past float64's 1/eps."""
    x = np.linspace(-1.0, 1.0, 101)
    m, s2 = 1e4, np.var(x)
    np.testing.assert_allclose(jaxlr.condition_number(x + m), (1 + m * m + s2) ** 2 / s2, rtol=1e-3)
    standardized = (x + m - np.mean(x + m)) / np.std(x + m)
    np.testing.assert_allclose(jaxlr.condition_number(standardized), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    "x",
    [np.ones(10), np.c_[np.arange(5.0), np.arange(5.0)], np.c_[np.arange(6.0), 2 * np.arange(6.0) + 1]],
    ids=["constant feature", "duplicate column", "collinear with the bias"],
)
def test_singular_designs_are_infinite(x):
    assert jaxlr.condition_number(x) == np.inf


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="condition_number|hessian_eigenvalues"):
        jaxlr.condition_number(np.ones((0, 2)))
    with pytest.raises(ValueError, match="NaN or inf"):
        jaxlr.condition_number(np.array([1.0, np.nan]))
