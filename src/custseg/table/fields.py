"""The five well-known customer fields: names, labels, units, valid ranges.

Also how a field's number is written for people (:func:`fmt_number`), so that a message, a
profile and the command line show "16 years" or "10,000 k$" alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from custseg.errors import SchemaError

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

INCOME_UNITS = ("k$", "$")


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


#: Magnitudes a headline figure is said in past a million, largest first.
_MAGNITUDES = ((1e12, "T"), (1e9, "bn"), (1e6, "M"))


def compact_number(value: float, digits: int = 1) -> str:
    """A figure short enough for a headline or a table cell: ``digits`` decimals below a
    million, then ``digits`` (at least one) decimals of millions, billions or trillions
    (13,680,295.5 is "13.7M": in full it was cut to "13,680,…" at 1024 px), then
    ``digits + 2`` significant digits in powers of ten."""
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    if size >= 1e15:
        return f"{value:.{digits + 2}g}"
    for scale, suffix in _MAGNITUDES:
        if size >= scale:
            return f"{value / scale:,.{max(digits, 1)}f}{suffix}"
    return f"{value:,.{digits}f}"


def telling_digits(values: Sequence[float], digits: int, most: int = 6,
                   form: Callable[[float, int], str] | None = None) -> int:
    """The fewest decimals from ``digits`` (up to ``most``) at which ``form`` (by default
    :func:`compact_number`) writes the most of the different values differently:
    revenues of 12.31M, 12.34M and 12.38M all read "12.3M" at one decimal, and averages
    of 1e17 + 16,000 all read "1e+17". More decimals that tell no more apart are not
    taken."""
    form = form or compact_number
    finite = [v for v in values if v is not None and math.isfinite(v)]
    want, best, told = len(set(finite)), digits, 0
    for d in range(digits, most + 1):
        count = len({form(v, d) for v in finite})
        if count > told:
            best, told = d, count
        if count >= want:
            break
    return best


def fmt_number(value: float) -> str:
    """Short human form: 16 not 16.0, 10,000 with a separator, 2 decimals at most; beyond
    10^16 (where a float holds no exact whole number) in powers of ten, not 300 digits;
    below 0.01 in three significant digits (0.00123, 1e-40), not "0" or "-0"."""
    if math.isfinite(value) and (abs(value) >= 1e16 or 0 < abs(value) < 0.005):
        return f"{value:.3g}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")
