"""CSV reading on pyarrow: separators, gzip, encodings, missing cells, stdin, one-line errors, byte ranges."""

import gzip
import io
import sys

import numpy as np
import pytest
from helpers import run_cli

import jaxlr

TABLE = np.array([[1.0, 0.5, 3.0], [2.0, -1.0, 8.0], [3.0, 0.25, 6.25], [4.5, 1e-3, -2.0]])


def _text(sep: str, table=TABLE, names=("a", "b", "y")) -> str:
    return "\n".join([sep.join(names)] + [sep.join(repr(float(v)) for v in row) for row in table]) + "\n"


def _run(capsys, *argv):
    return run_cli(capsys, *argv)


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_separator_is_detected_from_the_header(tmp_path, sep):
    path = tmp_path / "d.csv"
    path.write_text(_text(sep))
    data = jaxlr.load_csv(path, target="y")
    assert data.feature_names == ("a", "b")
    np.testing.assert_array_equal(data.x, TABLE[:, :2])
    np.testing.assert_array_equal(data.y, TABLE[:, 2])


def test_sep_given_overrides_detection(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a;b|y\n1|2\n3|4\n")  # a name with ';' in it: a tie, and ';' is detected
    with pytest.raises(jaxlr.DataError, match=r"row 1 \(line 2\) has 1 cells, but the header has 2 columns"):
        jaxlr.load_csv(path, target="b|y")
    data = jaxlr.load_csv(path, target="y", sep="|")
    assert data.feature_names == ("a;b",)
    np.testing.assert_array_equal(data.y, [2.0, 4.0])
    with pytest.raises(jaxlr.DataError, match=r"has no column 'y' to use as the target; its columns are a;b\|y$"):
        jaxlr.load_csv(path, target="y", sep="\t")
    with pytest.raises(jaxlr.DataError, match="--sep expects one character"):
        jaxlr.load_csv(path, target="y", sep=";;")


def test_gzip_by_extension(tmp_path):
    path = tmp_path / "d.csv.gz"
    path.write_bytes(gzip.compress(_text(";").encode()))
    data = jaxlr.load_csv(path, target="y", progress=True)
    np.testing.assert_array_equal(data.x, TABLE[:, :2])


def test_latin1_needs_its_encoding(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes("température;y\n1,5;2\n".replace("1,5", "1.5").encode("latin-1"))
    data = jaxlr.load_csv(path, target="y", encoding="latin-1")
    assert data.feature_names == ("température",)
    np.testing.assert_array_equal(data.x, [[1.5]])
    with pytest.raises(jaxlr.DataError, match="not a utf-8 text file .*--encoding latin-1"):
        jaxlr.load_csv(path, target="y")
    with pytest.raises(jaxlr.DataError, match="--encoding 'klingon' is not a text encoding"):
        jaxlr.load_csv(path, target="y", encoding="klingon")


def test_dropna_drops_and_counts_missing_cells(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,y,note\n1,2,3,x\n4,,6,\nNA,1,2,\n5,6,NULL,\n7,8,9,\n")  # note: not chosen, not checked
    data = jaxlr.load_csv(path, target="y", features=["a", "b"], dropna=True)
    assert data.dropped == 3
    np.testing.assert_array_equal(data.x, [[1.0, 2.0], [7.0, 8.0]])
    np.testing.assert_array_equal(data.y, [3.0, 9.0])
    assert jaxlr.load_csv(path, target="y", features=["a", "b"], rows=range(3, 5), dropna=True).dropped == 1
    missing = r"row 2 \(line 3\), column 'b': an empty cell is a missing value.*--dropna"
    with pytest.raises(jaxlr.DataError, match=missing):
        jaxlr.load_csv(path, target="y", features=["a", "b"])
    with pytest.raises(jaxlr.DataError, match=r"row 3 \(line 4\), column 'a': 'NA' is a missing value"):
        jaxlr.load_csv(path, target="y", features=["a"])
    path.write_text("a,y\n1,\n2,NA\n")
    with pytest.raises(jaxlr.DataError, match="no rows of data once 2 rows with missing cells are dropped"):
        jaxlr.load_csv(path, target="y", dropna=True)


@pytest.mark.parametrize(
    "text, message",
    [
        ("a,y\n1,2\n\n3,oops\n", r"row 2 \(line 4\), column 'y': 'oops' is not a number"),
        ("a,y\n1,2\n3,4\n5e,6\n", r"row 3 \(line 4\), column 'a': '5e' is not a number"),
        ("a,y\n1,2\n3,inf\n", r"row 2 \(line 3\), column 'y': 'inf' is not a finite number"),
        ("a,y\n1,2\n3,4,5\n", r"row 2 \(line 3\) has 3 cells, but the header has 2 columns"),
        ("\n\n", "is empty: expected a header row"),
        ("a,y\n\n", r"has a header \(a, y\) but no rows of data"),
        ("a,y\n1,2\n", "has no column 'z' to use as the target; its columns are a, y"),
    ],
)
def test_one_line_errors(tmp_path, text, message):
    path = tmp_path / "d.csv"
    path.write_text(text)
    with pytest.raises(jaxlr.DataError, match=message) as info:
        jaxlr.load_csv(path, target="z" if "'z'" in message else "y")
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_bad_cell_is_located_in_a_file_of_many_blocks(tmp_path):
    n = 60_000  # more than one of pyarrow's 1 MiB blocks, read on several threads
    lines = ["a,y"] + [f"{i},{2 * i}" for i in range(n)]
    lines[n - 5] = "7,7 7"
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(jaxlr.DataError, match=rf"row {n - 5} \(line {n - 4}\), column 'y': '7 7' is not a number"):
        jaxlr.load_csv(path, target="y")


def test_stdin(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(_text("\t").encode())))
    data = jaxlr.load_csv("-", target="y")
    assert data.source == "stdin"
    np.testing.assert_array_equal(data.x, TABLE[:, :2])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a;y\n1;2\n2;NA\n3;6\n4;8\n")))
    code, out, err = _run(capsys, "fit", "-", "--target", "y", "--dropna", "--steps", "20", "--quiet", "--lr", "0.01")
    assert code in (0, 3), err  # 3: 20 steps do not reach least squares; the load is what is tested
    assert out.startswith("stdin: 3 rows, 1 feature")
    assert "stdin: dropped 1 rows with a missing cell (--dropna)" in err


def test_cli_missing_cell_is_one_line_naming_dropna(capsys, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a|y\n1|2\n|4\n")
    code, _, err = _run(capsys, "sweep", path, "--target", "y", "--encoding", "latin-1")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "row 2 (line 3), column 'a': an empty cell is a missing value; use --dropna" in lines[0]


@pytest.mark.parametrize("sep", [",", ";"])
def test_byte_ranges_cover_every_row_once(tmp_path, sep):
    rng = np.random.default_rng(0)
    digits = rng.integers(1, 12, size=37)
    table = np.array([np.round(row, k) for row, k in zip(rng.normal(size=(37, 3)), digits, strict=True)])
    path = tmp_path / "d.csv"
    path.write_text(_text(sep, table).replace("\n", "\n\n", 3))  # lines of unequal length, a few blank ones
    for count in (1, 2, 3, 8, 40):
        shares = [jaxlr.read_csv_rows(path, "y", process_index=i, process_count=count) for i in range(count)]
        np.testing.assert_array_equal(np.concatenate([s.x for s in shares]), table[:, :2])
        np.testing.assert_array_equal(np.concatenate([s.y for s in shares]), table[:, 2])


def test_read_csv_rows_raises_data_error(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,y\n1,2\n3,4\n5,x\n7,8\n")
    with pytest.raises(jaxlr.DataError, match=r"the share from byte \d+\): row \d \(line \d\), column 'y': 'x'"):
        for i in range(2):
            jaxlr.read_csv_rows(path, "y", process_index=i, process_count=2)
    with pytest.raises(jaxlr.DataError, match="no column|not in"):
        jaxlr.read_csv_rows(path, "q")
    path.write_text("a,y\n1,NA\n3,4\n")
    rows = jaxlr.read_csv_rows(path, "y", dropna=True)
    assert rows.dropped == 1 and rows.y.tolist() == [4.0]
    gz = tmp_path / "d.csv.gz"
    gz.write_bytes(gzip.compress(b"a,y\n1,2\n"))
    with pytest.raises(jaxlr.DataError, match="cannot be split into byte ranges"):
        jaxlr.read_csv_rows(gz, "y", process_count=2)


def test_large_files_are_read_in_pieces_with_the_same_result(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(1)
    table = np.round(rng.normal(size=(300, 3)), 4)
    path = tmp_path / "d.csv"
    text = _text(";", table).replace("\n", "\n\n", 5)
    path.write_text(text)
    whole = jaxlr.load_csv(path, target="y")
    monkeypatch.setattr("jaxlr._data.PIECE_BYTES", 100)  # about 4 lines a piece
    capsys.readouterr()
    jaxlr.load_csv(path, target="y", progress=True)
    assert capsys.readouterr().err == ""  # a load quicker than PROGRESS_DELAY_S shows no bar
    monkeypatch.setattr("jaxlr._data.PROGRESS_DELAY_S", 0.0)
    pieces = jaxlr.load_csv(path, target="y", progress=True)
    assert "read" in capsys.readouterr().err  # the bar, by bytes
    np.testing.assert_array_equal(pieces.x, whole.x)
    np.testing.assert_array_equal(pieces.y, table[:, 2])
    lines = text.splitlines()
    lines[250] = lines[250].replace(";", ";;", 1)
    lines[200] = ";" + lines[200].split(";", 1)[1]
    path.write_text("\n".join(lines) + "\n")
    assert lines[200] and lines[250]
    with pytest.raises(jaxlr.DataError, match=r"row 195 \(line 201\), column 'a': an empty cell is a missing value"):
        jaxlr.load_csv(path, target="y")
    with pytest.raises(jaxlr.DataError, match=r"row 245 \(line 251\) has 4 cells, but the header has 3 columns"):
        jaxlr.load_csv(path, target="y", dropna=True)
    lines[250] = lines[250].replace(";;", ";", 1)
    path.write_text("\n".join(lines) + "\n")
    dropped = jaxlr.load_csv(path, target="y", dropna=True)
    assert dropped.dropped == 1
    np.testing.assert_array_equal(dropped.y, np.delete(table[:, 2], 194))
