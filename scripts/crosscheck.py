"""The cross-check: jaxlr against the lesson's PyTorch and NumPy programs, step by step.

Same as ``python -m jaxlr.crosscheck``; see ``--help``. The comparison lives in ``jaxlr.crosscheck``.
"""

from jaxlr._cli_lesson import crosscheck_main as main

if __name__ == "__main__":
    raise SystemExit(main(prog="crosscheck.py"))
