"""Sizes and repeats through the command line, each run in a child with bounded address
space and time: exit 0 with every row back, or exit 2 with one ``error:`` line."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest
from hostile_sizes import (
    HEADER,
    customers,
    header_row,
    rle_parquet,
    run_bounded,
    same_id_csv,
    sheet,
    workbook,
)

import custseg
from custseg.io.model_files import save_model

#: Peak resident memory a hostile run may reach (the contract's 1 GB).
PEAK_MB = 1_024


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.custseg"
    save_model(custseg.fit(custseg.make_customers(400, seed=2), params={"n_clusters": 4}), path)
    return path


def one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_50000_rows_sharing_one_id_score_in_bounded_time_and_memory(model_path, tmp_path):
    src = same_id_csv(tmp_path / "same.csv", 50_000)
    out = tmp_path / "out.csv"
    code, _, err, peak = run_bounded(["score", model_path, src, "-o", out, "-q"], timeout=60)
    assert code == 0, err
    assert "scored 50,000 rows" in err
    assert 0 < peak < PEAK_MB
    scored = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(scored) == 50_000
    issues = scored["row_issues"]
    assert issues[0] == ("customer_id 'unknown' also on row 2, 3, 4, 5, 6 and 49,994 more "
                         "(conflicting values)")
    assert issues[4] == ("customer_id 'unknown' also on row 1, 2, 3, 4, 6 and 49,994 more "
                         "(conflicting values)")
    assert issues[49_999] == ("customer_id 'unknown' also on row 1, 2, 3, 4, 5 and 49,994 more "
                              "(conflicting values)")
    assert issues.str.len().max() < 120


def test_a_small_gzip_of_a_million_identical_rows_scores_in_bounded_memory(model_path, tmp_path):
    src = tmp_path / "same.csv.gz"
    with gzip.open(src, "wb", compresslevel=9) as fh:
        fh.write((",".join(HEADER) + "\n").encode())
        for _ in range(10):
            fh.write(b"0,30,60,50\n" * 100_000)
    assert src.stat().st_size < 100_000
    out = tmp_path / "out.parquet"
    code, _, err, peak = run_bounded(["score", model_path, src, "-o", out, "-q"], timeout=180)
    assert code == 0, err
    assert "scored 1,000,000 rows" in err
    assert 0 < peak < PEAK_MB
    scored = pd.read_parquet(out, columns=["row_issues"])["row_issues"]
    assert scored.iloc[-1] == ("customer_id '0' also on row 1, 2, 3, 4, 5 and 999,994 more "
                               "(same values)")


def test_a_workbook_declaring_a_million_rows_and_16384_columns(model_path, tmp_path):
    src = tmp_path / "dim.xlsx"
    src.write_bytes(workbook(sheet({1: header_row(), **customers(2_000)},
                                   dimension="A1:XFD1048576")))
    out = tmp_path / "out.csv"
    code, _, err, peak = run_bounded(["score", model_path, src, "-o", out, "-q"], timeout=60)
    assert code == 0, err
    assert 0 < peak < PEAK_MB
    scored = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(scored.columns[:4]) == HEADER and len(scored) == 2_000
    assert (scored["row_status"] == "ok").all()


def test_a_damaged_row_number_is_one_error_line(model_path, tmp_path):
    src = tmp_path / "far.xlsx"
    src.write_bytes(workbook(sheet({1: header_row(), 2: {1: "A", 2: 30, 3: 40, 4: 50},
                                    10**9: {1: "B", 2: 30, 3: 40, 4: 50}})))
    code, _, err, _ = run_bounded(["score", model_path, src, "-o", tmp_path / "o.csv"])
    assert code == 2
    assert "a row numbered 1,000,000,000, outside Excel's 1–1,048,576" in one_error(err)


def test_fit_refuses_a_parquet_of_millions_of_rows_from_its_footer(tmp_path):
    src = rle_parquet(tmp_path / "big.parquet", rows_per_group=1_000_000, groups=5)
    assert src.stat().st_size < 200_000
    code, _, err, peak = run_bounded(["fit", src, "-o", tmp_path / "m.custseg"], timeout=60)
    assert code == 2
    line = one_error(err)
    assert "has more than 1,000,000 rows (5,000,000, says its footer)" in line
    assert line.endswith("Take a sample of the rows, or raise the limit (--max-rows)")
    assert 0 < peak < 512
    assert not (tmp_path / "m.custseg").exists()


def test_score_streams_a_parquet_row_group_of_millions_of_rows(model_path, tmp_path):
    src = rle_parquet(tmp_path / "big.parquet", rows_per_group=1_000_000)
    out = tmp_path / "out.csv"
    code, _, err, peak = run_bounded(["score", model_path, src, "-o", out, "-q"], timeout=180)
    assert code == 0, err
    assert "scored 1,000,000 rows" in err
    assert 0 < peak < PEAK_MB


def test_max_rows_bounds_and_raises_the_whole_table_cap(tmp_path):
    src = same_id_csv(tmp_path / "t.csv", 1_001)
    code, _, err, _ = run_bounded(["fit", src, "-o", tmp_path / "m.custseg", "--max-rows", "1000"])
    assert code == 2
    assert "has more than 1,000 rows, the limit here" in one_error(err)
    code, _, err, _ = run_bounded(["suggest", src, "--max-rows", "1000"])
    assert code == 2 and "has more than 1,000 rows" in one_error(err)
    code, _, err, _ = run_bounded(["fit", src, "-o", tmp_path / "m.custseg", "--max-rows", "1001",
                                   "--param", "n_clusters=3"], timeout=120)
    assert code == 0, err


def test_fit_at_the_row_cap_with_every_id_twice_stays_under_a_gigabyte(tmp_path):
    """A million rows, each id on two rows: a million distinct notes, the most a fit holds."""
    src = tmp_path / "pairs.csv"
    lines = [",".join(HEADER)] + [f"c{i // 2},{20 + i % 50},{20 + i % 100},{1 + i % 99}"
                                  for i in range(1_000_000)]
    src.write_text("\n".join(lines) + "\n")
    code, _, err, peak = run_bounded(["fit", src, "-o", tmp_path / "m.custseg", "--json"],
                                     timeout=300)
    assert code == 0, err
    assert 0 < peak < PEAK_MB
