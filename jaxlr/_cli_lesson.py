"""``jaxlr lesson``, ``jaxlr crosscheck`` (see :mod:`jaxlr.crosscheck`) and the scripts that run them."""

import argparse
import contextlib
import itertools
import os
import sys
import warnings
from pathlib import Path
from typing import cast

import jax
import jax.numpy as jnp
import numpy as np

import jaxlr
from jaxlr import crosscheck
from jaxlr._cli_util import ArgumentParser, positive_float, positive_int
from jaxlr._io import STDOUT, output_problem
from jaxlr._model import _predict
from jaxlr.crosscheck import DTYPES, Fit

HELP = "run both lesson ports on the tutorial data, side by side (the default)"

PROGRAMS = {  # title, fit's gradient=, learning rate, iterations, print every: the NumPy and the PyTorch program
    "manual": ("manual gradient (NumPy lesson)", "lesson", 0.01, 20, 2),
    "autograd": ("autograd (PyTorch lesson)", "autograd", 0.01, 100, 10),
}


def run_lesson(gradient: str, learning_rate: float, n_iters: int, print_every: int):
    """The lesson's fit: the lines it prints, the final ``w`` and ``f(5)``, and a warning if it diverged (or None)."""
    (x, y), params = jaxlr.lesson_data(), jaxlr.Params(w=np.float32(0.0))
    with warnings.catch_warnings(record=True) as caught:  # reported below, in the lesson's terms
        warnings.simplefilter("always", jaxlr.DivergenceWarning)
        result = jaxlr.fit(params, x, y, learning_rate=learning_rate, n_iters=n_iters, gradient=gradient)
    w, loss = jax.device_get((cast(jaxlr.Params, result.history.params).w, result.history.loss))
    f5 = float(_predict(result.params, jnp.asarray(5.0, jnp.float32)))  # unchecked: a diverged run prints nan
    lines = [f"Prediction before training: f(5) = {float(jaxlr.predict(params, 5.0)):.3f}"]
    lines += [f"epoch {i + 1}: w = {w[i]:.3f}, loss = {loss[i]:.8f}" for i in range(0, n_iters, print_every)]
    lines.append(f"Prediction after training: f(5) = {f5:.3f}")
    if not result.diverged and np.isfinite(f5):
        return lines, float(w[-1]), f5, None
    bound = f" ({str(caught[0].message).partition('blew up): ')[2]})" if caught else ""  # fit's warning has it
    too_large = f"learning_rate={learning_rate:g} is too large for this data{bound}"
    return lines, float(w[-1]), f5, f"warning: training diverged at epoch {result.diverged_at + 1}: {too_large}"


def _print_backend() -> None:
    d = jax.devices()[0]
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, device {d.device_kind} ({d})", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    _print_backend()
    runs = {title: run_lesson(gradient, lr, n, every) for title, gradient, lr, n, every in PROGRAMS.values()}
    titles = [f"{title}: lr {lr}, {n} iterations" for title, _, lr, n, _ in PROGRAMS.values()]
    columns = [[title, "-" * len(title), *lines] for title, (lines, *_) in zip(titles, runs.values(), strict=True)]
    width = max(map(len, columns[0])) + 4
    for a, b in itertools.zip_longest(*columns, fillvalue=""):
        print(f"{a:<{width}}{b}".rstrip())
    print()
    for title, (_, w, f5, _) in runs.items():
        print(f"{title:<32} final w = {w:.6f}, f(5) = {f5:.6f}")
    print("The manual port reproduces the lesson's hand-written gradient, which is N = 4 times the true one:")
    steps = "that is why it converges in 20 steps where autograd needs 100."
    print(f"{steps} scripts/gradient_descent_manual.py --gradient correct uses the true gradient.")
    return 0


def _enable_compilation_cache() -> None:
    """Caches compiled programs in the directory the README names, unless JAX has one or ``JAXLR_CACHE_DIR=``."""
    explicit = os.environ.get("JAXLR_CACHE_DIR")
    if jax.config.jax_compilation_cache_dir or explicit == "":  # pyright: ignore[reportAttributeAccessIssue]
        return
    path = Path(explicit) if explicit else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jaxlr"
    with contextlib.suppress(OSError):  # a read-only home: run without the cache
        path.mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(path))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def script_main(name: str, argv: list[str] | None = None) -> int:
    """Entry point of ``scripts/gradient_descent_{manual,autograd}.py``."""
    title, gradient, learning_rate, n_iters, print_every = PROGRAMS[name]
    description = f"The lesson's {title} program, ported to JAX."
    parser = ArgumentParser(prog=f"gradient_descent_{name}.py", description=description)
    add = parser.add_argument
    add("--lr", type=positive_float, default=learning_rate, help="learning rate (%(default)s)")
    add("--iters", type=positive_int, default=n_iters, help="iterations (%(default)s)")
    add("--print-every", type=positive_int, default=print_every, help="print every Nth epoch (%(default)s)")
    if name == "manual":
        text = "'lesson' (default): the lesson's hand-written gradient, N times too large; 'correct': the true one"
        add("--gradient", choices=("lesson", "correct"), default="lesson", help=text)
    args = parser.parse_args(argv)
    _enable_compilation_cache()
    _print_backend()
    gradient = "manual" if getattr(args, "gradient", None) == "correct" else gradient
    lines, _, _, warning = run_lesson(gradient, args.lr, args.iters, args.print_every)
    print("\n".join(lines))
    if warning:
        print(warning, file=sys.stderr)
    return 1 if warning else 0


def _json_path(text: str) -> str:
    if problem := output_problem(text):
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: {problem}")
    return text


def crosscheck_arguments(parser: argparse.ArgumentParser) -> None:
    iters_help = "steps, every case (default: the lesson's 100, or 20 for its NumPy program; 100 for random problems)"
    parser.add_argument("--lr", type=positive_float, default=0.01, help="learning rate, every case (%(default)s)")
    parser.add_argument("--iters", type=positive_int, default=None, help=iters_help)
    parser.add_argument("--dtype", choices=(*DTYPES, "both"), default="both", help="dtype to compare in (%(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random problems (%(default)s)")
    parser.add_argument("--n", type=positive_int, default=50, help="samples in the random problems (%(default)s)")
    parser.add_argument("--d", type=positive_int, default=3, help="features in the random (n, d) problem (%(default)s)")
    parser.add_argument("--json", metavar="PATH", type=_json_path, help="also write the rows as JSON to PATH")


def run_crosscheck(args: argparse.Namespace, *, fit: Fit = jaxlr.fit) -> int:
    """Runs the cross-check for parsed ``args``; returns the exit code. With ``--json -`` the table goes to stderr."""
    try:
        crosscheck._import_torch()
    except crosscheck.TorchNotInstalledError as e:
        print(f"jaxlr crosscheck: {e}", file=sys.stderr)
        return crosscheck.EXIT_NO_TORCH
    dtypes = DTYPES if args.dtype == "both" else (args.dtype,)
    if "float64" in dtypes:
        jax.config.update("jax_enable_x64", True)  # before any array is created
    cases = crosscheck.lesson_cases(learning_rate=args.lr, n_iters=args.iters)
    cases += crosscheck.random_cases(seed=args.seed, n=args.n, d=args.d, learning_rate=args.lr, n_iters=args.iters)
    out = sys.stderr if args.json == STDOUT else sys.stdout
    print(f"jax {jax.__version__} on {jax.default_backend()} ({jax.devices()[0].device_kind})", file=sys.stderr)
    rows = crosscheck.run_all(cases, dtypes, fit=fit)
    failed = sum(not row.passed for row in rows)
    print(crosscheck.format_table(rows), file=out)
    print(f"\n{len(rows) - failed} of {len(rows)} cases passed" + (f", {failed} FAILED" if failed else ""), file=out)
    if args.json is not None:
        crosscheck.write_json(args.json, rows)
    return 1 if failed else 0


def crosscheck_main(
    argv: list[str] | None = None, *, fit: Fit = jaxlr.fit, prog: str = "python -m jaxlr.crosscheck"
) -> int:
    parser = ArgumentParser(prog=prog, description=crosscheck.HELP)
    crosscheck_arguments(parser)
    return run_crosscheck(parser.parse_args(argv), fit=fit)
