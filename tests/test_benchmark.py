"""scripts/benchmark.py reports every field (at a tiny size: no timing is asserted), and the cache works."""

import json
import math
import os

from helpers import run_python

FIELDS = {
    "seed_fit": ["torch_over_jaxlr", "numpy_over_jaxlr", "jaxlr_over_floor"],
    "big_scalar": ["fraction_of_readonly_bandwidth", "torch_over_jaxlr"],
    "big_matrix": ["step_over_matvec", "torch_over_jaxlr"],
    "sweep": ["sequential_over_sweep"],
    "gram": ["plain_over_gram"],
    "script_cold_s": ["autograd_port", "autograd_original", "manual_port", "manual_original"],
    "csv_load": ["jaxlr_s", "pandas_s", "jaxlr_over_pandas", "speedup_vs_old", "peak_rss_over_numeric_bytes"],
}


def test_benchmark_reports_every_field(tmp_path):
    out_path = tmp_path / "bench.json"
    out = run_python("scripts/benchmark.py", "--tiny", "--json", str(out_path), timeout=300)
    assert out.returncode == 0, out.stderr
    results = json.loads(out_path.read_text())
    for bench, fields in FIELDS.items():
        for field in fields:
            value = results[bench][field]
            assert isinstance(value, float) and math.isfinite(value), (bench, field, value)  # no timing asserted
    assert isinstance(results["compile_s"], float) and math.isfinite(results["compile_s"])
    assert "jaxlr_over_floor" in out.stdout  # the table


def test_benchmark_rejects_unknown_names():
    out = run_python("scripts/benchmark.py", "--only", "nonsense")
    assert out.returncode == 2 and "unknown benchmark" in out.stderr


def test_second_script_run_uses_the_compilation_cache(tmp_path):
    env = dict(os.environ, JAXLR_CACHE_DIR=str(tmp_path / "cache"))
    first = run_python("scripts/gradient_descent_autograd.py", env=env)
    assert first.returncode == 0, first.stderr
    entries = {p.name for p in (tmp_path / "cache").iterdir()}
    assert any(name.startswith("jit_fit_core") for name in entries), entries
    second = run_python("scripts/gradient_descent_autograd.py", env=env)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    assert {p.name for p in (tmp_path / "cache").iterdir()} == entries  # nothing new was compiled


def test_empty_cache_dir_turns_the_cache_off(tmp_path):
    env = dict(os.environ, JAXLR_CACHE_DIR="", XDG_CACHE_HOME=str(tmp_path))
    out = run_python("scripts/gradient_descent_manual.py", env=env)
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "jaxlr").exists()
