"""Shared test helpers."""

import contextlib
import re
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).resolve().parent / "reference"

_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\d+|inf|nan)")


_TRACES = [0]


def _count_trace(event, duration, **kwargs):
    del duration, kwargs  # unused
    if event == "/jax/core/compile/jaxpr_trace_duration":
        _TRACES[0] += 1


# Registered once, for the whole session: older jax has no way to unregister a listener.
jax.monitoring.register_event_duration_secs_listener(_count_trace)


@contextlib.contextmanager
def count_traces():
    """Counts jit traces (cache misses) inside the block: ``with count_traces() as n: ...; n[0]``."""
    count, start = [0], _TRACES[0]
    try:
        yield count
    finally:
        count[0] = _TRACES[0] - start


def parse_numbers(text: str) -> list[tuple[str, list[float]]]:
    """Each line as (its text with numbers blanked, its numbers)."""
    return [(_NUMBER.sub("#", line), [float(v) for v in _NUMBER.findall(line)]) for line in text.splitlines()]


def assert_same_printout(actual: str, expected: str, *, ulps: int = 4) -> None:
    """Same lines and format as a lesson printout; numbers equal up to float32 rounding.

    Each number may differ by ``ulps`` float32 ulps of itself plus half its last
    printed digit. A loss may also differ by what ``ulps`` ulps of ``w`` (about 2)
    make of it: on the lesson's data ``loss = 7.5 (w - 2)**2``, so
    ``|dloss/dw| = 2 sqrt(7.5 loss)``, and near convergence a one-ulp difference in
    ``w`` between libraries is a much larger relative difference in the loss.
    """
    got, want = parse_numbers(actual), parse_numbers(expected)
    assert [shape for shape, _ in got] == [shape for shape, _ in want], f"{actual}\n!=\n{expected}"
    w_ulp = float(np.spacing(np.float32(2.0)))
    for line_number, ((shape, a), (_, b)) in enumerate(zip(got, want, strict=True), start=1):
        texts = _NUMBER.findall(expected.splitlines()[line_number - 1])
        for index, (x, y, text) in enumerate(zip(a, b, texts, strict=True)):
            decimals = len(text.split(".")[1]) if "." in text else 0
            tolerance = ulps * float(np.spacing(np.float32(abs(y)))) + 0.5 * 10.0**-decimals
            if "loss = #" in shape and index == len(a) - 1:
                tolerance += ulps * w_ulp * 2 * np.sqrt(7.5 * abs(y))
            assert abs(x - y) <= tolerance, f"line {line_number}: {x} vs {y} (tolerance {tolerance:g})"


def run_python(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Runs ``python ARGS`` in the repository root, capturing text output."""
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """``jaxlr ARGV`` in this process: (exit code, stdout, stderr); argparse's errors included."""
    from jaxlr._cli import main  # the console script's entry point: no public handle for it

    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse's errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err
