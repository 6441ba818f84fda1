"""Result dtypes for int, float16, bfloat16, float32 and float64 inputs, with x64 on and with JAX's defaults.

The README: floating inputs compute in the widest of their dtypes, never below float32; integers
compute in float32; float64 needs x64, without it JAX computes in float32. This file runs in the
main suite (x64 on, conftest.py) and again in a subprocess with ``JAXLR_TESTS_X64=0`` (x64 off).
"""

import os
import re
import subprocess
import sys
import warnings

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from helpers import ROOT

import jaxlr

X64 = os.environ.get("JAXLR_TESTS_X64", "1") != "0"
INPUT_DTYPES = [np.int32, np.float16, ml_dtypes.bfloat16, np.float32, np.float64]


def _expected(dtype):
    return jnp.float64 if dtype == np.float64 and X64 else jnp.float32


def _data(dtype):
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, size=(16, 2)).astype(dtype)
    y = (x.astype(np.float64) @ [1.0, 2.0] + 1).astype(dtype)
    return jaxlr.Params(np.zeros(2, dtype), 0.0), x, y


def test_the_configuration_is_the_one_asked_for():
    assert jax.config.jax_enable_x64 is X64


@pytest.mark.parametrize("dtype", INPUT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("method", ["plain", "gram"])
def test_result_dtypes(dtype, method):
    want = _expected(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # JAX's "float64 requested, float32 used" without x64
        params, x, y = _data(dtype)
        fit = jaxlr.fit(params, x, y, learning_rate=0.01, n_iters=3, method=method)
        sweep = jaxlr.sweep(params, x, y, learning_rates=[0.01, 0.02], n_iters=3, method=method, history="full")
        computed = {
            "fit params.w": fit.params.w,
            "fit params.b": fit.params.b,
            "fit history.loss": fit.history.loss,
            "fit history.params.w": fit.history.params.w,
            "sweep params.w": sweep.params.w,
            "sweep params.b": sweep.params.b,
            "sweep final_loss": sweep.final_loss,
            "sweep history.loss": sweep.history.loss,
            "predict": jaxlr.predict(fit.params, x),
            "predict with the initial params": jaxlr.predict(params, x),
            "mse_loss": jaxlr.mse_loss(params, x, y),
        }
        for name in ("autograd_gradient", "manual_gradient", "lesson_gradient_n_times_too_large"):
            gradient = getattr(jaxlr, name)(params, x, y)
            computed[f"{name}.w"], computed[f"{name}.b"] = gradient.w, gradient.b
    assert {name: jnp.asarray(v).dtype for name, v in computed.items()} == dict.fromkeys(computed, want)
    assert fit.diverged_at.dtype == jnp.int32


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_the_wider_of_x_and_y_wins(dtype):
    params, x, y = _data(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = jaxlr.fit(params, x, y.astype(dtype), n_iters=2)
    assert result.params.w.dtype == _expected(dtype)


@pytest.mark.skipif(not X64, reason="this is the subprocess it starts")
def test_the_dtype_tests_pass_with_jax_defaults():
    env = {**os.environ, "JAXLR_TESTS_X64": "0", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_dtypes.py"]
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    summary = out.stdout.strip().splitlines()[-1]
    assert re.search(r"^15 passed, 1 skipped in", summary), summary  # every test here but this one


def test_importing_jaxlr_never_changes_jax_configuration():
    """In a fresh process: every JAX option, before and after importing jaxlr and its optional modules."""
    program = (
        "import jax\n"
        "before = dict(jax.config.values)\n"
        "import jaxlr, jaxlr.crosscheck, jaxlr.sklearn\n"
        "changed = {k: (v, jax.config.values[k]) for k, v in before.items() if jax.config.values[k] != v}\n"
        "print(len(before), changed)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "JAXLR_"))}
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-c", program]
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    count, changed = out.stdout.split(" ", 1)
    assert int(count) > 50 and changed.strip() == "{}", out.stdout
