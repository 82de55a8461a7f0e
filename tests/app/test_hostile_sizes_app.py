"""Sizes and repeats through the dashboard: a workbook declaring a million rows, a Parquet
footer over the row cap, a batch whose customers share one id."""

from __future__ import annotations

import io

import pandas as pd
from hostile_sizes import customers, header_row, rle_parquet, same_id_csv, sheet, workbook


def upload(app, go, name: str, content: bytes, key: str = "batch_upload") -> None:
    go(app, "batch")
    app.file_uploader(key=key).upload(name, content).run()
    assert not app.exception, [e.message for e in app.exception]


def scored(downloads, stem: str) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(downloads[f"{stem}_scored.csv"]), dtype=str,
                       keep_default_na=False)


def test_a_workbook_declaring_a_million_rows_is_scored_row_for_row(app, go, metrics, downloads):
    content = workbook(sheet({1: header_row(), **customers(300)}, dimension="A1:XFD1048576"))
    upload(app, go, "dim.xlsx", content)
    assert app.error == []
    assert metrics(app)["Rows"] == "300"
    out = scored(downloads, "dim")
    assert len(out) == 300 and out["CustomerID"].iloc[-1] == "C299"


def test_a_parquet_over_the_row_cap_is_refused_from_its_footer(monkeypatch, fresh_app, go,
                                                                errors, tmp_path):
    monkeypatch.setenv("CUSTSEG_MAX_ROWS", "1000")
    app = fresh_app()
    content = rle_parquet(tmp_path / "big.parquet", rows_per_group=5_000).read_bytes()
    upload(app, go, "big.parquet", content)
    assert "has more than 1,000 rows (5,000, says its footer), the limit here" in errors(app)[0]
    assert app.get("download_button") == []


def test_a_batch_of_customers_sharing_one_id(app, go, metrics, downloads, tmp_path):
    content = same_id_csv(tmp_path / "same.csv", 5_000).read_bytes()
    upload(app, go, "same.csv", content)
    assert metrics(app)["Rows"] == "5,000"
    issues = scored(downloads, "same")["row_issues"]
    assert issues.iloc[0] == ("customer_id 'unknown' also on row 2, 3, 4, 5, 6 and 4,994 more "
                              "(conflicting values)")
    assert issues.iloc[4_999] == ("customer_id 'unknown' also on row 1, 2, 3, 4, 5 and 4,994 "
                                  "more (conflicting values)")
