"""Every class of hostile input: a clear refusal, or every row back, in order."""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pandas as pd
import pytest
from hostile_cases import BOMB_LIMIT_MB, cases
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import custseg
from custseg.cli import main
from custseg.errors import CustsegError
from custseg.io.score_files import score_file
from custseg.io.source import ReadLimits, read_table
from custseg.table.fields import NUMERIC_FIELDS

LIMITS = ReadLimits(max_decompressed_bytes=BOMB_LIMIT_MB << 20)
CASES = {c.name: c for c in cases()}


@pytest.fixture(scope="module")
def model():
    return custseg.fit(custseg.make_customers(500, seed=3))


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_reader(case, tmp_path):
    path = tmp_path / case.name
    path.write_bytes(case.content)
    if case.refuse:
        with pytest.raises(CustsegError, match=case.refuse):
            read_table(path, limits=LIMITS).match.require(NUMERIC_FIELDS)
    else:
        assert read_table(path, limits=LIMITS).n_rows == case.rows


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_cli_score(case, tmp_path, capsys, model):
    model_path = tmp_path / "m.custseg"
    custseg.save_model(model, model_path)
    src = tmp_path / case.name
    src.write_bytes(case.content)
    out = tmp_path / "out.csv"
    code = main(["score", str(model_path), str(src), "-o", str(out), "--max-decompressed-mb",
                 str(BOMB_LIMIT_MB)])
    _, err = capsys.readouterr()
    if case.refuse:
        assert code == 2
        assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
        assert re.search(case.refuse, err)
        assert not out.exists()
        return
    assert code == 0, err
    scored = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(scored) == case.rows
    assert set(scored["row_status"]) <= {"ok", "invalid"}
    invalid = scored["row_status"] == "invalid"
    assert (scored.loc[invalid, "row_issues"] != "").all()
    assert (scored.loc[invalid, "segment_id"] == "").all()


def test_bomb_names_the_limit_in_each_face_own_terms(tmp_path, capsys, model):
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(CASES["bomb.csv.gz"].content)
    with pytest.raises(CustsegError) as caught:
        read_table(path, limits=LIMITS)
    assert caught.value.parameter == "max_decompressed_mb"
    assert "--" not in caught.value.message
    assert str(caught.value).endswith("raise the limit (max_decompressed_mb)")
    model_path = tmp_path / "m.custseg"
    custseg.save_model(model, model_path)
    code = main(["score", str(model_path), str(path), "-o", str(tmp_path / "o.csv"),
                 "--max-decompressed-mb", str(BOMB_LIMIT_MB)])
    assert code == 2
    assert capsys.readouterr().err.strip().endswith("raise the limit (--max-decompressed-mb)")


def score_case(name, tmp_path, model) -> pd.DataFrame:
    src = tmp_path / name
    src.write_bytes(CASES[name].content)
    out = tmp_path / "out.csv"
    score_file(model, src, out, limits=LIMITS)
    raw = out.read_bytes()
    raw.decode("utf-8")  # output is always UTF-8
    return pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)


def test_windows_1252_round_trips_as_utf8(tmp_path, model):
    scored = score_case("windows1252.csv", tmp_path, model)
    assert scored["Gender"].tolist() == ["Féminin “quoted”", "Male"]


def test_utf16_tab_separated(tmp_path, model):
    scored = score_case("excel_unicode.txt", tmp_path, model)
    assert scored["row_status"].eq("ok").all()
    assert scored["CustomerID"].iloc[0] == "00001"


def test_decimal_comma_values(tmp_path, model):
    scored = score_case("semicolon_decimal_comma.csv", tmp_path, model)
    assert scored["row_status"].tolist() == ["ok", "ok"]
    assert scored["Age"].tolist() == ["30,5", "31"]  # input cells unchanged


def test_messy_headers_pass_through(tmp_path, model):
    scored = score_case("messy_headers.csv", tmp_path, model)
    assert scored.columns[:10].tolist() == [
        "Unnamed: 0", " SPENDING_SCORE ", "Favourite Colour", "annual income (K$)", " AGE ",
        "Discount Percentage", "Income Tax Band", "Spending Category", "customer id", "GENDER"]
    assert scored["Favourite Colour"].tolist() == ["blue", "red"]
    assert scored["row_status"].tolist() == ["ok", "ok"]


def test_values_are_flagged_never_guessed(tmp_path, model):
    s = score_case("values.csv", tmp_path, model).set_index("CustomerID")
    for cid in ["1", "2", "3", "4", "5", "6", "7"]:
        assert s.loc[cid, "row_issues"] == "age: missing"
    assert s.loc["8", "row_issues"] == "age: -4 years is outside 16–100 years"
    assert s.loc["9", "row_issues"] == "age: 250 years is outside 16–100 years"
    assert s.loc["10", "row_issues"].startswith("annual_income: 1,000,000,000,000 k$ is outside")
    assert s.loc["11", "row_issues"] == "spending_score: 150 points is outside 1–100 points"
    assert s.loc["12", "row_issues"] == "spending_score: -1 points is outside 1–100 points"
    assert s.loc["13", "row_status"] == "ok"  # $15,000 = 15 k$
    assert s.loc["14", "row_status"] == "ok"  # USD 137,000 = 137 k$
    assert "16,000 k$ is outside 0–10,000 k$. If this column is in dollars" in s.loc["15", "row_issues"]
    assert s.loc["16", "row_issues"] == "age: '**5**' is not a number"
    assert s.loc["17", "row_issues"] == "age: '<b>5</b>' is not a number"
    assert s.loc[["18", "19", "20"], "row_status"].tolist() == ["ok", "ok", "ok"]


def test_rows_keep_their_place(tmp_path, model):
    s = score_case("rows.csv", tmp_path, model)
    assert s["CustomerID"].tolist() == [
        "00001", "", "", "", "18446744073709551617", "00004", "00001", "00005", "00005",
        "Total", "Average"]
    assert s["row_status"].tolist() == [
        "ok", "invalid", "invalid", "invalid", "ok", "ok", "ok", "ok", "ok", "invalid", "invalid"]
    assert s.loc[1, "row_issues"].startswith("line 3 has 4 fields where the header has 5")
    assert s.loc[2, "row_issues"].startswith("line 4 has 6 fields where the header has 5")
    assert s.loc[3, "row_issues"].startswith("age: missing")
    assert s.loc[5, "Gender"] == 'Fe, "quoted"\nline'
    assert s.loc[0, "row_issues"] == "customer_id '00001' also on row 7 (same values)"
    assert s.loc[7, "row_issues"] == "customer_id '00005' also on row 9 (conflicting values)"
    assert s.loc[9, "row_issues"] == "looks like a spreadsheet summary row ('Total'), not a customer"
    assert s.loc[10, "row_issues"] == "looks like a spreadsheet summary row ('Average'), not a customer"


def test_formulas_are_neutralised(tmp_path, model):
    s = score_case("formulas.csv", tmp_path, model)
    assert s["Note"].tolist() == ["'=1+1", "'+cmd", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx",
                                  "'＝1+1", "-5"]


def test_compressed_inputs(tmp_path, model):
    assert len(score_case("customers.csv.gz", tmp_path, model)) == 40
    assert len(score_case("customers.zip", tmp_path, model)) == 40


def test_row_cap(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(CASES["tabs.tsv"].content)
    with pytest.raises(CustsegError, match="has more than 10 rows, the limit here"):
        read_table(path, limits=ReadLimits(max_rows=10))


# ---------------------------------------------------------------- fuzzing


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=600))
def test_fuzz_score_file_bytes(data, tmp_path_factory, model):
    folder = tmp_path_factory.mktemp("fuzz")
    src, out = folder / "in.csv", folder / "out.csv"
    src.write_bytes(HEADER_BYTES + data)
    try:
        report = score_file(model, src, out, limits=LIMITS)
    except CustsegError:
        assert not out.exists()
        return
    table = read_table(src)
    assert report.n_rows == table.n_rows
    assert len(pd.read_csv(out, dtype=str, keep_default_na=False)) == table.n_rows


HEADER_BYTES = b"customer_id,age,annual_income,spending_score,gender\n"

cell = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["NA", "?", "", "-", "=1+1", "$5k", "3,5", "1e9", "Total", "00017", " M "]),
    st.integers(-10, 200).map(str),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.text(alphabet="0123456789ab", min_size=1, max_size=6),
                               cell, cell, cell, cell), min_size=1, max_size=25))
def test_invariant_rows_order_and_ids(rows, tmp_path_factory, model):
    """For any accepted input: output rows == input rows, in order, ids unchanged."""
    frame = pd.DataFrame(rows, columns=["customer_id", "age", "annual_income",
                                        "spending_score", "gender"])
    folder = tmp_path_factory.mktemp("inv")
    src, out = folder / "in.csv", folder / "out.csv"
    # Quoted, so that every frame row is one record (a bare CR would be a line break).
    frame.to_csv(src, index=False, quoting=csv.QUOTE_ALL)
    try:
        score_file(model, src, out, limits=LIMITS)
    except CustsegError:
        return
    scored = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(scored) == len(frame)
    ids = scored["customer_id"].str.removeprefix("'")
    assert ids.tolist() == frame["customer_id"].tolist()


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(cell, cell, cell, cell), min_size=1, max_size=20))
def test_fuzz_scorer_on_frames(rows):
    model = _MODEL
    frame = pd.DataFrame(rows, columns=["age", "annual_income", "spending_score", "gender"],
                         dtype=object)
    try:
        scored = custseg.score(model, frame)
    except CustsegError:
        return
    assert len(scored) == len(frame)
    ok = scored["row_status"] == "ok"
    assert scored.loc[ok, "segment_id"].notna().all()
    assert scored.loc[~ok, "segment_id"].isna().all()
    assert np.all((scored.loc[ok, "confidence"] > 0) & (scored.loc[ok, "confidence"] <= 1))


_MODEL = custseg.fit(custseg.make_customers(300, seed=4))
