from __future__ import annotations

import csv
import io

import pyarrow as pa
import pytest

from custseg.errors import InputFileError
from custseg.io.writers import atomic_path, check_output_path, csv_bytes, neutralise_formulas


def test_formulas_are_neutralised_numbers_are_not():
    cells = ["=SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\tx", "\rx", "＝1+1",
             "-5", "+3.25", "1e5", "plain", None]
    got = neutralise_formulas(pa.array(cells)).to_pylist()
    assert got == ["'=SUM(A1)", "'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(1)", "'\tx", "'\rx",
                   "'＝1+1", "-5", "+3.25", "1e5", "plain", None]


def test_csv_stays_valid_rfc4180():
    table = pa.table({"name": ['=HYPERLINK("http://x")', 'a,"b"\nc'], "n": [1, 2]})
    text = csv_bytes(table).decode()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [["name", "n"], ['\'=HYPERLINK("http://x")', "1"], ['a,"b"\nc', "2"]]


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_output_path_checks(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("x")
    with pytest.raises(InputFileError, match="is the input file"):
        check_output_path(src, src)
    with pytest.raises(InputFileError, match="does not exist; create it first"):
        check_output_path(tmp_path / "missing" / "out.csv")
    with pytest.raises(InputFileError, match="is a folder"):
        check_output_path(tmp_path)


def test_first_byte_screen_agrees_with_the_full_check():
    import random

    from custseg.io.writers import _may_start_formula

    rng = random.Random(3)
    alphabet = ["a", "1", "=", "+", "-", "@", "\t", "\r", "＝", "é", " ", ""]
    for _ in range(300):
        cells = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 3))) for _ in range(5)]
        array = pa.chunked_array([pa.array(cells[:2]), pa.array(cells[2:] + [None])])
        changed = neutralise_formulas(array).to_pylist() != array.to_pylist()
        if changed:
            assert _may_start_formula(array)
        sliced = pa.array(cells).slice(1)
        assert _may_start_formula(sliced) == any(
            c[:1] in {"=", "+", "-", "@", "\t", "\r"} or c.startswith("＝") for c in cells[1:])
