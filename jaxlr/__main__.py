"""``python -m jaxlr``: the ``jaxlr`` command."""

from jaxlr._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
