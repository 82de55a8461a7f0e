"""The recency x frequency grid: bins, cell counts, average monetary value and the main
segment of each cell, on hand-made customers with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from custseg.segments.charts import (
    frequency_edges,
    recency_edges,
    rfm_columns,
    rfm_grid,
    rfm_grid_data,
)
from custseg.table.spec import Feature, InputSpec


def cell(grid, r_bin: int, f_bin: int) -> dict:
    rows = grid.cells[(grid.cells.r_bin == r_bin) & (grid.cells.f_bin == f_bin)]
    assert len(rows) == 1
    return rows.iloc[0].to_dict()


def test_cells_count_average_and_main_segment():
    recency = np.array([1, 3, 6, 8, 40, 40, 400, 2000, np.nan])
    frequency = np.array([1, 1, 1, 2, 7, 7, 120, 3, 0])
    monetary = np.array([10, 20, 60, 30, 100, 300, 5000, 15, -8])
    labels = np.array([0, 1, 1, 0, 2, 2, 3, 1, -2])
    grid = rfm_grid_data(recency, frequency, monetary, labels)
    assert grid.recency_edges == (0, 7, 14, 30, 60, 90, 180, 365, 730, 1095)
    assert grid.recency_labels == ["0–6", "7–13", "14–29", "30–59", "60–89", "90–179",
                                   "180–364", "365–729", "730–1,094", "1,095+"]
    # one bin per count up to five, then widening; at most 12, the last open-ended
    assert grid.frequency_labels == ["1", "2", "3", "4", "5", "6–7", "8–10", "11–15",
                                     "16–20", "21–30", "31–50", "51+"]
    assert grid.left_out == 1  # the returns-only customer has no recency
    assert grid.cells.customers.sum() == 8
    first = cell(grid, 0, 0)  # recency 0-6, one order: three customers
    assert first["customers"] == 3
    assert first["monetary"] == pytest.approx(30.0)
    assert first["segment"] == 1 and first["segment_share"] == pytest.approx(2 / 3)
    assert cell(grid, 1, 1) == {"r_bin": 1, "f_bin": 1, "customers": 1, "monetary": 30.0,
                                "segment": 0, "segment_share": 1.0}
    assert cell(grid, 3, 5)["monetary"] == pytest.approx(200.0)
    assert cell(grid, 7, 11)["customers"] == 1  # 120 orders: in the open-ended 51+
    assert cell(grid, 9, 2)["segment"] == 1  # 2,000 days: in 1,095+


def test_a_tie_goes_to_the_lowest_segment_id():
    grid = rfm_grid_data(np.array([5, 5]), np.array([1, 1]), np.array([5.0, 7.0]),
                         np.array([4, 2]))
    only = cell(grid, 0, 0)
    assert only["segment"] == 2 and only["segment_share"] == 0.5


def test_a_short_log_gets_equal_whole_day_bins():
    # every customer bought in the last 12 days: weeks alone would give two bins
    assert recency_edges(np.arange(1, 13)) == (1, 3, 5, 7, 9, 11)
    assert recency_edges(np.array([0, 500])) == (0, 7, 14, 30, 60, 90, 180, 365)


def test_frequency_bins_start_at_the_lowest_count():
    assert frequency_edges(np.array([3, 4, 9])) == (3, 4, 5, 6, 8)
    assert frequency_edges(np.array([1, 1, 1])) == (1,)


def test_values_that_are_not_whole_use_quantile_bins():
    share = np.linspace(0.0, 1.0, 101)  # a frequency *share*, as some tables have
    edges = frequency_edges(share, max_bins=4)
    assert edges == pytest.approx((0.0, 0.25, 0.5, 0.75))
    grid = rfm_grid_data(np.arange(101), share, None, np.zeros(101, dtype=int))
    assert grid.frequency_labels[-1].startswith("≥")
    assert grid.cells.monetary.isna().all()  # no monetary column: counts only


def test_the_figure_draws_every_cell_in_its_segment_colour():
    from custseg.segments.charts import segment_color

    grid = rfm_grid_data(np.array([1, 40, 400]), np.array([1, 7, 2]),
                         np.array([10.0, 20.0, 30.0]), np.array([0, 1, 1]))
    fig = rfm_grid(grid, {0: "Champions", 1: "At <b>Risk</b>"})
    heat = fig.data[0]
    assert heat.type == "heatmap"
    z = np.asarray(heat.z, dtype=float)
    assert z[0, 0] == 10.0 and z[5, 3] == 20.0 and z[1, 7] == 30.0
    assert np.isnan(z).sum() == z.size - 3
    frames = [s.line.color for s in fig.layout.shapes]
    assert sorted(frames) == sorted([segment_color(0), segment_color(1), segment_color(1)])
    legend = [t.name for t in fig.data[1:]]
    assert legend == ["0 · Champions", "1 · At &lt;b&gt;Risk&lt;/b&gt;"]  # names made inert


def test_rfm_columns_by_role():
    spec = InputSpec(extra=(
        Feature(name="days_since", source="column", column="days_since", role="recency"),
        Feature(name="orders", source="column", column="orders", role="frequency"),
    ))
    assert rfm_columns(("days_since", "orders"), spec) == ("days_since", "orders", None)
    assert rfm_columns(("age", "annual_income"), None) is None
