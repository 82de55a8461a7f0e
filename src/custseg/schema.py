"""Canonical customer fields, header matching and row-by-row validation.

custseg works on five canonical fields. Input headers are matched to them through an
explicit alias table after normalisation (case, spacing, BOM, accents, punctuation) —
never by substring, so "Discount Percentage" is not taken for ``age``. Values are read
as text and parsed here, so that missing markers stay missing, ids stay byte-for-byte,
and every row that cannot be used says exactly why.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custseg.errors import SchemaError, shown

ID = "customer_id"
GENDER = "gender"
AGE = "age"
INCOME = "annual_income"
SCORE = "spending_score"

FIELDS: tuple[str, ...] = (ID, GENDER, AGE, INCOME, SCORE)
NUMERIC_FIELDS: tuple[str, ...] = (AGE, INCOME, SCORE)

LABELS = {
    ID: "Customer id",
    GENDER: "Gender",
    AGE: "Age",
    INCOME: "Annual income",
    SCORE: "Spending score",
}
UNITS = {AGE: "years", INCOME: "k$", SCORE: "points"}

#: Cell texts that mean "no value" (compared after trimming, case-insensitively).
MISSING_MARKERS: frozenset[str] = frozenset(
    {"", "?", "na", "n/a", "n.a.", "nan", "null", "none", "nil", "-", "--", "#n/a", "missing"}
)

_MALE = frozenset({"m", "male", "man", "men", "masculine"})
_FEMALE = frozenset({"f", "female", "woman", "women", "feminine"})

INCOME_UNITS = ("k$", "$")

# Normalised header -> (field, income unit implied by the header, or None).
# Every entry is a whole normalised header: matching is by equality only.
_ALIASES: dict[str, tuple[str, str | None]] = {}


def _alias(field_name: str, unit: str | None, *names: str) -> None:
    for name in names:
        _ALIASES[name] = (field_name, unit)


_alias(
    ID, None,
    "customer_id", "customerid", "id", "cust_id", "custid", "client_id", "clientid",
    "customer_no", "customer_number", "customer_num", "customer_code", "customer_key",
    "member_id", "memberid", "customer",
)
_alias(GENDER, None, "gender", "sex", "genre", "customer_gender")
_alias(AGE, None, "age", "age_years", "age_yrs", "age_in_years", "customer_age", "age_y")
_alias(
    INCOME, None,
    "annual_income", "income", "yearly_income", "annualincome", "customer_income",
)
_alias(
    INCOME, "k$",
    "annual_income_kusd", "annual_income_k", "annual_income_k_usd", "annual_income_thousands",
    "annual_income_in_thousands", "annual_income_thousand_usd", "income_kusd", "income_k",
    "income_k_usd", "yearly_income_kusd", "annual_income_usd_k", "annual_income_usd_000",
    "annual_income_000", "annual_income_000_usd",
)
_alias(
    INCOME, "$",
    "annual_income_usd", "annual_income_dollars", "annual_income_in_usd",
    "annual_income_in_dollars", "income_usd", "income_dollars", "yearly_income_usd",
)
_alias(
    SCORE, None,
    "spending_score", "spending_score_1_100", "spendingscore", "spend_score",
    "spending_score_1_to_100", "spending_score_0_100", "spending_index",
)

#: The alias table, exposed read-only for docs and the dashboard's "columns recognised".
ALIASES: Mapping[str, tuple[str, str | None]] = _ALIASES


def normalise_header(name: object) -> str:
    """Normalise a column header for alias lookup.

    Strips BOMs and accents, splits camelCase, lower-cases, spells ``k$`` / ``$`` out as
    ``kusd`` / ``usd``, and joins words with underscores: ``"Annual Income (k$)"`` gives
    ``"annual_income_kusd"``, ``"CustomerID"`` gives ``"customer_id"``.
    """
    text = unicodedata.normalize("NFKD", str(name)).replace("\ufeff", "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text.strip())
    text = text.lower().replace("k$", " kusd ").replace("$", " usd ")
    return re.sub(r"[^0-9a-z]+", "_", text).strip("_")


@dataclass(frozen=True)
class HeaderMatch:
    """Which input column feeds which canonical field.

    Columns are kept by position so that a header repeating a name is still exact.
    """

    columns: tuple[str, ...]
    fields: Mapping[str, int]
    income_unit: str = "k$"
    income_unit_source: str = "default"  # "header" | "given" | "default"

    @property
    def ignored(self) -> tuple[str, ...]:
        """Input columns that feed no field: passed through untouched."""
        used = set(self.fields.values())
        return tuple(c for i, c in enumerate(self.columns) if i not in used)

    def source(self, field_name: str) -> str:
        return self.columns[self.fields[field_name]]

    def describe(self) -> list[dict[str, str]]:
        """One row per input column: what custseg does with it."""
        by_pos = {pos: name for name, pos in self.fields.items()}
        rows = []
        for pos, col in enumerate(self.columns):
            name = by_pos.get(pos)
            rows.append(
                {
                    "column": str(col),
                    "used_as": name or "",
                    "note": (
                        f"read in {self.income_unit} ({self.income_unit_source})"
                        if name == INCOME
                        else ("passed through unchanged" if name is None else "")
                    ),
                }
            )
        return rows

    def require(self, needed: Sequence[str]) -> None:
        """Raise :class:`SchemaError` naming every needed field that has no column."""
        missing = [f for f in needed if f not in self.fields]
        if missing:
            names = ", ".join(missing)
            cols = ", ".join(repr(str(c)) for c in self.columns[:20])
            more = " …" if len(self.columns) > 20 else ""
            raise SchemaError(
                f"no column for {names}. The table has: {cols}{more}. Rename the column "
                f"(accepted headers are listed in the README) or map it explicitly, "
                f"e.g. --map {missing[0]}=\"Your Column\"."
            )


def match_headers(
    columns: Sequence[object],
    mapping: Mapping[str, str] | None = None,
    income_unit: str | None = None,
) -> HeaderMatch:
    """Match input headers to canonical fields.

    Parameters
    ----------
    columns
        The input header, in order.
    mapping
        Explicit ``{field: column}`` choices; they win over the alias table.
    income_unit
        ``"k$"`` or ``"$"`` to state the income unit; by default it comes from the
        header ("(k$)", "($)", "USD"…) and is k$ when the header names no unit.
    """
    cols = tuple(str(c) for c in columns)
    if income_unit is not None and income_unit not in INCOME_UNITS:
        raise SchemaError(
            f"income unit {shown(income_unit)} is not supported; use 'k$' (thousands of "
            "dollars) or '$' (dollars)."
        )
    fields: dict[str, int] = {}
    unit_from_header: str | None = None
    for name, col in (mapping or {}).items():
        if name not in FIELDS:
            raise SchemaError(
                f"cannot map unknown field {shown(name)}; the fields are {', '.join(FIELDS)}."
            )
        hits = [i for i, c in enumerate(cols) if c == col]
        if not hits:
            raise SchemaError(
                f"the mapping names column {shown(col)} for {name}, but the table has no "
                f"such column. Columns: {', '.join(repr(c) for c in cols[:20])}."
            )
        if len(hits) > 1:
            raise SchemaError(
                f"column {shown(col)} appears {len(hits)} times in the header; rename the "
                "copies so the mapping is unambiguous."
            )
        fields[name] = hits[0]
        if name == INCOME:
            unit_from_header = _ALIASES.get(normalise_header(col), (INCOME, None))[1]

    candidates: dict[str, list[int]] = {}
    taken = set(fields.values())
    for i, col in enumerate(cols):
        if i in taken:
            continue
        hit = _ALIASES.get(normalise_header(col))
        if hit and hit[0] not in fields:
            candidates.setdefault(hit[0], []).append(i)
    for name, positions in candidates.items():
        if len(positions) > 1:
            found = " and ".join(repr(cols[i]) for i in positions)
            raise SchemaError(
                f"columns {found} could each be {name}; keep one, or choose with "
                f"--map {name}=\"Column\"."
            )
        fields[name] = positions[0]
        if name == INCOME:
            unit_from_header = _ALIASES[normalise_header(cols[positions[0]])][1]

    ordered = {name: fields[name] for name in FIELDS if name in fields}
    if income_unit is not None:
        unit, source = income_unit, "given"
    elif unit_from_header is not None:
        unit, source = unit_from_header, "header"
    else:
        unit, source = "k$", "default"
    return HeaderMatch(columns=cols, fields=ordered, income_unit=unit, income_unit_source=source)


# --------------------------------------------------------------------------- ranges


@dataclass(frozen=True)
class Ranges:
    """Plausible value ranges (inclusive); a clustering value outside is invalid."""

    age: tuple[float, float] = (16.0, 100.0)
    annual_income: tuple[float, float] = (0.0, 10_000.0)
    spending_score: tuple[float, float] = (1.0, 100.0)

    def __post_init__(self) -> None:
        for name in NUMERIC_FIELDS:
            low, high = getattr(self, name)
            if not (np.isfinite(low) and np.isfinite(high) and low < high):
                raise SchemaError(
                    f"range for {name} must be two finite numbers, low < high; got "
                    f"{low!r}–{high!r}."
                )

    def of(self, name: str) -> tuple[float, float]:
        return getattr(self, name)

    def to_dict(self) -> dict[str, list[float]]:
        return {k: [float(v[0]), float(v[1])] for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[float]]) -> Ranges:
        unknown = set(data) - set(NUMERIC_FIELDS)
        if unknown:
            raise SchemaError(
                f"ranges given for unknown field(s) {sorted(unknown)}; the numeric fields "
                f"are {', '.join(NUMERIC_FIELDS)}."
            )
        return cls(**{k: (float(v[0]), float(v[1])) for k, v in data.items()})


def fmt_number(value: float) -> str:
    """Short human form: 16 not 16.0, 10,000 with a separator, 2 decimals at most."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


# ----------------------------------------------------------------------- parsing

_OK, _MISSING, _NOT_NUMBER, _OTHER_CURRENCY = 0, 1, 2, 3
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


def _to_arrow_text(values: pd.Series) -> pa.Array:
    """Values as an arrow string array (null for missing), whatever the input dtype."""
    try:
        text = pa.array(values, type=pa.string(), from_pandas=True)
        return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        texts = [None if _is_null(v) else str(v) for v in values.tolist()]
        return pa.array(texts, type=pa.string())


def _is_missing(trimmed: pa.Array) -> pa.Array:
    """Null, or a missing marker (case-insensitive)."""
    marker = pc.is_in(pc.utf8_lower(trimmed), value_set=pa.array(sorted(MISSING_MARKERS)))
    return pc.or_kleene(pc.is_null(trimmed), pc.fill_null(marker, False))


def _is_null(value: object) -> bool:
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
        return np.nan, _NOT_NUMBER, False
    pre, post = (hit["pre"] or "").lower(), (hit["post"] or "").lower()
    mag = (hit["mag"] or "").lower()
    num = hit["num"].strip()
    if (pre or post or mag) and not money:
        return np.nan, _NOT_NUMBER, False
    if {pre, post} & {"eur", "€", "£", "gbp"}:
        return np.nan, _OTHER_CURRENCY, False
    if decimal == ",":
        if _GROUPED_COMMA.match(num):
            num = re.sub(r"[.'\s\u00a0\u202f]", "", num)
        if _DECIMAL_COMMA.match(num):
            num = num.replace(",", ".")
    elif _GROUPED_POINT.match(num):
        num = re.sub(r"[,'\s\u00a0\u202f]", "", num)
    if not re.match(_PLAIN_NUMBER, num):
        return np.nan, _NOT_NUMBER, False
    value = float(num)
    absolute = bool(pre or mag or post)
    if post == "k$":
        value *= 1_000
    value *= {"": 1, "k": 1_000, "m": 1_000_000}[mag]
    return value, _OK, absolute


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
        status = np.where(np.isnan(arr), _MISSING, np.where(np.isfinite(arr), _OK, _NOT_NUMBER))
        arr = np.where(status == _OK, arr, np.nan)
        if money_unit == "$":
            arr = arr / 1_000
        return ParsedNumbers(arr, status.astype(np.int8), values.to_numpy(dtype=object))

    text = _to_arrow_text(values)
    if decimal == ",":
        text = _point_decimals(text)
    try:  # the commonest case of all: a clean column of plain numbers
        direct = pc.cast(text, pa.float64())
        if direct.null_count == 0 and not pc.any(pc.is_nan(direct)).as_py():
            out = direct.to_numpy(zero_copy_only=False).astype("float64", copy=True)
            status = np.where(np.isfinite(out), _OK, _NOT_NUMBER).astype(np.int8)
            out[status != _OK] = np.nan
            if money_unit == "$":
                out = out / 1_000
            raw = text.to_numpy(zero_copy_only=False) if (status != _OK).any() else None
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
    status = np.where(missing.to_numpy(zero_copy_only=False), _MISSING, _OK).astype(np.int8)
    absolute = np.zeros(n, dtype=bool)
    plain_np = plain.to_numpy(zero_copy_only=False)
    rest = np.flatnonzero(~plain_np & (status != _MISSING))
    if len(rest):
        rest_text = trimmed.take(pa.array(rest)).to_pylist()
        for i, cell in zip(rest, rest_text, strict=True):
            out[i], status[i], absolute[i] = _parse_loose(cell, decimal, money_unit is not None)
    bad = status == _OK
    bad &= ~np.isfinite(out)
    status[bad] = _NOT_NUMBER
    out[status != _OK] = np.nan
    if money_unit is not None:
        bare_scale = 0.001 if money_unit == "$" else 1.0
        out = np.where(absolute, out / 1_000, out * bare_scale)
    raw = text.to_numpy(zero_copy_only=False) if (status != _OK).any() else None
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
    encoded = pc.dictionary_encode(_to_arrow_text(values))
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


# ------------------------------------------------------------------------ validation


@dataclass
class Validated:
    """A validated table: typed canonical values plus, per row, status and issues."""

    values: pd.DataFrame
    valid: np.ndarray
    issues: np.ndarray
    #: Why rows are invalid: reason -> rows (a row may have several reasons).
    reasons: Counter = field(default_factory=Counter)
    #: Remarks on rows that stay valid (duplicate ids, fields not clustered on…).
    notes: Counter = field(default_factory=Counter)

    @property
    def n_rows(self) -> int:
        return len(self.valid)

    @property
    def n_invalid(self) -> int:
        return int((~self.valid).sum())

    def valid_values(self) -> pd.DataFrame:
        return self.values.loc[self.valid].reset_index(drop=True)


class _IssueLog:
    """Collects per-row messages without a Python loop over clean rows."""

    def __init__(self, n: int, skip: np.ndarray | None = None) -> None:
        self.issues = np.full(n, "", dtype=object)
        self.invalid = np.zeros(n, dtype=bool)
        self.reasons: Counter = Counter()
        self.notes: Counter = Counter()
        self.skip = skip

    def add(self, mask: np.ndarray, messages: np.ndarray, reason: str, invalid: bool) -> None:
        if self.skip is not None:
            keep = ~self.skip[mask]
            mask = mask & ~self.skip
            messages = np.asarray(messages, dtype=object)[keep]
        count = int(mask.sum())
        if not count:
            return
        current = self.issues[mask]
        self.issues[mask] = np.where(current == "", messages, current + "; " + messages)
        if invalid:
            self.invalid |= mask
            self.reasons[reason] += count
        else:
            self.notes[reason] += count


def _messages(template: str, raw: np.ndarray | None, mask: np.ndarray) -> np.ndarray:
    cells = raw[mask] if raw is not None else np.full(int(mask.sum()), "")
    return np.array([template.format(value=shown(c)) for c in cells], dtype=object)


def validate(
    frame: pd.DataFrame,
    *,
    required: Sequence[str] = NUMERIC_FIELDS,
    ranges: Ranges | None = None,
    decimal: str = ".",
    income_unit: str = "k$",
    duplicates: Mapping[int, str] | None = None,
    structural: Mapping[int, str] | None = None,
) -> Validated:
    """Validate rows of canonical fields (as text or typed values).

    A row is invalid when a field in ``required`` is missing, not a number, or out of
    range; issues in other fields are reported on the row but do not invalidate it.
    Nothing is imputed and no row is dropped.

    Parameters
    ----------
    frame
        Columns named by canonical field; extra columns are ignored.
    required
        Fields whose problems make a row invalid (the clustering features).
    duplicates
        ``{row position: note}`` from :func:`duplicate_notes`; computed here from
        ``customer_id`` when not given (pass ``{}`` when the caller checked globally).
    structural
        ``{row position: note}`` for rows the reader could not split into columns;
        they are invalid with that note alone.
    """
    ranges = ranges or Ranges()
    missing_cols = [f for f in required if f not in frame.columns]
    if missing_cols:
        raise SchemaError(f"no column for {', '.join(missing_cols)}.")
    n = len(frame)
    broken = np.zeros(n, dtype=bool)
    if structural:
        broken[np.fromiter(structural.keys(), dtype=np.int64, count=len(structural))] = True
    log = _IssueLog(n, broken if structural else None)
    out: dict[str, object] = {}

    if ID in frame.columns:
        ids = pd.Series(_to_arrow_text(frame[ID]).to_pandas(), index=frame.index, dtype="str")
        out[ID] = ids

    if GENDER in frame.columns:
        gender = normalise_gender(frame[GENDER])
        out[GENDER] = gender
        if GENDER in required:
            mask = gender.isna().to_numpy()
            log.add(mask, np.full(int(mask.sum()), "gender: missing", dtype=object),
                    "gender missing", invalid=True)

    for name in NUMERIC_FIELDS:
        if name not in frame.columns:
            continue
        money = income_unit if name == INCOME else None
        parsed = parse_numbers(frame[name], decimal=decimal, money_unit=money)
        low, high = ranges.of(name)
        unit = UNITS[name]
        is_required = name in required
        suffix = "" if is_required else " (not used for segmenting)"
        with np.errstate(invalid="ignore"):
            outside = (parsed.status == _OK) & ((parsed.values < low) | (parsed.values > high))
        values = np.where(outside, np.nan, parsed.values)
        out[name] = values
        checks = [
            (parsed.status == _MISSING, f"{name}: missing" + suffix, "missing"),
            (parsed.status == _NOT_NUMBER, f"{name}: {{value}} is not a number" + suffix,
             "not a number"),
            (parsed.status == _OTHER_CURRENCY,
             f"{name}: {{value}} is not in dollars; convert it to k$" + suffix,
             "not in dollars"),
        ]
        for mask, template, reason in checks:
            if mask.any() and (is_required or reason != "missing"):
                log.add(mask, _messages(template, parsed.text, mask), f"{name} {reason}",
                        invalid=is_required)
        if outside.any():
            shown_values = parsed.values[outside]
            if name == INCOME and income_unit == "k$":
                hint = (". If this column is in dollars, say so: --income-unit '$' or a "
                        "header like 'Annual Income ($)'")
            else:
                hint = ""
            msgs = np.array(
                [f"{name}: {fmt_number(v)} {unit} is outside {fmt_number(low)}–"
                 f"{fmt_number(high)} {unit}{hint}{suffix}" for v in shown_values],
                dtype=object,
            )
            log.add(outside, msgs, f"{name} out of range", invalid=is_required)

    values_frame = pd.DataFrame(out, index=frame.index).reset_index(drop=True)
    if duplicates is None and ID in values_frame.columns:
        duplicates = duplicate_notes(values_frame[ID], row_keys(frame))
    if duplicates:
        positions = np.fromiter(duplicates.keys(), dtype=np.int64, count=len(duplicates))
        mask = np.zeros(n, dtype=bool)
        mask[positions] = True
        notes = np.array([duplicates[int(i)] for i in np.flatnonzero(mask)], dtype=object)
        log.add(mask, notes, "duplicate customer_id", invalid=False)
    if structural:
        log.skip = None
        positions = np.flatnonzero(broken)
        notes = np.array([structural[int(i)] for i in positions], dtype=object)
        summary = np.array([n.startswith(SUMMARY_NOTE) for n in notes], dtype=bool)
        for kind, reason in ((summary, "spreadsheet summary row"), (~summary, "malformed row")):
            mask = np.zeros(n, dtype=bool)
            mask[positions[kind]] = True
            log.add(mask, notes[kind], reason, invalid=True)
    return Validated(values_frame, ~log.invalid, log.issues, log.reasons, log.notes)


def row_keys(frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash per row of the field cells other than the id, as written."""
    cols = [c for c in frame.columns if c != ID]
    if not cols:
        return np.zeros(len(frame), dtype=np.uint64)
    text = pd.DataFrame(
        {c: pd.Series(_to_arrow_text(frame[c]).to_pandas(), dtype="str") for c in cols}
    )
    return pd.util.hash_pandas_object(text, index=False).to_numpy()


def duplicate_notes(
    ids: pd.Series,
    keys: np.ndarray | None = None,
    offset: int = 0,
    positions: np.ndarray | None = None,
) -> dict[int, str]:
    """Notes for rows whose customer id appears more than once.

    Rows are numbered from 1 (the first row after the header). With ``keys`` (see
    :func:`row_keys`), each note says whether the other rows carry the same values or
    conflicting ones. ``positions`` gives each entry's row position when ``ids`` is a
    subset of a larger table (the notes are then keyed by those positions).
    """
    ids = pd.Series(ids).reset_index(drop=True)
    where = np.arange(len(ids)) if positions is None else np.asarray(positions, dtype=np.int64)
    usable = ids.notna() & (ids.astype("str").str.strip() != "")
    dup = (usable & ids.duplicated(keep=False)).to_numpy()
    if not dup.any():
        return {}
    notes: dict[int, str] = {}
    entries = np.flatnonzero(dup)
    groups = pd.Series(entries).groupby(ids.iloc[entries].to_numpy(), sort=False)
    for key, members in groups:
        rows = members.to_numpy()
        same = keys is None or len(set(keys[rows].tolist())) == 1
        kind = "same values" if same else "conflicting values"
        rows = where[rows]
        for pos in rows:
            others = [str(r + 1 + offset) for r in rows if r != pos]
            listed = ", ".join(others[:5])
            if len(others) > 5:
                listed += f" and {len(others) - 5} more"
            notes[int(pos)] = f"customer_id {shown(key)} also on row {listed} ({kind})"
    return notes


_SUMMARY_WORDS = ("total", "totals", "sum", "subtotal", "sub-total", "average", "avg", "mean",
                  "median", "count", "min", "max", "minimum", "maximum")
#: Summary labels, lower-case, as a spreadsheet footer writes them ("Total", "Grand total:").
_SUMMARY = pa.array(sorted(
    f"{prefix}{word}{colon}"
    for word in _SUMMARY_WORDS
    for prefix in ("", "grand ")
    for colon in ("", ":", " :")
))


SUMMARY_NOTE = "looks like a spreadsheet summary row"


def summary_row_notes(cells: pd.Series) -> dict[int, str]:
    """Rows whose cell is a spreadsheet summary label ("Total", "Average", "Grand total").

    Such a row sums or averages customers; scoring it as one would be silently wrong.
    Positions are those of ``cells``; numbering in the note is from 1.
    """
    text = _to_arrow_text(cells.reset_index(drop=True))
    # Short cells only (a cheap pass), then an exact, case-insensitive set lookup.
    short = pc.fill_null(pc.less_equal(pc.utf8_length(text), 16), False)
    if not pc.any(short).as_py():
        return {}
    label = pc.utf8_lower(pc.utf8_trim_whitespace(text))
    hits = pc.and_(short, pc.fill_null(pc.is_in(label, value_set=_SUMMARY), False))
    rows = np.flatnonzero(hits.to_numpy(zero_copy_only=False))
    if not len(rows):
        return {}
    values = text.take(pa.array(rows)).to_pylist()
    return {
        int(r): f"{SUMMARY_NOTE} ({shown(v.strip())}), not a customer"
        for r, v in zip(rows, values, strict=True)
    }


#: A typical customer earning more than this many k$ a year means the column is in dollars.
DOLLAR_MEDIAN_K = 1_000.0


def dollar_income_message(values: pd.Series, decimal: str, header: str) -> str | None:
    """A refusal message when an income column with no unit in its header holds dollars.

    custseg reads such a column in k$. A median above 1,000 k$ ($1M a year) is not a
    customer base in k$: rather than treat $54,000 as 54,000 k$, say so and ask for the
    unit.
    """
    parsed = parse_numbers(values, decimal=decimal, money_unit="k$")
    usable = parsed.values[np.isfinite(parsed.values)]
    if not len(usable):
        return None
    median = float(np.median(usable))
    if median <= DOLLAR_MEDIAN_K:
        return None
    return (
        f"the income column {shown(header)} has no unit in its header, so custseg reads it "
        f"in thousands of dollars (k$), but its median is {fmt_number(median)}: that looks "
        "like dollars. State the unit: a header such as 'Annual Income ($)', or "
        "income_unit='$' (command line: --income-unit '$'); or divide the values by 1,000."
    )
