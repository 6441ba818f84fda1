"""fit(method=...): the gram (sufficient statistics) path agrees with the plain one, and "auto" picks as documented."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlr

# The documented auto rule as a function of shapes; no public handle exposes it without building data.
from jaxlr._fit import choose_method

GRADIENTS = ("autograd", "manual", "lesson")


def _problem(dtype, *, d, bias, n=300, seed=0, noise=0.1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n,) if d is None else (n, d)).astype(dtype)
    true_w = 1.5 if d is None else np.linspace(-1, 1, d)
    y = (x * true_w if d is None else x @ true_w) + 0.3 + noise * rng.standard_normal(n)
    w = np.zeros((), dtype) if d is None else np.zeros(d, dtype)
    return jaxlr.Params(w=w, b=None if not bias else dtype(0)), x, y.astype(dtype)


def _fit(params, x, y, *, method, gradient="autograd", **kwargs):
    n = y.shape[0]
    learning_rate = 0.1 / n if gradient == "lesson" else 0.1  # the lesson's gradient is n times larger
    return jaxlr.fit(params, x, y, learning_rate=learning_rate, n_iters=40, gradient=gradient, method=method, **kwargs)


@pytest.mark.parametrize("gradient", GRADIENTS)
@pytest.mark.parametrize("d", [None, 4])
@pytest.mark.parametrize("bias", [False, True])
def test_gram_iterates_equal_plain_in_float64(gradient, d, bias):
    params, x, y = _problem(np.float64, d=d, bias=bias)
    plain = _fit(params, x, y, method="plain", gradient=gradient)
    gram = _fit(params, x, y, method="gram", gradient=gradient)
    assert gram.history.params.w.dtype == jnp.float64
    np.testing.assert_allclose(gram.history.params.w, plain.history.params.w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gram.history.loss, plain.history.loss, rtol=1e-10, atol=1e-12)
    if bias:
        np.testing.assert_allclose(gram.history.params.b, plain.history.params.b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("d", [None, 4])
def test_gram_iterates_equal_plain_in_float32(d):
    params, x, y = _problem(np.float32, d=d, bias=True)
    plain = _fit(params, x, y, method="plain")
    gram = _fit(params, x, y, method="gram")
    np.testing.assert_allclose(gram.history.params.w, plain.history.params.w, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gram.history.loss, plain.history.loss, rtol=1e-5, atol=1e-6)


def test_gram_loss_stays_accurate_near_convergence_in_float32():
    # Nearly exact data: the loss falls by 10 orders of magnitude. The textbook
    # expansion wᵀAw - 2wᵀc + yᵀy would leave float32 noise of about eps·yᵀy/n.
    params, x, y = _problem(np.float32, d=3, bias=True, n=2000, noise=1e-4)
    result = jaxlr.fit(params, x, y, learning_rate=0.3, n_iters=200, method="gram")
    w = np.asarray(result.history.params.w[:-1], np.float64)
    b = np.asarray(result.history.params.b[:-1], np.float64)
    exact = np.mean((x.astype(np.float64) @ w.T + b - y.astype(np.float64)[:, None]) ** 2, axis=0)
    got = np.asarray(result.history.loss[1:], np.float64)
    assert exact[-1] < 1e-7 * exact[0]  # it did converge
    np.testing.assert_allclose(got, exact, rtol=1e-2, atol=0)


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_every_optimizer_works_with_gram(optimizer):
    params, x, y = _problem(np.float64, d=2, bias=True)
    plain = jaxlr.fit(params, x, y, learning_rate=0.05, n_iters=30, optimizer=optimizer, method="plain")
    gram = jaxlr.fit(params, x, y, learning_rate=0.05, n_iters=30, optimizer=optimizer, method="gram")
    np.testing.assert_allclose(gram.params.w, plain.params.w, rtol=1e-9, atol=1e-12)


def test_custom_optax_optimizer_works_with_gram():
    params, x, y = _problem(np.float64, d=2, bias=False)
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.05))
    plain = jaxlr.fit(params, x, y, n_iters=30, optimizer=tx, method="plain")
    gram = jaxlr.fit(params, x, y, n_iters=30, optimizer=tx, method="gram")
    np.testing.assert_allclose(gram.params.w, plain.params.w, rtol=1e-9, atol=1e-12)


def test_gram_handles_rank_deficient_data():
    params, x, y = _problem(np.float64, d=3, bias=True)
    x = np.concatenate([x, x[:, :1]], axis=1)  # a repeated column: XᵀX is singular
    params = jaxlr.Params(w=np.zeros(4), b=0.0)
    plain = _fit(params, x, y, method="plain")
    gram = _fit(params, x, y, method="gram")
    assert np.all(np.isfinite(gram.history.loss))
    np.testing.assert_allclose(gram.history.params.w, plain.history.params.w, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gram.history.loss, plain.history.loss, rtol=1e-8)


@pytest.mark.filterwarnings("ignore::jaxlr.DivergenceWarning")  # the flag is what is compared
def test_gram_flags_divergence_like_plain():
    params, x, y = _problem(np.float32, d=None, bias=False)
    plain = jaxlr.fit(params, x, y, learning_rate=5.0, n_iters=60, method="plain")
    gram = jaxlr.fit(params, x, y, learning_rate=5.0, n_iters=60, method="gram")
    assert plain.diverged and gram.diverged
    assert abs(gram.diverged_at - plain.diverged_at) <= 1


@pytest.mark.parametrize(
    ("shape", "itemsize", "n_iters", "expected"),
    [
        ((4,), 4, 100, "plain"),  # the lesson
        ((10_000_000,), 4, 100, "gram"),
        ((10_000_000,), 4, 3, "plain"),  # too few steps to pay for the statistics
        ((4_000_000, 256), 4, 1000, "gram"),
        ((4_000_000, 256), 4, 20, "plain"),
        ((2000, 1000), 4, 1000, "plain"),  # not n ≫ d
        ((100, 8), 8, 1000, "plain"),  # small data
        ((1_000_000, 8000), 4, 10_000, "plain"),  # (d+1)² statistics too large
    ],
)
def test_auto_rule(shape, itemsize, n_iters, expected):
    assert choose_method("auto", shape, itemsize, n_iters) == expected
    assert choose_method("plain", shape, itemsize, n_iters) == "plain"


def _takes_gram(params, x, y, **kwargs):
    """Whether fit's compiled program (lowered through the public function) solves the gram statistics."""
    program = jax.jit(lambda p, x, y: jaxlr.fit(p, x, y, learning_rate=0.1, n_iters=40, **kwargs).params)
    return "cholesky" in program.lower(params, x, y).as_text()


def test_auto_is_the_default_and_matches_plain():
    params, x, y = _problem(np.float64, d=2, bias=True, n=80_000)  # 1.3 MB: auto picks gram
    assert _takes_gram(params, x, y) and _takes_gram(params, x, y, method="auto")
    assert not _takes_gram(params, x, y, method="plain")
    assert not _takes_gram(params, x[:100], y[:100])  # small data: plain
    auto = jaxlr.fit(params, x, y, learning_rate=0.1, n_iters=40)
    plain = jaxlr.fit(params, x, y, learning_rate=0.1, n_iters=40, method="plain")
    np.testing.assert_allclose(auto.history.loss, plain.history.loss, rtol=1e-9)


@pytest.mark.parametrize("method", ["fast", "", None, 1])
def test_bad_method_is_a_clear_error(method):
    x, y = jaxlr.lesson_data()
    with pytest.raises(ValueError, match=r"fit: method must be one of 'auto', 'plain', 'gram'; got"):
        jaxlr.fit(jaxlr.Params(w=0.0), x, y, method=method)
