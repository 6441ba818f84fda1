"""Output paths: ``-`` is stdout, FIFOs and symlinks are written through (never replaced), a regular
file is replaced atomically, an interrupted write leaves the old file, a closed pipe ends quietly."""

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from helpers import ROOT

from jaxlr import _io
from jaxlr._cli import main

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "JAX_PLATFORMS": "cpu"}


def _read_fifo_in_background(fifo):
    """Starts a reader of ``fifo``; returns a function that waits for it and returns what it read."""
    got = {}

    def read():
        with open(fifo, "rb") as f:
            got["data"] = f.read()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def result():
        reader.join(30)
        assert not reader.is_alive(), "the FIFO's reader never saw the writer close"
        return got["data"]

    return result


def test_a_fifo_is_written_in_place_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    received = _read_fifo_in_background(fifo)
    _io.write_json(fifo, {"a": 0.1})
    assert json.loads(received()) == {"a": 0.1}
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.fifo"]  # no temporary file beside it


def test_fit_json_and_save_model_to_fifos(tmp_path, capsys):
    fifos = {name: tmp_path / name for name in ("fit.json", "model.json")}
    readers = {}
    for name, fifo in fifos.items():
        os.mkfifo(fifo)
        readers[name] = _read_fifo_in_background(fifo)
    argv = ["fit", "--dataset", "lesson", "--steps", "50", "--quiet"]
    code = main([*argv, "--json", str(fifos["fit.json"]), "--save-model", str(fifos["model.json"])])
    assert code == 0, capsys.readouterr().err
    assert json.loads(readers["fit.json"]())["weights"]["x"] == pytest.approx(2.0, rel=1e-4)
    assert json.loads(readers["model.json"]())["format"] == "jaxlr-model"
    assert all(stat.S_ISFIFO(os.lstat(f).st_mode) for f in fifos.values())


def test_a_symlink_to_a_file_elsewhere_is_kept_and_its_target_replaced_atomically(tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    target = there / "result.json"
    target.write_text("old")
    target.chmod(0o640)
    link = here / "link.json"
    link.symlink_to(target)
    _io.write_json(link, [1, 2])
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text()) == [1, 2]
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the replaced file keeps its mode
    assert sorted(p.name for p in here.iterdir()) == ["link.json"]
    assert sorted(p.name for p in there.iterdir()) == ["result.json"]


def test_a_dangling_symlink_gets_its_target_created_and_stays_a_link(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "new.json")
    _io.write_json(link, {"b": None})
    assert link.is_symlink()
    assert json.loads((tmp_path / "new.json").read_text()) == {"b": None}


def test_a_symlink_to_a_fifo_is_written_through(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to(fifo)
    received = _read_fifo_in_background(fifo)
    with _io.atomic_write(link, binary=True) as f:
        f.write(b"\x00bytes")
    assert received() == b"\x00bytes"
    assert link.is_symlink() and stat.S_ISFIFO(os.stat(link).st_mode)


def test_outputs_that_cannot_be_written_are_named_before_any_work(tmp_path):
    assert _io.output_problem("-") is None
    assert _io.output_problem(tmp_path / "new.json") is None
    assert _io.output_problem(tmp_path) == f"{tmp_path} is a directory"
    assert _io.output_problem(tmp_path / "missing" / "x.json") == f"directory {tmp_path / 'missing'} does not exist"
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert _io.output_problem(fifo) is None


def test_dash_writes_json_to_stdout_and_the_report_to_stderr():
    command = [sys.executable, "-m", "jaxlr", "fit", "--dataset", "lesson", "--steps", "50", "--quiet", "--json", "-"]
    done = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)  # nothing but the JSON on stdout
    assert record["weights"]["x"] == pytest.approx(2.0, rel=1e-4)
    assert "dataset lesson: 4 rows" in done.stderr and "wrote -" in done.stderr
    assert not (ROOT / "-").exists()


def test_a_closed_pipe_ends_the_command_quietly_with_exit_0(tmp_path):
    x = np.arange(60000.0)[:, None]
    data = tmp_path / "data.csv"
    np.savetxt(data, x, delimiter=",", header="x", comments="", fmt="%d")
    model = tmp_path / "model.json"
    model.write_text(
        json.dumps(
            {
                "format": "jaxlr-model",
                "format_version": 1,
                "jaxlr_version": "0",
                "features": ["x"],
                "target": "y",
                "weights": [2.0],
                "bias": 1.0,
                "standardization": None,
                "dtype": "float32",
            }
        )
    )
    command = [sys.executable, "-m", "jaxlr", "predict", str(model), str(data)]
    process = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout.readline() == b"y\n"  # like `| head -1`: one line, then the pipe is closed
        process.stdout.close()
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=120) == 0, stderr
    finally:
        process.kill()
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


_WRITER = """
import sys, time
from jaxlr import _io
from jaxlr._io import run_interruptibly

def work():
    with _io.atomic_write(sys.argv[1]) as f:
        f.write("half of the new conte")
        f.flush()
        print("writing", flush=True)
        time.sleep(60)
        f.write("nt")
    return 0

raise SystemExit(run_interruptibly("writer", work))
"""


@pytest.mark.parametrize("via_symlink", [False, True])
def test_a_process_stopped_mid_write_leaves_the_old_file_whole(tmp_path, via_symlink):
    target = tmp_path / "out.json"
    target.write_text("old content")
    path = target
    if via_symlink:
        path = tmp_path / "link.json"
        path.symlink_to(target)
    process = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline() == "writing\n"
        temporary = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert len(temporary) == 1  # the new content is really being written, beside the old file
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        process.kill()
    time.sleep(0.1)
    assert target.read_text() == "old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({target.name, path.name})


def test_an_output_that_is_the_file_stdout_goes_to_is_appended_not_replaced(tmp_path):
    # what `--json /dev/stdout > out.txt` does, without touching /dev: the same file as stdout
    out = tmp_path / "out.txt"
    command = [sys.executable, "-m", "jaxlr", "fit", "--dataset", "lesson", "--steps", "50", "--quiet"]
    with open(out, "w") as stdout:
        done = subprocess.run([*command, "--json", str(out)], cwd=ROOT, env=ENV, stdout=stdout, timeout=120)
    assert done.returncode == 0
    report, _, rest = out.read_text().partition("\n{\n")
    assert report.startswith("dataset lesson: 4 rows") and "converged" in report  # the report was not replaced
    assert json.loads("{\n" + rest.rpartition("}\n")[0] + "}")["weights"]["x"] == pytest.approx(2.0, rel=1e-4)


def test_only_one_output_may_be_stdout(capsys):
    assert main(["fit", "--dataset", "lesson", "--json", "-", "--save-model", "-"]) == 2
    assert capsys.readouterr().err == (
        "jaxlr fit: error: only one output can go to standard output (-); got --json and --save-model\n"
    )
