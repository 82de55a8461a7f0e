from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from custseg.table.parse import normalise_gender, parse_numbers


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
