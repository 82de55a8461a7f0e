from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_blobs

from custseg.cli import main
from custseg.cluster.segmenter import Segmenter
from custseg.cluster.stability import Stability, reading, sentence, stability


def test_clear_blobs_are_stable():
    X, _ = make_blobs(n_samples=1_500, centers=[[0, 0], [6, 0], [0, 6]], cluster_std=0.6,
                      random_state=0)
    labels = Segmenter(params={"n_clusters": 3}).fit(X).labels_
    result = stability(X, labels, "kmeans", {"n_clusters": 3}, resamples=5)
    assert result.overall > 0.95
    assert all(v > 0.95 for v in result.per_segment.values())
    assert result.reading.endswith("No segment is fragile.")


def test_structureless_data_makes_fragile_segments():
    X = np.random.default_rng(0).uniform(size=(1_500, 2))
    labels = Segmenter(params={"n_clusters": 8}).fit(X).labels_
    result = stability(X, labels, "agglomerative", {"n_clusters": 8, "linkage": "single"},
                       resamples=5)
    assert result.overall < 0.5
    assert "fragile" in result.reading


def test_reading_thresholds():
    assert [reading(v) for v in (0.9, 0.7, 0.3, None)] == [
        "stable", "moderately stable", "fragile", "unknown"]


def test_fit_json_reports_stability(mall_path, tmp_path, capsys):
    code = main(["fit", str(mall_path), "-o", str(tmp_path / "m"), "--features",
                 "annual_income,spending_score", "--json"])
    stab = json.loads(capsys.readouterr().out)["metrics"]["stability"]
    assert code == 0
    assert stab["overall"] > 0.9
    assert set(stab["per_segment"]) == {"0", "1", "2", "3", "4"}
    assert all(0 <= v <= 1 for v in stab["per_segment"].values())
    assert stab["resamples"] == 10
    assert stab["overall"] == pytest.approx(stab["overall"])


def test_result_survives_json_with_integer_ids():
    per_segment = {0: 0.9, 1: 0.3}
    measured = Stability(0.8, per_segment, 5, 100, sentence(0.8, per_segment))
    again = Stability.from_dict(json.loads(json.dumps(measured.to_dict())))
    assert again == measured
    assert list(again.per_segment) == [0, 1]
    moved = again.relabelled({0: 1, 1: 0})
    assert moved.per_segment == {1: 0.9, 0: 0.3}
    assert "segment 0 (0.30) is fragile" in moved.reading


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 5), st.integers(-1, 6)), min_size=1, max_size=60))
def test_best_jaccard_matches_the_pairwise_definition(pairs):
    """The pair-count form equals the definition: for each segment, the best overlap
    |A ∩ B| / |A ∪ B| with a refit cluster (the refit's outliers are no cluster)."""
    from custseg.cluster.stability import _best_jaccard

    ref = np.array([a for a, _ in pairs])
    refit = np.array([b for _, b in pairs])
    expected = {}
    for s in np.unique(ref[ref != -1]):
        a = ref == s
        expected[int(s)] = max(
            (np.count_nonzero(a & (refit == c)) / np.count_nonzero(a | (refit == c))
             for c in np.unique(refit[refit != -1])), default=0.0)
    got = _best_jaccard(ref, refit)
    assert got.keys() == expected.keys()
    for s, value in expected.items():
        assert got[s] == pytest.approx(value)


def test_a_reading_names_at_most_ten_fragile_segments():
    text = sentence(0.3, {s: 0.1 for s in range(500)}, 5, 1000)
    assert "segment 9 (0.10)" in text and "segment 10 (0.10)" not in text
    assert "and 490 more segments are fragile" in text
    assert len(text) < 600
