"""Peak memory of long fits: with ``history="loss"`` it stays flat as the number of steps grows.

Each measurement is a fresh process (peak RSS never goes down within one), fitting
the lesson's problem for N steps. ``history="full"`` is measured beside it on
a (n, d) problem, where it keeps N·(d + 2) numbers. Run on its own it prints JSON;
``scripts/benchmark.py`` includes it as the ``memory`` entry.
"""

import json
import os
import subprocess
import sys

# The child processes' peak-memory probe (also used by scripts/benchmark.py's csv_load entry).
PEAK_KIB = """
import resource

def peak_kib():
    # VmHWM: this process's own high-water mark. ru_maxrss also counts the parent's
    # memory at fork time (Linux carries it across exec), so it is only a fallback.
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""

_CHILD = (
    PEAK_KIB
    + """
import sys
import numpy as np
import jaxlr

n_iters, history, d = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(0)
x = rng.normal(size=(256, d)).astype(np.float32)
y = (x @ np.ones(d, np.float32)).astype(np.float32)
before = peak_kib()
result = jaxlr.fit(jaxlr.Params(np.zeros(d, np.float32), np.float32(0)), x, y,
                   learning_rate=0.01, n_iters=n_iters, history=history)
assert not result.diverged
after = peak_kib()
print(before, after)  # KiB on Linux
"""
)

STEPS = {"tiny": [1_000, 10_000], "small": [10_000, 100_000, 1_000_000], "medium": [10_000, 1_000_000, 10_000_000]}
STEPS["large"] = STEPS["medium"]


def _peak_mib(n_iters: int, history: str, d: int) -> tuple[float, float]:
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(n_iters), history, str(d)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=True,
    )
    before, after = (int(v) / 1024 for v in out.stdout.split())
    return before, after


def run(scale: str = "small") -> dict:
    """Peak RSS (MiB) of a fit per step count, for history 'loss' and 'full', and how much each grows."""
    steps = STEPS[scale]
    d = 16
    result: dict = {"d": d}
    for history in ("loss", "full"):
        peaks = []
        for n_iters in steps:
            before, after = _peak_mib(n_iters, history, d)
            result[f"{history}_history_{n_iters}_steps_peak_mib"] = round(after, 1)
            result[f"{history}_history_{n_iters}_steps_fit_mib"] = round(after - before, 1)
            peaks.append(after)
        # peak RSS at the most steps over the fewest: 1.0 is perfectly flat
        result[f"{history}_history_peak_growth"] = round(peaks[-1] / peaks[0], 3)
    return result


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "small"), indent=2))
