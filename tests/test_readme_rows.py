"""Every row of the README's "What happens when…" table names tests that exist (``file::test``)."""

import ast
import re

import pytest
from helpers import ROOT

HEADING = "## What happens when…"
# a limit of JAX's runtime that the README documents; no test can make it untrue
DOCUMENTED_LIMIT = "— (documented limit)"


def _rows():
    text = (ROOT / "README.md").read_text()
    start = text.index(HEADING)
    table = text[start : text.index("\n\n", text.index("|---|---|---|", start))]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| when ")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


def _cited(cell):
    return re.findall(r"`(?:tests/)?(test_\w+\.py)::(test_\w+)(?:\[[^\]]*\])?`", cell)


def _test_names(file):
    tree = ast.parse((ROOT / "tests" / file).read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


ROWS = _rows()


def test_the_table_has_its_rows():
    assert len(ROWS) >= 25 and all(len(row) == 3 for row in ROWS), [row[0] for row in ROWS if len(row) != 3]


@pytest.mark.parametrize("when, _, tested_in", ROWS, ids=[row[0][:40] for row in ROWS])
def test_each_row_names_tests_that_exist(when, _, tested_in):
    if tested_in == DOCUMENTED_LIMIT:
        return
    cited = _cited(tested_in)
    assert cited, f"{when!r}: the last cell names no `file::test`: {tested_in!r}"
    assert len(cited) == tested_in.count("`") // 2, f"{when!r}: a cell entry is not `file::test`: {tested_in!r}"
    for file, test in cited:
        assert (ROOT / "tests" / file).is_file(), f"{when!r}: no tests/{file}"
        assert test in _test_names(file), f"{when!r}: no {test} in tests/{file}"


def test_the_check_fails_on_a_missing_test():
    assert _cited("`test_fit.py::test_no_such_test`, `test_fit.py::test_divergence_is_flagged[a-b]`") == [
        ("test_fit.py", "test_no_such_test"),
        ("test_fit.py", "test_divergence_is_flagged"),
    ]
    assert "test_no_such_test" not in _test_names("test_fit.py")
