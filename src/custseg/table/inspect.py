"""Column inspection: what each column of a customer table is, and what can be segmented.

Each column gets a kind, decided over all its cells:

- ``id``: its header is an id header (:data:`custseg.table.roles.ID_HEADERS`: CustomerID,
  Customer ID, CUST_ID, ID, Client, RowNumber, Row ID, Unnamed: 0…), or its values are
  distinct on at least 99% of the rows (of at least 20) and run as consecutive integers
  (or carry leading zeros), or are text codes (letters and digits, no spaces: C10001).
  An id is never a feature.
- ``constant``: one value, or none (an all-missing column). Never suggested; no skew.
- ``flag``: exactly two values (a 0/1 response or complaint column, Male/Female):
  profiled as a share, like a category, never given a level or a transform.
- ``numeric``: at least 95% of the non-missing cells are numbers
  (:func:`custseg.table.parse.parse_numbers`); the rest are counted as invalid. A count
  with few values (children at home, web purchases) stays numeric. A year column (a
  birth-year header, or four-digit integers 1900–2100 under a header with the word
  "year") is numeric and marked ``year``, never a date and never a feature.
- ``date``: at least 95% of the non-missing cells are dates
  (:mod:`custseg.table.dates`), or the user gave the column's date format.
- ``categorical``: other text with at most 50 distinct values, or at most 5% of rows.
- ``free_text``: other text.

Skew is the Fisher–Pearson coefficient of the valid numbers (None for other kinds,
constants and fewer than 3 values). The transform suggested for a numeric column is
``log1p`` when it is non-negative and its skew is above 1, ``signed_log1p``
(sign(x)·log1p(|x|)) when it has negative values and its skew is above 1 in size, and
``none`` otherwise (always for ids, constants, flags, years, dates and text).

Everything is computed on each column's distinct cells (:mod:`custseg.table.cells`),
weighted by their rows, so a million rows of twenty columns take a few seconds.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custseg.errors import SchemaError, shown
from custseg.table.cells import Cells, distinct_cells
from custseg.table.dates import (
    DateFormat,
    decide_date_format,
    looks_like_dates,
    parse_dates,
)
from custseg.table.headers import normalise_header
from custseg.table.parse import OK, parse_numbers
from custseg.table.roles import (
    FAMILIES,
    ROLES,
    UNITS,
    detect_role,
    family_of,
    is_birth_year_header,
    is_customer_since_header,
    is_id_header,
    names_year,
)
from custseg.table.transactions import OUTPUT_COLUMNS, RFM_FEATURES

KINDS: tuple[str, ...] = (
    "id", "constant", "flag", "numeric", "categorical", "date", "free_text",
)
TRANSFORMS: tuple[str, ...] = ("none", "log1p", "signed_log1p")

#: Share of non-missing cells that must parse for a column to be numeric, or a date.
NUMERIC_SHARE = 0.95
DATE_SHARE = 0.95
#: Distinct values (of the rows) an id has, and the rows it needs, to be told by its values.
ID_DISTINCT = 0.99
ID_MIN_ROWS = 20
#: Consecutive integers: their span is at most this much more than their number.
ID_SPAN = 1.05
#: Categorical: at most this many distinct values, or at most this share of the rows.
CATEGORY_MAX = 50
CATEGORY_SHARE = 0.05
#: A category or flag column is offered to profile by when it has at most this many values.
PROFILE_MAX = 20
TOP_MAX = 20
#: Skew above which (in size) a transform is suggested.
SKEW_LIMIT = 1.0
#: A numeric column is a suggested feature when at least this share of rows is valid.
FEATURE_VALID_SHARE = 0.5
FEATURES_MAX = 20
YEAR_RANGE = (1900, 2100)
MONEY_ROLES = frozenset({"income", "monetary", "balance"})

# A cell that could be a number (digits, marks, a dollar sign or code, a k/m suffix):
# only such columns are given to the full number parser.
_MARKS = "[\\d.,'\\s\u00a0\u202f]"
_NUMBER_LIKE = (rf"(?i)^[+-]?(?:us\$|\$|usd)?\s*[+-]?{_MARKS}*\d{_MARKS}*(?:[eE][+-]?\d+)?\s*"
                r"[kKmM]?\s*(?:k\$|us\$|\$|usd)?$")
_CODE = r"^[A-Za-z0-9][A-Za-z0-9_\-./:#]{0,63}$"
_LEADING_ZERO = r"^[+-]?0\d"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ColumnInfo:
    """What one column is (see the module's docstring for the kinds).

    ``name`` is the header as written and ``position`` its place (from 0); ``missing``
    the share of rows with no value (0–1); ``distinct`` the number of distinct values
    (numbers compared as numbers in numeric columns); ``invalid`` the cells given but
    not readable for the kind (text in a numeric column, a bad date); ``top`` the
    commonest values and their rows for categorical and flag columns (at most 20);
    ``year`` marks a year column; ``date_format`` is a date column's format, decided
    over the column or given; ``role_source`` says where the role came from
    (``"alias"``, ``"family"``, ``"none"`` or ``"given"``).
    """

    name: str
    position: int
    kind: str
    role: str
    unit: str | None
    missing: float
    distinct: int
    skew: float | None
    transform: str
    invalid: int = 0
    top: tuple[tuple[str, int], ...] = ()
    year: bool = False
    date_format: DateFormat | None = None
    role_source: str = "none"

    def to_json_dict(self) -> dict[str, Any]:
        """The column as JSON-ready data: the contract's keys first, then the rest."""
        return {
            "name": self.name,
            "kind": self.kind,
            "role": self.role,
            "missing": _finite(self.missing),
            "distinct": int(self.distinct),
            "skew": _finite(self.skew),
            "transform": self.transform,
            "position": self.position,
            "unit": self.unit,
            "invalid": int(self.invalid),
            "year": bool(self.year),
            "date_format": None if self.date_format is None else self.date_format.pattern,
            "role_source": self.role_source,
            "top": [{"value": value, "count": int(count)} for value, count in self.top],
        }


@dataclass(frozen=True)
class Inspection:
    """A table's columns and what to segment it on.

    ``suggested_features``: numeric columns in header order, except ids, constants,
    flags, years, columns with fewer than half their rows valid, and the columns a
    suggested derivation replaces (the ``mnt_*`` columns that ``total_spend`` sums),
    with the derived features at their sources' places; at most 20.
    ``suggested_derivations``: derivations in the derivation language (``age =
    years_since(Year_Birth)``). ``profile_by``: categorical and flag columns with at most
    20 values. ``warnings``: what a reader of the table should know (set by the caller).
    """

    n_rows: int
    columns: tuple[ColumnInfo, ...]
    suggested_features: tuple[str, ...]
    suggested_derivations: tuple[str, ...]
    profile_by: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def column(self, name: str) -> ColumnInfo:
        """The first column with header ``name``."""
        for info in self.columns:
            if info.name == name:
                return info
        raise KeyError(name)

    def to_json_dict(self) -> dict[str, Any]:
        """``{"n_rows", "columns", "suggested_features", "suggested_derivations"}`` then
        ``"profile_by"`` and ``"warnings"``; never a NaN or an infinity."""
        return {
            "n_rows": int(self.n_rows),
            "columns": [c.to_json_dict() for c in self.columns],
            "suggested_features": list(self.suggested_features),
            "suggested_derivations": list(self.suggested_derivations),
            "profile_by": list(self.profile_by),
            "warnings": list(self.warnings),
        }


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# -------------------------------------------------------------------------- the entry


def inspect_columns(
    columns: Sequence[pa.Array | pa.ChunkedArray],
    header: Sequence[str],
    *,
    date_formats: Mapping[str, str] | None = None,
    decimal: str = ".",
    roles: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    id_columns: Collection[str] = (),
) -> Inspection:
    """Inspect a table given as text columns (as the readers give them: null or "" for
    empty), with its header.

    Parameters
    ----------
    columns, header
        One text column per header entry, all of one length.
    date_formats
        ``{column: strftime format}`` for date columns whose format cannot be told (or
        that are written another way than the accepted ones).
    decimal
        The table's decimal mark ("," for a semicolon file).
    roles, units
        ``{column: role}`` and ``{column: unit}`` to set what the headers do not say.
    id_columns
        Columns to take as ids whatever their header.

    Raises :class:`SchemaError` when a setting names no column or an unknown role or
    unit, and when a date column's format cannot be decided (see
    :func:`custseg.table.dates.decide_date_format`).
    """
    header = tuple(str(h) for h in header)
    if len(columns) != len(header):
        raise ValueError(f"{len(columns)} columns for a header of {len(header)}")
    lengths = {len(c) for c in columns}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    n_rows = lengths.pop() if lengths else 0
    date_formats = _checked("date_formats", date_formats, header)
    roles = _checked("roles", roles, header, allowed=ROLES)
    units = _checked("units", units, header, allowed=UNITS)
    ids = set(id_columns)
    infos = tuple(
        _inspect_one(column, name, position, n_rows, decimal=decimal,
                     date_format=date_formats.get(name), role=roles.get(name),
                     unit=units.get(name), is_id=name in ids)
        for position, (column, name) in enumerate(zip(columns, header, strict=True))
    )
    derivations, sources, replaced = _derivations(infos, header)
    features = _features(infos, sources, replaced, n_rows)
    if set(OUTPUT_COLUMNS) <= set(header):
        # a customer table written by custseg rfm: segment on recency, frequency and
        # monetary, as RFM does (tenure, average order value and returns are profiled, and
        # with no role, returns would stop the rulebook's RFM names applying)
        features = tuple(f for f in features if f in RFM_FEATURES) or features
    profile_by = tuple(c.name for c in infos
                       if c.kind in ("categorical", "flag") and c.distinct <= PROFILE_MAX)
    return Inspection(n_rows=n_rows, columns=infos, suggested_features=features,
                      suggested_derivations=derivations, profile_by=profile_by)


def _checked(parameter: str, given: Mapping[str, str] | None, header: tuple[str, ...],
             allowed: Sequence[str] | None = None) -> dict[str, str]:
    out = dict(given or {})
    for column, value in out.items():
        if column not in header:
            listed = ", ".join(repr(h) for h in header[:20]) + (" …" if len(header) > 20 else "")
            raise SchemaError(
                f"there is no column {shown(column)} to give a setting for; the columns are "
                f"{listed or 'none'}",
                parameter=parameter, key=str(column),
            )
        if allowed is not None and value not in allowed:
            raise SchemaError(
                f"{shown(value)} for column {shown(column)} is not one of "
                f"{', '.join(allowed)}",
                parameter=parameter, key=str(column),
            )
    return out


# --------------------------------------------------------------------- one column


def _inspect_one(column: pa.Array | pa.ChunkedArray, name: str, position: int, n_rows: int,
                 *, decimal: str, date_format: str | None, role: str | None,
                 unit: str | None, is_id: bool) -> ColumnInfo:
    guess = detect_role(name)
    base = {
        "name": name, "position": position,
        "role": role or guess.role, "unit": unit if unit is not None else guess.unit,
        "role_source": "given" if role else guess.source,
    }
    cells = distinct_cells(column)
    given = cells.n_given
    base["missing"] = cells.n_missing / n_rows if n_rows else 0.0

    def info(kind: str, distinct: int, **more: Any) -> ColumnInfo:
        return ColumnInfo(kind=kind, distinct=int(distinct), skew=more.pop("skew", None),
                          transform=more.pop("transform", "none"), **base, **more)

    if date_format is not None:
        return _date(cells, name, info, given=date_format)
    if is_id or is_id_header(name):
        return info("id", len(cells.values))
    if given == 0:
        return info("constant", 0)
    numbers = _numbers(cells, decimal, base["role"] in MONEY_ROLES)
    if numbers is not None:
        values, weights = numbers
        return _numeric(cells, name, values, weights, base["role"], info)
    if len(cells.values) == 1:
        return info("constant", 1)
    if looks_like_dates(cells) >= DATE_SHARE:
        return _date(cells, name, info, given=None)
    distinct = len(cells.values)
    if distinct == 2:
        return info("flag", 2, top=_top_text(cells))
    if base["role"] == "other" and _text_ids(cells, n_rows):
        return info("id", distinct)
    if distinct <= CATEGORY_MAX or distinct <= CATEGORY_SHARE * n_rows:
        return info("categorical", distinct, top=_top_text(cells))
    return info("free_text", distinct)


def _numbers(cells: Cells, decimal: str, money: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """The valid numbers of the distinct cells and their rows, when the column is
    numeric (at least 95% of its non-missing cells parse); None otherwise. A money
    column's cells may carry a dollar sign or a k suffix ("$15,000", "$20k"): its values
    are then dollars."""
    given = cells.n_given
    if given == 0:
        return None
    like = _match(cells.values, _NUMBER_LIKE)
    if cells.counts[like].sum() < NUMERIC_SHARE * given:
        return None
    text = pd.Series(pd.arrays.ArrowExtensionArray(cells.values))
    for unit in (None, "$") if money else (None,):
        parsed = parse_numbers(text, decimal=decimal, money_unit=unit)
        ok = parsed.status == OK
        if cells.counts[ok].sum() >= NUMERIC_SHARE * given:
            values = parsed.values[ok] * (1_000 if unit == "$" else 1)
            return values, cells.counts[ok]
    return None


def _numeric(cells: Cells, name: str, values: np.ndarray, weights: np.ndarray, role: str,
             info) -> ColumnInfo:
    invalid = cells.n_given - int(weights.sum())
    found, where = np.unique(values, return_inverse=True)
    rows = np.bincount(where, weights=weights, minlength=len(found)).astype(np.int64)
    distinct = len(found)
    if distinct <= 1:
        return info("constant", distinct, invalid=invalid)
    if distinct == 2:
        top = _top(tuple(_number_text(v) for v in found), rows, np.arange(distinct))
        return info("flag", 2, invalid=invalid, top=top)
    integral = bool(np.all(found == np.round(found)))
    year = is_birth_year_header(name) or bool(
        names_year(name) and integral and found[0] >= YEAR_RANGE[0]
        and found[-1] <= YEAR_RANGE[1])
    if not year and role == "other" and _number_ids(cells, found, integral):
        return info("id", distinct, invalid=invalid)
    skew = _skew(values, weights)
    transform = "none" if year else _transform(skew, float(found[0]))
    return info("numeric", distinct, invalid=invalid, skew=skew, transform=transform,
                year=year)


def _date(cells: Cells, name: str, info, given: str | None) -> ColumnInfo:
    fmt = decide_date_format(cells, name=name, given=given)
    parsed = parse_dates(cells, fmt)
    good = int(np.count_nonzero(parsed.status == OK))
    return info("date", len(cells.values), invalid=cells.n_given - good, date_format=fmt)


def _match(values: pa.Array, pattern: str) -> np.ndarray:
    found = pc.fill_null(pc.match_substring_regex(values, pattern), False)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def _number_ids(cells: Cells, found: np.ndarray, integral: bool) -> bool:
    """Integers distinct on 99% of the rows that run consecutively or keep leading zeros."""
    n = cells.n_rows
    if not integral or cells.n_given < ID_MIN_ROWS or len(found) < ID_DISTINCT * n:
        return False
    span = float(found[-1] - found[0] + 1)
    return span <= ID_SPAN * len(found) or bool(_match(cells.values, _LEADING_ZERO).any())


def _text_ids(cells: Cells, n_rows: int) -> bool:
    """Text codes (letters and digits, no spaces: C10001) distinct on 99% of the rows."""
    if cells.n_given < ID_MIN_ROWS or len(cells.values) < ID_DISTINCT * n_rows:
        return False
    code = _match(cells.values, _CODE) & _match(cells.values, r"\d")
    return bool(cells.counts[code].sum() >= ID_DISTINCT * cells.n_given)


def _skew(values: np.ndarray, weights: np.ndarray) -> float | None:
    """Fisher–Pearson skew (g1) of numbers given with their rows; None for fewer than 3
    values or no spread."""
    total = float(weights.sum())
    if total < 3:
        return None
    scale = float(np.max(np.abs(values)))
    if not math.isfinite(scale) or scale == 0:
        return None
    x = values / scale
    w = weights.astype(np.float64)
    mean = float(np.dot(w, x) / total)
    d = x - mean
    m2 = float(np.dot(w, d * d) / total)
    if not m2 > 0:
        return None
    m3 = float(np.dot(w, d * d * d) / total)
    skew = m3 / m2 ** 1.5
    if not math.isfinite(skew):
        return None
    return 0.0 if abs(skew) < 1e-12 else skew


def _transform(skew: float | None, lowest: float) -> str:
    if skew is None:
        return "none"
    if lowest >= 0 and skew > SKEW_LIMIT:
        return "log1p"
    if lowest < 0 and abs(skew) > SKEW_LIMIT:
        return "signed_log1p"
    return "none"


def _number_text(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _top(labels: Sequence[str], rows: np.ndarray, first: np.ndarray) -> tuple[
        tuple[str, int], ...]:
    """The commonest values: most rows first, then in the order given (numbers: smaller
    first)."""
    order = np.lexsort((first, -rows))[:TOP_MAX]
    return tuple((str(labels[i]), int(rows[i])) for i in order)


def _top_text(cells: Cells) -> tuple[tuple[str, int], ...]:
    order = np.lexsort((np.arange(len(cells.counts)), -cells.counts))[:TOP_MAX]
    values = cells.values.take(pa.array(order)).to_pylist()
    return tuple((str(v), int(cells.counts[i])) for v, i in zip(values, order, strict=True))


# ------------------------------------------------------------------- suggestions


def _ref(name: str) -> str | None:
    """A column as the derivation language writes it: bare when an identifier, else in
    backticks; None when it holds a backtick itself (no suggestion then)."""
    if "`" in name:
        return None
    return name if _IDENTIFIER.fullmatch(name) else f"`{name}`"


def _derivations(infos: tuple[ColumnInfo, ...], header: tuple[str, ...]) -> tuple[
        tuple[str, ...], dict[int, str], set[int]]:
    """The suggested derivations, where each derived feature takes its place (position
    -> name), and the positions of the columns they replace as features."""
    taken = {normalise_header(h) for h in header}
    numeric = [c for c in infos if c.kind == "numeric"]
    out: list[tuple[int, str]] = []
    sources: dict[int, str] = {}
    replaced: set[int] = set()

    has_age = any(c.role == "age" for c in numeric)
    birth = next((c for c in numeric if c.year and is_birth_year_header(c.name)), None)
    if birth is not None and not has_age and "age" not in taken and _ref(birth.name):
        out.append((birth.position, f"age = years_since({_ref(birth.name)})"))
        sources[birth.position] = "age"

    has_tenure = any(c.role == "tenure" for c in numeric)
    since = next((c for c in infos if c.kind == "date" and (
        is_customer_since_header(c.name) or c.role == "tenure")), None)
    if since is not None and not has_tenure and "tenure_days" not in taken \
            and _ref(since.name):
        out.append((since.position, f"tenure_days = days_since({_ref(since.name)})"))
        sources[since.position] = "tenure_days"

    mnt = FAMILIES[0]
    members = [c for c in numeric if family_of(c.name) is mnt]
    if len(members) >= 2 and "total_spend" not in taken:
        spec = _sum_of(members, header)
        if spec is not None:
            out.append((members[0].position, f"total_spend = sum({spec})"))
            sources[members[0].position] = "total_spend"
            replaced.update(c.position for c in members)
    out.sort()
    return tuple(text for _, text in out), sources, replaced


def _sum_of(members: list[ColumnInfo], header: tuple[str, ...]) -> str | None:
    """The family's columns as a glob over the headers as written (```Mnt*```) when one
    matches exactly them, else listed."""
    names = [c.name for c in members]
    prefix = next((names[0][:i] for i in range(1, len(names[0]) + 1)
                   if normalise_header(names[0][:i]) == "mnt"), None)
    if prefix is not None and not set("*?[]`") & set(prefix):
        glob = prefix + "*"
        matched = [i for i, h in enumerate(header) if fnmatch.fnmatchcase(h, glob)]
        if matched == [c.position for c in members]:
            return f"`{glob}`"
    if any("`" in n for n in names):
        return None
    return ", ".join(f"`{n}`" for n in names)


def _features(infos: tuple[ColumnInfo, ...], sources: Mapping[int, str],
              replaced: set[int], n_rows: int) -> tuple[str, ...]:
    out: list[str] = []
    for c in infos:
        if c.position in sources:
            out.append(sources[c.position])
        if c.kind != "numeric" or c.year or c.position in replaced:
            continue
        valid = 1.0 - c.missing - (c.invalid / n_rows if n_rows else 0.0)
        if valid >= FEATURE_VALID_SHARE:
            out.append(c.name)
    return tuple(out[:FEATURES_MAX])
