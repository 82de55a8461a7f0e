from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custseg.errors import SchemaError
from custseg.table.dates import (
    IMPOSSIBLE_DATE,
    NOT_DATE,
    DateFormat,
    decide_date_format,
    looks_like_dates,
    parse_dates,
)
from custseg.table.parse import MISSING, OK


def day(text: str) -> float:
    """Days since 1970-01-01 of an ISO date or datetime (UTC)."""
    stamp = pd.Timestamp(text)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return (stamp - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)


# ------------------------------------------------------------------- deciding


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["04-09-2012", "08-03-2014", "21-08-2013"], DateFormat("dmy", "-", "%d-%m-%Y")),
        (["1/3/2014", "2/14/2014", "12/1/2013"], DateFormat("mdy", "/", "%m/%d/%Y")),
        (["04.09.2012", "24.12.2012"], DateFormat("dmy", ".", "%d.%m.%Y")),
        (["2014-03-04", "2013-12-01"], DateFormat("iso", "-", "%Y-%m-%d")),
        (["2014/3/4", "2013/12/1"], DateFormat("iso", "/", "%Y/%m/%d")),
        (["2014-03-04 10:20:30", "2014-03-05"],
         DateFormat("iso", "-", "%Y-%m-%d %H:%M:%S", True)),
        (["3/14/2014 2:30:00 PM", "1/1/2014"],
         DateFormat("mdy", "/", "%m/%d/%Y %H:%M:%S", True)),
    ],
)
def test_the_format_is_decided_over_the_column(cells, expected):
    assert decide_date_format(cells, name="d") == expected


def test_one_cell_anywhere_decides_day_first():
    cells = ["04/05/2014"] * 5_000 + ["13/05/2014"] + ["01/02/2013"] * 5_000
    assert decide_date_format(cells, name="Dt_Customer").kind == "dmy"
    assert decide_date_format(["NA", "", None, "04/05/2014", "05/13/2014"], name="d").kind \
        == "mdy"


def test_no_cell_telling_the_order_is_refused_with_an_example_and_both_formats():
    with pytest.raises(SchemaError) as caught:
        decide_date_format(["04/05/2014", "01/02/2013", ""], name="Dt_Customer")
    error = caught.value
    assert error.message == (
        "'Dt_Customer': dates such as '04/05/2014' can be read day-first or month-first "
        "and no cell tells which; give the column's format: '%d/%m/%Y' (day first) or "
        "'%m/%d/%Y' (month first)"
    )
    assert (error.parameter, error.key) == ("date_formats", "Dt_Customer")
    assert "date_formats={'Dt_Customer': ...}" in str(error)


def test_cells_proving_both_orders_are_refused_naming_both():
    with pytest.raises(SchemaError, match=r"such as '25-12-2014' read day-first only and "
                       r"dates such as '12-25-2014' month-first only"):
        decide_date_format(["01-02-2014", "25-12-2014", "12-25-2014"], name="Joined")


def test_no_date_at_all_is_refused():
    with pytest.raises(SchemaError, match=r"'Notes': no cell reads as a date \(such as "
                       r"'hello'\)"):
        decide_date_format(["hello", "world"], name="Notes")
    with pytest.raises(SchemaError, match="'Empty' has no value to read as a date"):
        decide_date_format(["", None, "NA"], name="Empty")


def test_the_commonest_family_and_separator_win_and_the_rest_are_invalid():
    cells = ["04-09-2012", "21-08-2013", "10-12-2013", "2013-08-21", "21/08/2013"]
    fmt = decide_date_format(cells, name="Dt")
    assert fmt == DateFormat("dmy", "-", "%d-%m-%Y")
    parsed = parse_dates(cells, fmt)
    assert parsed.status.tolist() == [OK, OK, OK, NOT_DATE, NOT_DATE]


def test_a_year_column_and_a_given_format():
    assert decide_date_format([], name="Year_Birth", year_column=True) == \
        DateFormat("year", None, "%Y")
    fmt = decide_date_format(None, name="d", given="%d %b %Y")
    assert fmt == DateFormat("strftime", None, "%d %b %Y", False)
    assert decide_date_format(None, name="d", given="%Y%m%d %H:%M").with_time


@pytest.mark.parametrize(
    ("given", "problem"),
    [("dd-mm-yyyy", "has no strftime code"), ("%d-%m", r"has no year \(%Y\)"),
     ("%Y-%d", "does not name a year, a month and a day")],
)
def test_a_given_format_is_checked(given, problem):
    with pytest.raises(SchemaError, match=rf"'Dt': the date format '{given}' {problem}"):
        decide_date_format(["x"], name="Dt", given=given)


# -------------------------------------------------------------------- parsing


def test_day_first_cells_with_and_without_leading_zeros():
    fmt = DateFormat("dmy", "-", "%d-%m-%Y")
    parsed = parse_dates(["04-09-2012", "4-9-2012", "31-12-1999", " 01-01-1970 "], fmt)
    assert parsed.days.tolist() == [day("2012-09-04")] * 2 + [day("1999-12-31"), 0.0]
    assert parsed.status.tolist() == [OK] * 4
    assert parsed.year_only is False


def test_impossible_and_foreign_cells_are_flagged_and_missing_markers_are_missing():
    fmt = DateFormat("dmy", "/", "%d/%m/%Y")
    cells = ["31/02/2020", "29/02/2019", "29/02/2020", "00/01/2020", "12/13/2020",
             "2020-02-01", "hello", "", "NA", None, "n/a", "31/12/0000"]
    parsed = parse_dates(cells, fmt)
    assert parsed.status.tolist() == [
        IMPOSSIBLE_DATE, IMPOSSIBLE_DATE, OK, IMPOSSIBLE_DATE, IMPOSSIBLE_DATE,
        NOT_DATE, NOT_DATE, MISSING, MISSING, MISSING, MISSING, IMPOSSIBLE_DATE,
    ]
    assert parsed.days[2] == day("2020-02-29")
    assert np.isnan(np.delete(parsed.days, 2)).all()


def test_times_clocks_and_offsets():
    fmt = decide_date_format(["2014-03-04T10:20:30+02:00"], name="t")
    cells = ["2014-03-04T10:20:30+02:00", "2014-03-04T10:20:30-0500", "2014-03-04T10:20:30Z",
             "2014-03-04 10:20", "2014-03-04 10:20:30.75", "2014-03-01T00:30:00+02:00",
             "2014-03-04", "2014-03-04 25:00", "2014-03-04 23:59:60", "0000-01-01"]
    parsed = parse_dates(cells, fmt)
    assert parsed.days[:7].tolist() == pytest.approx([
        day("2014-03-04T08:20:30"), day("2014-03-04T15:20:30"), day("2014-03-04T10:20:30"),
        day("2014-03-04T10:20"), day("2014-03-04T10:20:30"), day("2014-02-28T22:30"),
        day("2014-03-04")])
    assert parsed.status.tolist() == [OK] * 7 + [IMPOSSIBLE_DATE] * 3
    twelve = parse_dates(["3/14/2014 2:30:00 PM", "3/14/2014 12:05 AM", "3/14/2014 2:30pm",
                          "3/14/2014 13:00 PM"], DateFormat("mdy", "/", "%m/%d/%Y", True))
    assert twelve.days[:3].tolist() == pytest.approx(
        [day("2014-03-14T14:30"), day("2014-03-14T00:05"), day("2014-03-14T14:30")])
    assert twelve.status[3] == IMPOSSIBLE_DATE


def test_a_year_column_reads_years_as_their_first_of_january():
    parsed = parse_dates(["1957", "1957.0", " 2100 ", "0999", "0000", "19570", "abc", ""],
                         DateFormat("year", None, "%Y"))
    assert parsed.year_only is True
    assert parsed.days[:3].tolist() == [day("1957-01-01"), day("1957-01-01"),
                                        day("2100-01-01")]
    assert parsed.status.tolist() == [OK, OK, OK, IMPOSSIBLE_DATE, IMPOSSIBLE_DATE,
                                      NOT_DATE, NOT_DATE, MISSING]


def test_a_given_format_is_read_exactly():
    parsed = parse_dates(["04 Mar 2014", "4 March 2014", "31 Feb 2014", "2014-03-04"],
                         DateFormat("strftime", None, "%d %b %Y"))
    assert parsed.days[0] == day("2014-03-04")
    assert parsed.status.tolist() == [OK, NOT_DATE, NOT_DATE, NOT_DATE]


def test_results_cannot_be_changed_by_the_caller():
    parsed = parse_dates(["2014-03-04"], DateFormat("iso", "-", "%Y-%m-%d"))
    with pytest.raises(ValueError, match="read-only"):
        parsed.days[0] = 0.0


@pytest.mark.parametrize(
    "column",
    [
        pa.chunked_array([["04-09-2012", None], ["21-08-2013"]]),
        pa.array(["04-09-2012", None, "21-08-2013"], type=pa.large_string()),
        pa.array(["04-09-2012", None, "21-08-2013"]).dictionary_encode(),
        pd.Series(["04-09-2012", np.nan, "21-08-2013"]),
        ["04-09-2012", None, "21-08-2013"],
    ],
)
def test_any_column_type(column):
    fmt = decide_date_format(column, name="Dt")
    parsed = parse_dates(column, fmt)
    assert parsed.days[[0, 2]].tolist() == [day("2012-09-04"), day("2013-08-21")]
    assert parsed.status.tolist() == [OK, MISSING, OK]


def test_a_million_rows():
    rng = np.random.default_rng(0)
    stamps = np.datetime64("2000-01-01") + rng.integers(0, 9_000, 1_000_000).astype(
        "timedelta64[D]")
    cells = pa.array(pd.Series(stamps).dt.strftime("%d/%m/%Y"))
    fmt = decide_date_format(cells, name="Signup")
    parsed = parse_dates(cells, fmt)
    assert fmt.kind == "dmy"
    assert (parsed.status == OK).all()
    assert np.array_equal(parsed.days, (stamps - np.datetime64("1970-01-01")).astype(float))


# ---------------------------------------------------------------------- looking


def test_looks_like_dates_is_the_share_of_date_cells():
    assert looks_like_dates(["04-09-2012", "2014-03-04", "x", "", None, "NA"]) == \
        pytest.approx(2 / 3)
    assert looks_like_dates(["1957", "1960", "2001"]) == 0.0  # years are not dates
    assert looks_like_dates(["13/13/2014", "4/5/2014 10:00"]) == 0.5
    assert looks_like_dates(["04-09/2012"]) == 0.0  # one separator throughout
    assert looks_like_dates([]) == 0.0


# ----------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(9999, 12, 31)),
             min_size=1, max_size=30),
    st.sampled_from(["-", "/", "."]),
    st.booleans(),
    st.sampled_from(["dmy", "mdy", "iso"]),
)
def test_any_real_date_written_any_accepted_way_reads_back(dates, sep, padded, kind):
    def write(d: dt.date) -> str:
        y, m, dd = f"{d.year:04d}", f"{d.month:02d}", f"{d.day:02d}"
        if not padded:
            m, dd = str(d.month), str(d.day)
        parts = {"dmy": (dd, m, y), "mdy": (m, dd, y), "iso": (y, m, dd)}[kind]
        return sep.join(parts)

    cells = [write(d) for d in dates]
    fmt = DateFormat(kind, sep, "")
    parsed = parse_dates(cells, fmt)
    expected = [(d - dt.date(1970, 1, 1)).days for d in dates]
    assert parsed.days.tolist() == expected
    assert looks_like_dates(cells) == 1.0
