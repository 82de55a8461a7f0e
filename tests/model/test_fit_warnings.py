"""A fit's warnings give one coherent piece of advice, in the analyst's words: no
"raise n_clusters" beside "lower n_clusters", no scikit-learn jargon, and the cause
named when it is the vote rather than the number of segments."""

from __future__ import annotations

import pandas as pd
import pytest

from custseg import api
from custseg.table.sample import make_customers


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    return make_customers(2000, seed=0)


def _said(model) -> str:
    return " | ".join(model.warnings)


def test_one_giant_segment_beside_small_ones_is_uneven_not_raise_and_lower(demo):
    """Single linkage on 30 segments said "raise n_clusters" (at its maximum, 30) and
    "lower n_clusters" at once."""
    model = api.fit(demo, algorithm="agglomerative", params={"n_clusters": 30,
                                                             "linkage": "single"})
    said = _said(model)
    assert "raise n_clusters" not in said
    assert ("put 98.5% of the customers in one segment, and the other 29 hold fewer than 20 "
            "customers: the segments are uneven, whatever their number; use linkage=ward") in said


def test_a_vote_wider_than_the_fitted_segments_is_named_as_the_cause(demo):
    model = api.fit(demo, algorithm="kmeans", n_neighbors=25, sample_size=30)
    assert model.warnings[0].startswith(
        "The assigner's vote of 25 neighbours outweighs 5 segments of 12 fitted customers "
        "or fewer")
    assert "raise n_clusters" not in _said(model) and "lower n_clusters" not in _said(model)


def test_a_balanced_fit_on_a_sample_says_nothing_of_the_vote(demo):
    model = api.fit(demo, algorithm="kmeans", sample_size=1000)
    assert not any("vote" in w for w in model.warnings), model.warnings


def test_scikit_learns_warnings_are_said_in_plain_words(demo):
    birch = api.fit(demo, algorithm="birch", params={"threshold": 5, "n_clusters": 30})
    assert birch.warnings[0] == ("BIRCH found 1 sub-cluster, fewer than the 30 segments asked: "
                                 "lower threshold (the sub-cluster radius)")
    assert "Decrease the threshold" not in _said(birch)
    assert "raise n_clusters" not in " ".join(birch.warnings)  # it could not help here
    assert "lower threshold" in birch.warnings[1]
    same = pd.DataFrame({"age": [30] * 200, "annual_income": [50] * 200,
                         "spending_score": [40] * 199 + [41]})
    kmeans = api.fit(same)
    assert kmeans.warnings[0].startswith("K-Means found only 2 distinct groups of customers "
                                         "for the 5 segments asked")
    assert "Possibly due to duplicate points" not in _said(kmeans)
    many = api.fit(demo, algorithm="kmeans", sample_size=40, params={"n_clusters": 30})
    assert "regression problem" not in _said(many) and "50%" not in _said(many)


def test_a_setting_lowered_to_the_rows_is_the_one_the_model_reports(demo):
    model = api.fit(demo.head(100), algorithm="hdbscan", params={"min_cluster_size": 5000})
    assert model.config.params["min_cluster_size"] == 100
    assert model.warnings[0] == ("The setting min_cluster_size=5000 is more than the 100 "
                                 "customers fitted; lowered to 100.")


def test_a_segment_smaller_than_half_the_vote_is_said_when_every_row_is_fitted():
    """A customer at balance -1e308 had a segment of its own, yet was scored into
    "Typical customers" (two of its three neighbours are elsewhere), and only "lower
    n_clusters" was said."""
    import numpy as np

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"balance": rng.normal(100, 10, 300).round(1),
                          "visits": rng.integers(1, 50, 300)})
    frame.loc[0, "balance"], frame.loc[1, "balance"] = 1e308, -1e308
    model = api.fit(frame, features=["balance", "visits"])
    assert sorted(s.size for s in model.segments)[:2] == [1, 1]
    said = _said(model)
    assert ("The assigner's vote of 3 neighbours outweighs 2 segments of 1 fitted customer "
            "or fewer: such a segment holds at most that many of the 3 votes, so customers "
            "scored, even its own, seldom go to it; lower the neighbours in the vote.") in said
    assert "did not see" not in said  # every row was fitted: no sample to blame
