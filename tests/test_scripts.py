"""The ported scripts print what the lesson programs print."""

import pytest
from helpers import REFERENCE, assert_same_printout, run_python

SCRIPTS = {
    "manual": ("scripts/gradient_descent_manual.py", "reference_output_manual_numpy.txt"),
    "autograd": ("scripts/gradient_descent_autograd.py", "reference_output_autograd_torch.txt"),
}


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_matches_the_lesson_output(name):
    script, reference = SCRIPTS[name]
    out = run_python(script)
    assert out.returncode == 0, out.stderr
    assert_same_printout(out.stdout, (REFERENCE / reference).read_text())
    assert "backend" in out.stderr and "backend" not in out.stdout


def test_printout_comparison_can_fail():
    expected = (REFERENCE / "reference_output_manual_numpy.txt").read_text()
    with pytest.raises(AssertionError):
        assert_same_printout(expected.replace("0.76800019", "0.76810019"), expected)
    with pytest.raises(AssertionError):
        assert_same_printout(expected.replace("w = 1.872", "w = 1.873"), expected)
    assert_same_printout(expected.replace("0.76800019", "0.76800025"), expected)  # 1 float32 ulp


def test_manual_script_with_the_correct_gradient_follows_autograd():
    manual = run_python(SCRIPTS["manual"][0], "--gradient", "correct", "--iters", "100", "--print-every", "10")
    autograd = run_python(SCRIPTS["autograd"][0])
    assert manual.returncode == 0, manual.stderr
    assert_same_printout(manual.stdout, autograd.stdout)


def test_script_options():
    out = run_python(SCRIPTS["autograd"][0], "--lr", "0.02", "--iters", "3", "--print-every", "1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 5 and lines[1].startswith("epoch 1: w = 0.600")


@pytest.mark.parametrize(
    "args",
    [["--lr", "-1"], ["--lr", "nan"], ["--lr", "abc"], ["--iters", "0"], ["--iters", "x"], ["--print-every", "0"]],
)
@pytest.mark.parametrize("name", SCRIPTS)
def test_bad_arguments_exit_2_with_one_line(name, args):
    out = run_python(SCRIPTS[name][0], *args)
    assert out.returncode == 2
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and "error" in out.stderr
    assert "Traceback" not in out.stderr


def test_diverging_script_says_so_and_exits_non_zero():
    out = run_python(SCRIPTS["autograd"][0], "--lr", "1", "--iters", "50")
    assert out.returncode == 1
    assert "diverged" in out.stderr


def test_main_job_shows_both_ports_side_by_side():
    out = run_python("-m", "jaxlr")
    assert out.returncode == 0, out.stderr
    assert "epoch 19: w = 2.000" in out.stdout and "epoch 91: w = 2.000" in out.stdout
    assert "final w = 2.0000" in out.stdout and "f(5) = 10.0000" in out.stdout
