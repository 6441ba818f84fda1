"""Argument parsing shared by the ``jaxlr`` command and the scripts."""

import argparse
import math
import sys
from typing import NoReturn


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _number(text: str, kind: type, what: str, ok) -> float | int:
    """``text`` as a ``kind`` (float or int) for which ``ok`` holds, else an argparse error saying ``what``."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not (math.isfinite(value) and ok(value)):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_float(text: str) -> float:
    return _number(text, float, "a positive finite number", lambda v: v > 0)


def non_negative_float(text: str) -> float:
    return _number(text, float, "a finite number >= 0", lambda v: v >= 0)


def positive_int(text: str) -> int:
    return int(_number(text, int, "a positive integer", lambda v: v >= 1))
