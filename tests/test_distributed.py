"""Multi-process fits: the CSV row reader, and two real processes on localhost.

The two-process test runs the README's command lines verbatim (port and file
names substituted; ``jaxlr`` as ``python -m jaxlr``, the same ``main``) and
bounds every process in time: if one fails or hangs, the others are killed and
the test fails with their output. The command runs its work in a worker thread
(``jaxlr._io.run_interruptibly``), so these runs also check that
``jax.distributed.initialize`` works from there.
"""

import json
import os
import re
import runpy
import shlex
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from helpers import ROOT

import jaxlr

COLUMNS = ("a", "b", "c", "y")


def _write_csv(path, n, *, seed=0, newline="\n", trailing_newline=True, blank_lines=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1]
    y = x @ np.array([1.5, -0.2, 5.0]) + 0.3 + 0.1 * rng.normal(size=n)
    table = np.column_stack([x, y])
    lines = [",".join(COLUMNS)] + [",".join(repr(float(v)) for v in row) for row in table]
    if blank_lines:
        lines.insert(3, "")
    text = newline.join(lines) + (newline if trailing_newline else "")
    path.write_bytes(text.encode())
    return table


@pytest.mark.parametrize("n", [1, 2, 7, 40])
@pytest.mark.parametrize("style", ["plain", "crlf", "no final newline", "blank line"])
def test_shares_cover_every_row_once_in_order(tmp_path, n, style):
    path = tmp_path / "data.csv"
    table = _write_csv(
        path,
        n,
        newline="\r\n" if style == "crlf" else "\n",
        trailing_newline=style != "no final newline",
        blank_lines=style == "blank line",
    )
    for count in (1, 2, 3, 5):
        shares = [jaxlr.read_csv_rows(path, "y", process_index=i, process_count=count) for i in range(count)]
        assert all(s.features == ("a", "b", "c") for s in shares)
        np.testing.assert_array_equal(np.concatenate([s.x for s in shares]), table[:, :3])
        np.testing.assert_array_equal(np.concatenate([s.y for s in shares]), table[:, 3])
        if n >= 5 * count:
            sizes = [len(s.y) for s in shares]
            assert max(sizes) - min(sizes) <= 2, sizes  # lines of similar length: similar shares


def test_features_pick_and_order_columns_and_per_process_files(tmp_path):
    tables = [_write_csv(tmp_path / f"part-{i}.csv", 3 + i, seed=i) for i in range(2)]
    pattern = str(tmp_path / "part-{process_index}.csv")
    for i, table in enumerate(tables):
        rows = jaxlr.read_csv_rows(pattern, "a", ["c", "y"], process_index=i, process_count=2)
        assert rows.features == ("c", "y")
        np.testing.assert_array_equal(rows.x, table[:, [2, 3]])
        np.testing.assert_array_equal(rows.y, table[:, 0])


@pytest.mark.parametrize(
    "content, target, features, match",
    [
        ("a,y\n1,2\n", "z", None, r"has no column 'z' to use as the target; its columns are a, y"),
        ("a,y\n1,2\n", "y", ["q"], "has no feature column 'q'; its columns are a, y"),
        ("a,y\n1,2\n", "y", ["y"], "cannot be both the target and a feature"),
        ("y\n1\n", "y", None, "no feature columns to fit on"),
        ("a,a,y\n1,2,3\n", "y", None, "names column 'a' twice"),
        ("a,y\n1,oops\n", "y", None, r"row 1 \(line 1\), column 'y': 'oops' is not a number"),
        ("a,y\n1,2,3\n", "y", None, "has 3 cells, but the header has 2 columns"),
        ("", "y", None, "no header line"),
    ],
)
def test_bad_csv_files_raise_one_clear_error(tmp_path, content, target, features, match):
    path = tmp_path / "data.csv"
    path.write_text(content)
    with pytest.raises(jaxlr.DataError, match=match):
        jaxlr.read_csv_rows(path, target, features)


def test_missing_file_and_bad_process_index(tmp_path):
    with pytest.raises(ValueError, match="cannot read .*nope.csv: No such file"):
        jaxlr.read_csv_rows(tmp_path / "nope.csv", "y")
    with pytest.raises(ValueError, match="0 <= process_index < process_count"):
        jaxlr.read_csv_rows(tmp_path / "nope.csv", "y", process_index=2, process_count=2)


@pytest.mark.parametrize("learning_rate", [0.01, "auto"])
def test_fit_distributed_in_one_process_equals_fit(learning_rate):
    table = _write_csv_table(13)  # (the two-process test pads 37 rows to 40: masked, in L too)
    params = jaxlr.Params(np.zeros(3), 0.0)
    want = jaxlr.fit(params, table[:, :3], table[:, 3], learning_rate=learning_rate, n_iters=30)
    got = jaxlr.fit_distributed(params, table[:, :3], table[:, 3], learning_rate=learning_rate, n_iters=30)
    np.testing.assert_allclose(got.learning_rate, want.learning_rate, rtol=1e-12, atol=0)
    np.testing.assert_allclose(got.history.loss, want.history.loss, rtol=1e-12, atol=0)
    np.testing.assert_allclose(got.params.w, want.params.w, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="fit_distributed: x_local and y_local must have the same number of rows"):
        jaxlr.fit_distributed(params, table[:, :3], table[:-1, 3])


def test_fit_distributed_warns_when_it_diverges():
    table = _write_csv_table(13)
    with pytest.warns(jaxlr.DivergenceWarning, match=r"fit_distributed: training diverged at step \d+.*2/L = "):
        result = jaxlr.fit_distributed(jaxlr.Params(np.zeros(3), 0.0), table[:, :3], table[:, 3], learning_rate=50.0)
    assert result.diverged


@pytest.mark.parametrize("args", [("localhost:1234",), (None, 2, 0), ("localhost:1234", 2, None)])
def test_initialize_distributed_refuses_partial_connection_arguments(args):
    with pytest.raises(ValueError, match="^initialize_distributed: give all or none of coordinator_address, num_proc"):
        jaxlr.initialize_distributed(*args)


def _write_csv_table(n):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(n, 3))
    return np.column_stack([x, x @ [1.0, 2.0, 3.0] + 0.5])


# --- two real processes ------------------------------------------------------------------


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _readme_commands():
    """The README's two-process command lines."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- scaling-out: two processes -->\n```bash\n(.*?)```", text, re.S)
    assert block, "README.md lost its two-process example"
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(lines) == 2 and all("127.0.0.1:1234" in line for line in lines)
    return lines


def _launch(line, *, port, csv, extra=(), out=None):
    """Starts one README command line: ``NAME=VALUE ... jaxlr ARGS [&]`` (as ``python -m jaxlr``)."""
    words = shlex.split(line.rstrip().removesuffix("&"))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("XLA_FLAGS", None)
    while "=" in words[0]:
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    assert words[0] == "jaxlr"
    out = csv.parent / "fit.json" if out is None else out
    args = [
        a.replace("127.0.0.1:1234", f"127.0.0.1:{port}").replace("data.csv", str(csv)).replace("fit.json", str(out))
        for a in words[1:]
    ]
    return subprocess.Popen(
        [sys.executable, "-m", "jaxlr", *args, *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_all(processes, timeout, *, kill_on_failure=True):
    """Waits for every process; at the deadline (or on the first failure), kills the rest."""
    deadline = time.monotonic() + timeout
    try:
        while any(p.poll() is None for p in processes):
            if time.monotonic() > deadline:
                break
            if kill_on_failure and any(p.poll() not in (None, 0) for p in processes):
                break
            time.sleep(0.1)
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    return [(p.wait(), *p.communicate()) for p in processes]


def _report(results):
    return "\n".join(
        f"--- process {i} rc={rc}\n{out[-2000:]}\n{err[-3000:]}" for i, (rc, out, err) in enumerate(results)
    )


def test_two_processes_match_the_single_process_fit(tmp_path):
    csv = tmp_path / "data.csv"
    table = _write_csv(csv, 37)
    port = _free_port()
    results = _wait_all([_launch(line, port=port, csv=csv) for line in _readme_commands()], timeout=120)
    assert all(rc == 0 for rc, _, _ in results), _report(results)
    out0, out1 = (out for _, out, _ in results)
    assert "37 rows over 2 processes (4 devices), 3 features" in out0, _report(results)
    assert "learning rate" in out0 and "(auto: 1/L over all rows)" in out0 and "wrote" in out0, _report(results)
    assert out1.strip().splitlines()[-1].startswith("process 1 of 2: done; parameters identical to process 0's")
    record = json.loads((tmp_path / "fit.json").read_text())  # written by process 0 only
    assert record["distributed"] == {"processes": 2, "devices": 4, "rows": 37}
    assert record["auto_learning_rate"] and not record["standardized"] and record["steps"] == 100
    assert record["weights_column"] is None

    # --lr auto (the default) over all the rows gives the single-process 1/L, and the same fit.
    params = jaxlr.Params(np.zeros(3), 0.0)
    want = jaxlr.fit(params, table[:, :3], table[:, 3], learning_rate="auto", n_iters=100)
    np.testing.assert_allclose(record["learning_rate"], want.learning_rate, rtol=1e-12, atol=0)
    np.testing.assert_allclose(list(record["weights"].values()), want.params.w, rtol=1e-11, atol=0)
    np.testing.assert_allclose(record["bias"], want.params.b, rtol=1e-11, atol=0)
    np.testing.assert_allclose(record["loss_history"], want.history.loss, rtol=1e-11, atol=0)
    final = np.mean((table[:, :3] @ want.params.w + want.params.b - table[:, 3]) ** 2)
    np.testing.assert_allclose(record["final_loss"], final, rtol=1e-11, atol=0)


def test_distributed_standardize_uses_global_statistics_and_divergence_exits_1(tmp_path):
    csv = tmp_path / "data.csv"
    table = _write_csv(csv, 23)
    lines = _readme_commands()
    extra = ["--standardize", "--optimizer", "momentum", "--lr", "0.05", "--steps", "40"]
    port = _free_port()
    results = _wait_all([_launch(line, port=port, csv=csv, extra=extra) for line in lines], timeout=120)
    assert all(rc == 0 for rc, _, _ in results), _report(results)
    record = json.loads((tmp_path / "fit.json").read_text())
    z, scaling = jaxlr.standardize(table[:, :3])
    fitted = jaxlr.fit(
        jaxlr.Params(np.zeros(3), 0.0), z, table[:, 3], learning_rate=0.05, n_iters=40, optimizer="momentum"
    )
    want = jaxlr.unstandardize(fitted.params, scaling)
    assert record["standardized"] and record["optimizer"] == "momentum"
    np.testing.assert_allclose(list(record["weights"].values()), want.w, rtol=1e-10, atol=0)
    np.testing.assert_allclose(record["bias"], want.b, rtol=1e-10, atol=0)

    # Divergence: exit 1 with the reason, nothing written (one process is enough: it is the same code path).
    out = tmp_path / "diverged.json"
    line = lines[0].replace("--num-processes 2", "--num-processes 1")
    results = _wait_all(
        [_launch(line, port=_free_port(), csv=csv, extra=["--lr", "100", "--steps", "20"], out=out)], 60
    )
    assert [rc for rc, _, _ in results] == [1], _report(results)
    err = results[0][2]
    assert "jaxlr fit: error: training diverged at step" in err and "No result is reported" in err, err
    assert not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "lesson", "--distributed"], "--dataset cannot be used with --distributed"),
        (["data.csv", "--target", "y", "--plot", "p.png", "--distributed"], "--plot cannot be used with --distributed"),
        (["data.csv", "--distributed"], "--target is required with a file"),
        (["--target", "y", "--distributed"], "--distributed needs a CSV file"),
        (["data.csv", "--target", "y", "--distributed", "--num-processes", "2"], "give all of --coordinator-address"),
        (
            ["data.csv", "--target", "y", "--distributed", "--coordinator-address", "h:1", "--num-processes", "2"]
            + ["--process-id", "2"],
            "--process-id must be in 0..1",
        ),
        (["data.csv", "--target", "y", "--process-id", "0"], "--process-id only make sense with --distributed"),
    ],
)
def test_options_that_cannot_work_distributed_are_refused_before_connecting(capsys, args, message):
    from jaxlr._cli import main

    assert main(["fit", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("jaxlr fit: error: ") and message in err and "\n" not in err, err


# what jax 0.10's runtime ends a process with when a peer is missing: an error (1) or an abort
JAX_RUNTIME_EXITS = (1, -signal.SIGABRT)


def test_a_process_that_fails_stops_the_other_quickly(tmp_path):
    csv = tmp_path / "data.csv"
    _write_csv(csv, 10)
    port = _free_port()
    lines = _readme_commands()
    start = time.monotonic()
    processes = [
        _launch(lines[0], port=port, csv=csv),
        _launch(lines[1], port=port, csv=tmp_path / "missing.csv"),
    ]
    results = _wait_all(processes, timeout=90, kill_on_failure=False)  # each must stop by itself
    # the README: "exit 2 on every process, within seconds" (measured: under 5 s, interpreter starts included)
    assert time.monotonic() - start < 20, _report(results)
    assert [rc for rc, _, _ in results] == [2, 2], _report(results)  # bad input, on every process
    assert "process(es) [1] failed; see the error there" in results[0][2], _report(results)
    assert "cannot read" in results[1][2] and "missing.csv" in results[1][2], _report(results)


def test_a_peer_that_never_starts_ends_in_the_init_timeout(tmp_path):
    csv = tmp_path / "data.csv"
    _write_csv(csv, 10)
    start = time.monotonic()
    results = _wait_all([_launch(_readme_commands()[0], port=_free_port(), csv=csv, extra=["--init-timeout", "3"])], 90)
    # --init-timeout 3, then JAX's own shutdown (measured: about 9 s in all)
    assert time.monotonic() - start < 30, _report(results)
    assert results[0][0] in JAX_RUNTIME_EXITS and "DEADLINE_EXCEEDED" in results[0][2], _report(results)


def _start_workers(n, *extra):
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES="2")
    env.pop("XLA_FLAGS", None)
    worker = [sys.executable, "tests/multidevice/global_fit_worker.py", str(_free_port())]
    return [
        subprocess.Popen(
            [*worker, str(i), str(n), *extra],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]


def test_public_fit_on_global_arrays_across_two_processes():
    """jaxlr.fit on arrays no process fully holds: same params everywhere, NaN found on the devices."""
    results = _wait_all(_start_workers(2), timeout=120)
    assert all(rc == 0 for rc, _, _ in results), _report(results)
    records = [json.loads(out.strip().splitlines()[-1]) for _, out, _ in results]

    global_data = runpy.run_path(str(ROOT / "tests/multidevice/global_fit_worker.py"))["global_data"]
    x, y = global_data(2, 2)
    want = jaxlr.fit(jaxlr.Params(np.zeros(3), 0.0), x, y, learning_rate=0.05, n_iters=30)
    for record in records:
        np.testing.assert_allclose(record["w"], want.params.w, rtol=1e-12, atol=0)
        np.testing.assert_allclose(record["b"], want.params.b, rtol=1e-12, atol=0)
        np.testing.assert_allclose(record["loss"], want.history.loss, rtol=1e-12, atol=0)
        assert record["nan_error"] == "fit: x contains NaN or inf; the data must be finite numbers"


def test_a_peer_that_dies_mid_run_makes_the_other_abort():
    start = time.monotonic()
    results = _wait_all(_start_workers(2, "die"), timeout=90, kill_on_failure=False)  # each must stop by itself
    # JAX's heartbeat timeout (measured: about 10 s in all)
    assert time.monotonic() - start < 30, _report(results)
    (rc0, _, err0), (rc1, _, _) = results
    assert rc1 == 3 and rc0 in JAX_RUNTIME_EXITS, _report(results)
    assert "stopped sending heartbeats" in err0 or "unhealthy" in err0, _report(results)


def test_the_readme_multi_host_python_block_runs_in_two_processes(tmp_path):
    """The README's "Several machines" Python block, as written but for the explicit addresses its comment names."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    (block,) = [b for b in blocks if "initialize_distributed" in b]
    program = block.replace(
        "jaxlr.initialize_distributed()", "jaxlr.initialize_distributed(sys.argv[1], 2, int(sys.argv[2]))", 1
    )
    assert program != block, "the README's block no longer calls jaxlr.initialize_distributed()"
    report = "print(json.dumps([np.asarray(result.params.w).tolist(), float(result.params.b)]))"
    (tmp_path / "block.py").write_text(f"import json\nimport sys\n{program}\n{report}\n")
    _write_csv(tmp_path / "data.csv", 37)
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES="1")
    env.pop("XLA_FLAGS", None)
    address = f"127.0.0.1:{_free_port()}"
    processes = [
        subprocess.Popen(
            [sys.executable, "block.py", address, str(i)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    results = _wait_all(processes, timeout=120)
    assert all(rc == 0 for rc, _, _ in results), _report(results)
    (w0, b0), (w1, b1) = (json.loads(out.strip().splitlines()[-1]) for _, out, _ in results)
    assert (w0, b0) == (w1, b1), _report(results)  # replicated: the same on every process

    rows = jaxlr.read_csv_rows(tmp_path / "data.csv", "y")
    jax.config.update("jax_enable_x64", False)  # the block runs with JAX's defaults: float32
    try:
        want = jaxlr.fit_distributed(jaxlr.Params(w=np.zeros(len(rows.features)), b=0.0), rows.x, rows.y)
    finally:
        jax.config.update("jax_enable_x64", True)
    # the same float32 fit, its sums split over two processes: a few ulps of the weights' size apart
    np.testing.assert_allclose(w0, want.params.w, rtol=1e-5, atol=1e-5 * np.max(np.abs(want.params.w)))
    np.testing.assert_allclose(b0, want.params.b, rtol=1e-5, atol=1e-5 * np.max(np.abs(want.params.w)))
