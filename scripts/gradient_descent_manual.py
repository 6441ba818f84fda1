"""The lesson's NumPy program (hand-written gradient), ported to JAX.

Prints what the original prints; see ``--help``. The logic lives in ``jaxlr._cli_lesson``.
"""

from jaxlr._cli_lesson import script_main

if __name__ == "__main__":
    raise SystemExit(script_main("manual"))
