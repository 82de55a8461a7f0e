"""Issue 10, class 2: rows that vanish. A stray quote never swallows the lines after it.

Every data line comes back: a line whose quote does not make a well-formed cell is kept as
a broken row (invalid, with its line number and text), the lines it would have swallowed
are read as rows of their own, and `fit` counts the file's rows. Checked through both text
readers (pyarrow's and the exact one), `read_table`, `score_file`, `fit` and the command
line; a balanced quoted cell with line breaks stays one cell.
"""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest
from hostile_sizes import header_row, sheet, workbook

import custseg
from custseg.cli import main
from custseg.errors import InputFileError
from custseg.io import formats
from custseg.io.source import TableSource, read_table

HEADER = ["CustomerID", "Gender", "Age", "Annual Income (k$)", "Spending Score (1-100)"]


def rows(n: int = 10) -> list[list[str]]:
    return [[f"{i:05d}", "Male" if i % 2 else "Female", str(20 + i), str(30 + i), str(40 + i)]
            for i in range(1, n + 1)]


def text(records: list[list[str]], delimiter: str = ",", newline: str = "\n",
         last_newline: bool = True) -> str:
    lines = [delimiter.join(HEADER)] + [delimiter.join(r) for r in records]
    return newline.join(lines) + (newline if last_newline else "")


def broken(cell: int, row: int, how: str = "start", n: int = 10) -> list[list[str]]:
    """Rows with one stray quote in row ``row`` (0-based), cell ``cell``."""
    records = rows(n)
    value = records[row][cell]
    records[row][cell] = {"start": f'"{value}', "end": f'{value}"', "mid": f'{value[:1]}"{value[1:]}'}[how]
    return records


def read_both(path, **kwargs):
    """The table read by the default path, and again by the exact reader alone."""
    fast = read_table(path, **kwargs)
    source = TableSource(path, well_formed=False, **kwargs)
    exact = source.read()
    return fast, exact


def ids(table) -> list[str | None]:
    return table.data.column(0).to_pylist()


def expected_ids(n: int, broken_row: int) -> list[str | None]:
    out = [f"{i:05d}" for i in range(1, n + 1)]
    out[broken_row] = None
    return out


CASES = {
    # name: (records, delimiter, newline, broken row or None, line number in the note)
    "comma, quote opening a middle cell": (broken(1, 3), ",", "\n", 3, 5),
    "comma, quote opening the last cell": (broken(4, 3), ",", "\n", 3, 5),
    "comma, quote opening the first cell": (broken(0, 3), ",", "\n", 3, 5),
    "tab, quote opening a cell": (broken(1, 3), "\t", "\n", 3, 5),
    "semicolon, quote opening the last cell": (broken(4, 6), ";", "\n", 6, 8),
    "CRLF, quote opening the last cell": (broken(4, 3), ",", "\r\n", 3, 5),
    "CR only, quote opening a cell": (broken(2, 3), ",", "\r", 3, 5),
    "in the first data line": (broken(4, 0), ",", "\n", 0, 2),
    "in the last line": (broken(4, 9), ",", "\n", 9, 11),
    "in the last line, mid-cell after an opening quote": (broken(1, 9), ",", "\r\n", 9, 11),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_every_line_comes_back_through_both_readers(case, tmp_path):
    records, delimiter, newline, row, line = CASES[case]
    path = tmp_path / "broken.csv"
    path.write_text(text(records, delimiter, newline), encoding="utf-8", newline="")
    for table in read_both(path):
        assert table.n_rows == 10
        assert ids(table) == expected_ids(10, row)
        assert list(table.structural) == [row]
        assert table.structural[row].startswith(f"line {line} opens a quote")
        frame = table.fields_frame()
        assert frame["age"].tolist()[row + 1:] == [str(21 + i) for i in range(row + 1, 10)]


def test_last_line_without_a_line_break_leaving_a_quote_open(tmp_path):
    """pyarrow closes such a quote at the end of the file without a word; the tail is
    checked first, so both readers flag the line."""
    path = tmp_path / "tail.csv"
    path.write_text(text(broken(4, 9), last_newline=False), encoding="utf-8")
    for table in read_both(path):
        assert table.n_rows == 10
        assert table.structural[9].startswith("line 11 opens a quote that is never closed")
        assert ids(table)[:9] == [f"{i:05d}" for i in range(1, 10)]


def test_a_quote_inside_a_cell_is_a_character_as_it_always_was(tmp_path):
    path = tmp_path / "mid.csv"
    path.write_text(text(broken(1, 3, "mid")), encoding="utf-8")
    for table in read_both(path):
        assert table.n_rows == 10 and table.structural == {}
        assert table.fields_frame()["gender"].tolist()[3] == 'F"emale'


def test_two_stray_quotes_that_pair_up_over_lines_leave_every_line_a_row(tmp_path):
    """Line 4 opens a quote that line 8 closes at the end of a cell: well formed as CSV,
    but one row of five lines with the wrong number of fields. Line 4 is broken; line 8,
    read on its own, keeps its quote as a character (its age is then not a number)."""
    records = broken(4, 2)
    records[6][2] = records[6][2] + '"'
    path = tmp_path / "pair.csv"
    path.write_text(text(records), encoding="utf-8")
    for table in read_both(path):
        assert table.n_rows == 10
        assert list(table.structural) == [2]
        assert "opens a quote that runs on to line 8, making 7 fields where the header has 5" \
            in table.structural[2]
        assert ids(table)[3:] == [f"{i:05d}" for i in range(4, 11)]
        assert table.fields_frame()["age"].tolist()[6] == '27"'


def test_a_stray_quote_that_meets_a_real_quoted_cell_leaves_that_cell_whole(tmp_path):
    records = broken(1, 2)
    records[5][1] = '"Smith, J"'
    header = HEADER[:1] + ["Name"] + HEADER[2:]
    path = tmp_path / "meet.csv"
    path.write_text("\n".join([",".join(header)] + [",".join(r) for r in records]) + "\n",
                    encoding="utf-8")
    for table in read_both(path):
        assert table.n_rows == 10
        assert list(table.structural) == [2]
        assert "does not close at the end of a cell (on lines 4–7)" in table.structural[2]
        assert table.data.column(1).to_pylist()[5] == "Smith, J"


def test_balanced_quoted_cells_with_line_breaks_stay_one_cell(tmp_path):
    records = rows()
    records[2][1] = '"Fe, ""quoted""\nline"'
    records[7][1] = '"two\r\nlines"'
    path = tmp_path / "multi.csv"
    path.write_text(text(records), encoding="utf-8", newline="")
    for table in read_both(path):
        assert table.n_rows == 10 and table.structural == {}
        genders = table.fields_frame()["gender"].tolist()
        assert genders[2] == 'Fe, "quoted"\nline' and genders[7] == "two\r\nlines"
    assert TableSource(path).read() is not None


def test_a_quoted_cell_over_more_lines_than_the_cap_is_read_line_by_line(tmp_path):
    records = rows(3)
    note = "\n".join(f"note {i}" for i in range(formats.MAX_RECORD_LINES + 5))
    records[1][1] = f'"{note}"'
    path = tmp_path / "long.csv"
    path.write_text(text(records), encoding="utf-8")
    table = read_table(path)
    assert "runs on over more than 100 lines" in table.structural[1]
    assert table.n_rows == 3 + formats.MAX_RECORD_LINES + 4  # every line is a row
    assert ids(table)[-1] == "00003"


def test_a_quote_in_the_header_is_refused(tmp_path):
    path = tmp_path / "head.csv"
    header = HEADER.copy()
    header[2] = '"Age'
    path.write_text("\n".join([",".join(header)] + [",".join(r) for r in rows()]) + "\n")
    with pytest.raises(InputFileError, match=r"the header \(line 1\) opens a quote that is "
                                             r"never closed, so its columns cannot be told"):
        read_table(path)


def test_a_header_cell_over_two_lines_is_still_a_header(tmp_path):
    path = tmp_path / "head2.csv"
    header = HEADER.copy()
    header[3] = '"Annual Income\n(k$)"'
    path.write_text("\n".join([",".join(header)] + [",".join(r) for r in rows()]) + "\n")
    for table in read_both(path):
        assert table.header[3] == "Annual Income\n(k$)"
        assert table.n_rows == 10 and table.structural == {}


def test_gzip_input(tmp_path):
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(gzip.compress(text(broken(4, 3)).encode()))
    table = read_table(path)
    assert table.n_rows == 10 and list(table.structural) == [3]


def test_fast_batches_then_a_stray_quote_give_every_row_once(tmp_path, monkeypatch):
    """Many small fast batches before pyarrow meets the quote: the exact reader goes on
    from the first row not yet given."""
    monkeypatch.setattr(formats, "_block_size", lambda rows: 2_048)
    records = broken(4, 1500, n=2_000)
    path = tmp_path / "late.csv"
    path.write_text(text(records), encoding="utf-8")
    source = TableSource(path)
    got = [b for b in source.batches(rows=300)]
    assert source.well_formed is False
    assert sum(b.data.num_rows for b in got) == 2_000
    first = pd.concat([b.data.to_pandas() for b in got], ignore_index=True)["c0"].tolist()
    assert first[:1500] == [f"{i:05d}" for i in range(1, 1501)]
    assert first[1501:] == [f"{i:05d}" for i in range(1502, 2001)]


@pytest.fixture(scope="module")
def model():
    return custseg.fit(custseg.make_customers(300, seed=4), params={"n_clusters": 3})


def test_score_file_has_every_row_and_the_broken_line_flagged(tmp_path, model):
    path = tmp_path / "broken.csv"
    path.write_text(text(broken(4, 3)), encoding="utf-8")
    out = tmp_path / "scored.csv"
    report = custseg.score_file(model, path, out, batch_rows=4)
    scored = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert report.n_rows == 10 and len(scored) == 10 and report.n_invalid == 1
    assert scored["row_status"].tolist() == ["ok"] * 3 + ["invalid"] + ["ok"] * 6
    assert scored.loc[3, "row_issues"].startswith("line 5 opens a quote that is never closed")
    assert scored["CustomerID"].tolist()[4:] == [f"{i:05d}" for i in range(5, 11)]


def test_cli_fit_counts_every_line_and_score_returns_them(tmp_path, capsys, model):
    data = tmp_path / "broken.csv"
    data.write_text(text(broken(4, 3, n=40)), encoding="utf-8")
    code = main(["fit", str(data), "-o", str(tmp_path / "m.custseg"), "--json",
                 "-p", "n_clusters=2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    quality = json.loads(out)["data_quality"]
    assert quality["n_input"] == 40 and quality["n_invalid"] == 1
    code = main(["score", str(tmp_path / "m.custseg"), str(data), "-o",
                 str(tmp_path / "s.csv")])
    assert code == 0
    assert len(pd.read_csv(tmp_path / "s.csv", dtype=str)) == 40


def test_excel_rows_out_of_order_lose_none_and_invent_no_blank(tmp_path):
    """Rows stored 1, 2, 5, 4, 6, 8: the file leaves out rows 3 and 7 only."""
    path = tmp_path / "order.xlsx"
    stored = [(1, header_row()), (2, {1: "A", 2: 30, 3: 40, 4: 50}),
              (5, {1: "B", 2: 31, 3: 41, 4: 51}), (4, {1: "C", 2: 32, 3: 42, 4: 52}),
              (6, {1: "D", 2: 33, 3: 43, 4: 53}), (8, {1: "E", 2: 34, 3: 44, 4: 54})]
    path.write_bytes(workbook(sheet(stored)))
    got = read_table(path).fields_frame()["customer_id"].tolist()
    assert [i for i in got if i] == ["A", "B", "C", "D", "E"]  # every stored row, as stored
    assert got.count("") == 2  # rows 3 and 7, and no other
    assert got == ["A", "", "B", "C", "D", "", "E"]
