"""Means and spreads that stay finite at float64's edge, and exact for ordinary data."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from custseg.table.magnitude import mean_std
from custseg.table.spec import skew


def test_ordinary_columns_get_numpys_figures_bit_for_bit():
    x = np.random.default_rng(0).normal(50, 10, (500, 3)) * [1, 1e6, 1e-6]
    means, stds = mean_std(x)
    assert means.tolist() == x.mean(axis=0).tolist()
    assert stds.tolist() == x.std(axis=0).tolist()


def test_values_of_1e308_have_a_finite_mean_and_spread():
    means, stds = mean_std(np.array([[1e308, -1e308], [1e308, 1e308], [1e308, 0.0]]))
    assert means[0] == 1e308 and stds[0] == 0.0
    assert means[1] == 0.0 and np.isclose(stds[1], np.sqrt(2 / 3) * 1e308)


def test_skew_is_finite_past_the_cube_of_1e103():
    x = np.r_[np.random.default_rng(1).normal(50, 10, 300), 1e154]
    assert np.isclose(skew(x), skew(x / 1e150), rtol=1e-9)
    assert 17 < skew(x) < 17.4  # one far value among 301: sqrt(299)


@given(arrays("float64", st.integers(3, 30),
              elements=st.floats(-1.7e308, 1.7e308, allow_nan=False)))
def test_any_finite_column_has_a_finite_mean_and_spread(column):
    means, stds = mean_std(column[:, None])
    assert np.isfinite(means[0]) and np.isfinite(stds[0]) and stds[0] >= 0
    slack = 1e-12 * np.abs(column).max()  # the mean's own rounding
    assert column.min() - slack <= means[0] <= column.max() + slack
