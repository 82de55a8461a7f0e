from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custseg.errors import SchemaError
from custseg.table.fields import Ranges
from custseg.table.notes import SUMMARY_NOTE
from custseg.table.validate import validate


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


def test_structural_rows_are_invalid_with_their_note_only():
    df = frame(age=[None, "30"], annual_income=[None, "5"], spending_score=[None, "5"])
    v = validate(df, structural={0: "line 2 has 3 fields"})
    assert v.valid.tolist() == [False, True]
    assert v.issues[0] == "line 2 has 3 fields"
    assert v.reasons == {"malformed row": 1}


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


def test_messages_of_a_row_keep_field_order_then_the_duplicate_note():
    df = frame(
        customer_id=["1", "1"],
        gender=["", "F"],
        age=["", "30"],
        annual_income=["20000", "5"],
        spending_score=["x", "5"],
    )
    v = validate(df, required=("gender", "age", "annual_income", "spending_score"))
    assert v.valid.tolist() == [False, True]
    assert v.issues[0] == (
        "gender: missing; age: missing; annual_income: 20,000 k$ is outside 0–10,000 k$. "
        "If this column is in dollars, say so: set the income unit to '$' or use a header "
        "like 'Annual Income ($)'; spending_score: 'x' is not a number; "
        "customer_id '1' also on row 2 (conflicting values)"
    )
    assert v.issues[1] == "customer_id '1' also on row 1 (conflicting values)"
    assert list(v.reasons.items()) == [
        ("gender missing", 1), ("age missing", 1), ("annual_income out of range", 1),
        ("spending_score not a number", 1),
    ]
    assert v.notes == {"duplicate customer_id": 2}


def test_income_hint_only_when_read_in_thousands():
    df = frame(age=["30"], annual_income=["20000000"], spending_score=["5"])
    v = validate(df, income_unit="$")
    assert v.issues[0] == "annual_income: 20,000 k$ is outside 0–10,000 k$"


def test_problems_in_fields_not_clustered_are_notes():
    df = frame(age=["", "abc", "300"], annual_income=["5"] * 3, spending_score=["5"] * 3)
    v = validate(df, required=("annual_income", "spending_score"))
    assert v.valid.all()
    assert v.issues.tolist() == [
        "",  # a missing value in a field not clustered on says nothing
        "age: 'abc' is not a number (not used for segmenting)",
        "age: 300 years is outside 16–100 years (not used for segmenting)",
    ]
    assert v.reasons == {}
    assert v.notes == {"age not a number": 1, "age out of range": 1}
    assert np.isnan(v.values["age"]).all()


def test_duplicate_notes_leave_rows_valid_and_can_come_from_the_caller():
    df = frame(customer_id=["1", "1", "2"], age=["30", "30", "40"],
               annual_income=["5"] * 3, spending_score=["5"] * 3)
    assert validate(df, duplicates={}).issues.tolist() == ["", "", ""]
    v = validate(df, duplicates={2: "seen in an earlier batch"})
    assert v.valid.all()
    assert v.issues.tolist() == ["", "", "seen in an earlier batch"]
    assert v.notes == {"duplicate customer_id": 1}


def test_structural_rows_keep_only_their_note_even_with_bad_cells():
    df = frame(
        customer_id=["7", "7", "Total", "8"],
        age=["abc", "30", "", "300"],
        annual_income=["20000", "5", "5", "5"],
        spending_score=["5", "5", "5", "5"],
    )
    summary = f"{SUMMARY_NOTE} ('Total'), not a customer"
    v = validate(df, structural={2: summary, 0: "line 2 has 6 fields"})
    assert v.valid.tolist() == [False, True, False, False]
    assert v.issues.tolist() == [
        "line 2 has 6 fields",
        "customer_id '7' also on row 1 (conflicting values)",
        summary,
        "age: 300 years is outside 16–100 years",
    ]
    assert list(v.reasons.items()) == [
        ("age out of range", 1), ("spreadsheet summary row", 1), ("malformed row", 1),
    ]
    assert v.notes == {"duplicate customer_id": 1}
    # the cells of a structural row are still parsed, out-of-range ones blanked
    assert v.values.loc[0, ["customer_id", "spending_score"]].tolist() == ["7", 5.0]
    assert v.values.loc[0, ["age", "annual_income"]].isna().all()


def test_a_huge_value_is_said_in_powers_of_ten_not_in_300_digits():
    v = validate(frame(age=["1e308"], annual_income=["50"], spending_score=["50"]))
    assert v.issues[0] == "age: 1e+308 years is outside 16–100 years"
    v = validate(frame(age=["30"], annual_income=["123456789012345678"], spending_score=["50"]))
    assert v.issues[0].startswith("annual_income: 1.23e+17 k$ is outside 0–10,000 k$.")


def test_a_small_value_keeps_its_digits_and_no_zero_is_negative():
    from custseg.table.fields import fmt_number

    # two decimals at most said 0.00123 (a conversion rate) and 1e-40 as "0", -0.004 as "-0"
    assert [fmt_number(v) for v in (0.00123, 1e-40, -0.004, -0.0, 0.0, 0.005, 12.345)] == [
        "0.00123", "1e-40", "-0.004", "0", "0", "0.01", "12.35"]


def test_figures_past_a_million_are_said_in_millions_billions_trillions():
    from custseg.table.fields import compact_number

    assert [compact_number(v) for v in (999_999.94, 13_680_295.5, -2_353_075.9, 4.2e9,
                                        7.77e12, 8.6e39, 12.345)] == [
        "999,999.9", "13.7M", "-2.4M", "4.2bn", "7.8T", "8.6e+39", "12.3"]
    assert compact_number(0.4712, 2) == "0.47"


def test_telling_digits_keeps_different_averages_apart():
    """Every segment's revenue read "12.3M" (they differed in the cents), and averages of
    1e17 + 16,000 all read "1e+17"."""
    from custseg.table.fields import compact_number, telling_digits

    revenues = [12_310_000.0, 12_340_000.0, 12_380_000.0]
    assert telling_digits(revenues, 1) == 2
    assert [compact_number(v, 2) for v in revenues] == ["12.31M", "12.34M", "12.38M"]
    cents = [12_345_678.21, 12_345_678.29]  # apart only past 3 decimals of millions
    assert telling_digits(cents, 1, most=3) == 1  # more digits that tell nothing: not taken
    assert telling_digits([61.5, 55.25, 40.1], 1) == 1  # the Mall's stay at one decimal
    assert telling_digits([50.0, 50.0], 1) == 1  # equal averages need no more
    assert telling_digits([1e17 + 16_000, 1e17], 1, most=15) > 1
    assert telling_digits([], 2) == 2
