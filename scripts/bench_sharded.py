"""Step time of a row-sharded fit on 1, 2, 4 and 8 simulated CPU devices.

JAX fixes its device count when it starts, so each device count runs in its own
process (``JAX_PLATFORMS=cpu JAX_NUM_CPU_DEVICES=k``). Every process times the
same fit, ``x`` of shape ``(n, d)`` float32 sharded along its rows, as users call
``jaxlr.fit`` (validation included), warm (compiled), the best of a few repeats:
``step_us`` with ``method="plain"`` (each step reads every row: the work that
sharding splits), and ``auto_step_us`` with the default ``method="auto"`` (at this
size the gram path, whose step is ``O(d²)`` and does not read the rows at all).

Simulated devices split the same CPU cores: at most as many of them compute at
once as there are cores, so any gain stops at the core count, and the rest is
the cost of sharding (the all-reduces, the partitioned program). A gain from 1
to 2 devices on a 2-core machine is one device's step leaving a core idle, not
what real devices would give.

    python scripts/bench_sharded.py --scale small      # prints one JSON object
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEVICE_COUNTS = (1, 2, 4, 8)
# (n samples, d features, steps per fit, repeats)
SCALES = {"small": (1 << 18, 16, 50, 3), "medium": (1 << 21, 32, 50, 3), "large": (1 << 23, 64, 100, 3)}


def _measure(devices: int, scale: str) -> dict:
    """In a process started with ``devices`` CPU devices: the warm step time of a sharded fit."""
    import jax
    import numpy as np
    from jax.sharding import AxisType, NamedSharding
    from jax.sharding import PartitionSpec as P

    import jaxlr

    assert jax.device_count() == devices, (jax.device_count(), devices)
    n, d, n_iters, repeats = SCALES[scale]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x @ rng.normal(size=d).astype(np.float32) + 0.5).astype(np.float32)
    mesh = jax.make_mesh((devices,), ("data",), axis_types=(AxisType.Explicit,))
    xs = jax.device_put(x, NamedSharding(mesh, P("data", None)))
    ys = jax.device_put(y, NamedSharding(mesh, P("data")))
    params = jaxlr.Params(np.zeros(d, np.float32), np.float32(0.0))

    def fit(method):
        result = jaxlr.fit(params, xs, ys, learning_rate=0.01, n_iters=n_iters, history="none", method=method)
        jax.block_until_ready(result.params)
        return result

    record = {"devices": devices, "bytes_per_step": x.nbytes + y.nbytes}
    for method, key in (("plain", "step_us"), ("auto", "auto_step_us")):
        start = time.perf_counter()
        fit(method)
        record["first_call_s" if method == "plain" else "auto_first_call_s"] = time.perf_counter() - start
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fit(method)
            times.append(time.perf_counter() - start)
        record[key] = min(times) / n_iters * 1e6
    return record


def run(scale: str = "small") -> dict:
    """Runs one process per device count; returns their step times and the ratios to 1 device."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")
    n, d, n_iters, _ = SCALES[scale]
    per_count = {}
    for devices in DEVICE_COUNTS:
        env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES=str(devices), PYTHONPATH=str(ROOT))
        env.pop("XLA_FLAGS", None)
        out = subprocess.run(
            [sys.executable, __file__, "--worker", str(devices), "--scale", scale],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if out.returncode != 0:
            raise RuntimeError(f"bench_sharded: the {devices}-device run failed:\n{out.stderr[-3000:]}")
        per_count[str(devices)] = json.loads(out.stdout.strip().splitlines()[-1])
    base = per_count["1"]["step_us"]
    return {
        "scale": scale,
        "n": n,
        "d": d,
        "n_iters": n_iters,
        "dtype": "float32",
        "cpu_cores": os.cpu_count(),
        "method": "plain",
        "step_us": {k: v["step_us"] for k, v in per_count.items()},
        "speedup_over_1_device": {k: base / v["step_us"] for k, v in per_count.items()},
        "first_call_s": {k: v["first_call_s"] for k, v in per_count.items()},
        "auto_step_us": {k: v["auto_step_us"] for k, v in per_count.items()},
        "note": "simulated CPU devices share the machine's cores: at most cpu_cores of them compute at once; "
        "auto_step_us is method='auto' (the gram path here), whose step does not read the rows",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=tuple(SCALES), default="small")
    parser.add_argument("--worker", type=int, metavar="DEVICES", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(_measure(args.worker, args.scale)))
    else:
        print(json.dumps(run(args.scale), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
