"""CSV reading, built-in datasets, standardization, least squares and atomic output files."""

import json

import numpy as np
import pytest

import jaxlr
from jaxlr._io import atomic_write, write_json


def test_load_csv_with_bom_spaces_blank_lines_and_a_row_range(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("\ufeff a , b\n1, 2\n\n3,4\n5,6\n7,oops\n", encoding="utf-8")
    data = jaxlr.load_csv(path, target="b", rows=range(1, 3))
    assert data.feature_names == ("a",) and data.target_name == "b"
    np.testing.assert_array_equal(data.x, [[3.0], [5.0]])  # row 3 is never parsed
    np.testing.assert_array_equal(data.y, [4.0, 6.0])
    np.testing.assert_array_equal(jaxlr.load_csv(path, target="b", rows=range(0, 1)).y, [2.0])
    path.write_text("a,b\n1,2\n3,4\n5,6\n7,8,9,10\n")  # a broken row after the range is never reached
    np.testing.assert_array_equal(jaxlr.load_csv(path, target="b", rows=range(0, 2)).x, [[1.0], [3.0]])


@pytest.mark.parametrize(
    "text, words",
    [("a,a\n1,2\n", ["'a'", "twice"]), ("a,\n1,2\n", ["column 2", "no name"]), ("a,b\n1,2\n", ["rows 5..6"])],
)
def test_load_csv_errors(tmp_path, text, words):
    path = tmp_path / "d.csv"
    path.write_text(text)
    with pytest.raises(jaxlr.DataError) as info:
        jaxlr.load_csv(path, target="a", rows=range(5, 7))
    for word in words:
        assert word in str(info.value)


def test_load_dataset():
    lesson = jaxlr.load_dataset("lesson")
    np.testing.assert_array_equal(lesson.y, 2 * lesson.x[:, 0])
    with pytest.raises(jaxlr.DataError, match="unknown dataset 'iris'"):
        jaxlr.load_dataset("iris")
    pytest.importorskip("sklearn")
    diabetes = jaxlr.load_dataset("diabetes", features=["bmi", "bp"])
    assert diabetes.x.shape == (442, 2) and diabetes.feature_names == ("bmi", "bp")


def test_standardize_and_unstandardize_give_the_same_model():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)) * [1.0, 1e3, 1e-2] + [5.0, -1e4, 0.0]
    z, s = jaxlr.standardize(x)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1.0, rtol=1e-12)
    v, c = np.array([0.3, -2.0, 1.5]), 0.7
    p = jaxlr.unstandardize(jaxlr.Params(v, c), s)
    np.testing.assert_allclose(x @ p.w + p.b, z @ v + c, rtol=1e-9)
    with pytest.raises(jaxlr.DataError, match="'k' is constant"):
        jaxlr.standardize(np.column_stack([x[:, 0], np.full(20, 3.0)]), ["j", "k"])


def test_scaling_without_centring_for_a_model_without_a_bias():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 2)) * [1.0, 1e3] + [5.0, 3.0]
    z, s = jaxlr.standardize(x, center=False)
    np.testing.assert_allclose(np.mean(z**2, axis=0), 1.0, rtol=1e-12)  # unit root mean square, not centred
    assert np.all(s.mean == 0) and np.all(z / x > 0)
    v = np.array([0.3, -2.0])
    p = jaxlr.unstandardize(jaxlr.Params(v, None), s)
    assert p.b is None
    np.testing.assert_allclose(x @ p.w, z @ v, rtol=1e-12)
    with pytest.raises(ValueError, match="needs a bias"):
        jaxlr.unstandardize(jaxlr.Params(v, None), jaxlr.standardize(x)[1])
    with pytest.raises(jaxlr.DataError, match="'k' is all zeros"):
        jaxlr.standardize(np.column_stack([x[:, 0], np.zeros(20)]), ["j", "k"], center=False)


@pytest.mark.parametrize("bias", [True, False])
def test_least_squares_matches_numpy(bias):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(15, 2))
    y = rng.normal(size=15)
    design = np.column_stack([x, np.ones(15)]) if bias else x
    expected = np.linalg.lstsq(design, y, rcond=None)[0]
    p = jaxlr.least_squares(x, y, bias=bias)
    np.testing.assert_allclose(p.w, expected[:2], rtol=1e-10)
    if bias:
        np.testing.assert_allclose(p.b, expected[2], rtol=1e-10)
    else:
        assert p.b is None


def test_atomic_write_is_all_or_nothing(tmp_path):
    path = tmp_path / "out.json"
    write_json(path, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write('{"a": 2, "b"')
            raise RuntimeError("interrupted")
    assert json.loads(path.read_text()) == {"a": 1}
    with pytest.raises(ValueError):
        write_json(path, {"a": float("nan")})  # refused before anything is written
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_columns_not_chosen_are_not_parsed(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("name,age,height\nada,36,1.70\nbob,41,1.82\n")
    data = jaxlr.load_csv(path, target="height", features=["age"])
    np.testing.assert_array_equal(data.x, [[36.0], [41.0]])
    with pytest.raises(jaxlr.DataError, match=r"row 1 \(line 2\), column 'name': 'ada' is not a number"):
        jaxlr.load_csv(path, target="height")  # every other column is a feature, the names too
