from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custseg.errors import SchemaError
from custseg.table.fields import Ranges
from custseg.table.headers import match_headers, normalise_header
from custseg.table.notes import duplicate_notes, row_keys
from custseg.table.parse import normalise_gender, parse_numbers
from custseg.table.validate import validate


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Annual Income (k$)", "annual_income_kusd"),
        ("Spending Score (1-100)", "spending_score_1_100"),
        ("\ufeffCustomerID", "customer_id"),
        ("  AGE ", "age"),
        ("Âge", "age"),
        ("SpendingScore", "spending_score"),
        ("Unnamed: 0", "unnamed_0"),
    ],
)
def test_normalise_header(header, expected):
    assert normalise_header(header) == expected


def test_match_mall_headers():
    match = match_headers(
        ["CustomerID", "Gender", "Age", "Annual Income (k$)", "Spending Score (1-100)"]
    )
    assert match.fields == {
        "customer_id": 0, "gender": 1, "age": 2, "annual_income": 3, "spending_score": 4,
    }
    assert (match.income_unit, match.income_unit_source) == ("k$", "header")
    assert match.ignored == ()


def test_decoys_are_not_matched_by_substring():
    match = match_headers(
        ["ID", "Discount Percentage", "Income Tax Band", "Spending Category", "Average Age",
         "Income", "Spending Score"]
    )
    assert match.fields == {"customer_id": 0, "annual_income": 5, "spending_score": 6}
    assert match.ignored == ("Discount Percentage", "Income Tax Band", "Spending Category",
                             "Average Age")
    assert match.income_unit_source == "default"


def test_income_unit_from_header_and_override():
    assert match_headers(["Annual Income ($)"]).income_unit == "$"
    assert match_headers(["income_usd"]).income_unit == "$"
    given = match_headers(["Income"], income_unit="$")
    assert (given.income_unit, given.income_unit_source) == ("$", "given")
    with pytest.raises(SchemaError, match="income unit 'EUR' is not supported"):
        match_headers(["Income"], income_unit="EUR")


def test_two_columns_for_one_field_is_an_error():
    with pytest.raises(SchemaError, match=r"columns 'Age' and 'age' could each be age"):
        match_headers(["Age", "age", "Income"])


def test_explicit_mapping_wins_and_is_checked():
    match = match_headers(["Years", "Age"], mapping={"age": "Years"})
    assert match.fields == {"age": 0}
    assert match.ignored == ("Age",)
    with pytest.raises(SchemaError, match="no such column"):
        match_headers(["Years"], mapping={"age": "Yrs"})
    with pytest.raises(SchemaError, match="unknown field 'height'"):
        match_headers(["Years"], mapping={"height": "Years"})


def test_missing_required_field_is_named():
    match = match_headers(["ID", "Age"])
    with pytest.raises(SchemaError, match=r"no column for annual_income, spending_score.*'ID', 'Age'"):
        match.require(["age", "annual_income", "spending_score"])


def test_missing_markers_are_missing_never_zero():
    cells = pd.Series(["?", "NA", "N/A", "null", "None", "-", "", "  ", "nan", "#N/A", "7"])
    parsed = parse_numbers(cells)
    assert np.isnan(parsed.values[:-1]).all()
    assert (parsed.status[:-1] == 1).all()
    assert parsed.values[-1] == 7


@pytest.mark.parametrize(
    ("cell", "unit", "expected"),
    [
        ("$15,000", "k$", 15.0),
        ("USD 137,000", "k$", 137.0),
        ("US$ 20k", "k$", 20.0),
        ("16,000.00", "k$", 16000.0),  # a bare number is in the column's unit
        ("54000", "$", 54.0),
        ("70", "k$", 70.0),
        ("1 234", "k$", 1234.0),
    ],
)
def test_money_parsing(cell, unit, expected):
    parsed = parse_numbers(pd.Series([cell]), money_unit=unit)
    assert parsed.values[0] == pytest.approx(expected)


def test_money_markers_are_not_numbers_outside_money():
    parsed = parse_numbers(pd.Series(["$15", "15k", "<b>5</b>", "**5**", "5 5", "1,23"]))
    assert (parsed.status == 2).all()


def test_other_currency_is_flagged():
    parsed = parse_numbers(pd.Series(["€50,000", "GBP 3"]), money_unit="k$")
    assert (parsed.status == 3).all()


def test_decimal_comma():
    parsed = parse_numbers(pd.Series(["30,5", "1.234,5", "12.5"]), decimal=",")
    assert parsed.values.tolist() == [30.5, 1234.5, 12.5]


def test_numeric_dtype_passes_through():
    parsed = parse_numbers(pd.Series([1.5, np.nan, np.inf]))
    assert parsed.values[0] == 1.5
    assert parsed.status.tolist() == [0, 1, 2]


def test_gender_aliases_and_other_answers():
    got = normalise_gender(
        pd.Series(["M", "f", "male", "FEMALE", " Male ", "Woman", "Non-binary", "", "?", None])
    )
    assert got.tolist()[:7] == ["Male", "Female", "Male", "Female", "Male", "Female", "Non-binary"]
    assert got.isna().tolist()[7:] == [True, True, True]


def frame(**cols):
    return pd.DataFrame(cols)


def test_invalid_rows_name_field_value_and_range():
    df = frame(
        age=["30", "-5", "abc", "", "40"],
        annual_income=["50", "50", "50", "50", "20000"],
        spending_score=["50", "50", "50", "50", "150"],
    )
    v = validate(df)
    assert v.valid.tolist() == [True, False, False, False, False]
    assert v.issues[0] == ""
    assert v.issues[1] == "age: -5 years is outside 16–100 years"
    assert v.issues[2] == "age: 'abc' is not a number"
    assert v.issues[3] == "age: missing"
    assert "annual_income: 20,000 k$ is outside 0–10,000 k$. If this column is in dollars" in v.issues[4]
    assert "spending_score: 150 points is outside 1–100 points" in v.issues[4]
    assert v.reasons["age out of range"] == 1
    assert v.reasons["age missing"] == 1
    assert np.isnan(v.values["age"][1])


def test_fields_not_clustered_are_reported_but_do_not_invalidate():
    df = frame(age=["200", "30"], annual_income=["50", "60"], spending_score=["5", "6"])
    v = validate(df, required=("annual_income", "spending_score"))
    assert v.valid.tolist() == [True, True]
    assert v.issues[0] == "age: 200 years is outside 16–100 years (not used for segmenting)"


def test_ranges_are_configurable():
    df = frame(age=["17"], annual_income=["50"], spending_score=["5"])
    assert validate(df).valid.tolist() == [True]
    assert validate(df, ranges=Ranges(age=(18, 90))).valid.tolist() == [False]
    with pytest.raises(SchemaError, match="low < high"):
        Ranges(age=(90, 18))


def test_gender_required_only_when_clustered():
    df = frame(gender=["", "F"], age=["30", "31"], annual_income=["5", "6"], spending_score=["5", "6"])
    assert validate(df).valid.tolist() == [True, True]
    v = validate(df, required=("age", "gender"))
    assert v.valid.tolist() == [False, True]
    assert v.issues[0] == "gender: missing"


def test_duplicate_ids_are_reported_on_every_row_concerned():
    df = frame(
        customer_id=["1", "2", "1", "3", "3", "1"],
        age=["30", "31", "30", "40", "41", "30"],
        annual_income=["5"] * 6,
        spending_score=["5"] * 6,
    )
    v = validate(df)
    assert v.valid.all()
    assert v.issues[0] == "customer_id '1' also on row 3, 6 (same values)"
    assert v.issues[2] == "customer_id '1' also on row 1, 6 (same values)"
    assert v.issues[3] == "customer_id '3' also on row 5 (conflicting values)"
    assert v.issues[1] == ""


def test_blank_ids_are_not_duplicates():
    notes = duplicate_notes(pd.Series(["", "", None, "a"]))
    assert notes == {}


def test_structural_rows_are_invalid_with_their_note_only():
    df = frame(age=[None, "30"], annual_income=[None, "5"], spending_score=[None, "5"])
    v = validate(df, structural={0: "line 2 has 3 fields"})
    assert v.valid.tolist() == [False, True]
    assert v.issues[0] == "line 2 has 3 fields"
    assert v.reasons == {"malformed row": 1}


def test_row_keys_differ_on_values():
    df = frame(customer_id=["1", "1"], age=["30", "31"])
    keys = row_keys(df)
    assert keys[0] != keys[1]


texts = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["NA", "-", "1e400", "$5k", "3,5"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(texts, texts, texts, texts, texts), max_size=30))
def test_validate_never_raises_and_keeps_every_row(rows):
    df = pd.DataFrame(rows, columns=["customer_id", "gender", "age", "annual_income", "spending_score"],
                      dtype=object)
    v = validate(df, required=("age", "annual_income", "spending_score", "gender"))
    assert v.n_rows == len(rows)
    assert len(v.values) == len(rows)
    # every invalid row says why
    assert all(v.issues[i] for i in np.flatnonzero(~v.valid))
