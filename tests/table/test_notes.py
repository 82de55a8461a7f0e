from __future__ import annotations

import pandas as pd

from custseg.table.notes import (
    SUMMARY_NOTE,
    dollar_income_note,
    duplicate_notes,
    row_keys,
    summary_row_notes,
)


def test_blank_ids_are_not_duplicates():
    notes = duplicate_notes(pd.Series(["", "", None, "a"]))
    assert notes == {}


def test_row_keys_differ_on_values():
    df = pd.DataFrame({"customer_id": ["1", "1"], "age": ["30", "31"]})
    keys = row_keys(df)
    assert keys[0] != keys[1]


def test_duplicate_notes_say_same_or_conflicting_values():
    ids = pd.Series(["7", "8", "7", "9", "9"])
    keys = row_keys(pd.DataFrame({"customer_id": ids, "age": ["30", "1", "30", "2", "3"]}))
    assert duplicate_notes(ids, keys, offset=1) == {
        0: "customer_id '7' also on row 4 (same values)",
        2: "customer_id '7' also on row 2 (same values)",
        3: "customer_id '9' also on row 6 (conflicting values)",
        4: "customer_id '9' also on row 5 (conflicting values)",
    }


def test_summary_rows_are_whole_labels_only():
    notes = summary_row_notes(pd.Series(["C1", " Total ", "Totally", "Grand total:", None]))
    assert notes == {
        1: f"{SUMMARY_NOTE} ('Total'), not a customer",
        3: f"{SUMMARY_NOTE} ('Grand total:'), not a customer",
    }


def test_the_dollar_income_note_is_said_only_when_the_values_told_the_unit():
    assert dollar_income_note("Income", "default") is None
    assert dollar_income_note("Income", "header") is None
    assert dollar_income_note("Income", "values") == (
        "the income column 'Income' has no unit in its header and most of its values are "
        "above 1,000: read as dollars and converted to k$. If they are thousands of "
        "dollars, state the unit 'k$'")
