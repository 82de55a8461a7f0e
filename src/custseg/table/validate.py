"""Row-by-row validation of the well-known fields: typed values, status and issues per row.

Nothing is imputed and no row is dropped: every row that cannot be used says exactly why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from custseg.errors import SchemaError, shown
from custseg.table.fields import GENDER, ID, INCOME, NUMERIC_FIELDS, UNITS, Ranges, fmt_number
from custseg.table.notes import SUMMARY_NOTE, duplicate_notes, row_keys
from custseg.table.parse import (
    MISSING,
    NOT_NUMBER,
    OK,
    OTHER_CURRENCY,
    normalise_gender,
    parse_numbers,
    to_arrow_text,
)


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
        ids = pd.Series(to_arrow_text(frame[ID]).to_pandas(), index=frame.index, dtype="str")
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
            outside = (parsed.status == OK) & ((parsed.values < low) | (parsed.values > high))
        values = np.where(outside, np.nan, parsed.values)
        out[name] = values
        checks = [
            (parsed.status == MISSING, f"{name}: missing" + suffix, "missing"),
            (parsed.status == NOT_NUMBER, f"{name}: {{value}} is not a number" + suffix,
             "not a number"),
            (parsed.status == OTHER_CURRENCY,
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
