"""SIGINT/SIGTERM during a long fit: a prompt stop, one line, no partial output, input untouched."""

import hashlib
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import ROOT


@pytest.mark.parametrize(
    "command, steps, options, signum, code",
    [
        ("fit", 20000000, ["--lr", "0.1"], signal.SIGINT, 130),
        ("fit", 20000000, ["--lr", "0.1"], signal.SIGTERM, 143),
        # two runs of 5e6 steps: tens of seconds, and a loss history of 80 MB
        ("sweep", 5000000, ["--lr", "1e-3:1e-2:2"], signal.SIGINT, 130),
    ],
)
def test_signal_during_a_long_run_stops_it_cleanly(tmp_path, command, steps, options, signum, code):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 4))
    data = tmp_path / "data.csv"
    np.savetxt(data, np.c_[x, x @ [1.0, 2.0, 3.0, 4.0] + 1], delimiter=",", header="a,b,c,d,y", comments="")
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    out = tmp_path / "out.json"
    # these steps take minutes: the signal arrives while the compiled loop runs
    argv = [sys.executable, "-m", "jaxlr", command, str(data), "--target", "y", "--steps", str(steps)]
    argv += [*options, "--quiet", "--json", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "JAX_PLATFORMS": "cpu"}
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert f"{steps} steps" in process.stdout.readline()  # printed just before training starts
        time.sleep(2.0)  # compiled and running
        assert process.poll() is None
        process.send_signal(signum)
        sent = time.monotonic()
        stdout, stderr = process.communicate(timeout=60)
        stopped_after = time.monotonic() - sent
    finally:
        process.kill()
    assert process.returncode == code
    assert stopped_after < 10, f"took {stopped_after:.1f} s to stop"
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "interrupted by" in lines[0] and signal.Signals(signum).name in lines[0], stderr
    assert "Traceback" not in stderr + stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]  # no output, no temporary file
    assert hashlib.sha256(data.read_bytes()).hexdigest() == digest


def test_an_interrupted_write_leaves_neither_a_temporary_file_nor_a_changed_destination(tmp_path):
    from jaxlr import _io

    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(OSError):
        with _io.atomic_write(target) as f:
            f.write("half of the new")
            _io.remove_unfinished_outputs()  # what a signal does, mid-write
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
