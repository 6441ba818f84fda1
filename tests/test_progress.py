"""The progress bar: fed from inside the compiled loop, a bounded number of times, without changing the result."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from helpers import ROOT

import jaxlr
from jaxlr import _progress


class FakeBar:
    """Records what a tqdm bar would be told."""

    instances: list = []

    def __init__(self, total, **kwargs):
        del kwargs  # unused
        self.total, self.n, self.updates, self.postfix, self.closed = total, 0, 0, None, False
        FakeBar.instances.append(self)

    def update(self, k):
        self.n += k
        self.updates += 1

    def set_postfix_str(self, text, refresh=True):
        del refresh  # unused
        self.postfix = text

    def close(self):
        self.closed = True


@pytest.fixture
def fake_tqdm(monkeypatch):
    import tqdm

    FakeBar.instances = []
    monkeypatch.setattr(tqdm, "tqdm", FakeBar)
    return FakeBar


@pytest.mark.parametrize("n_iters", [6000, 6007])  # a whole number of chunks, and a remainder
def test_bar_is_fed_a_bounded_number_of_times_and_the_fit_is_unchanged(fake_tqdm, n_iters):
    x, y = jaxlr.lesson_data()
    params = jaxlr.Params(w=0.0, b=0.0)
    plain = jaxlr.fit(params, x, y, learning_rate=0.01, n_iters=n_iters)
    shown = jaxlr.fit(params, x, y, learning_rate=0.01, n_iters=n_iters, progress=True)
    (bar,) = fake_tqdm.instances
    assert bar.closed and bar.total == n_iters and bar.n == n_iters
    assert 1 <= bar.updates <= _progress.MAX_UPDATES + 1
    final_loss = float(jaxlr.mse_loss(shown.params, x, y))
    np.testing.assert_allclose(float(bar.postfix.removeprefix("loss=")), final_loss, rtol=1e-5, atol=1e-12)
    np.testing.assert_array_equal(shown.history.loss, plain.history.loss)
    np.testing.assert_array_equal(shown.history.params.w, plain.history.params.w)
    np.testing.assert_array_equal(shown.params.b, plain.params.b)


def test_short_fits_show_no_bar(fake_tqdm):
    x, y = jaxlr.lesson_data()
    jaxlr.fit(jaxlr.Params(w=0.0), x, y, n_iters=100, progress=True)
    assert fake_tqdm.instances == []


def test_report_every_is_bounded():
    for n in (5000, 5001, 10**6, 10**8 + 7):
        every = _progress.report_every(n)
        assert -(-n // every) <= _progress.MAX_UPDATES


@pytest.mark.parametrize("quiet", [False, True])
def test_cli_bar_follows_quiet_when_stderr_is_a_terminal(fake_tqdm, monkeypatch, capsys, quiet):
    from jaxlr import _cli_fit
    from jaxlr._cli import main

    monkeypatch.setattr(_cli_fit, "stderr_is_terminal", lambda: True)
    assert main(["fit", "--dataset", "lesson", "--steps", "6000", *(["--quiet"] if quiet else [])]) == 0
    capsys.readouterr()
    assert len(fake_tqdm.instances) == (0 if quiet else 1)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_real_bar_on_a_terminal():
    """A real run with stderr on a pseudo-terminal draws a tqdm bar with the loss."""
    import fcntl
    import pty
    import struct
    import termios

    main_fd, terminal_fd = pty.openpty()
    # A new pseudo-terminal is 0 columns wide, and tqdm would fit its bar into that: give it a size.
    fcntl.ioctl(terminal_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    chunks = []

    def read_terminal():  # concurrently, so that a full terminal buffer cannot block the child
        while True:
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # the other end is closed
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "jaxlr", "fit", "--dataset", "lesson", "--steps", "200000"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=terminal_fd,
            timeout=120,
        )
    finally:
        os.close(terminal_fd)
        reader.join(timeout=10)
        os.close(main_fd)
    drawn = b"".join(chunks)
    assert done.returncode == 0
    text = drawn.decode(errors="replace")
    assert "step" in text and "loss=" in text and "/200000" in text, text
