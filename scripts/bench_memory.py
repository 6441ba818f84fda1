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

_CHILD = """
import resource, sys
import numpy as np
import jaxlr
n_iters, history, d = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(0)
x = rng.normal(size=(256, d)).astype(np.float32)
y = (x @ np.ones(d, np.float32)).astype(np.float32)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = jaxlr.fit(jaxlr.Params(np.zeros(d, np.float32), np.float32(0)), x, y,
                   learning_rate=0.01, n_iters=n_iters, history=history)
assert not result.diverged
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, after)  # KiB on Linux
"""

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
    """Peak RSS (MiB) per step count for history 'loss' and 'full', and the growth of each."""
    steps = STEPS[scale]
    d = 16
    table = {}
    for history in ("loss", "full"):
        rows = []
        for n_iters in steps:
            before, after = _peak_mib(n_iters, history, d)
            rows.append({"steps": n_iters, "peak_rss_mib": round(after, 1), "fit_added_mib": round(after - before, 1)})
        table[history] = rows
    loss_rows, full_rows = table["loss"], table["full"]
    return {
        "d": d,
        "steps": steps,
        "history_loss": loss_rows,
        "history_full": full_rows,
        # peak RSS at the most steps over the fewest: 1.0 is perfectly flat
        "loss_history_peak_growth": round(loss_rows[-1]["peak_rss_mib"] / loss_rows[0]["peak_rss_mib"], 3),
        "full_history_peak_growth": round(full_rows[-1]["peak_rss_mib"] / full_rows[0]["peak_rss_mib"], 3),
    }


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "small"), indent=2))
