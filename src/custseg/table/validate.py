"""Validation of the well-known fields: typed values and, for every row, status and issues.

Nothing is imputed and no row is dropped: every row that cannot be used says exactly why.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from custseg.errors import SchemaError, shown
from custseg.table.fields import GENDER, ID, INCOME, NUMERIC_FIELDS, UNITS, Ranges, fmt_number
from custseg.table.notes import SUMMARY_NOTE, duplicate_notes, row_keys
from custseg.table.parse import (
    AMBIGUOUS,
    FROM_VALUES,
    MISSING,
    NOT_NUMBER,
    OK,
    OTHER_CURRENCY,
    NumberFormat,
    currency_of,
    grouping_mark,
    normalise_gender,
    parse_numbers,
    to_arrow_text,
)
from custseg.table.spec import InputSpec, source_key


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
    #: Rows set apart, neither clustered nor invalid: the customers with returns only of
    #: a table from a transaction log (see :class:`~custseg.table.spec.ReturnsOnly`);
    #: None when the spec has no such rule.
    apart: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        return len(self.valid)

    @property
    def n_apart(self) -> int:
        return 0 if self.apart is None else int(self.apart.sum())

    @property
    def n_invalid(self) -> int:
        return int((~self.valid).sum()) - self.n_apart

    @property
    def invalid(self) -> np.ndarray:
        """Rows that cannot be used (neither valid nor set apart)."""
        return ~self.valid if self.apart is None else ~self.valid & ~self.apart

    def valid_values(self) -> pd.DataFrame:
        return self.values.loc[self.valid].reset_index(drop=True)


class _IssueLog:
    """Collects per-row messages without a Python loop over clean rows."""

    def __init__(self, n: int) -> None:
        self.issues = np.full(n, "", dtype=object)
        self.invalid = np.zeros(n, dtype=bool)
        self.reasons: Counter = Counter()
        self.notes: Counter = Counter()

    def add(self, mask: np.ndarray, messages: np.ndarray, reason: str, *, invalid: bool,
            skip: np.ndarray | None = None) -> None:
        """Append ``messages`` (one per row of ``mask``, in row order) to those rows.

        Rows in ``skip`` are left untouched and not counted. ``reason`` is counted once per
        row, as a reason the row is invalid or, with ``invalid=False``, as a note.
        """
        if skip is not None:
            messages = np.asarray(messages, dtype=object)[~skip[mask]]
            mask = mask & ~skip
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

    def add_notes(self, notes: Mapping[int, str], reason: str, *, invalid: bool,
                  skip: np.ndarray | None = None) -> None:
        """Append ``{row position: text}`` as given: one message per noted row."""
        if not notes:
            return
        mask = _rows(len(self.issues), notes)
        texts = np.array([notes[int(i)] for i in np.flatnonzero(mask)], dtype=object)
        self.add(mask, texts, reason, invalid=invalid, skip=skip)


def _rows(n: int, notes: Mapping[int, str]) -> np.ndarray:
    """The rows ``notes`` is about, as a mask over ``n`` rows."""
    mask = np.zeros(n, dtype=bool)
    mask[np.fromiter(notes.keys(), dtype=np.int64, count=len(notes))] = True
    return mask


#: Added to an out-of-range income read in k$: it may be a column of dollars.
_DOLLARS_HINT = (". If this column is in dollars, say so: set the income unit to '$' or use a "
                 "header like 'Annual Income ($)'")


def _check_number(
    log: _IssueLog,
    cells: pd.Series,
    name: str,
    *,
    bounds: tuple[float, float] | None,
    unit: str,
    required: bool,
    decimal: str,
    income_unit: str,
    skip: np.ndarray,
    number_format: NumberFormat | None,
    format_key: str | None = None,
) -> np.ndarray:
    """Parse one numeric column and log its problems; return its values, NaN where
    unusable (outside ``bounds``, when given, too).

    Missing values are logged only for a ``required`` field; problems in any other field
    are logged as notes that do not invalidate the row.
    """
    parsed = parse_numbers(cells, decimal=decimal,
                           money_unit=income_unit if name == INCOME else None,
                           mixed=FROM_VALUES if number_format is None
                           else number_format.mixed.get(format_key or name))
    low, high = bounds if bounds is not None else (-np.inf, np.inf)
    suffix = "" if required else " (not used for segmenting)"
    with np.errstate(invalid="ignore"):
        outside = (parsed.status == OK) & ((parsed.values < low) | (parsed.values > high))
    checks = [
        (parsed.status == MISSING, lambda c: f"{name}: missing" + suffix, "missing"),
        (parsed.status == NOT_NUMBER, lambda c: f"{name}: {shown(c)} is not a number" + suffix,
         "not a number"),
        (parsed.status == OTHER_CURRENCY,
         lambda c: (f"{name}: {shown(c)} is in {currency_of(str(c))}, not US dollars; "
                    "convert it to k$ (thousands of US dollars)" + suffix),
         "not in dollars"),
        (parsed.status == AMBIGUOUS, lambda c: _two_readings(name, c, parsed.mixed, decimal)
         + suffix, "ambiguous number"),
    ]
    for mask, message, reason in checks:
        if mask.any() and (required or reason != "missing"):
            cells_ = parsed.text[mask] if parsed.text is not None else np.full(int(mask.sum()), "")
            log.add(mask, np.array([message(c) for c in cells_], dtype=object),
                    f"{name} {reason}", invalid=required, skip=skip)
    if outside.any():
        unit = f" {unit}" if unit else ""
        hint = _DOLLARS_HINT if name == INCOME and income_unit == "k$" else ""
        msgs = np.array(
            [f"{name}: {fmt_number(v)}{unit} is outside {fmt_number(low)}–"
             f"{fmt_number(high)}{unit}{hint}{suffix}" for v in parsed.values[outside]],
            dtype=object,
        )
        log.add(outside, msgs, f"{name} out of range", invalid=required, skip=skip)
    return np.where(outside, np.nan, parsed.values)


def _two_readings(name: str, cell: object, example: str | None, decimal: str) -> str:
    mark = grouping_mark(decimal)
    word = "point" if mark == "." else "comma"
    return (f"{name}: {shown(cell)} can be read two ways: in this file the column also "
            f"writes the {word} as a decimal mark ({shown(example)}), so the {word} here may "
            f"group thousands or mark decimals; write the number without a thousands "
            "separator")


def _note_duplicates(log: _IssueLog, frame: pd.DataFrame, ids: pd.Series | None,
                     duplicates: Mapping[int, str] | None, skip: np.ndarray) -> None:
    """Repeated customer ids: a note on every row concerned; the rows stay valid.

    ``duplicates`` as given by the caller, else found among ``ids`` (when there are ids).
    """
    if duplicates is None and ids is not None:
        duplicates = duplicate_notes(ids, row_keys(frame))
    log.add_notes(duplicates or {}, "duplicate customer_id", invalid=False, skip=skip)


def _note_structural(log: _IssueLog, structural: Mapping[int, str]) -> None:
    """Rows the reader could not take as customers: invalid, with that note alone."""
    summary = {row: note for row, note in structural.items() if note.startswith(SUMMARY_NOTE)}
    malformed = {row: note for row, note in structural.items() if row not in summary}
    log.add_notes(summary, "spreadsheet summary row", invalid=True)
    log.add_notes(malformed, "malformed row", invalid=True)


def validate(
    frame: pd.DataFrame,
    *,
    required: Sequence[str] = NUMERIC_FIELDS,
    ranges: Ranges | None = None,
    decimal: str = ".",
    income_unit: str = "k$",
    duplicates: Mapping[int, str] | None = None,
    structural: Mapping[int, str] | None = None,
    number_format: NumberFormat | None = None,
    spec: InputSpec | None = None,
    as_of: datetime.date | None = None,
) -> Validated:
    """Validate rows of canonical fields (as text or typed values), and of a model's
    other features (``spec``: columns read from ``column:HEADER``, derived ones computed).

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
    number_format
        How the whole file writes each number column, when ``frame`` is one batch of it
        (see :class:`~custseg.table.parse.NumberFormat`); by default decided from
        ``frame``, which is then the whole table.
    """
    ranges = ranges or Ranges()
    computed = set(spec.names) if spec is not None else set()
    missing_cols = [f for f in required if f not in frame.columns and f not in computed]
    if missing_cols:
        raise SchemaError(f"no column for {', '.join(missing_cols)}.")
    structural = structural or {}
    log = _IssueLog(len(frame))
    broken = _rows(len(frame), structural)  # their cells say nothing: only their note
    out: dict[str, object] = {}

    if ID in frame.columns:
        out[ID] = pd.Series(to_arrow_text(frame[ID]).to_pandas(), index=frame.index, dtype="str")
    if GENDER in frame.columns:
        gender = out[GENDER] = normalise_gender(frame[GENDER])
        if GENDER in required:
            mask = gender.isna().to_numpy()
            log.add(mask, np.full(int(mask.sum()), "gender: missing", dtype=object),
                    "gender missing", invalid=True, skip=broken)
    derived = {f.name for f in spec.extra if f.source == "derived"} if spec else set()
    for name in NUMERIC_FIELDS:
        if name in frame.columns and name not in derived:  # a derivation wins over a field
            out[name] = _check_number(
                log, frame[name], name, bounds=ranges.of(name), unit=UNITS[name],
                required=name in required, decimal=decimal, income_unit=income_unit,
                skip=broken, number_format=number_format,
            )
    apart = _returns_only(frame, spec, required, decimal=decimal, broken=broken,
                          number_format=number_format)
    if spec is not None and spec.extra:
        out.update(_check_features(log, frame, spec, required, decimal=decimal, skip=broken,
                                   number_format=number_format, as_of=as_of, apart=apart))

    values = pd.DataFrame(out, index=frame.index).reset_index(drop=True)
    _note_duplicates(log, frame, values.get(ID), duplicates, skip=broken)
    _note_structural(log, structural)
    if apart is None:
        return Validated(values, ~log.invalid, log.issues, log.reasons, log.notes)
    apart = apart & ~log.invalid  # a row set apart with another problem is invalid
    return Validated(values, ~log.invalid & ~apart, log.issues, log.reasons, log.notes,
                     apart=apart)


def _returns_only(frame: pd.DataFrame, spec: InputSpec | None, required: Sequence[str], *,
                  decimal: str, broken: np.ndarray,
                  number_format: NumberFormat | None) -> np.ndarray | None:
    """The rows the spec's :class:`~custseg.table.spec.ReturnsOnly` rule sets apart: the
    frequency reads 0 and every feature a purchase defines is blank; None without a
    rule (or when the frequency is not required, as when only describing a table)."""
    rule = spec.returns_only if spec is not None else None
    if rule is None or rule.frequency not in required:
        return None

    def parsed(name: str):
        feature = spec.get(name)
        key = source_key(feature.column or name) if feature is not None else name
        if key not in frame.columns:
            raise SchemaError(f"no column for {name}.")
        return parse_numbers(frame[key], decimal=decimal,
                             mixed=FROM_VALUES if number_format is None
                             else number_format.mixed.get(key))

    frequency = parsed(rule.frequency)
    with np.errstate(invalid="ignore"):
        apart = (frequency.status == OK) & (frequency.values == 0) & ~broken
    for name in rule.absent:
        apart &= parsed(name).status == MISSING
    return apart


def _check_features(
    log: _IssueLog, frame: pd.DataFrame, spec: InputSpec, required: Sequence[str], *,
    decimal: str, skip: np.ndarray, number_format: NumberFormat | None,
    as_of: datetime.date | None, apart: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The values of a model's features other than the fields, their problems logged
    (a bad source cell names its column; a formula undefined on a row says so). The
    features a purchase defines are not checked on the rows ``apart`` (returns only),
    where they are blank."""
    from custseg.table.dates import DATE_REASONS, decide_date_format, parse_dates
    from custseg.table.derive import DateValues, evaluate, parse_expression
    from custseg.table.spec import date_format_from_text

    out: dict[str, np.ndarray] = {}
    parsed: dict[str, np.ndarray] = {}

    absent = {spec.get(n).column or n for n in spec.returns_only.absent
              if spec.get(n) is not None} if apart is not None else set()

    def column(header: str, used_by: str, needed: bool) -> np.ndarray:
        if header not in parsed:
            key = source_key(header)
            if key not in frame.columns:
                raise SchemaError(f"no column {shown(header)} for the feature "
                                  f"{shown(used_by)}.")
            parsed[header] = _check_number(
                log, frame[key], header, bounds=None, unit="", required=needed,
                decimal=decimal, income_unit="k$",
                skip=skip | apart if header in absent else skip,
                number_format=number_format, format_key=key)
        return parsed[header]

    read_dates: dict[str, DateValues] = {}

    def dates(header: str, used_by: str, needed: bool) -> DateValues:
        if header not in read_dates:
            key = source_key(header)
            if key not in frame.columns:
                raise SchemaError(f"no column {shown(header)} for the feature "
                                  f"{shown(used_by)}.")
            text = spec.date_formats.get(header)
            fmt = (date_format_from_text(text) if text is not None else
                   decide_date_format(frame[key], name=header))
            parsed = parse_dates(frame[key], fmt)
            cells = np.asarray(to_arrow_text(frame[key]).to_pylist(), dtype=object)
            for code, reason in DATE_REASONS.items():
                mask = parsed.status == code
                if mask.any():
                    log.add(mask, np.array([f"{header}: {shown(c)} is {reason}"
                                            for c in cells[mask]], dtype=object),
                            f"{header} not a date", invalid=needed, skip=skip)
            missing = parsed.status == MISSING
            if needed and missing.any():
                log.add(missing, np.full(int(missing.sum()), f"{header}: missing",
                                         dtype=object),
                        f"{header} missing", invalid=True, skip=skip)
            read_dates[header] = DateValues(np.asarray(parsed.days, dtype="float64"),
                                            parsed.year_only)
        return read_dates[header]

    for f in spec.extra:
        needed = f.name in required
        if f.categorical:
            key = source_key(f.column or f.name)
            if key not in frame.columns:
                raise SchemaError(f"no column {shown(f.column or f.name)} for the feature "
                                  f"{shown(f.name)}.")
            out[f.name] = _check_category(log, frame[key], f, needed, skip)
            continue
        if f.source == "column":
            values = column(f.column or f.name, f.name, needed)
        else:
            tree = parse_expression(f.expr or "")
            result = evaluate(tree, lambda h, f=f, needed=needed: column(h, f.name, needed),
                              lambda h, f=f, needed=needed: dates(h, f.name, needed),
                              as_of or datetime.date.today(), len(frame))
            values = np.array(result.values, dtype="float64")
            undefined = np.asarray(result.undefined)
            if undefined.any():
                log.add(undefined, np.full(int(undefined.sum()),
                                           f"{f.name}: {f.expr} cannot be computed here "
                                           "(a division by zero, or a value out of range)",
                                           dtype=object),
                        f"{f.name} undefined", invalid=needed, skip=skip)
        if f.min_value is not None:
            below = np.isfinite(values) & (values < f.min_value)
            if below.any():
                log.add(below, np.array(
                    [f"{f.name}: {fmt_number(v)} is below {fmt_number(f.min_value)}, the "
                     f"smallest value this model reads {f.name} at (it takes its log)"
                     for v in values[below]], dtype=object),
                    f"{f.name} below {fmt_number(f.min_value)}", invalid=needed, skip=skip)
                values = np.where(below, np.nan, values)
        if f.range is not None:
            low, high = f.range
            with np.errstate(invalid="ignore"):
                outside = np.isfinite(values) & ((values < low) | (values > high))
            if outside.any():
                unit = f" {f.unit}" if f.unit else ""
                log.add(outside, np.array(
                    [f"{f.name}: {fmt_number(v)}{unit} is outside {fmt_number(low)}–"
                     f"{fmt_number(high)}{unit}" for v in values[outside]], dtype=object),
                    f"{f.name} out of range", invalid=needed, skip=skip)
                values = np.where(outside, np.nan, values)
        out[f.name] = values
    return out


def _check_category(log: _IssueLog, cells: pd.Series, feature, needed: bool,
                    skip: np.ndarray) -> np.ndarray:
    """A categorical feature's cells as text trimmed of spaces (None where unusable):
    missing (blank or a missing marker), longer than a category may be, or, once the
    model knows its categories, one it did not see at fit. Compared exactly, case
    included: ``phd`` is not ``PhD`` (the message says which it knows)."""
    import pyarrow.compute as pc

    from custseg.table.parse import MISSING_MARKERS
    from custseg.table.spec import MAX_CATEGORY_LENGTH

    name = feature.name
    trimmed = pc.utf8_trim_whitespace(to_arrow_text(cells))
    marker = pc.is_in(pc.utf8_lower(trimmed), value_set=pa.array(sorted(MISSING_MARKERS)))
    missing = pc.or_kleene(pc.is_null(trimmed), pc.fill_null(marker, False))
    missing = np.asarray(pc.fill_null(missing, True).to_numpy(zero_copy_only=False), dtype=bool)
    values = np.asarray(trimmed.to_pylist(), dtype=object)
    values[missing] = None
    log.add(missing, np.full(int(missing.sum()), f"{name}: missing", dtype=object),
            f"{name} missing", invalid=needed, skip=skip)
    lengths = np.asarray(pc.fill_null(pc.utf8_length(trimmed), 0).to_numpy(
        zero_copy_only=False))
    long = ~missing & (lengths > MAX_CATEGORY_LENGTH)
    if long.any():
        log.add(long, np.array([f"{name}: {shown(v)} has {len(v):,} characters, more than "
                                f"the {MAX_CATEGORY_LENGTH} a category may have"
                                for v in values[long]], dtype=object),
                f"{name} too long", invalid=needed, skip=skip)
        values[long] = None
    if feature.categories:
        seen = pc.is_in(trimmed, value_set=pa.array(list(feature.categories), type=pa.string()))
        unseen = ~missing & ~long & ~np.asarray(
            pc.fill_null(seen, False).to_numpy(zero_copy_only=False), dtype=bool)
        if unseen.any():
            listed = ", ".join(shown(c, 30) for c in feature.categories[:8]) + (
                " …" if len(feature.categories) > 8 else "")
            folded = {c.casefold(): c for c in feature.categories}
            messages = []
            for v in values[unseen]:
                near = folded.get(str(v).casefold())
                hint = f"; did you mean {shown(near)}? (case counts)" if near else ""
                messages.append(f"{name}: {shown(v)} was not seen when the model was fitted "
                                f"(it knows {listed}){hint}")
            log.add(unseen, np.array(messages, dtype=object), f"{name} unseen category",
                    invalid=needed, skip=skip)
            values[unseen] = None
    return values
