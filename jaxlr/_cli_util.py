"""Argument parsing shared by the ``jaxlr`` command and the scripts, and numbers for JSON."""

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _number(kind: type, what: str, ok: Callable[[Any], bool]) -> Callable[[str], Any]:
    """A parser of a ``kind`` (float or int) for which ``ok`` holds; other text is an argparse error saying ``what``."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
            if math.isfinite(value) and ok(value):
                return value
        except ValueError:
            pass
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")

    return parse


positive_float = _number(float, "a positive finite number", lambda v: v > 0)
non_negative_float = _number(float, "a finite number >= 0", lambda v: v >= 0)
positive_int = _number(int, "a positive integer", lambda v: v >= 1)


def json_numbers(value: Any) -> Any:
    """An array as (nested) lists of floats, with NaN and infinities, which JSON lacks, as ``None``."""
    value = np.asarray(value, np.float64)
    return np.where(np.isfinite(value), value, np.array(None)).tolist()
