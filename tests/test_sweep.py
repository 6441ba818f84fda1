"""jaxlr.sweep: a vmapped fit over learning rates, initial params and seeds, in one compiled call."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import count_traces

import jaxlr

RNG = np.random.default_rng(1)
X = RNG.normal(size=(30, 2)) + [1.0, -1.0]
Y = X @ [0.5, 2.0] - 1.0 + 0.05 * RNG.normal(size=30)
P0 = jaxlr.Params(np.zeros(2), 0.0)
RATES = np.logspace(-3, 0.5, 8)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_each_run_is_the_fit_with_that_learning_rate(optimizer):
    result = jaxlr.sweep(P0, X, Y, learning_rates=RATES, n_iters=60, optimizer=optimizer)
    assert result.history.loss.shape == (8, 60) and result.params.w.shape == (8, 2)
    for i, rate in enumerate(RATES):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jaxlr.DivergenceWarning)
            single = jaxlr.fit(P0, X, Y, learning_rate=rate, n_iters=60, optimizer=optimizer, history="loss")
        assert bool(result.diverged[i]) == single.diverged
        assert int(result.diverged_at[i]) == int(single.diverged_at)
        if not single.diverged:
            np.testing.assert_allclose(result.history.loss[i], single.history.loss, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(result.final_loss[i], jaxlr.mse_loss(single.params, X, Y), rtol=1e-10)


def test_divergence_flags_follow_the_stability_bound():
    bound = 2 / jaxlr.lipschitz_constant(X)
    result = jaxlr.sweep(P0, X, Y, learning_rates=RATES, n_iters=300)
    np.testing.assert_array_equal(result.diverged, RATES > bound)
    assert np.all(result.diverged_at[result.diverged] >= 0) and np.all(result.diverged_at[~result.diverged] == -1)
    assert result.best_learning_rate == RATES[result.best_index] and not result.diverged[result.best_index]
    assert result.best_learning_rate == max(RATES[RATES < bound])  # the largest stable rate converges fastest here


def test_a_new_set_of_learning_rates_does_not_recompile():
    jaxlr.sweep(P0, X, Y, learning_rates=RATES, n_iters=60)
    with count_traces() as traces:
        jaxlr.sweep(P0, X, Y, learning_rates=RATES * 0.5, n_iters=60)
    assert traces[0] == 0


def test_batched_initial_params():
    w0 = np.array([[0.0, 0.0], [1.0, 1.0], [-3.0, 2.0]])
    b0 = np.array([0.0, 1.0, 5.0])
    result = jaxlr.sweep(jaxlr.Params(w0, b0), X, Y, learning_rates=0.1, n_iters=40)
    for i in range(3):
        single = jaxlr.fit(jaxlr.Params(w0[i], b0[i]), X, Y, learning_rate=0.1, n_iters=40, history="loss")
        np.testing.assert_allclose(result.history.loss[i], single.history.loss, rtol=1e-10)


def test_seeds_give_reproducible_random_starts():
    rate = 1 / jaxlr.lipschitz_constant(X)
    a = jaxlr.sweep(P0, X, Y, learning_rates=rate, n_iters=1000, seeds=[0, 1, 2])
    b = jaxlr.sweep(P0, X, Y, learning_rates=rate, n_iters=1000, seeds=[0, 1, 2])
    np.testing.assert_array_equal(a.history.loss, b.history.loss)
    assert len(set(np.asarray(a.history.loss[:, 0]).tolist())) == 3  # three different starts
    np.testing.assert_allclose(a.params.w, np.broadcast_to(a.params.w[0], (3, 2)), rtol=1e-6)  # same minimum


def test_every_run_diverged():
    result = jaxlr.sweep(P0, X, Y, learning_rates=[10.0, 100.0], n_iters=50)
    assert result.diverged.all() and result.best_index is None and result.best_learning_rate is None


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"learning_rates": [0.1, -1.0]}, ValueError, ["learning_rates[1]", "-1.0"]),
        ({"learning_rates": [0.1, 0.2, float("nan")]}, ValueError, ["learning_rates[2]", "nan"]),
        ({"learning_rates": np.array([0.0, 0.1], np.float32)}, ValueError, ["learning_rates[0]", "0.0"]),
        ({"learning_rates": [[0.1]]}, ValueError, ["1-D"]),
        ({"learning_rates": "fast"}, TypeError, ["learning_rates"]),
        ({"learning_rates": [0.1, 0.2], "seeds": [1, 2, 3]}, ValueError, ["learning_rates 2", "seeds 3"]),
        ({"learning_rates": 0.1, "seeds": [0.5]}, ValueError, ["seeds", "integers"]),
    ],
)
def test_bad_sweep_input(kwargs, error, words):
    with pytest.raises(error) as info:
        jaxlr.sweep(P0, X, Y, n_iters=5, **kwargs)
    for word in words:
        assert word in str(info.value)


def test_scalar_data_is_named():
    with pytest.raises(ValueError, match=r"sweep: x must have shape \(n,\) or \(n, d\), got shape \(\)"):
        jaxlr.sweep(jaxlr.Params(0.0), 1.0, 2.0, learning_rates=[0.1])


def test_nan_in_the_data_is_refused():
    x = X.copy()
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        jaxlr.sweep(P0, x, Y, learning_rates=RATES, n_iters=5)


def test_gram_sweep_equals_plain_sweep():
    """method="gram" under vmap: the statistics are shared by every run, the iterates unchanged."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 4))
    y = x @ np.array([1.0, -1.0, 2.0, 0.5]) + 0.25
    params = jaxlr.Params(np.zeros(4), 0.0)
    rates = np.geomspace(1e-3, 0.5, 6)
    plain = jaxlr.sweep(params, x, y, learning_rates=rates, n_iters=40, method="plain", history="full")
    gram = jaxlr.sweep(params, x, y, learning_rates=rates, n_iters=40, method="gram", history="full")
    np.testing.assert_allclose(gram.history.params.w, plain.history.params.w, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gram.history.loss, plain.history.loss, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(gram.diverged, plain.diverged)


@pytest.mark.parametrize(
    "params, options",
    [
        (P0, {}),
        (jaxlr.Params(np.ones(2, np.float32)), dict(optimizer="momentum", history="full")),
        (P0, dict(gradient="manual", method="gram", history="none")),
    ],
)
def test_device_and_host_data_give_identical_sweeps(params, options):
    """jax.Array and NumPy data take the one path and agree bit for bit."""
    kwargs = dict(dict(learning_rates=RATES, n_iters=40), **options)
    host = jaxlr.sweep(params, X, Y, **kwargs)
    device = jaxlr.sweep(params, jnp.asarray(X), jnp.asarray(Y), **kwargs)
    for a, b in zip(jax.tree.leaves(host), jax.tree.leaves(device), strict=True):
        assert np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(y=jnp.asarray(Y[:5])),
        dict(params=jaxlr.Params(0.0)),
        dict(x=jnp.asarray(X).at[2, 0].set(np.inf)),
        dict(n_iters=0),
        dict(gradient="numerical"),
        dict(history="all"),
        dict(optimizer="rmsprop"),
        dict(method="fast"),
    ],
    ids=["length mismatch", "scalar w", "inf in x", "n_iters 0", "gradient", "history", "optimizer", "method"],
)
def test_jax_array_data_gets_the_errors_numpy_data_gets(kwargs):
    kwargs = dict(dict(params=P0, x=jnp.asarray(X), y=jnp.asarray(Y), learning_rates=RATES, n_iters=5), **kwargs)
    with pytest.raises((TypeError, ValueError)) as fast:
        jaxlr.sweep(**kwargs)
    on_host = {k: np.asarray(v) if isinstance(v, jax.Array) else v for k, v in kwargs.items()}
    with pytest.raises((TypeError, ValueError)) as eager:
        jaxlr.sweep(**on_host)
    assert type(fast.value) is type(eager.value) and str(fast.value) == str(eager.value)


def test_a_last_update_that_overflows_the_loss_is_divergence():
    """Found by tests/test_properties.py: finite params after the last step, but an infinite loss there."""
    x, y = np.array([0.0, 0.0, 1e30], np.float32), np.array([0.0, 0.0, 1.0], np.float32)
    result = jaxlr.sweep(jaxlr.Params(np.float32(0.0)), x, y, learning_rates=[1e-3, 1e-40], n_iters=1)
    assert np.isfinite(result.params.w[0]) and not np.isfinite(result.final_loss[0])
    assert result.diverged.tolist() == [True, False] and result.diverged_at.tolist() == [0, -1]
    assert result.best_learning_rate == 1e-40


@pytest.mark.parametrize("batch_size", [None, 1, 3, 8, "auto"])
def test_batch_size_groups_the_runs_without_changing_them(batch_size):
    """Groups of runs (lax.map over vmapped groups, a remainder too) give the runs of one vmap."""
    rates = np.logspace(-3, 0.5, 10)  # 10 runs: groups of 3 leave a remainder of 1; the last ones diverge
    kwargs = dict(learning_rates=rates, n_iters=30, seeds=np.arange(10), init_scale=0.1, history="full")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jaxlr.DivergenceWarning)
        whole = jaxlr.sweep(P0, X, Y, batch_size=None, **kwargs)
        grouped = jaxlr.sweep(P0, X, Y, batch_size=batch_size, **kwargs)
    assert whole.diverged.any() and not whole.diverged.all()
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(grouped), strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-12, atol=0)
    np.testing.assert_array_equal(grouped.diverged_at, whole.diverged_at)


@pytest.mark.parametrize("batch_size", [0, -1, 2.0, "big"])
def test_a_bad_batch_size_is_named(batch_size):
    with pytest.raises(ValueError, match=r"sweep: batch_size must be None, 'auto' or a positive int, got"):
        jaxlr.sweep(P0, X, Y, learning_rates=RATES, n_iters=5, batch_size=batch_size)


def test_auto_groups_only_tiny_runs_of_the_scalar_model_on_a_cpu():
    """Groups pay where XLA:CPU compiles the group's loop into one kernel: the scalar model on a few samples."""
    from jaxlr._sweep import SMALL_GROUP, _batch_size

    on_cpu = jax.devices()[0].platform == "cpu"
    lesson = jnp.arange(4.0)
    assert _batch_size("auto", 32, lesson, False) == (SMALL_GROUP if on_cpu else 32)
    assert _batch_size("auto", 32, jnp.zeros((32, 4)), True) == (SMALL_GROUP if on_cpu else 32)  # a batch of x
    assert _batch_size("auto", 32, jnp.zeros(17), False) == 32  # more samples
    assert _batch_size("auto", 32, jnp.zeros((4, 2)), False) == 32  # a matrix product in the step
    assert _batch_size(None, 32, lesson, False) == 32 and _batch_size(3, 32, lesson, False) == 3
