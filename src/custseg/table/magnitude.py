"""Means, spreads and skews that stay finite for any finite values.

A valid balance of 1e308 is a finite float64, but the sum of two of them, or the square
of 1e155, is not: a mean, a standard deviation or a skew computed as they are would be
inf or NaN, and a model holding one cannot be saved. Columns whose largest magnitude is
past :data:`LARGE` are divided by a power of two first (exact in binary) and the result
multiplied back; smaller columns are left exactly as they are, so ordinary tables get
the same figures, bit for bit.
"""

from __future__ import annotations

import numpy as np

#: Past this magnitude (about 3e144), sums of squares may overflow float64.
LARGE = 2.0**480

_TOP = float(np.finfo("float64").max)


def power_unit(largest: np.ndarray | float, past: float = LARGE) -> np.ndarray:
    """The power of two to divide by: 1 up to ``past``, else one that brings the largest
    magnitude into [1, 2)."""
    big = np.asarray(largest, dtype="float64")
    scaled = np.isfinite(big) & (big > past)
    exponent = np.frexp(np.where(scaled, big, 1.0))[1] - 1
    return np.where(scaled, np.ldexp(1.0, exponent), 1.0)


def column_units(matrix: np.ndarray) -> np.ndarray:
    """:func:`power_unit` for each column of a 2-D array (NaN and inf are left out)."""
    x = np.asarray(matrix, dtype="float64")
    return power_unit(np.max(np.abs(np.where(np.isfinite(x), x, 0.0)), axis=0, initial=0.0))


def back(scaled: np.ndarray | float, unit: np.ndarray | float) -> np.ndarray:
    """``scaled * unit``, kept finite (a mean rounded just past the largest float)."""
    with np.errstate(over="ignore"):
        return np.clip(np.asarray(scaled, dtype="float64") * unit, -_TOP, _TOP)


def mean_std(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and population standard deviation, finite for finite values."""
    x = np.asarray(matrix, dtype="float64")
    unit = column_units(x)
    shrunk = x / unit
    return back(shrunk.mean(axis=0), unit), back(shrunk.std(axis=0), unit)
