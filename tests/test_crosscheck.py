"""jaxlr.crosscheck: the port against the lesson's PyTorch and NumPy programs, and the cross-check itself."""

import json
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import REFERENCE, ROOT, run_python

import jaxlr
from jaxlr import crosscheck
from jaxlr._cli_lesson import crosscheck_main  # crosscheck_main(fit=...): a broken fit can be injected

pytest.importorskip("torch")  # CI installs it; the no-torch path is tested in a subprocess below
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

DTYPES = ["float32", "float64"]


def _lesson_lines(trace, n_iters, print_every):
    """What the lesson's programs print, from a reference trace."""
    lines = ["Prediction before training: f(5) = 0.000"]
    for epoch in range(0, n_iters, print_every):
        lines.append(f"epoch {epoch + 1}: w = {trace.params[epoch, 0]:.3f}, loss = {trace.loss[epoch]:.8f}")
    lines.append(f"Prediction after training: f(5) = {trace.prediction[0]:.3f}")
    return lines


@pytest.mark.parametrize(
    "reference, n_iters, print_every, expected",
    [
        ("torch autograd", 100, 10, "reference_output_autograd_torch.txt"),
        ("numpy original", 20, 2, "reference_output_manual_numpy.txt"),
    ],
)
def test_references_print_what_the_lesson_prints(reference, n_iters, print_every, expected):
    # The references are the lesson's programs: same library, same version, same digits.
    trace = crosscheck.REFERENCES[reference](crosscheck.lesson_problem(), learning_rate=0.01, n_iters=n_iters)
    assert _lesson_lines(trace, n_iters, print_every) == (REFERENCE / expected).read_text().splitlines()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", crosscheck.lesson_cases(), ids=lambda c: c.reference)
def test_lesson_configurations_pass(case, dtype):
    row = crosscheck.run_case(case, dtype)
    assert row.passed, row.verdict
    assert row.steps == case.n_iters
    if dtype == "float64":
        assert row.max_rel_err <= crosscheck.FLOAT64_RTOL
    elif jax.default_backend() == "cpu":
        # measured on CPU: at most about 1 ulp; the bound allows 5 per step
        assert row.max_ulps <= 2, row


@pytest.mark.parametrize("dtype", DTYPES)
def test_random_cases_pass(dtype):
    rows = crosscheck.run_all(crosscheck.random_cases(seed=1, n=30, d=4, n_iters=40), [dtype])
    assert [row.reference for row in rows] == [
        "torch autograd",
        "numpy corrected",
        "torch nn.Linear+SGD",
        "torch nn.Linear+SGD",
    ]
    assert all(row.passed for row in rows), [row.verdict for row in rows]


@hypothesis.settings(max_examples=25, deadline=None, derandomize=True, database=None)
@hypothesis.given(
    n=st.sampled_from([1, 7, 32]),
    d=st.sampled_from([None, 1, 4]),
    lr_fraction=st.floats(0.05, 0.9),
    seed=st.integers(0, 2**31 - 1),
)
def test_random_problems_match_torch_in_float64(n, d, lr_fraction, seed):
    # Few distinct shapes, so that the compiled fits are reused; the learning rate is
    # traced and costs no compile.
    problem = crosscheck.random_problem(seed, n, d)
    lr = lr_fraction * crosscheck.stable_learning_rate_limit(problem.x, bias=d is not None)
    reference = "torch autograd" if d is None else "torch nn.Linear+SGD"
    case = crosscheck.Case("random", reference, "autograd", problem, lr, 30)
    row = crosscheck.run_case(case, "float64")
    assert row.passed, row.verdict
    assert row.max_rel_err <= 1e-12


@pytest.mark.parametrize("reference", ["torch autograd", "numpy original", "torch nn.Linear+SGD"])
@pytest.mark.parametrize(
    "settings, error",
    [
        ({"learning_rate": 0.0, "n_iters": 3}, ValueError),
        ({"learning_rate": float("nan"), "n_iters": 3}, ValueError),
        ({"learning_rate": "0.1", "n_iters": 3}, TypeError),
        ({"learning_rate": 0.1, "n_iters": 0}, ValueError),
        ({"learning_rate": 0.1, "n_iters": 2.5}, TypeError),
    ],
)
def test_references_check_their_settings(reference, settings, error):
    problem = crosscheck.random_problem(0, 5, 2 if "Linear" in reference else None)
    with pytest.raises(error, match=r"_program: (learning_rate|n_iters) must be"):
        crosscheck.REFERENCES[reference](problem, **settings)


@pytest.mark.parametrize("n", [4, 9])
def test_lesson_gradient_is_n_times_the_true_one_as_in_the_numpy_original(n):
    problem = crosscheck.lesson_problem() if n == 4 else crosscheck.random_problem(n, n)
    settings = {"learning_rate": 0.01, "n_iters": 1, "dtype": "float64"}
    original = crosscheck.numpy_program(problem, gradient="original", **settings).gradient
    corrected = crosscheck.numpy_program(problem, gradient="corrected", **settings).gradient
    ours = crosscheck.jaxlr_program(problem, gradient="lesson", **settings).gradient
    true = crosscheck.jaxlr_program(problem, gradient="autograd", **settings).gradient
    np.testing.assert_allclose(ours, original, rtol=1e-12, atol=0)
    np.testing.assert_allclose(original, n * corrected, rtol=1e-12, atol=0)
    np.testing.assert_allclose(ours, n * true, rtol=1e-12, atol=0)


def _perturbed_fit(factor):
    """A test double for jaxlr.fit whose update is off by ``factor`` (its learning rate is)."""

    def fit(params, x, y, *, learning_rate, **kwargs):
        return jaxlr.fit(params, x, y, learning_rate=learning_rate * factor, **kwargs)

    return fit


def _broken_model_fit(params, x, y, **kwargs):
    """A test double for jaxlr.fit whose model ignores the bias (a plausible porting bug)."""
    if params.b is None:
        return jaxlr.fit(params, x, y, **kwargs)
    result = jaxlr.fit(params._replace(b=None), x, y, **kwargs)
    b_history = jnp.full(result.history.loss.shape, params.b)
    history = result.history._replace(params=result.history.params._replace(b=b_history))
    return result._replace(params=result.params._replace(b=params.b), history=history)


@pytest.mark.parametrize("dtype, factor", [("float64", 1 + 1e-9), ("float32", 1 + 1e-4)])
def test_a_perturbed_update_fails_with_the_right_figures(dtype, factor):
    case = crosscheck.lesson_cases()[0]
    row = crosscheck.run_case(case, dtype, fit=_perturbed_fit(factor))
    assert not row.passed
    assert row.verdict.startswith("FAIL") and "params" in row.verdict
    # the figures, recomputed independently
    settings = {"learning_rate": case.learning_rate, "n_iters": case.n_iters, "dtype": dtype}
    ours = crosscheck.jaxlr_program(case.problem, gradient="autograd", fit=_perturbed_fit(factor), **settings)
    reference = crosscheck.torch_autograd_program(case.problem, **settings)
    diffs = {name: np.abs(getattr(ours, name).astype(float) - getattr(reference, name)) for name in ours._fields}
    assert row.errors["params"].max_abs_err == pytest.approx(diffs["params"].max(), rel=1e-12)
    assert row.errors["loss"].max_abs_err == pytest.approx(diffs["loss"].max(), rel=1e-12)
    assert row.errors["gradient"].max_abs_err == 0  # the start is the same; the update differs
    assert row.max_abs_err == pytest.approx(max(d.max() for d in diffs.values()), rel=1e-12)
    # relative to the parameters' scale, the error is of the order of the perturbation
    assert 0.1 * (factor - 1) < row.errors["params"].max_rel_err < 10 * (factor - 1)


def test_a_broken_model_fails_the_command(capsys):
    code = crosscheck_main(["--dtype", "float32", "--iters", "10", "--n", "8", "--d", "2"], fit=_broken_model_fit)
    out = capsys.readouterr().out
    assert code == 1
    failing = [line for line in out.splitlines() if "FAIL:" in line]
    assert len(failing) == 2 and all("nn.Linear" in line and "params" in line for line in failing)
    assert "FAILED" in out.splitlines()[-1]


def _short_history_fit(params, x, y, **kwargs):
    """A test double for jaxlr.fit that loses the last step's record."""
    result = jaxlr.fit(params, x, y, **kwargs)
    return result._replace(history=jax.tree.map(lambda a: a[:-1], result.history))


def test_a_trace_of_the_wrong_length_fails_instead_of_raising():
    row = crosscheck.run_case(crosscheck.lesson_cases()[1], "float32", fit=_short_history_fit)
    assert not row.passed and row.max_abs_err == np.inf
    assert "params has shape (19, 1) on the jaxlr side, (20, 1) on the reference side" in row.verdict
    assert json.loads(json.dumps(row.as_json(), allow_nan=False))["max_abs_err"] is None


def test_the_command_prints_a_table_and_writes_json(tmp_path, capsys):
    path = tmp_path / "rows.json"
    argv = ["--dtype", "float32", "--iters", "5", "--n", "6", "--d", "2", "--lr", "0.02", "--seed", "3"]
    assert crosscheck_main([*argv, "--json", str(path)]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    for column in ("case", "reference", "dtype", "steps", "abs", "rel", "ulps", "verdict"):
        assert column in header
    rows = json.loads(path.read_text())
    assert len(rows) == 7 and [p.name for p in tmp_path.iterdir()] == ["rows.json"]  # no temporary file left
    for row in rows:
        assert {"case", "reference", "dtype", "steps", "max_abs_err", "max_rel_err", "passed"} <= row.keys()
        assert row["passed"] is True and row["steps"] == 5 and row["dtype"] == "float32"
    assert rows[-1]["case"] == "random n=6 d=2"


def test_json_to_stdout_sends_the_table_to_stderr(capfd):
    argv = ["--dtype", "float32", "--iters", "3", "--n", "5", "--d", "1", "--json", "-"]
    assert crosscheck_main(argv) == 0
    out, err = capfd.readouterr()
    assert len(json.loads(out)) == 7 and "7 of 7 cases passed" in err  # stdout is the JSON alone


def test_float64_needs_x64():
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(ValueError, match="jax_enable_x64"):
            crosscheck.run_case(crosscheck.lesson_cases()[0], "float64")
    finally:
        jax.config.update("jax_enable_x64", True)


def test_a_diverging_case_fails_and_says_why():
    case = crosscheck.lesson_cases(learning_rate=0.5, n_iters=200)[0]  # stable below 2/15
    row = crosscheck.run_case(case, "float32")
    assert not row.passed and "diverged" in row.verdict and "0.1333" in row.verdict
    json.dumps(row.as_json(), allow_nan=False)  # infinities become null


def test_import_jaxlr_does_not_import_torch():
    code = (
        "import sys, jaxlr, jaxlr.crosscheck, jaxlr._cli; jaxlr._cli.make_parser(); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    out = run_python("-c", code)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("command", [["-m", "jaxlr", "crosscheck"], ["-m", "jaxlr.crosscheck"]])
def test_without_torch_the_command_says_how_to_install_it(command, tmp_path):
    (tmp_path / "torch.py").write_text("raise ImportError('torch is blocked by the test')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    out = run_python(*command, env=env)
    assert out.returncode == crosscheck.EXIT_NO_TORCH == 3
    assert "pip install 'jaxlr[torch]'" in out.stderr and "torch==2.13.0" in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_script_runs():
    out = run_python("scripts/crosscheck.py", "--dtype", "float64", "--iters", "3", "--n", "5", "--d", "1")
    assert out.returncode == 0, out.stderr
    assert "7 of 7 cases passed" in out.stdout


@pytest.mark.parametrize("args", [["--lr", "0"], ["--dtype", "float16"], ["--n", "0"], ["--json", "/no/such/dir/x"]])
def test_bad_arguments_exit_2_with_one_line(args, capsys):
    with pytest.raises(SystemExit) as e:
        crosscheck_main(args)
    code = e.value.code
    assert code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- dot precision

_DOT = re.compile(r"^.*\b(?:stablehlo\.dot_general|stablehlo\.dot|mhlo\.dot_general|dot)\b[ (].*$", re.MULTILINE)
_FULL_F32 = re.compile(
    r"precision\s*=\s*\[HIGHEST,\s*HIGHEST\]"  # StableHLO, pretty-printed
    r"|precision_config\s*=\s*\[#stablehlo<precision HIGHEST>,\s*#stablehlo<precision HIGHEST>\]"  # generic form
    r"|operand_precision=\{highest,highest\}"  # HLO
    r"|lhs_precision_type\s*=\s*f32,\s*rhs_precision_type\s*=\s*f32,\s*accumulation_type\s*=\s*f32"  # dot algorithm
)


def _dots_at_full_precision(text):
    """The dot ops of a lowered program, and whether each asks for full float32 precision."""
    dots = [line for line in _DOT.findall(text) if "dot" in line.split("=", 1)[-1]]
    return [(line.strip(), bool(_FULL_F32.search(line))) for line in dots]


def _model_inputs():
    x = jnp.ones((8, 3), jnp.float32)
    params = jaxlr.Params(jnp.ones(3, jnp.float32), jnp.zeros((), jnp.float32))
    return params, x, jnp.ones(8, jnp.float32)


@pytest.mark.parametrize(
    "name, fn",
    [
        ("fit", lambda p, x, y: jaxlr.fit(p, x, y, n_iters=3).params),
        ("fit plain", lambda p, x, y: jaxlr.fit(p, x, y, n_iters=3, method="plain").params),
        ("fit gram", lambda p, x, y: jaxlr.fit(p, x, y, n_iters=3, method="gram").params),
        ("fit auto lr", lambda p, x, y: jaxlr.fit(p, x, y, n_iters=3, learning_rate="auto").params),
        ("fit heavy-ball", lambda p, x, y: jaxlr.fit(p, x, y, n_iters=3, optimizer="heavy-ball").params),
        ("sweep", lambda p, x, y: jaxlr.sweep(p, x, y, learning_rates=[0.01, 0.02], n_iters=3).params),
        ("autograd gradient", jaxlr.autograd_gradient),
        ("manual gradient", jaxlr.manual_gradient),
        ("predict", lambda p, x, y: jaxlr.predict(p, x)),
        ("power iteration", lambda p, x, y: jaxlr.lipschitz_constant(x)),
        ("mse loss", jaxlr.mse_loss),
    ],
)
def test_dots_request_full_float32_precision(name, fn):
    """Every dot_general in every path's program asks for full float32 precision (gradients are reductions)."""
    params, x, y = _model_inputs()
    for data in ((x, y), (jnp.asarray(x), jnp.asarray(y))):  # NumPy and jax.Array data take the same path
        dots = _dots_at_full_precision(jax.jit(fn).lower(params, *data).as_text())
        assert len(dots) >= 1, f"{name}: expected at least the forward dot, got {dots}"
        assert all(ok for _, ok in dots), dots


def test_the_precision_check_rejects_default_precision():
    x = jnp.ones((8, 3), jnp.float32)
    w = jnp.ones(3, jnp.float32)
    default = jax.jit(lambda x, w: x @ w).lower(x, w).as_text()
    highest = jax.jit(lambda x, w: jnp.matmul(x, w, precision=jax.lax.Precision.HIGHEST)).lower(x, w).as_text()
    assert [ok for _, ok in _dots_at_full_precision(default)] == [False]
    assert [ok for _, ok in _dots_at_full_precision(highest)] == [True]
    hlo = jax.jit(lambda x, w: jnp.matmul(x, w, precision=jax.lax.Precision.HIGHEST)).lower(x, w)
    assert [ok for _, ok in _dots_at_full_precision(hlo.as_text(dialect="hlo"))] == [True]


def test_import_jaxlr_does_not_import_pyarrow():
    """pyarrow (~0.1 s to import) loads only when a CSV is read: the lesson scripts start without it."""
    out = run_python("-c", "import sys, jaxlr, jaxlr._cli; assert 'pyarrow' not in sys.modules, 'pyarrow imported'")
    assert out.returncode == 0, out.stderr
