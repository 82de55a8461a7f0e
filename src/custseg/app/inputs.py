"""Predict's number inputs: the format that shows a start value whole, how many fit a
row of the main area at 1024 px, and the valid range said in their help."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from custseg.segments.explain import decimals_of
from custseg.table.fields import fmt_number


def number_format(spec_input: Any, value: float) -> str:
    """The printf format of a number input starting at ``value``: whole numbers as they
    are; 9190718.76 with its decimals (``%g`` showed 9.19072e+06, six digits of ten);
    below 1 or past 10^15, in significant digits. ``spec_input.seen``: the lowest and
    highest known values, or None."""
    whole = value.is_integer() and (spec_input.seen is None or all(
        float(v).is_integer() for v in spec_input.seen))
    if whole and abs(value) < 1e15:
        return "%.0f"
    if 1 <= abs(value) < 1e15:
        places = decimals_of(np.array([value, *(spec_input.seen or ())]), 4)
        return f"%.{2 if places is None else max(places, 1)}f"
    return "%g"


def per_row(numbers: Iterable[tuple[Any, float]]) -> int:
    """Inputs on a row: 4, but fewer when a start value (an input and its value) is too
    wide for a quarter of the main area at 1024 px (it showed "91907" of 9190718.76)."""
    widest = max((len(number_format(i, v) % v) for i, v in numbers), default=0)
    return 4 if widest <= 7 else (3 if widest <= 10 else 2)


def valid_range(low: float | None, high: float | None) -> str:
    """"16 to 100", "0 or more", "up to 5", or "" when the input is unbounded."""
    if low is not None and high is not None:
        return f"{fmt_number(low)} to {fmt_number(high)}"
    if low is not None:
        return f"{fmt_number(low)} or more"
    return f"up to {fmt_number(high)}" if high is not None else ""
