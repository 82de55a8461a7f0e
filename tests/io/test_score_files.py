from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import custseg
from custseg.io.score_files import score_file
from custseg.model.scoring import SCORE_COLUMNS


def dirty_csv(n: int = 40) -> str:
    lines = ["CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100),Notes"]
    for i in range(n):
        lines.append(f"{i:05d},{'Male' if i % 2 else 'Female'},{20 + i % 50},{20 + i * 3 % 120},"
                     f"{1 + i * 7 % 99},note {i}")
    lines[3] = "00002,Male,NA,40,40,missing age"
    lines[5] = "00004,Male,30,40"  # too few fields
    lines[7] = "00006,Female,30,40,40,=HYPERLINK(\"x\")"
    lines[9] = "00001,Female,20,23,8,duplicate id"
    return "\n".join(lines) + "\n"


@pytest.fixture
def model():
    return custseg.fit(custseg.make_customers(400, seed=2), params={"n_clusters": 4})


def test_score_file_keeps_every_row_in_order(model, write, tmp_path):
    src = write("in.csv", dirty_csv())
    out = tmp_path / "out.csv"
    report = score_file(model, src, out)
    assert report.n_rows == 40
    assert report.n_invalid == 2
    scored = pd.read_csv(out, dtype=str, keep_default_na=False)
    original = pd.read_csv(src, dtype=str, keep_default_na=False, on_bad_lines="skip")
    assert len(scored) == 40
    assert list(scored.columns) == list(original.columns) + list(SCORE_COLUMNS)
    assert scored["CustomerID"].tolist()[:3] == ["00000", "00001", "00002"]
    assert scored.loc[2, "row_status"] == "invalid"
    assert scored.loc[2, "row_issues"] == "age: missing"
    assert scored.loc[2, "segment_id"] == ""
    assert scored.loc[4, "row_status"] == "invalid"
    assert scored.loc[4, "CustomerID"] == ""  # not shifted into the wrong columns
    assert "line 6 has 4 fields where the header has 6" in scored.loc[4, "row_issues"]
    assert scored.loc[6, "Notes"] == "'=HYPERLINK(\"x\")"
    assert "customer_id '00001' also on row 9 (conflicting values)" == scored.loc[1, "row_issues"]
    ok = scored["row_status"] == "ok"
    assert scored.loc[ok, "segment_id"].astype(int).between(0, 3).all()
    assert scored.loc[ok, "confidence"].astype(float).between(1 / 3, 1).all()
    assert set(scored.loc[ok, "atypical"]) <= {"true", "false"}


def test_batches_give_the_same_result_as_one_pass(model, write, tmp_path):
    src = write("in.csv", dirty_csv(3_000))
    one, many = tmp_path / "one.csv", tmp_path / "many.csv"
    score_file(model, src, one, batch_rows=1_000_000)
    calls = []
    score_file(model, src, many, batch_rows=1_000, progress=lambda d, t: calls.append((d, t)))
    assert one.read_bytes() == many.read_bytes()
    assert calls[0] == (0, 3_000)
    assert calls[-1] == (3_000, 3_000)
    assert len(calls) == 4


def test_in_memory_score_matches_file_score(model, write, tmp_path):
    src = write("in.csv", dirty_csv())
    frame = custseg.score(model, src)
    out = tmp_path / "out.parquet"
    score_file(model, src, out)
    from_file = pd.read_parquet(out)
    for column in SCORE_COLUMNS:
        left, right = frame[column], from_file[column]
        assert left.isna().tolist() == right.isna().tolist()
        assert left.dropna().tolist() == right.dropna().tolist()


def test_score_a_dataframe_keeps_the_index(model):
    df = custseg.make_customers(10, seed=9).set_index("customer_id", drop=False)
    scored = custseg.score(model, df)
    assert scored.index.equals(df.index)
    assert list(scored.columns[:5]) == list(df.columns)
    assert scored["row_status"].eq("ok").all()


def test_rescoring_a_scored_file_keeps_the_old_columns(model, write, tmp_path):
    src = write("in.csv", dirty_csv())
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    score_file(model, src, first)
    score_file(model, first, second)
    header = pd.read_csv(second, nrows=0).columns.tolist()
    assert "segment_id_input" in header and header[-6:] == list(SCORE_COLUMNS)


def test_failure_leaves_no_output(model, write, tmp_path):
    src = write("in.csv", "ID,Age\n1,30\n")
    out = tmp_path / "out.csv"
    with pytest.raises(custseg.CustsegError, match="no column for annual_income"):
        score_file(model, src, out)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_predict_one(model):
    got = custseg.predict_one(model, age=30, annual_income=85, spending_score=85)
    assert set(got) == {"segment_id", "segment_name", "confidence", "atypical"}
    assert got["segment_name"] == model.names[got["segment_id"]]
    with pytest.raises(custseg.CustsegError, match="spending_score: 500 points is outside 1–100"):
        custseg.predict_one(model, age=30, annual_income=85, spending_score=500)
    far = custseg.predict_one(model, age=99, annual_income=9000, spending_score=1)
    assert far["atypical"] is True
    assert np.isclose(far["confidence"], 1.0) or far["confidence"] < 1.0


def test_repeated_id_detection_over_batches():
    import pyarrow as pa

    from custseg.table.notes import IdCounts

    distinct = [pa.array([f"C{i:07d}" for i in range(5_000)]),
                pa.array(["", " ", None, "x", "xy", "yx"])]
    repeated = [pa.array(["a", "b"]), pa.array(["c", " a".strip()])]
    for batches, repeats in ((distinct, 0), (repeated, 1)):
        counts = IdCounts()
        for batch in batches:
            counts.add(batch)
        assert len(counts.repeated()) == repeats


def test_repeated_and_blank_headers(model, write, tmp_path):
    src = write("dup.csv", "id,age,annual_income,spending_score,note,note,,\n"
                           "1,30,50,60,a,b,c,d\n2,40,60,70,e,f,g,h\n")
    out_csv, out_pq = tmp_path / "o.csv", tmp_path / "o.parquet"
    score_file(model, src, out_csv)
    assert out_csv.read_text().splitlines()[0].startswith(
        '"id","age","annual_income","spending_score","note","note","",""')
    score_file(model, src, out_pq)
    frame = pd.read_parquet(out_pq)
    assert list(frame.columns[:8]) == ["id", "age", "annual_income", "spending_score", "note",
                                       "note (2)", "(blank)", "(blank) (2)"]
    assert frame["note (2)"].tolist() == ["b", "f"]
    in_memory = custseg.score(model, src)
    assert in_memory["(blank) (2)"].tolist() == ["d", "h"]


def test_rescoring_a_scored_dataframe_keeps_the_old_columns(model):
    first = custseg.score(model, custseg.make_customers(20, seed=3))
    again = custseg.score(model, first)
    assert "segment_id_input" in again.columns
    assert list(again.columns[-6:]) == list(SCORE_COLUMNS)


def test_parquet_to_parquet_keeps_the_input_column_types(model, tmp_path):
    """Every input column unchanged, types included: numbers stay numbers, dates dates,
    nulls nulls; a CSV output has them as text, as a CSV holds everything."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 30
    table = pa.table({
        "CustomerID": pa.array([f"{i:05d}" for i in range(n)]),
        "Age": pa.array([20 + i for i in range(n)], pa.int64()),
        "Annual Income (k$)": pa.array([15.5 + i for i in range(n)], pa.float64()),
        "Spending Score (1-100)": pa.array([None if i == 3 else i + 1 for i in range(n)],
                                           pa.int32()),
        "Joined": pa.array(np.datetime64("2020-01-01", "ms")
                           + np.arange(n).astype("timedelta64[D]")).cast(pa.timestamp("ms")),
        "Member": pa.array([i % 2 == 0 for i in range(n)]),
        "Tier": pa.array(["gold" if i % 3 else "silver" for i in range(n)]).dictionary_encode(),
    })
    src = tmp_path / "in.parquet"
    pq.write_table(table, src, row_group_size=7)
    out = tmp_path / "out.parquet"
    score_file(model, src, out, batch_rows=5)
    scored = pq.read_table(out)
    for name in ("CustomerID", "Age", "Annual Income (k$)", "Spending Score (1-100)", "Joined",
                 "Member"):
        assert scored.column(name).type == table.column(name).type, name
        assert scored.column(name).to_pylist() == table.column(name).to_pylist(), name
    assert scored.column("Tier").to_pylist() == table.column("Tier").to_pylist()
    assert scored.column("row_status").to_pylist()[3] == "invalid"
    assert scored.column("segment_id").null_count == 1
    out_csv = tmp_path / "out.csv"
    score_file(model, src, out_csv)
    text = pd.read_csv(out_csv, dtype=str, keep_default_na=False)
    assert text["Age"].tolist()[:2] == ["20", "21"]
    assert text["Spending Score (1-100)"][3] == ""
