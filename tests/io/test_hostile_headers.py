"""Issue 10, class 6: header cells a spreadsheet would run are neutralised like data cells.

Every CSV custseg writes (score_file, the in-memory writer behind the dashboard's
download, the Dask engine's parts: all go through ScoredWriter) prefixes ``'`` to a header
cell starting with ``=``, ``+``, ``-``, ``@``, tab, CR or their full-width forms; a plain
number such as ``-5`` and ordinary names are untouched, and Parquet keeps names as given.
"""

from __future__ import annotations

import csv
import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import custseg
from custseg.cli import main
from custseg.io.writers import csv_bytes

RISKY = ['=HYPERLINK("http://x","y")', "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "\tTab",
         "\rCR", "＝1+1"]
SAFE = ["-5", "Notes", "a=b"]


def table_text() -> str:
    header = ["CustomerID", "Age", "Annual Income (k$)", "Spending Score"] + RISKY + SAFE
    body = [["1", "30", "50", "50"] + ["=1+1"] * len(RISKY) + ["x"] * len(SAFE),
            ["2", "40", "60", "60"] + ["v"] * len(RISKY) + ["y"] * len(SAFE)]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL).writerows([header] + body)
    return buffer.getvalue()


def header_of(data: bytes) -> list[str]:
    return next(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


EXPECTED = ["CustomerID", "Age", "Annual Income (k$)", "Spending Score"] + [
    "'" + h for h in RISKY] + SAFE


@pytest.fixture(scope="module")
def model():
    return custseg.fit(custseg.make_customers(200, seed=6), params={"n_clusters": 3})


def test_score_file_neutralises_header_cells(tmp_path, model):
    src = tmp_path / "in.csv"
    src.write_text(table_text(), encoding="utf-8")
    out = tmp_path / "out.csv"
    custseg.score_file(model, src, out)
    header = header_of(out.read_bytes())
    assert header[:len(EXPECTED)] == EXPECTED
    assert header[len(EXPECTED):] == ["segment_id", "segment_name", "confidence", "atypical",
                                      "row_status", "row_issues"]
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert rows[1][4] == "'=1+1"  # the data cell, as before


def test_the_download_bytes_neutralise_header_cells():
    table = pa.table({name: ["v"] for name in RISKY + SAFE})
    assert header_of(csv_bytes(table)) == ["'" + h for h in RISKY] + SAFE


def test_parquet_output_keeps_names_as_given(tmp_path, model):
    src = tmp_path / "in.csv"
    src.write_text(table_text(), encoding="utf-8")
    out = tmp_path / "out.parquet"
    custseg.score_file(model, src, out)
    assert pq.read_schema(out).names[4:4 + len(RISKY)] == RISKY


def test_cli_score(tmp_path, capsys, model):
    src = tmp_path / "in.csv"
    src.write_text(table_text(), encoding="utf-8")
    custseg.save_model(model, tmp_path / "m.custseg")
    code = main(["score", str(tmp_path / "m.custseg"), str(src), "-o", str(tmp_path / "o.csv")])
    assert code == 0, capsys.readouterr().err
    assert pd.read_csv(tmp_path / "o.csv", dtype=str).columns[4] == "'" + RISKY[0]
