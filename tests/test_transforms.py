"""fit and sweep are JAX functions: jit, vmap and grad apply to them, as to any optax or optimistix function."""

import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlr

STEPS = 25


def _problem(n=12, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = x @ np.array([1.0, -2.0, 0.5])[:d] + 0.3 + 0.05 * rng.normal(size=n)
    return jaxlr.Params(w=np.zeros(d), b=0.0), jnp.asarray(x), jnp.asarray(y)


def _final_loss(params, x, y, **kwargs):
    result = jaxlr.fit(params, x, y, n_iters=STEPS, **kwargs)
    return jaxlr.mse_loss(result.params, x, y)


def test_jit_of_fit_equals_eager_within_one_ulp():
    params, x, y = _problem()
    eager = jaxlr.fit(params, x, y, learning_rate=0.1, n_iters=STEPS)
    jitted = jax.jit(lambda p, x, y: jaxlr.fit(p, x, y, learning_rate=0.1, n_iters=STEPS))(params, x, y)
    # XLA may fuse the inlined program differently: 1 ulp of each value (float64 here)
    for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted), strict=True):
        if jnp.issubdtype(a.dtype, jnp.floating):
            np.testing.assert_array_max_ulp(np.asarray(a), np.asarray(b), maxulp=1)
        else:
            np.testing.assert_array_equal(a, b)


def test_jit_of_the_lesson_fit_in_float32():
    x, y = jaxlr.lesson_data()
    eager = jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=0.01, n_iters=100)
    jitted = jax.jit(lambda x, y: jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=0.01, n_iters=100))(x, y)
    assert jitted.params.w.dtype == jnp.float32
    np.testing.assert_array_max_ulp(np.asarray(eager.history.loss), np.asarray(jitted.history.loss), maxulp=1)
    np.testing.assert_array_max_ulp(np.asarray(eager.params.w), np.asarray(jitted.params.w), maxulp=1)


def test_vmap_over_y_learning_rates_and_initial_params():
    params, x, y = _problem()
    ys = jnp.stack([y, 2 * y, y - 1])
    over_y = jax.vmap(lambda y: jaxlr.fit(params, x, y, learning_rate=0.1, n_iters=STEPS).params.w)(ys)
    rates = jnp.array([0.01, 0.05, 0.1])
    over_lr = jax.vmap(lambda lr: jaxlr.fit(params, x, y, learning_rate=lr, n_iters=STEPS).params.w)(rates)
    starts = jnp.stack([jnp.zeros(3), jnp.ones(3), -jnp.ones(3)])
    over_p = jax.vmap(lambda w: jaxlr.fit(jaxlr.Params(w, 0.0), x, y, learning_rate=0.1, n_iters=STEPS).params.w)(
        starts
    )
    for i in range(3):  # each row is the eager fit of its own inputs (float64: a few ulps of reordering)
        np.testing.assert_allclose(
            over_y[i], jaxlr.fit(params, x, ys[i], learning_rate=0.1, n_iters=STEPS).params.w, rtol=1e-13
        )
        np.testing.assert_allclose(
            over_lr[i], jaxlr.fit(params, x, y, learning_rate=float(rates[i]), n_iters=STEPS).params.w, rtol=1e-13
        )
        want = jaxlr.fit(jaxlr.Params(starts[i], 0.0), x, y, learning_rate=0.1, n_iters=STEPS).params.w
        np.testing.assert_allclose(over_p[i], want, rtol=1e-13, atol=1e-15)


def _finite_difference(f, value, h):
    return (f(value + h) - f(value - h)) / (2 * h)


def test_grad_with_respect_to_the_learning_rate_matches_finite_differences():
    params, x, y = _problem()
    f = lambda lr: _final_loss(params, x, y, learning_rate=lr)  # noqa: E731
    # central differences in float64: error O(h²) ≈ 1e-10 relative here, far under rtol 1e-5
    np.testing.assert_allclose(jax.grad(f)(0.05), _finite_difference(f, 0.05, 1e-5), rtol=1e-5)


def test_grad_with_respect_to_the_data_and_the_initial_params():
    params, x, y = _problem()
    g_y = jax.grad(lambda y: _final_loss(params, x, y, learning_rate=0.05))(y)
    g_w = jax.grad(lambda w: _final_loss(jaxlr.Params(w, 0.0), x, y, learning_rate=0.05))(jnp.zeros(3))
    for i in (0, 5):
        e = jnp.zeros_like(y).at[i].set(1.0)
        fd = _finite_difference(lambda t, e=e: _final_loss(params, x, y + t * e, learning_rate=0.05), 0.0, 1e-5)
        np.testing.assert_allclose(g_y[i], fd, rtol=1e-5)
    for j in range(3):
        e = jnp.zeros(3).at[j].set(1.0)
        fd = _finite_difference(
            lambda t, e=e: _final_loss(jaxlr.Params(t * e, 0.0), x, y, learning_rate=0.05), 0.0, 1e-5
        )
        np.testing.assert_allclose(g_w[j], fd, rtol=1e-5, atol=1e-12)


def test_grad_with_respect_to_x_through_the_matrix_product():
    params, x, y = _problem()
    g_x = jax.grad(lambda x: _final_loss(params, x, y, learning_rate=0.05))(x)
    e = jnp.zeros_like(x).at[2, 1].set(1.0)
    fd = _finite_difference(lambda t: _final_loss(params, x + t * e, y, learning_rate=0.05), 0.0, 1e-5)
    np.testing.assert_allclose(g_x[2, 1], fd, rtol=1e-5)


def test_divergence_and_nan_inputs_are_flagged_under_jit():
    x, y = jaxlr.lesson_data()
    fit = jax.jit(lambda x, y, lr: jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=lr, n_iters=100))
    diverged = fit(x, y, 0.2)  # above 2/L = 0.133: no warning under jit, the flag says it
    assert bool(diverged.diverged) and int(diverged.diverged_at) >= 0
    assert not bool(fit(x, y, 0.01).diverged) and int(fit(x, y, 0.01).diverged_at) == -1
    nan = fit(x.at[1].set(jnp.nan), y, 0.01)
    assert np.asarray(nan.inputs_finite).tolist() == [False, True, True, True, True]
    assert int(nan.diverged_at) == 0  # every failure flags step 0, so one read of diverged_at finds it
    negative = jax.jit(lambda s: jaxlr.fit(jaxlr.Params(w=0.0), x, y, sample_weight=s, n_iters=10))(
        jnp.array([1.0, -0.5, 1.0, 1.0])
    )
    assert not bool(negative.inputs_finite[4]) and int(negative.diverged_at) == 0  # finite loss, still flagged
    with pytest.raises(ValueError, match=r"fit: x contains NaN or inf"):  # eagerly, the same input raises
        jaxlr.fit(jaxlr.Params(w=0.0), x.at[1].set(jnp.nan), y)


def test_vmapped_divergence_is_per_run():
    x, y = jaxlr.lesson_data()
    result = jax.vmap(lambda lr: jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=lr, n_iters=100))(
        jnp.array([0.01, 0.2])
    )
    assert np.asarray(result.diverged).tolist() == [False, True]


def test_a_schedule_as_learning_rate():
    params, x, y = _problem()
    schedule = optax.exponential_decay(0.1, transition_steps=10, decay_rate=0.5)
    got = jaxlr.fit(params, x, y, learning_rate=schedule, n_iters=STEPS)
    want = jaxlr.fit(params, x, y, optimizer=optax.sgd(schedule), n_iters=STEPS)
    np.testing.assert_allclose(got.params.w, want.params.w, rtol=1e-14)
    assert got.learning_rate is None  # a schedule has no single rate
    constant = jaxlr.fit(params, x, y, learning_rate=0.1, n_iters=STEPS)
    assert not np.allclose(got.params.w, constant.params.w)  # the decay did something


def test_an_unused_learning_rate_is_an_error():
    params, x, y = _problem()
    with pytest.raises(ValueError, match=r"fit: learning_rate=0.5 would not be used: optimizer is an optax"):
        jaxlr.fit(params, x, y, learning_rate=0.5, optimizer=optax.sgd(0.01))


def test_tol_stops_each_vmapped_run_on_its_own():
    params, x, y = _problem()
    rates = jnp.array([0.05, 0.2])
    result = jax.vmap(lambda lr: jaxlr.fit(params, x, y, learning_rate=lr, n_iters=5000, tol=1e-8))(rates)
    steps = np.asarray(result.n_steps)
    assert np.all(np.asarray(result.converged)) and steps[0] > steps[1] > 0  # the larger step stops sooner
    for i in range(2):
        eager = jaxlr.fit(params, x, y, learning_rate=float(rates[i]), n_iters=5000, tol=1e-8)
        assert int(eager.n_steps) == steps[i]


def test_jit_of_sweep_and_sweep_over_a_batch_of_y():
    params, x, y = _problem()
    rates = jnp.array([0.01, 0.1])
    jitted = jax.jit(lambda rates: jaxlr.sweep(params, x, y, learning_rates=rates, n_iters=STEPS).final_loss)(rates)
    eager = jaxlr.sweep(params, x, y, learning_rates=rates, n_iters=STEPS).final_loss
    np.testing.assert_allclose(jitted, eager, rtol=1e-13)
    # under jit a rate that is not positive and finite cannot raise: its run is flagged at step 0
    run = jax.jit(lambda rates: jaxlr.sweep(params, x, y, learning_rates=rates, n_iters=STEPS).diverged_at)
    assert run(jnp.array([0.01, -0.1, jnp.nan, 0.0])).tolist() == [-1, 0, 0, 0]
    ys = jnp.stack([y, 3 * y])
    batch = jaxlr.sweep(params, x, ys, learning_rates=0.1, n_iters=STEPS)
    for i in range(2):
        want = jaxlr.fit(params, x, ys[i], learning_rate=0.1, n_iters=STEPS).params.w
        np.testing.assert_allclose(batch.params.w[i], want, rtol=1e-13)


def test_grad_through_sweep():
    params, x, y = _problem()

    def total(lr):
        rates = lr * jnp.array([1.0, 2.0])
        return jnp.sum(jaxlr.sweep(params, x, y, learning_rates=rates, n_iters=STEPS).final_loss)

    np.testing.assert_allclose(jax.grad(total)(0.03), _finite_difference(total, 0.03, 1e-5), rtol=1e-5)


def test_helpers_trace():
    params, x, y = _problem()
    jax.jit(lambda w: jaxlr.mse_loss(jaxlr.Params(w, 0.0), x, y))(jnp.zeros(3))  # data closed over
    lipschitz = float(jax.jit(jaxlr.lipschitz_constant)(x))
    np.testing.assert_allclose(lipschitz, float(jaxlr.lipschitz_constant(x)), rtol=1e-12)
    np.testing.assert_allclose(float(jax.jit(jaxlr.condition_number)(x)), float(jaxlr.condition_number(x)), rtol=1e-12)
    auto = jax.jit(lambda x, y: jaxlr.fit(params, x, y, learning_rate="auto", n_iters=5))(x, y)
    np.testing.assert_allclose(float(auto.learning_rate), 1 / lipschitz, rtol=1e-12)


def test_an_x64_switch_in_the_middle_of_a_process():
    script = textwrap.dedent(
        """
        import jax, numpy as np, jaxlr
        x = np.arange(1.0, 5.0); y = 2 * x
        before = jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=0.01, n_iters=5)
        jax.config.update("jax_enable_x64", True)
        after = jaxlr.fit(jaxlr.Params(w=0.0), x, y, learning_rate=0.01, n_iters=5)
        print(before.params.w.dtype, after.params.w.dtype, jax.config.jax_enable_x64)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["float32", "float64", "True"]
