"""The cross-check: jaxlr against the lesson's PyTorch and NumPy programs, step by step.

Same as ``python -m jaxlr.crosscheck``; see ``--help``. The logic lives in ``jaxlr.crosscheck``.
"""

from jaxlr.crosscheck import main

if __name__ == "__main__":
    raise SystemExit(main(prog="crosscheck.py"))
