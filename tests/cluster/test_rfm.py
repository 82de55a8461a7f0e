"""RFM quintile scores on known inputs: distinct values, heavy ties, all-equal columns."""

from __future__ import annotations

import numpy as np
import pytest

from custseg.cluster.rfm import (
    CELLS,
    RFMQuintiles,
    RFMScoring,
    cell_index,
    cell_text,
    check_cuts,
    quintile_cuts,
    scores,
)
from custseg.errors import ParameterError


def test_distinct_values_split_in_fifths():
    x = np.arange(1, 101, dtype=float)
    cuts = quintile_cuts(x)
    assert cuts.tolist() == [20.0, 40.0, 60.0, 80.0]  # values customers have
    s = scores(x, cuts)
    assert np.bincount(s, minlength=6)[1:].tolist() == [20, 20, 20, 20, 20]
    assert s[[0, 19, 20, 99]].tolist() == [1, 1, 2, 5]  # a value at a cut point: below it


def test_heavy_ties_share_one_score_and_leave_another_empty():
    # 42% bought once, as in a real log: they all score 1, and score 2 holds nobody
    x = np.array([1] * 42 + [2] * 18 + [3] * 20 + [5] * 10 + [9] * 10, dtype=float)
    cuts = quintile_cuts(x)
    assert cuts.tolist() == [1.0, 1.0, 2.0, 3.0]
    s = scores(x, cuts)
    assert {v: set(s[x == v].tolist()) for v in (1, 2, 3, 5, 9)} == {
        1: {1}, 2: {3}, 3: {4}, 5: {5}, 9: {5}}
    assert np.bincount(s, minlength=6)[1:].tolist() == [42, 0, 18, 20, 20]


def test_scores_do_not_depend_on_row_order():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 6, size=500).astype(float)  # five values, many ties
    order = rng.permutation(500)
    a = scores(x, quintile_cuts(x))
    b = scores(x[order], quintile_cuts(x[order]))
    assert np.array_equal(a[order], b)
    for v in np.unique(x):  # identical values, identical scores
        assert len(set(a[x == v].tolist())) == 1


def test_all_equal_and_two_valued_columns():
    same = np.full(7, 3.5)
    cuts = quintile_cuts(same)
    assert cuts.tolist() == [3.5] * 4
    assert scores(same, cuts).tolist() == [1] * 7
    assert scores(same, cuts, reverse=True).tolist() == [5] * 7  # recency: all "recent"
    two = np.array([0.0] * 7 + [10.0] * 3)
    assert quintile_cuts(two).tolist() == [0.0, 0.0, 0.0, 10.0]
    # 10 is the 80% cut point itself, so it falls in the quintile below it: 4
    assert scores(two, quintile_cuts(two)).tolist() == [1] * 7 + [4] * 3
    one = quintile_cuts([42.0])
    assert scores([41.0, 42.0, 43.0], one).tolist() == [1, 1, 5]


def test_recency_is_reversed_most_recent_scores_five():
    days = np.array([1, 5, 10, 20, 40, 80, 160, 320, 640, 1280], dtype=float)
    assert scores(days, quintile_cuts(days), reverse=True).tolist() == [
        5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_cells_in_index_order():
    assert CELLS[0] == "111" and CELLS[-1] == "555" and len(CELLS) == 125
    assert cell_index([5], [4], [5]).tolist() == [119] and cell_text(119) == "545"
    assert all(cell_text(i) == c for i, c in enumerate(CELLS))


def test_scoring_places_new_values_with_saved_cuts():
    scoring = RFMScoring(
        features={"recency": "r", "frequency": "f", "monetary": "m"},
        cuts={"recency": (5.0, 10.0, 30.0, 90.0), "frequency": (1.0, 1.0, 2.0, 4.0),
              "monetary": (50.0, 100.0, 200.0, 400.0)},
        cells=tuple(range(125)))
    got = scoring.score({"r": [1.0, 10.0, 500.0], "f": [1.0, 3.0, 50.0],
                         "m": [50.0, 150.0, 1e6]})
    assert got.tolist() == [[5, 1, 1], [4, 4, 3], [1, 5, 5]]
    assert scoring.segments_of(got).tolist() == [100, 92, 24]  # cells 511, 443, 155
    back = RFMScoring.from_dict(scoring.to_dict())
    assert back == scoring


def test_cut_points_are_checked():
    assert check_cuts([1, 1, 2, 3], "frequency").tolist() == [1, 1, 2, 3]
    with pytest.raises(ParameterError, match="must not decrease"):
        check_cuts([1, 3, 2, 4], "frequency")
    with pytest.raises(ParameterError, match="4 finite numbers"):
        check_cuts([1, 2, float("nan"), 4], "recency")
    with pytest.raises(ValueError, match="at least one value"):
        quintile_cuts([])


def test_registry_estimator_labels_rows_by_column_quintiles():
    X = np.column_stack([np.arange(10.0), np.zeros(10)])
    labels = RFMQuintiles().fit_predict(X)
    # column 0 in quintiles 1..5 (two rows each), column 1 all in quintile 1
    assert labels.tolist() == [0, 0, 5, 5, 10, 10, 15, 15, 20, 20]
