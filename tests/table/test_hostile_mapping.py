"""Issue 10, class 12: one column feeds one field. A mapping never leaves a field reading
another field's column (``--map spending_score=Age`` used to take the age column for the
spending score, silently)."""

from __future__ import annotations

import pytest

from custseg.errors import SchemaError
from custseg.table.headers import match_headers

MALL = ["CustomerID", "Gender", "Age", "Annual Income (k$)", "Spending Score (1-100)"]


@pytest.mark.parametrize(
    ("mapping", "key", "words"),
    [
        ({"spending_score": "Age"}, "spending_score",
         "column 'Age' is the age column by its header, and the mapping gives it to "
         "spending_score; one column feeds one field"),
        ({"age": "Spending Score (1-100)"}, "age", "is the spending_score column by its header"),
        ({"annual_income": "CustomerID"}, "annual_income", "is the customer_id column"),
        ({"gender": "Age"}, "gender", "is the age column"),
        ({"age": "Gender", "gender": "Gender"}, "gender", "gives column 'Gender' to both age and "
         "gender"),
        ({"age": "Age", "spending_score": "Age"}, "spending_score", "to both age and "
         "spending_score"),
    ],
)
def test_a_column_feeds_one_field(mapping, key, words):
    with pytest.raises(SchemaError) as caught:
        match_headers(MALL, mapping)
    assert (caught.value.parameter, caught.value.key) == ("mapping", key)
    assert words in caught.value.message
    assert "--" not in caught.value.message


@pytest.mark.parametrize(
    ("mapping", "fields"),
    [
        # the displaced field is mapped elsewhere: a deliberate swap is fine
        ({"age": "Spending Score (1-100)", "spending_score": "Age"},
         {"age": 4, "spending_score": 2}),
        # a column whose header names the same field, or no field
        ({"age": "Age"}, {"age": 2}),
        ({"age": "Years"}, {"age": 5}),
    ],
)
def test_mappings_that_keep_one_field_per_column_are_accepted(mapping, fields):
    match = match_headers([*MALL, "Years"], mapping)
    for name, position in fields.items():
        assert match.fields[name] == position
    assert len(set(match.fields.values())) == len(match.fields)
