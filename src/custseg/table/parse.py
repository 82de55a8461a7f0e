"""Cell parsing: numbers written as text (separators, money, missing markers) and gender.

Values are read as text and parsed here, so that missing markers stay missing and every
cell that cannot be used keeps a status saying why.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custseg.table.fields import GENDER, INCOME

#: Cell texts that mean "no value" (compared after trimming, case-insensitively).
MISSING_MARKERS: frozenset[str] = frozenset(
    {"", "?", "na", "n/a", "n.a.", "nan", "null", "none", "nil", "-", "--", "#n/a", "missing"}
)

_MALE = frozenset({"m", "male", "man", "men", "masculine"})
_FEMALE = frozenset({"f", "female", "woman", "women", "feminine"})

OK, MISSING, NOT_NUMBER, OTHER_CURRENCY, AMBIGUOUS = 0, 1, 2, 3, 4
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_LOOSE = re.compile(
    r"^(?P<pre>us\$|\$|usd)?\s*"
    r"(?P<num>[+-]?\d[\d.,'\s\u00a0\u202f]*?)\s*"
    r"(?P<mag>[km])?\s*"
    r"(?P<post>k\$|us\$|\$|usd)?$",
    re.IGNORECASE,
)
_GROUPED_POINT = re.compile(r"^[+-]?\d{1,3}([,'\s\u00a0\u202f]\d{3})+(\.\d+)?$")
_GROUPED_COMMA = re.compile(r"^[+-]?\d{1,3}([.'\s\u00a0\u202f]\d{3})+(,\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")

#: Currencies other than the US dollar, by sign or code (lower case) -> what to call them.
#: Any other currency sign (Unicode category Sc) is refused too, by its sign.
CURRENCIES: Mapping[str, str] = {
    **dict.fromkeys(["€", "eur", "euro", "euros"], "euros"),
    **dict.fromkeys(["£", "gbp"], "pounds sterling"),
    **dict.fromkeys(["¥", "￥"], "yen or yuan"),
    **dict.fromkeys(["jpy", "円"], "yen"),
    **dict.fromkeys(["cny", "rmb", "元"], "yuan"),
    **dict.fromkeys(["chf", "sfr", "fr."], "Swiss francs"),
    **dict.fromkeys(["₹", "inr", "rs", "rs."], "rupees"),
    **dict.fromkeys(["₽", "rub"], "roubles"),
    **dict.fromkeys(["₩", "krw"], "won"),
    **dict.fromkeys(["₪", "ils"], "shekels"),
    **dict.fromkeys(["₺", "try"], "Turkish lira"),
    **dict.fromkeys(["₴", "uah"], "hryvnias"),
    **dict.fromkeys(["₦", "ngn"], "naira"),
    **dict.fromkeys(["₱", "php"], "pesos"),
    **dict.fromkeys(["฿", "thb"], "baht"),
    **dict.fromkeys(["₫", "vnd"], "dong"),
    **dict.fromkeys(["zł", "pln"], "złoty"),
    **dict.fromkeys(["kr", "kr."], "kronor or kroner"),
    "sek": "Swedish kronor", "nok": "Norwegian kroner", "dkk": "Danish kroner",
    "isk": "Icelandic krónur",
    **dict.fromkeys(["kč", "czk"], "Czech koruna"),
    "huf": "forints",
    **dict.fromkeys(["r$", "brl"], "Brazilian reais"),
    **dict.fromkeys(["c$", "ca$", "cad"], "Canadian dollars"),
    **dict.fromkeys(["a$", "au$", "aud"], "Australian dollars"),
    **dict.fromkeys(["nz$", "nzd"], "New Zealand dollars"),
    **dict.fromkeys(["hk$", "hkd"], "Hong Kong dollars"),
    **dict.fromkeys(["s$", "sgd"], "Singapore dollars"),
    **dict.fromkeys(["mx$", "mxn"], "Mexican pesos"),
    **dict.fromkeys(["nt$", "twd"], "New Taiwan dollars"),
    "zar": "rand", "aed": "dirhams", "sar": "riyals",
}
_SIGNS = "".join(chr(c) for c in range(0x10000)
                 if unicodedata.category(chr(c)) == "Sc" and chr(c) not in "$\uff04\ufe69")
_TOKEN = "|".join(re.escape(t) for t in sorted(CURRENCIES, key=len, reverse=True))
_CURRENCY = rf"(?:{_TOKEN}|[{re.escape(_SIGNS)}])"
_OTHER_MONEY = re.compile(
    rf"^(?:(?P<pre>{_CURRENCY})\s*)?[+-]?\d[\d.,'\s\u00a0\u202f]*?\s*[km]?\s*"
    rf"(?P<post>{_CURRENCY})?$",
    re.IGNORECASE,
)


_CURRENCY_WORD = re.compile(rf"(?<![a-z])(?:{_TOKEN})(?![a-z])|[{re.escape(_SIGNS)}]",
                            re.IGNORECASE)


def currency_in(text: str) -> tuple[str, str] | None:
    """``(text without it, its name)`` for the first currency other than the US dollar
    that ``text`` names as a word or a sign (a header such as 'Annual Income (€)')."""
    hit = _CURRENCY_WORD.search(text)
    if hit is None:
        return None
    sign = hit.group(0).lower()
    name = CURRENCIES.get(sign, f"a currency other than US dollars ({sign})")
    return text[:hit.start()] + text[hit.end():], name


def currency_of(text: str) -> str | None:
    """The currency other than the US dollar that a money cell is written in
    ("euros" for '€45,000', '45.000 €', 'EUR 45000'), or None."""
    hit = _OTHER_MONEY.match(text.strip())
    if not hit or not (hit["pre"] or hit["post"]):
        return None
    sign = (hit["pre"] or hit["post"]).lower()
    return CURRENCIES.get(sign, f"a currency other than US dollars ({sign})")


# The mark that is not a file's decimal mark (the point in a decimal-comma file, the comma
# otherwise) around a number, with the money signs a cell may carry.
_PRE = r"(?:(?:us\$|\$|usd)\s*)?"
_POST = r"\s*[km]?\s*(?:k\$|us\$|\$|usd)?"
#: A cell writing it as a decimal mark: "30.5" (decimal-comma files), "30,5".
_AS_DECIMAL = {
    ",": rf"(?i)^\s*{_PRE}[+-]?(\d+\.\d*|\.\d+){_POST}\s*$",
    ".": rf"(?i)^\s*{_PRE}[+-]?\d+,\d+{_POST}\s*$",
}
#: A cell where it groups digits by three (and is not one of those).
_GROUPS = {
    ",": rf"(?i)^\s*{_PRE}[+-]?\d{{1,3}}(\.\d{{3}})+{_POST}\s*$",
    ".": rf"(?i)^\s*{_PRE}[+-]?\d{{1,3}}(,\d{{3}})+{_POST}\s*$",
}
#: A cell it could group or mark decimals in: "1.500" is 1500 or 1.5.
_TWO_READINGS = {
    ",": rf"(?i)^\s*{_PRE}[+-]?\d{{1,3}}\.\d{{3}}{_POST}\s*$",
    ".": rf"(?i)^\s*{_PRE}[+-]?\d{{1,3}},\d{{3}}{_POST}\s*$",
}


def grouping_mark(decimal: str) -> str:
    """The mark that may group thousands in a file whose decimal mark is ``decimal``."""
    return "." if decimal == "," else ","


def grouping_as_decimal(values: pd.Series | pa.Array | pa.ChunkedArray,
                        decimal: str) -> str | None:
    """The first cell that writes the grouping mark as a decimal mark ("30.5" where the
    comma is the decimal mark), or None when no cell does."""
    text = values if isinstance(values, pa.Array | pa.ChunkedArray) else to_arrow_text(values)
    if len(text) == 0 or pa.types.is_null(text.type):
        return None
    if not pc.any(pc.match_substring(text, grouping_mark(decimal))).as_py():
        return None  # the common case: one look for the mark
    hits = pc.and_(pc.fill_null(pc.match_substring_regex(text, _AS_DECIMAL[decimal]), False),
                   pc.invert(pc.fill_null(pc.match_substring_regex(text, _GROUPS[decimal]),
                                          False)))
    first = pc.index(hits, True).as_py()
    return None if first < 0 else str(text[first].as_py()).strip()


#: An income (read in k$) above this is a million dollars a year: an income column whose
#: values are mostly above it, under a header that names no unit, is in dollars.
DOLLAR_INCOME_K = 1_000.0

#: ``mixed`` for :func:`parse_numbers`: found among the values parsed.
FROM_VALUES = object()


@dataclass(frozen=True)
class NumberFormat:
    """How a file writes each numeric column, decided once for the whole file.

    The file's decimal mark comes from its dialect; in question is the other mark (the
    point in a decimal-comma file, the comma otherwise). It groups thousands ("54.000",
    "1,500") unless some cell of the column, anywhere in the file, writes it as a decimal
    mark ("30.5", "30,5"); in such a column a cell it could group ("1.500") has two
    readings and is flagged, never read one way in one batch and the other in the next.
    """

    #: Column -> its first cell writing the grouping mark as a decimal mark.
    mixed: Mapping[str, str] = field(default_factory=dict)
    #: The income column's values given, and how many of them are above
    #: :data:`DOLLAR_INCOME_K` read in k$ (the scale the file writes incomes in), counted
    #: both ways a grouping mark can read — as grouping thousands, and as :attr:`mixed`
    #: decides it for the column — since which one holds is known only at the end.
    incomes: tuple[int, int, int, int] = (0, 0, 0, 0)

    def seen(self, columns: Mapping[str, pd.Series | pa.Array | pa.ChunkedArray],
             decimal: str) -> NumberFormat:
        """This format with the cells of some more rows (the file's next batch) seen."""
        found = dict(self.mixed)
        for name, values in columns.items():
            if name not in found:
                example = grouping_as_decimal(values, decimal)
                if example is not None:
                    found[name] = example
        incomes = self.incomes
        if INCOME in columns:
            values = columns[INCOME]
            if not isinstance(values, pd.Series):
                values = values.to_pandas()
            counts = []
            for mixed in (None, found.get(INCOME, "mixed")):
                # bare numbers only: the unit is theirs to tell ("$54,000" is dollars
                # whatever the column's unit, and is left out)
                parsed = parse_numbers(values, decimal=decimal, mixed=mixed)
                usable = parsed.values[np.isfinite(parsed.values)]
                counts += [len(usable), int(np.count_nonzero(usable > DOLLAR_INCOME_K))]
            incomes = tuple(a + b for a, b in zip(incomes, counts, strict=True))
        if len(found) == len(self.mixed) and incomes == self.incomes:
            return self
        return NumberFormat(found, incomes)

    def merged(self, later: NumberFormat) -> NumberFormat:
        """This format followed by a later part's (the next file of a Dask input)."""
        return NumberFormat({**later.mixed, **self.mixed},
                            tuple(a + b for a, b in zip(self.incomes, later.incomes,
                                                        strict=True)))

    @property
    def dollar_incomes(self) -> bool:
        """Whether most incomes given are above :data:`DOLLAR_INCOME_K` k$ (a million
        dollars a year): no customer base earns that, so the column is in dollars."""
        given, above = self.incomes[2:] if INCOME in self.mixed else self.incomes[:2]
        return given > 0 and 2 * above > given


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
    accepted for money, and then the value is an absolute amount in dollars; another
    currency than the US dollar is refused.
    """
    if money and currency_of(text) is not None:
        return np.nan, OTHER_CURRENCY, False
    hit = _LOOSE.match(text)
    if not hit:
        return np.nan, NOT_NUMBER, False
    pre, post = (hit["pre"] or "").lower(), (hit["post"] or "").lower()
    mag = (hit["mag"] or "").lower()
    num = hit["num"].strip()
    if (pre or post or mag) and not money:
        return np.nan, NOT_NUMBER, False
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
    #: The column's cell writing the grouping mark as a decimal mark (see NumberFormat).
    mixed: str | None = None


def parse_numbers(
    values: pd.Series, *, decimal: str = ".", money_unit: str | None = None,
    mixed: str | None | object = FROM_VALUES, dollars: bool = False,
) -> ParsedNumbers:
    """Parse a column of numbers written as text (or already numeric).

    Missing markers give status missing, never zero. For money (``money_unit`` set), a
    bare number is in that unit ("k$" or "$") and a value with a currency sign or k/m
    suffix is an absolute dollar amount; the result is always in k$.

    ``mixed`` is the column's cell that writes the grouping mark as a decimal mark, as
    found over the whole file (:class:`NumberFormat`), or None when no cell does; by
    default it is looked for among ``values``, which are then the whole column. Where it
    is set, a cell the mark could group ("1.500") is ambiguous (status AMBIGUOUS).

    ``dollars``: without a ``money_unit``, cells may still be written as money ("$12.50",
    "$1,000.00", "12k"), as money cells are read, and are kept in dollars, bare numbers
    as they are (a transaction log's amounts and prices); another currency is refused
    (status OTHER_CURRENCY).
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

    original = text = to_arrow_text(values)
    if mixed is FROM_VALUES:
        mixed = grouping_as_decimal(text, decimal)
    two_readings = None
    if mixed is not None:
        hits = pc.fill_null(pc.match_substring_regex(text, _TWO_READINGS[decimal]), False)
        if pc.any(hits).as_py():
            two_readings = hits.to_numpy(zero_copy_only=False)
    if decimal == ",":
        text = _point_decimals(text, groups=mixed is None)

    def done(out: np.ndarray, status: np.ndarray) -> ParsedNumbers:
        if two_readings is not None:
            status[two_readings & (status != MISSING)] = AMBIGUOUS
        out[status != OK] = np.nan
        raw = original.to_numpy(zero_copy_only=False) if (status != OK).any() else None
        return ParsedNumbers(out, status, raw, mixed)

    try:  # the commonest case of all: a clean column of plain numbers
        direct = pc.cast(text, pa.float64())
        if direct.null_count == 0 and not pc.any(pc.is_nan(direct)).as_py():
            out = direct.to_numpy(zero_copy_only=False).astype("float64", copy=True)
            status = np.where(np.isfinite(out), OK, NOT_NUMBER).astype(np.int8)
            if money_unit == "$":
                out = out / 1_000
            return done(out, status)
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
            out[i], status[i], absolute[i] = _parse_loose(
                cell, decimal, money_unit is not None or dollars)
    bad = status == OK
    bad &= ~np.isfinite(out)
    status[bad] = NOT_NUMBER
    out[status != OK] = np.nan
    if money_unit is not None:
        bare_scale = 0.001 if money_unit == "$" else 1.0
        out = np.where(absolute, out / 1_000, out * bare_scale)
    return done(out, status)


_DOT_GROUPED = r"^\s*[+-]?\d{1,3}(\.\d{3})+(,\d+)?\s*$"
_COMMA_DECIMAL = r"^\s*[+-]?\d+,\d+\s*$"


def _point_decimals(text: pa.Array, groups: bool) -> pa.Array:
    """A decimal-comma column rewritten with point decimals.

    When its points group thousands (``groups``: decided for the file's column, see
    :class:`NumberFormat`), "54.000" and "1.200.000,5" lose them; otherwise points are
    decimal marks already ("30.5"). Then "30,5" becomes "30.5". Other cells are left to
    the full parser.
    """
    if groups:
        grouped = pc.fill_null(pc.match_substring_regex(text, _DOT_GROUPED), False)
        if pc.any(grouped).as_py():
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
