"""Predict's number inputs show their start value whole (issue 14, found at 1024 px)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from custseg.app.inputs import number_format, per_row, valid_range


def _input(seen=None):
    return SimpleNamespace(seen=seen)


@pytest.mark.parametrize(("value", "seen", "fmt", "shown"), [
    (35.0, (18.0, 70.0), "%.0f", "35"),
    (9_190_718.76, (1_000.5, 2e7), "%.2f", "9190718.76"),  # %g showed 9.19072e+06
    (6.0, (0.5, 12.3), "%.1f", "6.0"),  # a whole start in a column with decimals
    (61.5, (15.0, 137.0), "%.1f", "61.5"),
    (1.02e-6, (8e-7, 1.3e-6), "%g", "1.02e-06"),
    (0.25, (0.0, 1.0), "%g", "0.25"),
    (3e15, (1.0, 1e16), "%g", "3e+15"),
])
def test_a_start_value_keeps_every_digit(value, seen, fmt, shown):
    assert number_format(_input(seen), value) == fmt
    assert fmt % value == shown


def test_wide_values_get_fewer_inputs_to_a_row():
    assert per_row([(_input(), 35.0), (_input((0.5, 9.0)), 61.5)]) == 4
    assert per_row([(_input((1.0, 2e7)), 9_190_718.76)]) == 3  # "9190718.76"
    assert per_row([(_input((1.0, 2e12)), 123_456_789_012.5)]) == 2
    assert per_row([]) == 4


def test_the_valid_range_in_words():
    assert valid_range(16, 100) == "16 to 100"
    assert valid_range(0, None) == "0 or more"
    assert valid_range(None, 5.5) == "up to 5.5"
    assert valid_range(None, None) == ""
