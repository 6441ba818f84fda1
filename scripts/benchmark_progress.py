"""What the progress bar costs: ``jaxlr.fit`` with ``progress=True`` against ``progress=False``.

The bar is driven by at most 20 ``jax.debug.callback`` calls from inside the
compiled loop. This times both variants (compiled once beforehand, best of
``--repeat``) on the lesson data and on scikit-learn's diabetes data (if
installed), and prints the overhead in percent. The bar is drawn on stderr;
redirect it (``2>/dev/null``) to time it without a terminal.

    python scripts/benchmark_progress.py --steps 100000
"""

import argparse
import sys
import time

import jax
import numpy as np

import jaxlr


def _time(fn, repeat: int) -> float:
    fn()  # compile
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    problems = {"lesson (4 x 1)": (np.asarray(jaxlr.lesson_data()[0])[:, None], np.asarray(jaxlr.lesson_data()[1]))}
    try:
        data = jaxlr.load_dataset("diabetes")
        problems["diabetes (442 x 10, standardized)"] = (jaxlr.standardize(data.x)[0], data.y)
    except jaxlr.DataError:
        pass
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, {args.steps} steps, best of {args.repeat}")
    for name, (x, y) in problems.items():
        x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
        params = jaxlr.Params(np.zeros(x.shape[1], np.float32), np.float32(0.0))

        def run(progress, x=x, y=y, params=params):
            result = jaxlr.fit(
                params, x, y, learning_rate="auto", n_iters=args.steps, history="loss", progress=progress
            )
            jax.block_until_ready(result.params)

        plain = _time(lambda run=run: run(False), args.repeat)
        with_bar = _time(lambda run=run: run(True), args.repeat)
        overhead = 100 * (with_bar - plain) / plain
        print(f"{name}: without bar {plain * 1e3:.2f} ms, with bar {with_bar * 1e3:.2f} ms, overhead {overhead:+.2f}%")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
