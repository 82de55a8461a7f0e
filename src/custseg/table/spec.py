"""Features beyond the well-known fields: what a model clusters on, and how to find it again.

A feature is one of the well-known numeric fields (``age``, ``annual_income``,
``spending_score``, found through the header alias table), a column of the input (named by
its header as written), or a derived column (named by the user, computed by an expression
of :mod:`custseg.table.derive`). Each has a role (what it means, for names and charts), a
unit (the column's own, never the role's), a valid range when one is known, and a
transform applied before scaling (``log1p`` for skewed money). The well-known fields keep
their names, units and ranges; the other features are described by :class:`Feature` and
travel with the model (:class:`InputSpec`), so that scoring a file finds the same columns.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from custseg.errors import ParameterError, shown
from custseg.table.fields import LABELS, NUMERIC_FIELDS, UNITS, Ranges
from custseg.table.magnitude import power_unit
from custseg.table.roles import FIELD_ROLES, detect_role

if TYPE_CHECKING:
    from custseg.table.dates import DateFormat
    from custseg.table.headers import HeaderMatch

#: Transforms applied before scaling (``auto`` is decided at fit from the column's skew).
TRANSFORMS: tuple[str, ...] = ("none", "log1p", "signed_log1p")
#: A skew above this makes ``auto`` choose a log transform.
SKEW_FOR_LOG = 1.0
#: The most features a model clusters on.
MAX_FEATURES = 50
#: The longest feature name (a header as written, or a derived name).
MAX_FEATURE_NAME = 100
#: A source column's key in a frame of canonical fields (no field name holds a colon).
COLUMN_PREFIX = "column:"
#: Kinds of features: numbers (scaled, maybe logged) and categories (one-hot encoded).
KINDS: tuple[str, ...] = ("numeric", "categorical")
#: How a categorical feature enters the distance (see custseg.cluster.features).
ENCODINGS: tuple[str, ...] = ("onehot",)
#: Most categories a categorical feature may have: each is a column of the clustering
#: space, and a segment described by 10,000 postcodes is described by none.
MAX_CATEGORIES = 100
#: Longest category text a model keeps (longer cells are flagged, never cut).
MAX_CATEGORY_LENGTH = 200


def source_key(header: str) -> str:
    """The frame column that holds the input column ``header`` for a model's features."""
    return COLUMN_PREFIX + header


@dataclass(frozen=True)
class Feature:
    """One feature other than a well-known field.

    ``source`` is ``"column"`` (read from the input column ``column``, by its header as
    written) or ``"derived"`` (computed by ``expr``, canonical derivation text).
    ``kind`` is ``"numeric"`` or ``"categorical"``: a categorical feature is always a
    column, read as text trimmed of spaces and compared exactly (case included) with
    ``categories``, the values seen at fit (sorted; empty until the fit has seen them).
    """

    name: str
    source: str
    role: str = "other"
    unit: str = ""
    range: tuple[float, float] | None = None
    column: str | None = None
    expr: str | None = None
    #: The smallest value the model reads (0 for a feature it takes the log of).
    min_value: float | None = None
    kind: str = "numeric"
    categories: tuple[str, ...] = ()
    encoding: str | None = None

    @property
    def label(self) -> str:
        return self.name

    @property
    def categorical(self) -> bool:
        return self.kind == "categorical"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "role": self.role,
            "unit": self.unit,
            "range": None if self.range is None else [float(self.range[0]),
                                                      float(self.range[1])],
            "column": self.column,
            "expr": self.expr,
            "min_value": self.min_value,
            **({"kind": self.kind, "categories": list(self.categories),
                "encoding": self.encoding} if self.categorical else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Feature:
        low_high = data.get("range")
        return cls(
            name=str(data["name"]), source=str(data["source"]), role=str(data["role"]),
            unit=str(data["unit"]),
            range=None if low_high is None else (float(low_high[0]), float(low_high[1])),
            column=data.get("column"), expr=data.get("expr"),
            min_value=None if data.get("min_value") is None else float(data["min_value"]),
            kind=str(data.get("kind") or "numeric"),
            categories=tuple(str(c) for c in data.get("categories") or ()),
            encoding=None if data.get("encoding") is None else str(data["encoding"]),
        )


@dataclass(frozen=True)
class ReturnsOnly:
    """The rule that sets customers with returns only apart, for a customer table made
    from a transaction log (``custseg rfm``'s columns): a row whose ``frequency`` feature
    reads 0 bought nothing, so the ``absent`` features (recency, tenure, average order
    value: defined by purchases) are blank, and it is not clustered but placed in the
    segment "Returns only" (id -2). A row with frequency 0 but one of ``absent`` given is
    not set apart (it is clustered, or invalid, as any row)."""

    frequency: str
    absent: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"frequency": self.frequency, "absent": list(self.absent)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ReturnsOnly | None:
        if data is None:
            return None
        return cls(frequency=str(data["frequency"]),
                   absent=tuple(str(a) for a in data.get("absent", ())))


@dataclass(frozen=True)
class InputSpec:
    """How a model's features are found in a table: the features other than the
    well-known fields, the date derivations count from, and the date formats given.

    Empty for a model of the well-known fields alone (the Mall table), so those models
    are exactly what they always were.
    """

    extra: tuple[Feature, ...] = ()
    #: The fit's date (ISO), from which ``years_since``/``days_since`` without a date count.
    as_of: str | None = None
    #: Column header -> strftime format, as the user gave it (``--date-format``).
    date_formats: Mapping[str, str] = field(default_factory=dict)
    #: The unit the fit read incomes in when the header named none: stated ("given") or
    #: told by the values ("$"); None when the header said it or k$ was the default.
    income_unit: str | None = None
    #: Field -> input header, as the fit was told (``--map``): scoring a table of the
    #: same columns finds them again without it.
    mapping: Mapping[str, str] = field(default_factory=dict)
    #: The input columns (headers) each segment is profiled by: categorical and flag
    #: columns, clustered on or not (see custseg.segments.categories).
    profile_by: tuple[str, ...] = ()
    #: Customers with returns only kept apart (a table from a log), or None.
    returns_only: ReturnsOnly | None = None

    def __post_init__(self) -> None:
        names = [f.name for f in self.extra]
        if len(set(names)) != len(names):
            twice = next(n for n in names if names.count(n) > 1)
            raise ParameterError(f"the feature {shown(twice)} is defined twice.")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.extra)

    @property
    def numeric_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.extra if not f.categorical)

    @property
    def categorical_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.extra if f.categorical)

    def with_categories(self, categories: Mapping[str, Sequence[str]]) -> InputSpec:
        """The spec with the categories a fit saw, by feature name."""
        return replace(self, extra=tuple(
            replace(f, categories=tuple(categories[f.name])) if f.name in categories else f
            for f in self.extra))

    @property
    def fit_date(self) -> datetime.date | None:
        return datetime.date.fromisoformat(self.as_of) if self.as_of else None

    def source_columns(self) -> tuple[str, ...]:
        """The input headers the features read, in order, once each."""
        from custseg.table.derive import columns_used, parse_expression

        out: list[str] = []
        for f in self.extra:
            if f.source == "column" and f.column is not None:
                out.append(f.column)
            elif f.source == "derived" and f.expr is not None:
                out.extend(columns_used(parse_expression(f.expr), ()))
        return tuple(dict.fromkeys(out))

    def get(self, name: str) -> Feature | None:
        for f in self.extra:
            if f.name == name:
                return f
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"extra": [f.to_dict() for f in self.extra], "as_of": self.as_of,
                "date_formats": dict(self.date_formats), "income_unit": self.income_unit,
                "mapping": dict(self.mapping), "profile_by": list(self.profile_by),
                **({"returns_only": self.returns_only.to_dict()}
                   if self.returns_only is not None else {})}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> InputSpec:
        if not data:
            return cls()
        return cls(extra=tuple(Feature.from_dict(f) for f in data.get("extra", ())),
                   as_of=data.get("as_of"), date_formats=dict(data.get("date_formats", {})),
                   income_unit=data.get("income_unit"),
                   mapping=dict(data.get("mapping") or {}),
                   profile_by=tuple(data.get("profile_by", ())),
                   returns_only=ReturnsOnly.from_dict(data.get("returns_only")))

    def without(self, names: Sequence[str]) -> InputSpec:
        rule = self.returns_only
        if rule is not None:
            rule = None if rule.frequency in names else replace(
                rule, absent=tuple(a for a in rule.absent if a not in names))
        return replace(self, extra=tuple(f for f in self.extra if f.name not in names),
                       returns_only=rule)


def label_of(name: str) -> str:
    """A feature's label: the well-known field's, else its name as written."""
    return LABELS.get(name, name)


def unit_of(name: str, spec: InputSpec | None = None) -> str:
    """A feature's unit ("" when it has none)."""
    if name in UNITS:
        return UNITS[name]
    found = spec.get(name) if spec is not None else None
    return found.unit if found is not None else ""


def role_of(name: str, spec: InputSpec | None = None) -> str:
    if name in FIELD_ROLES:
        return FIELD_ROLES[name]
    found = spec.get(name) if spec is not None else None
    return found.role if found is not None else "other"


def range_of(name: str, ranges: Ranges, spec: InputSpec | None = None) -> tuple[float, float] | None:
    if name in NUMERIC_FIELDS:
        return ranges.of(name)
    found = spec.get(name) if spec is not None else None
    return found.range if found is not None else None


def with_unit(name: str, spec: InputSpec | None = None) -> str:
    """``"Age (years)"``, ``"MntWines ($)"``, or the label alone when there is no unit."""
    unit, label = unit_of(name, spec), label_of(name)
    if not unit or label.casefold().endswith(f"({unit})".casefold()):
        return label  # "Recency (days)" says its unit already
    return f"{label} ({unit})"


def skew(values: np.ndarray) -> float | None:
    """Fisher–Pearson skew of the finite values; None when it is undefined (fewer than
    three values, or all equal)."""
    x = np.asarray(values, dtype="float64")
    x = x[np.isfinite(x)]
    if len(x) < 3:
        return None
    x = x / power_unit(np.max(np.abs(x)), past=1.0)  # scale-free; 1e103 cubed overflows
    centred = x - x.mean()
    var = float(np.mean(centred**2))
    if not var > 0:
        return None
    return float(np.mean(centred**3) / var**1.5)


def auto_transform(values: np.ndarray) -> str:
    """``log1p`` for a skewed non-negative feature, ``signed_log1p`` for a skewed one with
    negative values (net spend after returns), ``none`` otherwise."""
    s = skew(values)
    if s is None or abs(s) <= SKEW_FOR_LOG:
        return "none"
    x = np.asarray(values, dtype="float64")
    return "signed_log1p" if np.nanmin(x) < 0 else ("log1p" if s > 0 else "none")


def apply_transform(values: np.ndarray, transform: str) -> np.ndarray:
    """The values in the space the distance is measured in (before scaling)."""
    x = np.asarray(values, dtype="float64")
    if transform == "none":
        return x
    if transform == "log1p":  # values below 0 are refused or flagged before this
        return np.log1p(x)
    if transform == "signed_log1p":
        return np.sign(x) * np.log1p(np.abs(x))
    raise ParameterError(f"unknown transform {shown(transform)}; choose from "
                         f"{', '.join(TRANSFORMS)}.")


def invert_transform(values: np.ndarray, transform: str) -> np.ndarray:
    """Back from the distance's space to the feature's own units."""
    x = np.asarray(values, dtype="float64")
    if transform == "none":
        return x
    if transform == "log1p":
        return np.expm1(x)
    if transform == "signed_log1p":
        return np.sign(x) * np.expm1(np.abs(x))
    raise ParameterError(f"unknown transform {shown(transform)}.")


def parse_assignments(items: Sequence[str] | None, what: str, parameter: str, *,
                      last: bool = False, shape: str = "NAME=VALUE") -> dict[str, str]:
    """``NAME=VALUE`` items (``--transform Income=log1p``) as a mapping; a name given
    twice, or an item without ``=``, is refused. With ``last``, the value is after the
    last ``=`` (a header may hold one: date formats); ``shape`` is what the refusal
    shows an item should look like."""
    out: dict[str, str] = {}
    for item in items or ():
        name, eq, value = (str(item).rpartition if last else str(item).partition)("=")
        name, value = name.strip(), value.strip()
        if not eq or not name or not value:
            raise ParameterError(f"{what} {shown(item)} should look like {shape}.",
                                 parameter=parameter)
        if name in out:
            raise ParameterError(f"{what} gives {shown(name)} twice.", parameter=parameter)
        out[name] = value
    return out


def resolve_features(
    match: HeaderMatch,
    features: Sequence[str] | str | None,
    derivations: Sequence[str] = (),
    transforms: Mapping[str, str] | None = None,
    ranges: Ranges | None = None,
    as_of: datetime.date | None = None,
    categorical: Sequence[str] | str | None = None,
) -> tuple[tuple[str, ...] | None, InputSpec, dict[str, str]]:
    """The features a fit asks for, found in a table: ``(feature names, input spec,
    transforms by feature name)``.

    A name is, in this order: a derived feature (``derivations``, ``NAME=EXPR``; a
    derivation named like a well-known field takes its role, unit and range), a
    well-known field, or an input header as written, else after normalisation (a header
    the alias table gives to a field is that field). Anything else is refused, listing
    what can be chosen. ``None`` features (nothing asked) stay None: the caller's default.

    ``categorical`` names input columns to cluster on as categories (one-hot encoded):
    each becomes a :class:`Feature` of kind ``categorical`` in the spec (its categories
    are learnt at fit), never one of the returned (numeric) feature names.
    """
    from custseg.table.derive import (
        MAX_LENGTH,
        columns_used,
        parse_derivation,
        resolve,
        to_text,
    )
    from custseg.table.headers import normalise_header

    ranges = ranges or Ranges()
    headers = match.columns
    by_position = {pos: name for name, pos in match.fields.items()}
    derived: dict[str, Feature] = {}
    for text in derivations:
        d = parse_derivation(text)
        if d.name in derived:
            raise ParameterError(f"the derived feature {shown(d.name)} is defined twice.",
                                 parameter="derivations")
        resolved = resolve(d.expr, headers)
        for used in columns_used(resolved, headers):
            if used not in headers and not any(
                    normalise_header(h) == normalise_header(used) for h in headers):
                listed = ", ".join(shown(h, 40) for h in headers[:12])
                raise ParameterError(
                    f"the derivation of {shown(d.name)} reads {shown(used)}, which is not a "
                    f"column of this table (its columns: {listed}"
                    + (" …" if len(headers) > 12 else "") + ")", parameter="derivations")
        expr = to_text(resolved)
        if len(expr) > MAX_LENGTH:
            read = columns_used(resolved, headers)
            raise ParameterError(
                f"the derivation of {shown(d.name)} reads {len(read):,} columns once its "
                f"patterns are expanded ({shown(read[0], 30)} … {shown(read[-1], 30)}): "
                f"{len(expr):,} characters, more than the {MAX_LENGTH:,} a model keeps for "
                "one derivation; match fewer columns, or sum them in parts",
                parameter="derivations")
        guess = detect_role(d.name)
        role = FIELD_ROLES.get(d.name, guess.role)
        derived[d.name] = Feature(
            name=d.name, source="derived", role=role,
            unit=UNITS.get(d.name, guess.unit or ""),
            range=ranges.of(d.name) if d.name in NUMERIC_FIELDS else None, expr=expr)

    def find(name: str) -> tuple[str, Feature | None]:
        if name in derived:
            return name, derived[name]
        if name in NUMERIC_FIELDS or name == "gender":  # gender: check_features says why
            return name, None
        hits = [i for i, h in enumerate(headers) if h == name]
        if not hits:
            key = normalise_header(name)
            hits = [i for i, h in enumerate(headers) if normalise_header(h) == key]
        if len(hits) > 1:
            raise ParameterError(f"the feature {shown(name)} names {len(hits)} columns of the "
                                 "table; rename the copies.", parameter="features")
        if not hits:
            choices = [*NUMERIC_FIELDS, *derived,
                       *[h for i, h in enumerate(headers) if i not in by_position]]
            listed = ", ".join(shown(c, 40) for c in choices[:15])
            raise ParameterError(
                f"unknown feature {shown(name)}: it is neither a well-known field, a derived "
                f"feature nor a column of the table; choose from {listed}"
                + (" …" if len(choices) > 15 else ""), parameter="features")
        position = hits[0]
        if position in by_position:
            field_name = by_position[position]
            if field_name not in (*NUMERIC_FIELDS, "gender"):
                raise ParameterError(
                    f"the feature {shown(name)} is the table's {field_name} column, which is "
                    "not a number to cluster on" + (" (switch gender on instead)"
                                                    if field_name == "gender" else ""),
                    parameter="features")
            return field_name, None
        header = headers[position]
        if len(header) > MAX_FEATURE_NAME:
            raise ParameterError(f"the column {shown(header)} has a header longer than "
                                 f"{MAX_FEATURE_NAME} characters; rename it to use it.",
                                 parameter="features")
        guess = detect_role(header)
        return header, Feature(name=header, source="column", column=header, role=guess.role,
                               unit=guess.unit or "")

    names: list[str] | None = None
    extra: dict[str, Feature] = {}
    if features is not None:
        asked = split_features(features) if isinstance(features, str) else list(features)
        names = []
        for item in asked:
            name, feature = find(item)
            names.append(name)
            if feature is not None:
                extra[name] = feature
        left_out = [d for d in derived if d not in names]
        if left_out:
            raise ParameterError(
                f"the derived feature {shown(left_out[0])} is not among --features; add it "
                "there, or leave the derivation out", parameter="derivations")
    elif derived:
        raise ParameterError(
            "derived features need --features to say what to cluster on (name them there, "
            "with the other features)", parameter="derivations")
    asked_categories = (split_features(categorical) if isinstance(categorical, str)
                        else list(categorical or ()))
    for item in asked_categories:
        name, feature = find(item)
        if name == "gender":
            raise ParameterError(f"{shown(item)} is the table's gender column: switch gender "
                                 "on to cluster on its categories", parameter="use_gender")
        if feature is None or feature.source != "column":
            what = ("a derived feature, which is a number" if feature is not None else
                    f"the well-known numeric field {name}")
            raise ParameterError(f"{shown(item)} cannot be a categorical feature: it is {what}.",
                                 parameter="categorical")
        if name in extra or name in (names or ()):
            raise ParameterError(
                f"{shown(name)} is named both as a feature and as a categorical feature; "
                "name it once (as categorical, to cluster on its categories)",
                parameter="categorical")
        extra[name] = replace(feature, kind="categorical", encoding="onehot", unit="")
    total = len(names if names is not None else ()) + len(asked_categories)
    if total > MAX_FEATURES:
        raise ParameterError(f"{total} features is more than the {MAX_FEATURES} a model "
                             "clusters on; choose fewer.", parameter="categorical")
    chosen: dict[str, str] = {}
    for item, how in (transforms or {}).items():
        name, found = find(item)
        if found is not None and found.name in extra and extra[found.name].categorical:
            raise ParameterError(f"{shown(name)} is categorical: its categories are one-hot "
                                 "encoded, never transformed; leave out its transform.",
                                 parameter="transforms")
        if name in chosen and chosen[name] != how:
            raise ParameterError(f"the feature {shown(name)} is given two transforms "
                                 f"({chosen[name]} and {how}); give one.",
                                 parameter="transforms")
        chosen[name] = how
    spec = InputSpec(extra=tuple(extra.values()),
                     as_of=(as_of or datetime.date.today()).isoformat() if derived else None)
    return (tuple(names) if names is not None else None), spec, chosen


def date_format_text(fmt: DateFormat) -> str:
    """A decided date format as the model file keeps it: ``kind|separator|pattern|time``."""
    return "|".join([fmt.kind, fmt.separator or "", fmt.pattern, "1" if fmt.with_time else "0"])


def date_format_from_text(text: str) -> DateFormat:
    """The date format :func:`date_format_text` wrote (refused when it is not one)."""
    from custseg.table.dates import DateFormat

    parts = str(text).split("|")
    if len(parts) != 4 or parts[3] not in ("0", "1"):
        raise ParameterError(f"{shown(text)} is not a date format custseg wrote.")
    kind, separator, pattern, time = parts
    try:
        return DateFormat(kind, separator or None, pattern, time == "1")
    except ValueError as exc:
        raise ParameterError(f"{shown(text)} is not a date format custseg wrote ({exc}).") from None


def decide_date_formats(spec: InputSpec, column: Callable[[str], Any],
                        given: Mapping[str, str] | None = None) -> InputSpec:
    """``spec`` with the format of every date column its derivations read decided over
    the whole column (``column(header)``: its cells) or as ``given`` (strftime, by header),
    so that scoring reads each date as the fit did."""
    from custseg.table.dates import decide_date_format
    from custseg.table.derive import date_columns, parse_expression
    from custseg.table.roles import is_birth_year_header, names_year

    formats = dict(spec.date_formats)
    read = [h for f in spec.extra if f.source == "derived" and f.expr
            for h in date_columns(parse_expression(f.expr))]
    unread = [h for h in (given or {}) if h not in read]
    if unread:
        listed = ", ".join(shown(h, 40) for h in dict.fromkeys(read)) or "none"
        raise ParameterError(
            f"a date format is given for {shown(unread[0])}, which no derivation reads as a "
            f"date (the date columns read: {listed})", parameter="date_formats")
    for header in dict.fromkeys(read):
        if header in formats:
            continue
        cells = column(header)
        stated = (given or {}).get(header)
        year = stated in ("%Y", "year") or (stated is None and (
            is_birth_year_header(header) or names_year(header) or _all_years(cells)))
        fmt = decide_date_format(cells, name=header, given=None if year else stated,
                                 year_column=year)
        formats[header] = date_format_text(fmt)
    return replace(spec, date_formats=formats)


def _all_years(cells: Any) -> bool:
    """Whether every filled cell is a four-digit year (1957, or 1957.0 as pandas writes a
    year column with blanks): such a column holds years, whatever its header."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(cells, pa.ChunkedArray):
        cells = cells.combine_chunks()
    text = pc.utf8_trim_whitespace(pa.array(cells).cast(pa.string()))
    filled = pc.drop_null(text).filter(pc.not_equal(pc.drop_null(text), ""))
    if len(filled) == 0:
        return False
    return bool(pc.all(pc.match_substring_regex(filled, r"^[12][0-9]{3}(\.0+)?$")).as_py())


def parse_derivation_name(text: str) -> str:
    """The name a ``NAME=EXPR`` derivation defines."""
    from custseg.table.derive import parse_derivation

    return parse_derivation(text).name


def split_features(text: str) -> list[str]:
    """A comma-separated feature list; a header holding a comma is written in backticks
    (`` `a,b` ``; a backtick inside is doubled), as in derivations."""
    out, current, quoted, i = [], [], False, 0
    while i < len(text):
        char = text[i]
        if char == "`":
            if quoted and text[i + 1:i + 2] == "`":
                current.append("`")
                i += 2
                continue
            quoted = not quoted
        elif char == "," and not quoted:
            out.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    if quoted:
        raise ParameterError(f"the feature list {shown(text)} opens a backtick that does not "
                             "close.", parameter="features")
    out.append("".join(current))
    return [name.strip() for name in out if name.strip()]
