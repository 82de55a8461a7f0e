from __future__ import annotations

import json

import numpy as np
import pytest
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
