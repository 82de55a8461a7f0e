from __future__ import annotations

import pytest

from custseg.errors import SchemaError
from custseg.table.headers import match_headers, normalise_header


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


def test_missing_field_names_the_mapping_not_a_flag():
    with pytest.raises(SchemaError) as caught:
        match_headers(["ID", "Age"]).require(["age", "annual_income", "spending_score"])
    error = caught.value
    assert (error.parameter, error.key) == ("mapping", "annual_income")
    assert error.message.endswith("or map it explicitly")
    assert str(error).endswith("or map it explicitly (mapping={'annual_income': ...})")
    assert "--" not in error.message


def test_ambiguous_columns_name_the_mapping_not_a_flag():
    with pytest.raises(SchemaError) as caught:
        match_headers(["Age", "age", "Income"])
    error = caught.value
    assert error.message == (
        "columns 'Age' and 'age' could each be age; keep one, or map the one to use explicitly"
    )
    assert (error.parameter, error.key) == ("mapping", "age")
