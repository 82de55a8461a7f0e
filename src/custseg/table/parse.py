"""Cell parsing: numbers written as text (separators, money, missing markers) and gender.

Values are read as text and parsed here, so that missing markers stay missing and every
cell that cannot be used keeps a status saying why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custseg.table.fields import GENDER

#: Cell texts that mean "no value" (compared after trimming, case-insensitively).
MISSING_MARKERS: frozenset[str] = frozenset(
    {"", "?", "na", "n/a", "n.a.", "nan", "null", "none", "nil", "-", "--", "#n/a", "missing"}
)

_MALE = frozenset({"m", "male", "man", "men", "masculine"})
_FEMALE = frozenset({"f", "female", "woman", "women", "feminine"})

OK, MISSING, NOT_NUMBER, OTHER_CURRENCY = 0, 1, 2, 3
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_LOOSE = re.compile(
    r"^(?P<pre>us\$|\$|usd|eur|€|£|gbp)?\s*"
    r"(?P<num>[+-]?\d[\d.,'\s\u00a0\u202f]*?)\s*"
    r"(?P<mag>[km])?\s*"
    r"(?P<post>k\$|us\$|\$|usd|eur|€|£|gbp)?$",
    re.IGNORECASE,
)
_GROUPED_POINT = re.compile(r"^[+-]?\d{1,3}([,'\s\u00a0\u202f]\d{3})+(\.\d+)?$")
_GROUPED_COMMA = re.compile(r"^[+-]?\d{1,3}([.'\s\u00a0\u202f]\d{3})+(,\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


#: What a conversion of arbitrary Python values can raise: arrow's own errors, integers
#: past 64 bits, text no codec can encode (lone surrogates), a value whose ``__str__`` fails.
CONVERSION_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError, UnicodeError)
_SURROGATE = re.compile("[\ud800-\udfff]")


def cell_text(value: object) -> str | None:
    """Any Python value as the text a file would hold, None when missing (None, NaN, NaT,
    ``pd.NA``): strings as they are, bytes decoded as UTF-8, anything else (numbers,
    Decimals, dates, nested lists, objects) by ``str``. Lone surrogates, which no file can
    hold, become U+FFFD; a value that cannot be written at all becomes its type's name."""
    if _is_null(value):
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:  # a user object whose __str__ fails is still a cell, not a crash
        text = f"<{type(value).__name__}>"
    return _SURROGATE.sub("\ufffd", text)


def to_arrow_text(values: pd.Series) -> pa.Array:
    """Values as an arrow string array (null for missing), whatever the input dtype or
    mix of Python objects (see :func:`cell_text`); never raises on a value."""
    try:
        text = pa.array(values, type=pa.string(), from_pandas=True)
        return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    except CONVERSION_ERRORS:
        return pa.array([cell_text(v) for v in values.tolist()], type=pa.string())


def _is_missing(trimmed: pa.Array) -> pa.Array:
    """Null, or a missing marker (case-insensitive)."""
    marker = pc.is_in(pc.utf8_lower(trimmed), value_set=pa.array(sorted(MISSING_MARKERS)))
    return pc.or_kleene(pc.is_null(trimmed), pc.fill_null(marker, False))


def _is_null(value: object) -> bool:
    if not pd.api.types.is_scalar(value):  # a list or an array is a value, never "missing"
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _parse_loose(text: str, decimal: str, money: bool) -> tuple[float, int, bool]:
    """Parse one non-plain number: ``(value, status, absolute_dollars)``.

    Thousands separators must group by three; a currency sign or a k/m suffix is only
    accepted for money, and then the value is an absolute amount in dollars.
    """
    hit = _LOOSE.match(text)
    if not hit:
        return np.nan, NOT_NUMBER, False
    pre, post = (hit["pre"] or "").lower(), (hit["post"] or "").lower()
    mag = (hit["mag"] or "").lower()
    num = hit["num"].strip()
    if (pre or post or mag) and not money:
        return np.nan, NOT_NUMBER, False
    if {pre, post} & {"eur", "€", "£", "gbp"}:
        return np.nan, OTHER_CURRENCY, False
    if decimal == ",":
        if _GROUPED_COMMA.match(num):
            num = re.sub(r"[.'\s\u00a0\u202f]", "", num)
        if _DECIMAL_COMMA.match(num):
            num = num.replace(",", ".")
    elif _GROUPED_POINT.match(num):
        num = re.sub(r"[,'\s\u00a0\u202f]", "", num)
    if not re.match(_PLAIN_NUMBER, num):
        return np.nan, NOT_NUMBER, False
    value = float(num)
    absolute = bool(pre or mag or post)
    if post == "k$":
        value *= 1_000
    value *= {"": 1, "k": 1_000, "m": 1_000_000}[mag]
    return value, OK, absolute


@dataclass
class ParsedNumbers:
    values: np.ndarray  # float64, NaN where not OK
    status: np.ndarray  # int8 codes
    text: np.ndarray | None  # object array of the raw cell text, for messages


def parse_numbers(
    values: pd.Series, *, decimal: str = ".", money_unit: str | None = None
) -> ParsedNumbers:
    """Parse a column of numbers written as text (or already numeric).

    Missing markers give status missing, never zero. For money (``money_unit`` set), a
    bare number is in that unit ("k$" or "$") and a value with a currency sign or k/m
    suffix is an absolute dollar amount; the result is always in k$.
    """
    n = len(values)
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
        values.dtype
    ):
        arr = values.to_numpy(dtype="float64", na_value=np.nan)
        status = np.where(np.isnan(arr), MISSING, np.where(np.isfinite(arr), OK, NOT_NUMBER))
        arr = np.where(status == OK, arr, np.nan)
        if money_unit == "$":
            arr = arr / 1_000
        return ParsedNumbers(arr, status.astype(np.int8), values.to_numpy(dtype=object))

    text = to_arrow_text(values)
    if decimal == ",":
        text = _point_decimals(text)
    try:  # the commonest case of all: a clean column of plain numbers
        direct = pc.cast(text, pa.float64())
        if direct.null_count == 0 and not pc.any(pc.is_nan(direct)).as_py():
            out = direct.to_numpy(zero_copy_only=False).astype("float64", copy=True)
            status = np.where(np.isfinite(out), OK, NOT_NUMBER).astype(np.int8)
            out[status != OK] = np.nan
            if money_unit == "$":
                out = out / 1_000
            raw = text.to_numpy(zero_copy_only=False) if (status != OK).any() else None
            return ParsedNumbers(out, status, raw)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    trimmed = pc.utf8_trim_whitespace(text)
    missing = _is_missing(trimmed)
    candidates = pc.if_else(missing, pa.scalar(None, pa.string()), trimmed)
    try:  # the common case: every non-missing cell is a plain number
        parsed = pc.cast(candidates, pa.float64())
        plain = pc.invert(missing)
    except pa.ArrowInvalid:
        plain = pc.and_(
            pc.invert(missing),
            pc.fill_null(pc.match_substring_regex(trimmed, _PLAIN_NUMBER), False),
        )
        parsed = pc.cast(pc.if_else(plain, trimmed, pa.scalar(None, pa.string())), pa.float64())
    out = parsed.to_numpy(zero_copy_only=False).astype("float64", copy=True)
    status = np.where(missing.to_numpy(zero_copy_only=False), MISSING, OK).astype(np.int8)
    absolute = np.zeros(n, dtype=bool)
    plain_np = plain.to_numpy(zero_copy_only=False)
    rest = np.flatnonzero(~plain_np & (status != MISSING))
    if len(rest):
        rest_text = trimmed.take(pa.array(rest)).to_pylist()
        for i, cell in zip(rest, rest_text, strict=True):
            out[i], status[i], absolute[i] = _parse_loose(cell, decimal, money_unit is not None)
    bad = status == OK
    bad &= ~np.isfinite(out)
    status[bad] = NOT_NUMBER
    out[status != OK] = np.nan
    if money_unit is not None:
        bare_scale = 0.001 if money_unit == "$" else 1.0
        out = np.where(absolute, out / 1_000, out * bare_scale)
    raw = text.to_numpy(zero_copy_only=False) if (status != OK).any() else None
    return ParsedNumbers(out, status, raw)


_DOT_GROUPED = r"^\s*[+-]?\d{1,3}(\.\d{3})+(,\d+)?\s*$"
_COMMA_DECIMAL = r"^\s*[+-]?\d+,\d+\s*$"


def _point_decimals(text: pa.Array) -> pa.Array:
    """A decimal-comma column rewritten with point decimals, decided for the column.

    When every cell holding a point groups digits by three ("54.000", "1.200.000,5"),
    points separate thousands and are dropped; otherwise they are decimal marks already
    ("30.5"). Then "30,5" becomes "30.5". Other cells are left to the full parser.
    """
    dotted = pc.fill_null(pc.match_substring(text, "."), False)
    grouped = pc.fill_null(pc.match_substring_regex(text, _DOT_GROUPED), False)
    if pc.any(dotted).as_py() and pc.all(pc.or_(pc.invert(dotted), grouped)).as_py():
        text = pc.if_else(grouped, pc.replace_substring(text, ".", ""), text)
    comma = pc.fill_null(pc.match_substring_regex(text, _COMMA_DECIMAL), False)
    if pc.any(comma).as_py():
        text = pc.if_else(comma, pc.replace_substring(text, ",", "."), text)
    return text


def normalise_gender(values: pd.Series) -> pd.Series:
    """Male/Female from their common spellings; other answers kept as given; blank missing.

    Works on the column's distinct values (a handful), then spreads them back.
    """
    encoded = pc.dictionary_encode(to_arrow_text(values))
    text = encoded.dictionary
    trimmed = pc.utf8_trim_whitespace(text)
    lower = pc.utf8_lower(trimmed)
    missing = _is_missing(trimmed)
    male = pc.fill_null(pc.is_in(lower, value_set=pa.array(sorted(_MALE))), False)
    female = pc.fill_null(pc.is_in(lower, value_set=pa.array(sorted(_FEMALE))), False)
    out = pc.if_else(male, "Male", pc.if_else(female, "Female", trimmed))
    out = pc.if_else(missing, pa.scalar(None, pa.string()), out)
    out = pc.take(out, encoded.indices)
    return pd.Series(out.to_pandas(), index=values.index, dtype="str", name=GENDER)
