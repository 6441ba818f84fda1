"""Same inputs, same bits: across calls and across processes.

``jaxlr.fit`` is always one compiled XLA program, and XLA's CPU and GPU
reductions use a fixed order for a fixed program, so the same inputs give the
same bits. The public eager functions (``predict``, the gradients) run op by op;
under ``jax.jit`` XLA fuses those ops and may reorder a summation or contract a
multiply-add into an FMA, so eager and jitted results can differ in the last bits
(1e-7 relative was seen in float32). Compare those with a tolerance.
"""

import os
import sys

import jax
import numpy as np
import optax
import pytest
from helpers import run_python

import jaxlr

_PROGRAM = """
import sys
import numpy as np
import jaxlr
from tests.test_determinism import problem, fingerprint
params, x, y = problem(np.dtype(sys.argv[1]))
print(fingerprint(jaxlr.fit(params, x, y, learning_rate=0.05, n_iters=50, optimizer=sys.argv[2])))
"""


def problem(dtype):
    rng = np.random.default_rng(42)
    x = rng.normal(size=(257, 5)).astype(dtype)
    y = (x @ rng.normal(size=5) + 1.5 + 0.1 * rng.normal(size=257)).astype(dtype)
    return jaxlr.Params(np.zeros(5, dtype), dtype.type(0)), x, y


def fingerprint(result):
    """Every bit of a FitResult, as hex."""
    leaves = jax.tree.leaves((result.params, result.history))
    return "".join(np.asarray(leaf).tobytes().hex() for leaf in leaves)


CASES = [("float32", "sgd"), ("float32", "adam"), ("float64", "momentum")]


@pytest.mark.parametrize("dtype, optimizer", CASES)
def test_two_calls_are_bitwise_identical(dtype, optimizer):
    params, x, y = problem(np.dtype(dtype))
    first = jaxlr.fit(params, x, y, learning_rate=0.05, n_iters=50, optimizer=optimizer)
    second = jaxlr.fit(params, x, y, learning_rate=0.05, n_iters=50, optimizer=optimizer)
    assert fingerprint(first) == fingerprint(second)


@pytest.mark.parametrize("dtype, optimizer", CASES[1:])
def test_two_processes_are_bitwise_identical(dtype, optimizer):
    env = {**os.environ, "JAX_ENABLE_X64": "1", "JAX_PLATFORMS": "cpu", "PYTHONPATH": os.pathsep.join(sys.path)}
    runs = [run_python("-c", _PROGRAM, dtype, optimizer, env=env) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
    params, x, y = problem(np.dtype(dtype))
    here = fingerprint(jaxlr.fit(params, x, y, learning_rate=0.05, n_iters=50, optimizer=optimizer))
    assert runs[0].stdout.strip() == runs[1].stdout.strip() == here


@pytest.mark.parametrize("function", [jaxlr.predict, jaxlr.mse_loss, jaxlr.manual_gradient, jaxlr.autograd_gradient])
def test_eager_and_jit_agree_within_float32_rounding(function):
    params, x, y = problem(np.dtype("float32"))
    params = jaxlr.Params(np.linspace(-1, 1, 5, dtype=np.float32), np.float32(0.3))
    args = (params, x) if function is jaxlr.predict else (params, x, y)
    eager, jitted = function(*args), jax.jit(function)(*args)
    for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_optax_state_does_not_leak_between_fits():
    """No hidden state: an optimizer object reused across fits starts fresh each time."""
    params, x, y = problem(np.dtype("float64"))
    tx = optax.adam(0.05)
    a = jaxlr.fit(params, x, y, optimizer=tx, n_iters=20)
    jaxlr.fit(params, x, 2 * y, optimizer=tx, n_iters=20)
    b = jaxlr.fit(params, x, y, optimizer=tx, n_iters=20)
    assert fingerprint(a) == fingerprint(b)
