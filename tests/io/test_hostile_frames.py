"""DataFrames of mixed Python objects (issue 10, class 9 leftovers): a column holding ints
and text, None, bytes, nested lists, Decimals, dates, integers past 64 bits or lone
surrogates is read as text cell by cell; every row comes back, flagged where a value does
not parse. Never a TypeError or ArrowInvalid."""

from __future__ import annotations

import datetime
import decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import custseg
from custseg.io.source import table_from_frame
from custseg.table.parse import cell_text, to_arrow_text

HEADERS = ["CustomerID", "Age", "Annual Income (k$)", "Spending Score (1-100)"]
FIELDS = ["age", "annual_income", "spending_score"]


@pytest.fixture(scope="module")
def model():
    return custseg.fit(custseg.make_customers(300, seed=1), params={"n_clusters": 3})


class Odd:
    """A user object whose text cannot even be made."""

    def __str__(self) -> str:
        raise RuntimeError("no text")


#: Values no number can be read from (each a different Python type).
UNUSABLE = st.one_of(
    st.none(),
    st.just(float("nan")),
    st.just(pd.NaT),
    st.just(pd.NA),
    st.lists(st.integers(0, 9), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.datetimes(min_value=datetime.datetime(1900, 1, 1)),
    st.dates(),
    st.timedeltas(),
    st.booleans(),
    st.integers(min_value=2**64, max_value=2**90),
    st.complex_numbers(allow_nan=False, allow_infinity=False, min_magnitude=1),
    st.just(b"\xff\xfe"),
    st.text(alphabet="xyz", min_size=1, max_size=3),
    st.sampled_from(["\ud800", "4\udc000", "abc\udfff"]),
    st.builds(object),
    st.builds(Odd),
    st.just(frozenset({1})),
)
#: Values that read as an age of 30 to 60 (every field accepts that range).
USABLE = st.integers(30, 60).flatmap(lambda v: st.sampled_from([
    v, float(v), str(v), f" {v} ", str(v).encode(), decimal.Decimal(v), np.int64(v),
    np.float32(v),
]))
CELL = st.one_of(st.tuples(st.just(True), USABLE), st.tuples(st.just(False), UNUSABLE))


@st.composite
def mixed_frames(draw):
    rows = draw(st.integers(1, 12))
    cells = draw(st.lists(st.lists(CELL, min_size=3, max_size=3), min_size=rows,
                          max_size=rows))
    ids = draw(st.lists(st.one_of(st.integers(), st.text(max_size=4), st.none(), st.binary(
        max_size=3), UNUSABLE), min_size=rows, max_size=rows))
    frame = pd.DataFrame({HEADERS[0]: pd.Series(ids, dtype=object)})
    for j, header in enumerate(HEADERS[1:]):
        frame[header] = pd.Series([c[j][1] for c in cells], dtype=object)
    usable = [all(c[j][0] for j in range(3)) for c in cells]
    return frame, usable


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_frames())
def test_every_row_back_and_flagged_unless_all_three_values_read(model, drawn):
    frame, usable = drawn
    scored = custseg.score(model, frame)
    assert len(scored) == len(frame)
    assert list(scored.index) == list(frame.index)
    status = scored["row_status"].tolist()
    assert status == ["ok" if u else "invalid" for u in usable]
    for issues, ok in zip(scored["row_issues"], usable, strict=True):
        assert ok or issues  # an invalid row says why (a valid one may carry notes)
    # the caller's own cells are returned untouched
    for header in HEADERS:
        assert all(a is b for a, b in zip(scored[header], frame[header], strict=True))


@settings(max_examples=100, deadline=None)
@given(mixed_frames())
def test_table_from_frame_reads_every_cell_as_text(drawn):
    frame, _ = drawn
    table = table_from_frame(frame)
    assert table.n_rows == len(frame)
    fields = table.fields_frame()
    assert len(fields) == len(frame)


@pytest.mark.parametrize(
    ("column", "texts"),
    [
        ([1, "x", None], ["1", "x", None]),
        ([b"30", 40, float("nan")], ["30", "40", None]),
        ([[1, 2], {"a": 1}, 3], ["[1, 2]", "{'a': 1}", "3"]),
        ([decimal.Decimal("30.5"), datetime.date(2020, 1, 2), "y"],
         ["30.5", "2020-01-02", "y"]),
        ([2**70, 1, pd.NA], [str(2**70), "1", None]),
        (["\ud800", "ok", b"\xff"], ["\ufffd", "ok", "\ufffd"]),
        ([Odd(), 1, pd.NaT], ["<Odd>", "1", None]),
    ],
    ids=["int-str-none", "bytes-nan", "nested", "decimal-date", "bigint-na", "surrogate-bytes",
         "unprintable"],
)
def test_mixed_columns_read_as_a_file_would_hold_them(column, texts):
    series = pd.Series(column, dtype=object)
    assert to_arrow_text(series).to_pylist() == texts
    assert [cell_text(v) for v in column] == texts
    frame = pd.DataFrame({"CustomerID": ["a", "b", "c"], "Age": series,
                          "Annual Income (k$)": [50, 60, 70],
                          "Spending Score (1-100)": [40, 50, 60]})
    table = table_from_frame(frame)
    assert table.data.column(1).to_pylist() == texts


@pytest.mark.parametrize(
    "first",
    [datetime.datetime(2000, 1, 1), datetime.date(2000, 1, 1), pd.Timestamp("2000-01-01"),
     decimal.Decimal("2.5"), True],
    ids=["datetime", "date", "timestamp", "decimal", "bool"],
)
def test_a_number_next_to_a_value_of_another_kind_keeps_its_own_value(model, first):
    """Found by the property above in CI: arrow typed an object column [date, 30] as
    timestamps and read the integer 30 as 1970-01-01 00:00:00.00003, so a valid row was
    flagged. Each cell is read as itself."""
    frame = pd.DataFrame({"CustomerID": ["a", "b"], "Age": [30, 30],
                          "Annual Income (k$)": [30, 30],
                          "Spending Score (1-100)": pd.Series([first, 30], dtype=object)})
    assert table_from_frame(frame).data.column(3).to_pylist()[1] == "30"
    scored = custseg.score(model, frame)
    assert scored["row_status"].tolist()[1] == "ok"
    assert scored["segment_id"].tolist()[1] >= 0


def test_a_mixed_id_column_keeps_every_row_with_its_text(model):
    frame = pd.DataFrame({"CustomerID": pd.Series([7, "007", b"id", None, 2**70], dtype=object),
                          "Age": [30, 31, 32, 33, 34], "Annual Income (k$)": [50] * 5,
                          "Spending Score (1-100)": [40] * 5})
    scored = custseg.score(model, frame)
    assert scored["row_status"].tolist() == ["ok"] * 5
    assert table_from_frame(frame).data.column(0).to_pylist() == [
        "7", "007", "id", None, str(2**70)]


def test_headers_of_any_type_are_text():
    frame = pd.DataFrame([[1, 30, 50, 40]], columns=[0, "Age", "Annual Income (k$)",
                                                      "Spending Score (1-100)"])
    frame.columns = pd.Index([b"CustomerID", "Age\ud800", "Annual Income (k$)",
                              "Spending Score (1-100)"], dtype=object)
    table = table_from_frame(frame)
    assert table.header == ("CustomerID", "Age\ufffd", "Annual Income (k$)",
                            "Spending Score (1-100)")
