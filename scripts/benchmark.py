"""Side-by-side benchmarks of jaxlr against the lesson's programs and the hardware.

Prints a table and, with ``--json PATH``, writes an object whose top-level keys
are the benchmarks (see ``docs/benchmarks.md`` for what each figure means and
what limits it)::

    python scripts/benchmark.py --scale small --json bench.json

Every time is a median of several repeats, and every ratio compares times
measured in the same run. ``jaxlr.fit`` is timed as users call it, input
validation included.
"""

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jaxlr  # noqa: E402
from jaxlr._fit import Options, _fit_jit  # noqa: E402  (fit's compiled core alone, for compiled_us)
from jaxlr._io import atomic_write  # noqa: E402

ORIGINALS = ROOT / "benchmarks" / "lesson_originals"

# Sizes per scale. "tiny" is for the test suite only: every field, no meaning.
SCALES: dict[str, dict[str, Any]] = {
    "tiny": dict(
        csv_rows=2_000,
        batch_k=4,
        conditioning_n=200,
        conditioning_spread=0.05,
        conditioning_cap=20_000,
        repeats=2,
        seed_calls=5,
        scalar_n=4096,
        scalar_steps=3,
        torch_scalar_steps=2,
        matrix_n=512,
        matrix_d=8,
        matrix_steps=3,
        torch_matrix_steps=2,
        sweep_k=4,
        sweep_n=64,
        sweep_d=4,
        sweep_steps=10,
        gram_n=2048,
        gram_d=16,
        gram_steps=20,
        gram_plain_steps=5,
        script_repeats=1,
    ),
    "small": dict(
        csv_rows=200_000,
        batch_k=1000,
        conditioning_n=2000,
        conditioning_spread=0.01,
        conditioning_cap=5_000_000,
        repeats=5,
        seed_calls=200,
        scalar_n=10_000_000,
        scalar_steps=20,
        torch_scalar_steps=5,
        matrix_n=200_000,
        matrix_d=128,
        matrix_steps=20,
        torch_matrix_steps=10,
        sweep_k=32,
        sweep_n=20_000,
        sweep_d=16,
        sweep_steps=100,
        gram_n=262_144,
        gram_d=256,
        gram_steps=1000,
        gram_plain_steps=10,
        script_repeats=5,
    ),
    "medium": dict(
        csv_rows=600_000,
        batch_k=1000,
        conditioning_n=2000,
        conditioning_spread=0.01,
        conditioning_cap=5_000_000,
        repeats=5,
        seed_calls=500,
        scalar_n=50_000_000,
        scalar_steps=20,
        torch_scalar_steps=5,
        matrix_n=1_000_000,
        matrix_d=256,
        matrix_steps=20,
        torch_matrix_steps=10,
        sweep_k=64,
        sweep_n=100_000,
        sweep_d=32,
        sweep_steps=100,
        gram_n=1_048_576,
        gram_d=256,
        gram_steps=1000,
        gram_plain_steps=10,
        script_repeats=5,
    ),
    "large": dict(
        csv_rows=1_820_000,
        batch_k=1000,
        conditioning_n=2000,
        conditioning_spread=0.01,
        conditioning_cap=5_000_000,
        repeats=7,
        seed_calls=1000,
        scalar_n=200_000_000,
        scalar_steps=50,
        torch_scalar_steps=10,
        matrix_n=4_000_000,
        matrix_d=256,
        matrix_steps=50,
        torch_matrix_steps=10,
        sweep_k=128,
        sweep_n=1_000_000,
        sweep_d=64,
        sweep_steps=100,
        gram_n=4_000_000,
        gram_d=256,
        gram_steps=1000,
        gram_plain_steps=20,
        script_repeats=5,
    ),
}


def median_seconds(fn, *, repeats: int, calls: int = 1) -> float:
    """Median over ``repeats`` of the time per call of ``fn`` (run once first, to warm up)."""
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            out = fn()
        jax.block_until_ready(out)
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def _torch():
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    return torch


def _torch_device(torch) -> str:
    return "cuda" if jax.default_backend() == "gpu" and torch.cuda.is_available() else "cpu"


def _torch_sync(torch, device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


# --- seed_fit -------------------------------------------------------------------------------


def bench_seed_fit(cfg: dict) -> dict:
    """The lesson problem, 100 steps: jaxlr.fit vs the lesson's loops vs the dispatch floor."""
    steps = 100
    x, y = jaxlr.lesson_data()
    params = jaxlr.Params(w=0.0)
    calls, repeats = cfg["seed_calls"], cfg["repeats"]

    def jaxlr_fit():
        return jaxlr.fit(params, x, y, learning_rate=0.01, n_iters=steps).params.w

    # The floor: one jitted call with the same arguments that computes nothing
    # but returns arrays of the shapes that fit's compiled program returns (every
    # leaf of the FitResult: the final params, the history, diverged_at,
    # inputs_finite, learning_rate and n_steps). Each output costs about 1 µs on a
    # CPU. keep_unused: jit would otherwise drop the unused arguments and skip
    # converting them (Python floats, ~1 µs each), which fit cannot. The bare
    # floor returns one scalar.
    result = jaxlr.fit(params, x, y, learning_rate=0.01, n_iters=steps)
    shapes = [(a.shape, a.dtype) for a in jax.tree.leaves(result)]
    noop = jax.jit(
        lambda params, x, y, learning_rate: [jnp.zeros(shape, dtype) for shape, dtype in shapes], keep_unused=True
    )
    bare_noop = jax.jit(lambda params, x, y, learning_rate: params.w, keep_unused=True)

    def floor():
        return noop(params, x, y, 0.01)

    # fit must also read its status on the host (to raise for NaN/inf inputs and
    # to report divergence), a synchronising device-to-host copy that the floor
    # above does not make. This floor makes it: the fair floor for fit.
    def floor_read():
        out = noop(params, x, y, 0.01)
        np.asarray(out[-1])
        return out

    # fit's compiled program alone, called as fit calls it: fit less its Python.
    options = Options(steps)

    def compiled():
        return _fit_jit(params, x, y, 0.01, None, None, None, options)

    def bare_floor():
        return bare_noop(params, x, y, 0.01)

    xn = np.array([1, 2, 3, 4], dtype=np.float32)
    yn = np.array([2, 4, 6, 8], dtype=np.float32)

    def numpy_loop():  # the lesson's program (1), 100 steps, without printing
        w = 0.0
        for _ in range(steps):
            y_pred = w * xn
            ((y_pred - yn) ** 2).mean()
            dw = np.dot(2 * xn, y_pred - yn).mean()
            w -= 0.01 * dw
        return w

    torch = _torch()
    xt = torch.tensor([1, 2, 3, 4], dtype=torch.float32)
    yt = torch.tensor([2, 4, 6, 8], dtype=torch.float32)

    def torch_loop():  # the lesson's program (2), 100 steps, without printing
        w = torch.tensor(0.0, dtype=torch.float32, requires_grad=True)
        for _ in range(steps):
            y_pred = w * xt
            loss = ((y_pred - yt) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                w -= 0.01 * w.grad
            w.grad.zero_()
        return w.item()

    # Interleave the contenders so that machine noise hits them alike.
    fns = {
        "jaxlr": jaxlr_fit,
        "compiled": compiled,
        "floor": floor,
        "floor_read": floor_read,
        "bare_floor": bare_floor,
        "numpy": numpy_loop,
        "torch": torch_loop,
    }
    times: dict[str, list[float]] = {name: [] for name in fns}
    slow_calls = max(1, calls // 20)
    for _ in range(repeats):
        for name, fn in fns.items():
            n = slow_calls if name in ("numpy", "torch") else calls
            times[name].append(median_seconds(fn, repeats=1, calls=n))
    us = {name: statistics.median(t) * 1e6 for name, t in times.items()}
    return {
        "jaxlr_us": us["jaxlr"],
        "compiled_us": us["compiled"],
        "floor_us": us["floor"],
        "floor_read_us": us["floor_read"],
        "bare_floor_us": us["bare_floor"],
        "numpy_us": us["numpy"],
        "torch_us": us["torch"],
        "torch_over_jaxlr": us["torch"] / us["jaxlr"],
        "numpy_over_jaxlr": us["numpy"] / us["jaxlr"],
        "jaxlr_over_floor": us["jaxlr"] / us["floor"],
        "jaxlr_over_bare_floor": us["jaxlr"] / us["bare_floor"],
        "jaxlr_over_floor_read": us["jaxlr"] / us["floor_read"],
    }


# --- big_scalar -----------------------------------------------------------------------------


def _per_step(fit, steps: int, reference, repeats: int) -> tuple[float, float, float]:
    """``(seconds per step, seconds per fit outside the steps, seconds of reference())``.

    A step's time is the marginal one, ``(t(2·steps) − t(steps)) / steps``: a fit
    also validates its inputs and checks them for NaN once, which are per-fit
    costs, reported separately. The three are timed interleaved, medians of
    ``repeats``.
    """
    t_one, t_two, t_ref = [], [], []
    contenders = ((lambda: fit(steps), t_one), (lambda: fit(2 * steps), t_two), (reference, t_ref))
    for _ in range(repeats):
        for fn, times in contenders:
            times.append(median_seconds(fn, repeats=1))  # each warms up first
    step = statistics.median([(b - a) / steps for a, b in zip(t_one, t_two, strict=True)])
    overhead = statistics.median(t_one) - step * steps
    return step, overhead, statistics.median(t_ref)


def bench_big_scalar(cfg: dict) -> dict:
    """The lesson's model on n samples: per-step time vs one read-only pass, vs PyTorch eager."""
    n, steps, repeats = cfg["scalar_n"], cfg["scalar_steps"], cfg["repeats"]
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal(n, dtype=np.float32)
    y_np = 2 * x_np + 0.1 * rng.standard_normal(n, dtype=np.float32)
    x, y = jnp.asarray(x_np), jnp.asarray(y_np)
    params = jaxlr.Params(w=0.0)

    def fit(n_iters):
        return jaxlr.fit(params, x, y, learning_rate=0.1, n_iters=n_iters, method="plain").params.w

    readonly = jax.jit(lambda x, y: jnp.sum(x * y))
    t_step, t_overhead, t_read = _per_step(fit, steps, lambda: readonly(x, y), repeats)

    torch = _torch()
    device = _torch_device(torch)
    xt, yt = torch.from_numpy(x_np).to(device), torch.from_numpy(y_np).to(device)
    torch_steps = cfg["torch_scalar_steps"]

    def torch_loop():
        w = torch.tensor(0.0, dtype=torch.float32, requires_grad=True, device=device)
        for _ in range(torch_steps):
            loss = ((w * xt - yt) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                w -= 0.1 * w.grad
            w.grad.zero_()
        _torch_sync(torch, device)
        return w.item()

    t_torch = median_seconds(torch_loop, repeats=min(repeats, 3)) / torch_steps
    gbytes = 2 * n * 4 / 1e9
    return {
        "n": n,
        "step_ms": t_step * 1e3,
        "fit_overhead_ms": t_overhead * 1e3,
        "readonly_pass_ms": t_read * 1e3,
        "readonly_gb_per_s": gbytes / t_read,
        "torch_step_ms": t_torch * 1e3,
        "fraction_of_readonly_bandwidth": t_read / t_step,
        "torch_over_jaxlr": t_torch / t_step,
    }


# --- big_matrix -----------------------------------------------------------------------------


def bench_big_matrix(cfg: dict) -> dict:
    """(n, d) with a bias: per-step time vs one ``X @ w``, vs PyTorch eager nn.Linear + optim.SGD."""
    n, d, steps, repeats = cfg["matrix_n"], cfg["matrix_d"], cfg["matrix_steps"], cfg["repeats"]
    rng = np.random.default_rng(1)
    x_np = rng.standard_normal((n, d), dtype=np.float32)
    y_np = x_np @ rng.standard_normal(d, dtype=np.float32) + 0.5
    x, y = jnp.asarray(x_np), jnp.asarray(y_np)
    params = jaxlr.Params(w=jnp.zeros(d, jnp.float32), b=jnp.zeros((), jnp.float32))

    def fit(n_iters):
        return jaxlr.fit(params, x, y, learning_rate=0.01, n_iters=n_iters, method="plain").params.w

    w = jnp.ones(d, jnp.float32)
    matvec = jax.jit(lambda x, w: jnp.matmul(x, w, precision=jax.lax.Precision.HIGHEST))
    t_step, t_overhead, t_matvec = _per_step(fit, steps, lambda: matvec(x, w), repeats)

    torch = _torch()
    device = _torch_device(torch)
    xt, yt = torch.from_numpy(x_np).to(device), torch.from_numpy(y_np).to(device)
    torch_steps = cfg["torch_matrix_steps"]

    def torch_loop():
        model = torch.nn.Linear(d, 1).to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        loss_fn = torch.nn.MSELoss()
        for _ in range(torch_steps):
            loss = loss_fn(model(xt).squeeze(-1), yt)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        _torch_sync(torch, device)
        return loss.item()

    t_torch = median_seconds(torch_loop, repeats=min(repeats, 3)) / torch_steps
    return {
        "n": n,
        "d": d,
        "step_ms": t_step * 1e3,
        "fit_overhead_ms": t_overhead * 1e3,
        "matvec_ms": t_matvec * 1e3,
        "torch_step_ms": t_torch * 1e3,
        "step_over_matvec": t_step / t_matvec,
        "torch_over_jaxlr": t_torch / t_step,
    }


# --- sweep ----------------------------------------------------------------------------------


def _sweep_ratio(params, x, y, k: int, steps: int, repeats: int) -> tuple[float, ...]:
    """``(K sequential fits, one sweep, one sweep with every run in one vmap)`` in seconds."""
    learning_rates = np.geomspace(1e-4, 0.05, k).astype(np.float32)

    def sequential():
        return [jaxlr.fit(params, x, y, learning_rate=float(lr), n_iters=steps).params.w for lr in learning_rates]

    def one_call():
        return jaxlr.sweep(params, x, y, learning_rates=learning_rates, n_iters=steps).params.w

    def one_vmap():  # batch_size=None: no groups, what "auto" picks off the CPU or for larger runs
        return jaxlr.sweep(params, x, y, learning_rates=learning_rates, n_iters=steps, batch_size=None).params.w

    calls = 10 if x.size < 1024 else 1  # tiny problems: time batches of calls, single ones are too noisy
    return tuple(median_seconds(f, repeats=repeats, calls=calls) for f in (sequential, one_call, one_vmap))


def bench_sweep(cfg: dict) -> dict:
    """K learning rates in one call vs K sequential ``jaxlr.fit`` calls.

    The headline is the lesson's problem (100 steps), where each fit is
    dispatch-bound. ``matrix_*`` repeats it on (n, d) data with a bias.
    """
    k, n, d, steps, repeats = cfg["sweep_k"], cfg["sweep_n"], cfg["sweep_d"], cfg["sweep_steps"], cfg["repeats"]
    x, y = jaxlr.lesson_data()
    t_seq, t_sweep, t_vmap = _sweep_ratio(jaxlr.Params(w=jnp.float32(0.0)), x, y, k, steps, repeats)
    rng = np.random.default_rng(2)
    xm = jnp.asarray(rng.standard_normal((n, d), dtype=np.float32))
    ym = jnp.matmul(xm, jnp.linspace(-1, 1, d, dtype=jnp.float32)) + 1
    params = jaxlr.Params(w=jnp.zeros(d, jnp.float32), b=jnp.float32(0.0))
    tm_seq, tm_sweep, _ = _sweep_ratio(params, xm, ym, k, steps, repeats)
    return {
        "k": k,
        "sequential_ms": t_seq * 1e3,
        "sweep_ms": t_sweep * 1e3,
        "sequential_over_sweep": t_seq / t_sweep,
        # batch_size="auto" runs these tiny runs in vmapped groups of 4 on a CPU; this is what one vmap costs
        "one_vmap_ms": t_vmap * 1e3,
        "one_vmap_over_sweep": t_vmap / t_sweep,
        "matrix_n": n,
        "matrix_d": d,
        "matrix_sequential_ms": tm_seq * 1e3,
        "matrix_sweep_ms": tm_sweep * 1e3,
        "matrix_sequential_over_sweep": tm_seq / tm_sweep,
    }


# --- gram -----------------------------------------------------------------------------------


def bench_gram(cfg: dict) -> dict:
    """A long fit at n ≫ d: method="gram" (measured) vs method="plain" (per-step time × steps)."""
    n, d, steps, repeats = cfg["gram_n"], cfg["gram_d"], cfg["gram_steps"], cfg["repeats"]
    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.standard_normal((n, d), dtype=np.float32))
    y = jnp.matmul(x, jnp.asarray(rng.standard_normal(d, dtype=np.float32))) + 0.5
    params = jaxlr.Params(w=jnp.zeros(d, jnp.float32), b=jnp.zeros((), jnp.float32))

    def gram():
        return jaxlr.fit(params, x, y, learning_rate=0.01, n_iters=steps, method="gram", history="loss").params.w

    plain_steps = cfg["gram_plain_steps"]

    def plain():
        return jaxlr.fit(params, x, y, learning_rate=0.01, n_iters=plain_steps, method="plain", history="loss").params.w

    t_gram = median_seconds(gram, repeats=max(3, repeats // 2))
    t_plain = median_seconds(plain, repeats=max(3, repeats // 2)) * steps / plain_steps
    return {
        "n": n,
        "d": d,
        "steps": steps,
        "gram_s": t_gram,
        "plain_s_extrapolated": t_plain,
        "plain_over_gram": t_plain / t_gram,
    }


# --- batch_fit ------------------------------------------------------------------------------


def bench_batch_fit(cfg: dict) -> dict:
    """K lesson-sized regressions (different y) in one ``jax.vmap(jaxlr.fit)`` call vs K eager fits vs PyTorch."""
    k, steps, repeats = cfg["batch_k"], 100, cfg["repeats"]
    x, y = jaxlr.lesson_data()
    ys = y[None, :] * jnp.linspace(0.5, 2.0, k, dtype=jnp.float32)[:, None]
    params = jaxlr.Params(w=0.0)
    batched = jax.jit(jax.vmap(lambda y: jaxlr.fit(params, x, y, learning_rate=0.01, n_iters=steps).params.w))

    def one_call():
        return np.asarray(batched(ys))

    def sequential():
        return [jaxlr.fit(params, x, ys[i], learning_rate=0.01, n_iters=steps).params.w for i in range(k)]

    torch = _torch()
    xt = torch.tensor([1, 2, 3, 4], dtype=torch.float32)
    yts = [torch.from_numpy(np.asarray(ys[i])) for i in range(k)]

    def torch_loops():
        for yt in yts:
            w = torch.tensor(0.0, dtype=torch.float32, requires_grad=True)
            for _ in range(steps):
                loss = ((w * xt - yt) ** 2).mean()
                loss.backward()
                with torch.no_grad():
                    w -= 0.01 * w.grad
                w.grad.zero_()
        return w.item()

    np.testing.assert_allclose(one_call(), np.asarray(sequential()), rtol=1e-6)  # the same answers
    t_batch = median_seconds(one_call, repeats=repeats)
    t_seq = median_seconds(sequential, repeats=max(3, repeats // 2))
    t_torch = median_seconds(torch_loops, repeats=min(3, repeats))
    return {
        "k": k,
        "batched_ms": t_batch * 1e3,
        "sequential_ms": t_seq * 1e3,
        "torch_ms": t_torch * 1e3,
        "sequential_over_batched": t_seq / t_batch,
        "torch_over_batched": t_torch / t_batch,
    }


# --- conditioning ---------------------------------------------------------------------------


def _steps_to(params, x, y, exact, *, optimizer: str, target: float, cap: int) -> tuple[int, float]:
    """Steps ``fit(..., tol=)`` takes to reach ``target`` relative error in the coefficients (tol tightened ×10)."""
    scale = np.linalg.norm(exact)
    tol = target
    while True:
        result = jaxlr.fit(
            params, x, y, learning_rate="auto", optimizer=optimizer, n_iters=cap, tol=tol, history="none", method="gram"
        )
        got = np.append(np.asarray(result.params.w), float(result.params.b))
        error = float(np.linalg.norm(got - exact) / scale)
        if error <= target or int(result.n_steps) >= cap or tol < 1e-15:
            return int(result.n_steps), error
        tol /= 10


def bench_conditioning(cfg: dict) -> dict:
    """Steps to 1e-8 relative error in the coefficients, float64: plain gradient descent at 1/L vs heavy-ball."""
    jax.config.update("jax_enable_x64", True)  # float64 for this entry (the benchmark's last)
    rng = np.random.default_rng(4)
    n, d = cfg["conditioning_n"], 4
    base = rng.standard_normal((n, 1))
    x = base + cfg["conditioning_spread"] * rng.standard_normal((n, d))  # near-collinear columns
    x = (x - x.mean(0)) / x.std(0)  # standardized: the conditioning left is the collinearity
    y = x @ np.array([1.0, -2.0, 0.5, 3.0]) + 5.0 + 0.1 * rng.standard_normal(n)
    exact = np.linalg.lstsq(np.column_stack([x, np.ones(n)]), y, rcond=None)[0]
    kappa = float(jaxlr.condition_number(x))
    params = jaxlr.Params(w=np.zeros(d), b=0.0)
    target, cap = 1e-8, cfg["conditioning_cap"]
    plain_steps, plain_error = _steps_to(params, x, y, exact, optimizer="sgd", target=target, cap=cap)
    hb_steps, hb_error = _steps_to(params, x, y, exact, optimizer="heavy-ball", target=target, cap=cap)
    return {
        "kappa": kappa,
        "target_relative_error": target,
        "plain_steps": plain_steps,
        "plain_relative_error": plain_error,
        "heavy_ball_steps": hb_steps,
        "heavy_ball_relative_error": hb_error,
        "plain_steps_over_heavy_ball_steps": plain_steps / hb_steps,
    }


# --- CSV loading (issue 13) -----------------------------------------------------------------

CSV_COLUMNS = 11  # 10 features and y, as in the 200 MB file

sys.path.insert(0, str(ROOT / "scripts"))
from bench_memory import PEAK_KIB  # noqa: E402  (the child processes' peak-memory probe)

_CSV_CHILD = (
    PEAK_KIB
    + """
import sys
sys.path.insert(0, sys.argv[3])
import numpy as np
if sys.argv[1] == "jaxlr":
    import jaxlr
    load = lambda path: jaxlr.load_csv(path, target="y")
else:
    import pandas
    load = lambda path: pandas.read_csv(path)
before = peak_kib()
data = load(sys.argv[2])
print(before, peak_kib())  # KiB on Linux
"""
)


def _write_numeric_csv(path: Path, n: int) -> int:
    """n rows of CSV_COLUMNS numbers with 6 decimals (about 110 bytes a row); returns the numeric bytes."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    rng = np.random.default_rng(13)
    names = [f"x{j}" for j in range(CSV_COLUMNS - 1)] + ["y"]
    chunk = 200_000
    with pa_csv.CSVWriter(str(path), pa.schema([(name, pa.float64()) for name in names])) as writer:
        for start in range(0, n, chunk):
            block = np.round(rng.normal(size=(min(chunk, n - start), CSV_COLUMNS)), 6)
            writer.write_table(pa.table({name: block[:, j] for j, name in enumerate(names)}))
    return n * CSV_COLUMNS * 8


def _peak_growth_bytes(reader: str, path: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _CSV_CHILD, reader, str(path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    before, after = (int(v) for v in out.stdout.split())
    return (after - before) * 1024.0


CSV_TARGET_ROWS = 1_820_000  # the file: 1.82 M rows x 11 columns, ~200 MB


def bench_csv_load(cfg: dict) -> dict:
    """``jaxlr.load_csv`` (pyarrow) vs ``pandas.read_csv`` vs jaxlr's old stdlib reader, on one numeric file.

    Times are medians in this process; peak RSS growth is measured in a fresh
    process per reader. Targets: ``jaxlr_over_pandas`` <= 2,
    ``speedup_vs_old`` >= 5, ``peak_rss_over_numeric_bytes`` <= 2.5.
    """
    import pandas

    sys.path.insert(0, str(ROOT / "scripts"))
    import old_csv_reader  # type: ignore[import-not-found]

    n, repeats = cfg["csv_rows"], min(cfg["repeats"], 3)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "numeric.csv"
        numeric_bytes = _write_numeric_csv(path, n)
        jaxlr_s = median_seconds(lambda: jaxlr.load_csv(path, target="y").x, repeats=repeats)
        pandas_s = median_seconds(lambda: pandas.read_csv(path).shape, repeats=repeats)
        old_s = median_seconds(lambda: old_csv_reader.read_csv(path).values, repeats=1 if n > 500_000 else repeats)
        jaxlr_rss = _peak_growth_bytes("jaxlr", path)
        pandas_rss = _peak_growth_bytes("pandas", path)
        file_mb = path.stat().st_size / 1e6
    result = {
        "rows": n,
        "columns": CSV_COLUMNS,
        "file_mb": file_mb,
        "jaxlr_s": jaxlr_s,
        "pandas_s": pandas_s,
        "old_s": old_s,
        "jaxlr_over_pandas": jaxlr_s / pandas_s,
        "speedup_vs_old": old_s / jaxlr_s,
        "jaxlr_peak_rss_mb": jaxlr_rss / 1e6,
        "pandas_peak_rss_mb": pandas_rss / 1e6,
        "peak_rss_over_numeric_bytes": jaxlr_rss / numeric_bytes,
    }
    # The targets are for its 200 MB file (--scale large). On smaller files pyarrow's fixed
    # ~50 MB (thread pool, allocator) dominates the RSS ratio, so they are not judged there.
    meets = (
        result["jaxlr_over_pandas"] <= 2
        and result["speedup_vs_old"] >= 5
        and result["peak_rss_over_numeric_bytes"] <= 2.5
    )
    result["meets_targets"] = meets if n >= CSV_TARGET_ROWS else None
    return result


# --- compile time ---------------------------------------------------------------------------


def bench_compile_s(cfg: dict) -> float:
    """Seconds for the first ``jaxlr.fit`` on a new shape, less a warm call: the compile time."""
    del cfg
    x = jnp.arange(1.0, 8.0, dtype=jnp.float32)  # a shape no other benchmark uses
    y = 2 * x
    params = jaxlr.Params(w=0.0)
    start = time.perf_counter()
    jax.block_until_ready(jaxlr.fit(params, x, y, n_iters=100).params.w)
    first = time.perf_counter() - start
    warm = median_seconds(lambda: jaxlr.fit(params, x, y, n_iters=100).params.w, repeats=5, calls=10)
    return first - warm


# --- script_cold_s --------------------------------------------------------------------------


def _process_seconds(args: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def bench_script_cold_s(cfg: dict) -> dict:
    """Whole-process seconds of each port script vs the lesson program it ports.

    ``*_port`` runs with the compilation cache that an earlier run filled (the
    usual case from the second run on), ``*_port_no_cache`` with the cache off
    (it compiles every time), ``*_port_first`` once into an empty cache. The
    runs are interleaved and each figure is a median.
    """
    repeats = cfg["script_repeats"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    no_cache = dict(env, JAXLR_CACHE_DIR="")
    result: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as cache:
        cached = dict(env, JAXLR_CACHE_DIR=cache)
        for name, original in (
            ("manual", "gradient_descent_manual_numpy.py"),
            ("autograd", "gradient_descent_autograd_torch.py"),
        ):
            script = [str(ROOT / "scripts" / f"gradient_descent_{name}.py")]
            result[f"{name}_port_first"] = _process_seconds(script, cached)
            runs: dict[str, list[float]] = {"port": [], "port_no_cache": [], "original": []}
            for _ in range(repeats):
                runs["port"].append(_process_seconds(script, cached))
                runs["port_no_cache"].append(_process_seconds(script, no_cache))
                runs["original"].append(_process_seconds([str(ORIGINALS / original)], env))
            for kind, times in runs.items():
                result[f"{name}_{kind}"] = statistics.median(times)
            result[f"{name}_port_over_original"] = result[f"{name}_port"] / result[f"{name}_original"]
    imports: dict[str, list[float]] = {"jax": [], "jaxlr": [], "torch": []}
    for _ in range(repeats):
        for module, times in imports.items():
            times.append(_process_seconds(["-c", f"import {module}"], no_cache))
    for module, times in imports.items():
        result[f"python_import_{module}"] = statistics.median(times)
    return result


# --- sharded (issue 6 provides scripts/bench_sharded.py) ------------------------------------


def bench_sharded(scale: str) -> dict | None:
    path = ROOT / "scripts" / "bench_sharded.py"
    if not path.exists():
        return None
    sys.path.insert(0, str(path.parent))
    import bench_sharded  # type: ignore[import-not-found]

    return bench_sharded.run(scale)


# --- memory (issue 7: scripts/bench_memory.py, peak RSS of long fits) -------------------------


def bench_memory(scale: str) -> dict:
    sys.path.insert(0, str(ROOT / "scripts"))
    import bench_memory  # type: ignore[import-not-found]

    return bench_memory.run(scale)


# --- driver ---------------------------------------------------------------------------------

BENCHMARKS = {
    "seed_fit": bench_seed_fit,
    "big_scalar": bench_big_scalar,
    "big_matrix": bench_big_matrix,
    "sweep": bench_sweep,
    "gram": bench_gram,
    "batch_fit": bench_batch_fit,
    "compile_s": bench_compile_s,
    "script_cold_s": bench_script_cold_s,
    "csv_load": bench_csv_load,
    "conditioning": bench_conditioning,  # last: it turns on float64
}


def _format(value: Any) -> str:
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.4g}"
        return f"{value:.3e}"
    return str(value)


def print_table(results: dict) -> None:
    rows = []
    for bench, value in results.items():
        if bench == "environment":
            continue
        if isinstance(value, dict):
            rows.extend((bench, field, _format(v)) for field, v in value.items())
        else:
            rows.append((bench, "", _format(value)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}")


def environment(scale: str) -> dict:
    device = jax.devices()[0]
    return {
        "scale": scale,
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "device": f"{device.device_kind} ({device})",
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch_device": _torch_device(_torch()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=("small", "medium", "large"), default="small")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    choices = ", ".join([*BENCHMARKS, "sharded"])
    parser.add_argument("--only", metavar="NAMES", help="comma-separated subset of: " + choices)
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # the test suite's size
    args = parser.parse_args(argv)
    scale = "tiny" if args.tiny else args.scale
    cfg = SCALES[scale]
    names = list(BENCHMARKS) if not args.only else args.only.split(",")
    unknown = [name for name in names if name not in BENCHMARKS and name not in ("sharded", "memory")]
    if unknown:
        parser.error(f"--only: unknown benchmark(s) {', '.join(unknown)}; choose from {choices}")
    results: dict[str, Any] = {"environment": environment(scale)}
    for name in names:
        if name in ("sharded", "memory"):
            continue
        start = time.perf_counter()
        results[name] = BENCHMARKS[name](cfg)
        print(f"# {name}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    if scale != "tiny" and (not args.only or "sharded" in names):  # the test suite's run leaves it to its own tests
        sharded = bench_sharded(scale)
        if sharded is not None:
            results["sharded"] = sharded
    if not args.only or "memory" in names:  # separate processes: peak RSS never shrinks within one
        results["memory"] = bench_memory(scale)
    print_table(results)
    if args.json:
        with atomic_write(args.json) as f:  # - for stdout; a FIFO or symlink is written through, not replaced
            f.write(json.dumps(results, indent=2, allow_nan=True) + "\n")
    bad = [
        f"{b}.{f}"
        for b, v in results.items()
        if b != "environment"
        for f, x in (v.items() if isinstance(v, dict) else [("", v)])
        if isinstance(x, float) and not math.isfinite(x)
    ]
    if bad:
        print(f"warning: non-finite figures: {', '.join(bad)}", file=sys.stderr)
    if "csv_load" in results and results["csv_load"]["meets_targets"] is False:
        print("warning: csv_load misses a target (jaxlr_over_pandas <= 2, speedup_vs_old >= 5, "
              "peak_rss_over_numeric_bytes <= 2.5)", file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
