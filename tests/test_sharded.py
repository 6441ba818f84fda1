"""Runs tests/multidevice/check_sharded.py on 8 simulated CPU devices, in a fresh process.

JAX fixes its device count when it starts, and this process has started with
one. ``JAX_NUM_CPU_DEVICES`` (the ``jax_num_cpu_devices`` option, jax >= 0.4.38)
works in jax 0.10 and 0.11 alike; ``JAX_PLATFORMS=cpu`` keeps a GPU machine on
the simulated CPU devices.
"""

import os
import re
import subprocess
import sys

from helpers import ROOT

SUITE = "tests/multidevice/check_sharded.py"


def test_sharded_fits_on_8_simulated_devices_match_one_device():
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": "8", "PYTHONPATH": str(ROOT)}
    if "xla_force_host_platform_device_count" in env.get("XLA_FLAGS", ""):
        env.pop("XLA_FLAGS")  # it would fight JAX_NUM_CPU_DEVICES
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", SUITE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    assert out.returncode == 0, out.stdout[-5000:] + out.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 20 and "skipped" not in summary, summary
