"""Dates written as text: which format a column uses, decided over the whole column, and
its cells read as day numbers.

Accepted, as real exports write them:

- ISO, year first (``2014-03-04``, ``2014/3/4``), with or without a time
  (``2014-03-04 10:20``, ``2014-03-04T10:20:30.5Z``, ``…+02:00``: an offset is applied,
  giving UTC; fractions of a second are dropped);
- day-first and month-first, with ``/``, ``-`` or ``.`` and four-digit years, with or
  without leading zeros (``1/3/2014``, ``08-11-2016``, ``04.09.2012``), with or without a
  time (``3/14/2014 2:30:00 PM``, ``14.03.2014 14:30``);
- bare four-digit years in a year column (``Year_Birth`` = 1957 is 1 January 1957, never
  a timestamp in seconds); ``1957.0``, as pandas writes a year column with blanks, too;
- any strftime format the user states (``%d %b %Y``).

Whether ``04/05/2014`` is 4 May or 5 April is decided for the whole column: a cell whose
first part is above 12 proves day-first, one whose second part is, month-first. A column
where no cell tells, or where cells tell both, is refused with an example, never guessed:
a guess saved in a model would misread every later file. The family (ISO or day-month) and
the separator are those most rows use; a cell written another way is invalid, flagged.

Everything runs on the column's distinct cells (:mod:`custseg.table.cells`) with arrow's
vectorised regular expressions and its C ``strptime``, so a million rows take about a
second even when every one is a different timestamp; an impossible date (31/02/2020,
year 0, 25:00) is a flagged cell, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custseg.errors import SchemaError, shown
from custseg.table.cells import distinct_cells
from custseg.table.parse import MISSING, OK

#: Status codes for date cells, after :mod:`custseg.table.parse`'s OK (0) and MISSING (1):
#: text that is not a date in the column's format, and a date that cannot exist.
NOT_DATE, IMPOSSIBLE_DATE = 5, 6
#: Why a date cell is not used, by status code.
DATE_REASONS: Mapping[int, str] = {
    NOT_DATE: "not a date in the column's format",
    IMPOSSIBLE_DATE: "not a real date (such as 31/02 or month 13)",
}

KINDS = ("iso", "dmy", "mdy", "year", "strftime")
SEPARATORS = ("-", "/", ".")

# The grammar, as RE2 patterns (arrow's regular expressions). SEP stands for one
# separator, the same throughout a cell.
_TIME = (r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
         r"(?: ?[AaPp][Mm]|Z|[+-]\d{2}:?\d{2})?)?")
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_OVER_12 = r"(?:1[3-9]|2\d|3[01])"
_SHAPES = {
    "iso": r"\d{4}SEP\d{1,2}SEP\d{1,2}",
    "dm": r"\d{1,2}SEP\d{1,2}SEP\d{4}",
}
_PLAUSIBLE = {
    "iso": rf"\d{{4}}SEP{_MONTH}SEP{_DAY}",
    "dm": rf"(?:{_DAY}SEP{_MONTH}|{_MONTH}SEP{_DAY})SEP\d{{4}}",
}
_DAY_FIRST = rf"^{_OVER_12}SEP{_MONTH}SEP"
_MONTH_FIRST = rf"^{_MONTH}SEP{_OVER_12}SEP"
_YEAR = r"^\d{4}(?:\.0+)?$"
_TIME_CODES = frozenset({"%H", "%I", "%M", "%S", "%p", "%X", "%c", "%T", "%R"})
_EPOCH = np.datetime64("1970-01-01", "D")
_FIRST_DAY = float((np.datetime64("0001-01-01", "D") - _EPOCH).astype(np.int64))


def _with(template: str, separator: str) -> str:
    return template.replace("SEP", "\\" + separator)


def _any_separator(template: str) -> str:
    """``template`` with any one separator, the same throughout: an alternation."""
    return "|".join(f"(?:{_with(template, s)})" for s in SEPARATORS)


def _whole(date: str) -> str:
    return f"^(?:{date}){_TIME}$"


@dataclass(frozen=True)
class DateFormat:
    """How one column writes its dates.

    ``kind`` is ``"iso"``, ``"dmy"``, ``"mdy"``, ``"year"`` or ``"strftime"`` (stated by
    the user); ``separator`` the mark between the parts (None for years and stated
    formats); ``pattern`` the strftime format the kind stands for (``%d-%m-%Y``,
    ``%Y-%m-%d %H:%M:%S``); and ``with_time`` whether some cell has a time of day. In
    every kind but ``strftime``, which is read exactly as stated, a cell may carry a
    time or not, with or without seconds, as a 24- or 12-hour clock.
    """

    kind: str
    separator: str | None
    pattern: str
    with_time: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown date kind {self.kind!r}; one of {KINDS}")
        if self.kind in ("iso", "dmy", "mdy") and self.separator not in SEPARATORS:
            raise ValueError(f"a {self.kind} date needs a separator among {SEPARATORS}")


@dataclass(frozen=True, eq=False)
class ParsedDates:
    """A column's dates: ``days`` since 1970-01-01 (float64, the time of day as a
    fraction; NaN where not a date) and a ``status`` per cell (int8: parse's OK and
    MISSING, or :data:`NOT_DATE` / :data:`IMPOSSIBLE_DATE`). ``year_only``: the column
    holds years, each read as its 1 January."""

    days: np.ndarray
    status: np.ndarray
    year_only: bool = False


def _bools(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _match(values: pa.Array, pattern: str) -> np.ndarray:
    return _bools(pc.match_substring_regex(values, pattern))


# --------------------------------------------------------------------------- deciding


def _pattern(kind: str, separator: str, with_time: bool) -> str:
    order = {"iso": ("%Y", "%m", "%d"), "dmy": ("%d", "%m", "%Y"), "mdy": ("%m", "%d", "%Y")}
    date = separator.join(order[kind])
    return f"{date} %H:%M:%S" if with_time else date


def _codes(fmt: str) -> set[str]:
    out, i = set(), 0
    while i < len(fmt) - 1:
        if fmt[i] == "%":
            out.add(fmt[i:i + 2])
            i += 2
        else:
            i += 1
    return out


def _check_given(name: str, given: object) -> DateFormat:
    """A stated strftime format, checked: it must name a year, and read back the date
    it writes."""
    problem = None
    if not isinstance(given, str) or "%" not in given:
        problem = "has no strftime code"
    elif not ({"%Y", "%y"} & _codes(given)):
        problem = "has no year (%Y)"
    else:
        sample = datetime(2014, 3, 24, 13, 45, 30)
        try:
            back = pd.to_datetime([sample.strftime(given)], format=given, errors="raise")[0]
        except (ValueError, TypeError, OverflowError):
            problem = "cannot read back the dates it writes"
        else:
            if (back.year, back.month, back.day) != (2014, 3, 24):
                problem = "does not name a year, a month and a day"
    if problem:
        raise SchemaError(
            f"{shown(name)}: the date format {shown(given)} {problem}; give the column's "
            "format with strftime codes, such as '%d-%m-%Y' or '%Y-%m-%d %H:%M'",
            parameter="date_formats", key=name,
        )
    return DateFormat("strftime", None, given, bool(_TIME_CODES & _codes(given)))


def _commonest(labels: pa.Array, counts: np.ndarray) -> str:
    """The label most rows carry (first seen on a tie)."""
    found = pc.dictionary_encode(labels)
    index = found.indices.to_numpy(zero_copy_only=False)
    totals = np.bincount(index, weights=counts, minlength=len(found.dictionary))
    return str(found.dictionary[int(np.argmax(totals))].as_py())


def _separators(values: pa.Array, family: str) -> pa.Array:
    """Each cell's first separator: after the four-digit year (ISO), or after a day or
    month of one or two digits."""
    if family == "iso":
        return pc.utf8_slice_codeunits(values, 4, 5)
    second = pc.utf8_slice_codeunits(values, 1, 2)
    return pc.if_else(pc.is_in(second, value_set=pa.array(SEPARATORS)), second,
                      pc.utf8_slice_codeunits(values, 2, 3))


def decide_date_format(values: object, *, name: str, given: str | None = None,
                       year_column: bool = False) -> DateFormat:
    """The format of a column of dates, decided over all its cells.

    Parameters
    ----------
    values
        The column's cells, as text (arrow, pandas, a sequence, or its
        :class:`~custseg.table.cells.Cells`); missing markers are ignored.
    name
        The column's header, for messages.
    given
        A strftime format the user stated (``%d-%m-%Y``): it wins, once checked.
    year_column
        The column holds bare four-digit years (a birth-year column).

    Raises :class:`SchemaError`, naming the column, an example cell and the formats to
    state, when no cell is a date, when no cell tells day-first from month-first, or
    when some cells prove day-first and others month-first.
    """
    if given is not None:
        return _check_given(name, given)
    if year_column:
        return DateFormat("year", None, "%Y", False)
    cells = distinct_cells(values)
    if len(cells.values) == 0:
        raise SchemaError(
            f"{shown(name)} has no value to read as a date; give its date format if the "
            "column is meant to hold dates",
            parameter="date_formats", key=name,
        )
    shaped = {family: _match(cells.values, _whole(_any_separator(shape)))
              for family, shape in _SHAPES.items()}
    rows = {family: int(cells.counts[mask].sum()) for family, mask in shaped.items()}
    if not any(rows.values()):
        raise SchemaError(
            f"{shown(name)}: no cell reads as a date (such as "
            f"{shown(cells.values[0].as_py())}); give the column's date format with strftime "
            "codes, such as '%d %b %Y'",
            parameter="date_formats", key=name,
        )
    family = "iso" if rows["iso"] >= rows["dm"] else "dm"
    mask = pa.array(shaped[family])
    candidates, counts = cells.values.filter(mask), cells.counts[shaped[family]]
    separator = _commonest(_separators(candidates, family), counts)
    mine = _match(candidates, _whole(_with(_SHAPES[family], separator)))
    candidates = candidates.filter(pa.array(mine))
    with_time = bool(_has(candidates, ":").any())
    if family == "iso":
        return DateFormat("iso", separator, _pattern("iso", separator, with_time), with_time)
    day_first = _match(candidates, _with(_DAY_FIRST, separator))
    month_first = _match(candidates, _with(_MONTH_FIRST, separator))
    dmy_fmt, mdy_fmt = _pattern("dmy", separator, False), _pattern("mdy", separator, False)
    if day_first.any() and month_first.any():
        one = candidates[int(np.flatnonzero(day_first)[0])].as_py()
        other = candidates[int(np.flatnonzero(month_first)[0])].as_py()
        raise SchemaError(
            f"{shown(name)}: dates such as {shown(one)} read day-first only and dates such "
            f"as {shown(other)} month-first only, so the column mixes both orders; correct "
            f"the cells, or give the column's format: {shown(dmy_fmt)} (day first) or "
            f"{shown(mdy_fmt)} (month first)",
            parameter="date_formats", key=name,
        )
    if not day_first.any() and not month_first.any():
        raise SchemaError(
            f"{shown(name)}: dates such as {shown(candidates[0].as_py())} can be read "
            f"day-first or month-first and no cell tells which; give the column's format: "
            f"{shown(dmy_fmt)} (day first) or {shown(mdy_fmt)} (month first)",
            parameter="date_formats", key=name,
        )
    kind = "dmy" if day_first.any() else "mdy"
    return DateFormat(kind, separator, _pattern(kind, separator, with_time), with_time)


# ---------------------------------------------------------------------------- parsing


def parse_dates(values: object, fmt: DateFormat) -> ParsedDates:
    """Each cell of ``values`` as a day number, read in the column's format ``fmt``.

    Missing markers are missing (status MISSING); text of another shape or separator is
    :data:`NOT_DATE`; an impossible date (31/02/2020, 29/02/2019, year 0, 25:00) is
    :data:`IMPOSSIBLE_DATE`. Every cell comes back.
    """
    cells = distinct_cells(values)
    days, status = _parse_distinct(cells.values, fmt)
    out_days = cells.spread(days, np.nan)
    out_status = cells.spread(status, MISSING)
    out_days.flags.writeable = False
    out_status.flags.writeable = False
    return ParsedDates(out_days, out_status, year_only=fmt.kind == "year")


def _parse_distinct(values: pa.Array, fmt: DateFormat) -> tuple[np.ndarray, np.ndarray]:
    if len(values) == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int8)
    if fmt.kind == "strftime":
        parsed = pd.to_datetime(pd.Series(values.to_pylist(), dtype=object),
                                format=fmt.pattern, errors="coerce", utc=True)
        days = _days(parsed.dt.tz_localize(None).to_numpy())
        days[days < _FIRST_DAY] = np.nan
        status = np.where(np.isfinite(days), OK, NOT_DATE).astype(np.int8)
        return days, status
    if fmt.kind == "year":
        shaped = _match(values, _YEAR)
        year = pc.cast(pc.if_else(pa.array(shaped), pc.utf8_slice_codeunits(values, 0, 4), "0"),
                       pa.int64()).to_numpy(zero_copy_only=False)
        real = shaped & (year >= 1000)
        start = (np.where(real, year, 1970) - 1970).astype("datetime64[Y]").astype("datetime64[D]")
        days = np.where(real, (start - _EPOCH).astype(np.int64), np.nan).astype(np.float64)
        status = np.where(real, OK, np.where(shaped, IMPOSSIBLE_DATE, NOT_DATE))
        return days, status.astype(np.int8)
    family = "iso" if fmt.kind == "iso" else "dm"
    shaped = _match(values, _whole(_with(_SHAPES[family], fmt.separator)))
    days = np.full(len(values), np.nan)
    status = np.where(shaped, IMPOSSIBLE_DATE, NOT_DATE).astype(np.int8)
    if not shaped.any():
        return days, status
    rows = np.flatnonzero(shaped)
    cells = values.filter(pa.array(shaped))
    parts = _time_parts(cells, fmt.separator)
    date = _pattern(fmt.kind, fmt.separator, False)
    for code in np.unique(parts):
        group = parts == code
        text = cells.filter(pa.array(group))
        found = _strptime(text, date + _time_format(int(code)), fmt, int(code))
        where = rows[group]
        days[where] = found
        status[where[np.isfinite(found)]] = OK
    return days, status


# Which time a cell writes, as bits: a time at all, "T" before it, seconds, a fraction of
# a second, AM/PM (with a space before it, or not), an offset from UTC. Cells have the
# column's shape already, so plain substring tests tell most of these apart.
_TIMED, _T, _SECONDS, _FRACTION, _AMPM, _AMPM_SPACE, _OFFSET = (1 << i for i in range(7))


def _has(cells: pa.Array, text: str) -> np.ndarray:
    return _bools(pc.match_substring(cells, text))


def _ends(cells: pa.Array, *texts: str) -> np.ndarray:
    out = np.zeros(len(cells), dtype=bool)
    for text in texts:
        out |= _bools(pc.ends_with(cells, text, ignore_case=True))
    return out


def _time_parts(cells: pa.Array, separator: str) -> np.ndarray:
    timed = _has(cells, ":")
    code = np.zeros(len(cells), dtype=np.int64)
    if not timed.any():
        return code
    dashes = 2 if separator == "-" else 0
    points = 2 if separator == "." else 0
    offset = _bools(pc.ends_with(cells, "Z")) | _has(cells, "+") | (
        pc.count_substring(cells, "-").to_numpy(zero_copy_only=False) > dashes)
    ampm = np.zeros(len(cells), dtype=bool)
    if (_has(cells, "M") | _has(cells, "m")).any():
        ampm = _ends(cells, "am", "pm")
    bits = (
        (_TIMED, timed),
        (_T, _has(cells, "T")),
        (_SECONDS, _match(cells, r":\d{2}:\d{2}")),
        (_FRACTION, pc.count_substring(cells, ".").to_numpy(zero_copy_only=False) > points),
        (_AMPM, ampm),
        (_AMPM_SPACE, ampm & _ends(cells, " am", " pm")),
        (_OFFSET, offset),
    )
    for bit, mask in bits:
        code |= np.where(timed & mask, bit, 0)
    return code


def _time_format(code: int) -> str:
    if not code & _TIMED:
        return ""
    out = ("T" if code & _T else " ") + ("%I" if code & _AMPM else "%H") + ":%M"
    out += ":%S" if code & _SECONDS else ""
    if code & _AMPM:
        out += " %p" if code & _AMPM_SPACE else "%p"
    return out + ("%z" if code & _OFFSET else "")


def _strptime(text: pa.Array, pattern: str, fmt: DateFormat, code: int) -> np.ndarray:
    """Days of cells all written one way (``pattern``); NaN where the date or time is
    impossible. C ``strptime`` rolls 31/02 over to 03/03, so the month it gives is
    checked against the month written, on the local date when the cell has an offset."""
    if code & _FRACTION:
        text = pc.replace_substring_regex(text, r"(:\d{2})\.\d+", r"\1")
    parsed = pc.strptime(text, format=pattern, unit="s", error_is_null=True)
    local = parsed
    if code & _OFFSET:
        bare = pc.replace_substring_regex(text, r"(?:Z|[+-]\d{2}:?\d{2})$", "")
        local = pc.strptime(bare, format=pattern.replace("%z", ""), unit="s",
                            error_is_null=True)
    parts = pc.split_pattern(text, fmt.separator, max_splits=2)
    written = pc.cast(pc.list_element(parts, 0 if fmt.kind == "mdy" else 1), pa.int64())
    good = _bools(pc.and_(pc.equal(pc.month(local), written),
                          pc.greater_equal(pc.year(local), 1)))
    good &= ~_has(text, ":60")  # a leap second (strptime rolls it over; minute 60 fails)
    seconds = pc.cast(parsed, pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64)
    return np.where(good, seconds / 86_400.0, np.nan)


def _days(stamps: np.ndarray) -> np.ndarray:
    """Naive datetime64 values as float days since 1970-01-01; NaN for NaT."""
    stamps = stamps.astype("datetime64[s]")
    seconds = stamps.astype(np.int64).astype(np.float64)
    return np.where(np.isnat(stamps), np.nan, seconds / 86_400.0)


# ---------------------------------------------------------------------------- looking


def looks_like_dates(values: object) -> float:
    """The share of non-missing cells written as a date in an accepted format: ISO, or
    day-month either way round, one separator throughout, with a day 1–31 and a month
    1–12 (bare years do not count). 0.0 for a column with no value."""
    cells = distinct_cells(values)
    if cells.n_given == 0:
        return 0.0
    good = np.zeros(len(cells.values), dtype=bool)
    for template in _PLAUSIBLE.values():
        good |= _match(cells.values, _whole(_any_separator(template)))
    return float(cells.counts[good].sum() / cells.n_given)

