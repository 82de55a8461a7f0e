from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import custseg
from custseg.cli import main
from custseg.cluster.suggestions import knee, suggest


def test_knee():
    assert knee([1, 2, 3, 4, 20, 40]) == 3
    assert knee([0, 10, 12, 13, 14]) == 1
    assert knee([5, 5]) == 0


def test_mall_kmeans_suggests_five(mall_path, capsys):
    code = main(["suggest", str(mall_path), "--algorithm", "kmeans",
                 "--features", "annual_income,spending_score", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["recommended"] == {"n_clusters": 5}
    assert set(out) == {"recommended", "table", "reason", "warnings", "n_rows", "sample_rows"}
    assert out["n_rows"] == out["sample_rows"] == 200  # issue 10: suggest says its rows
    assert [row["n_clusters"] for row in out["table"]] == list(range(2, 11))
    assert out["reason"].startswith("5 segments: the highest silhouette (0.55)")


@pytest.mark.parametrize("algorithm", ["gmm", "agglomerative"])
def test_mall_other_k_algorithms_suggest_five(mall_path, algorithm):
    result = custseg.suggest(mall_path, algorithm=algorithm,
                             features=["annual_income", "spending_score"])
    key = "n_components" if algorithm == "gmm" else "n_clusters"
    assert result.recommended == {key: 5}
    if algorithm == "gmm":
        assert "BIC" in result.reason


def blobs(n=2_000, spread=0.5):
    X, _ = make_blobs(n_samples=n, centers=[[0, 0], [5, 0], [0, 5]], cluster_std=spread,
                      random_state=1)
    return X


def test_dbscan_eps_from_the_knee():
    result = suggest(blobs(), "dbscan", feature_names=["a", "b"])
    row = next(r for r in result.table if r["knee"])
    assert result.recommended == {"eps": row["eps"]}
    assert row["segments"] >= 3 and row["noise_share"] < 0.1
    assert result.reason.startswith(f"eps {row['eps']:g}: the knee of the distance")


def test_dbscan_falls_back_when_the_knee_joins_everyone(mall_path):
    result = custseg.suggest(mall_path, algorithm="dbscan",
                             features=["annual_income", "spending_score"])
    assert "joins the customers into 1 segment" in result.reason
    chosen = next(r for r in result.table if r["eps"] == result.recommended["eps"])
    assert chosen["segments"] >= 2 and chosen["noise_share"] <= 0.5


def test_hdbscan_min_cluster_size():
    result = suggest(blobs(), "hdbscan", feature_names=["a", "b"], fitted_rows=2_000)
    assert result.recommended["min_cluster_size"] in {20, 40, 100, 200}
    best = next(r for r in result.table
                if r["min_cluster_size"] == result.recommended["min_cluster_size"])
    assert best["segments"] == 3


def test_warnings_noise_and_a_dominant_feature():
    X = np.random.default_rng(0).uniform(size=(1_000, 2))
    noisy = suggest(X, "dbscan", {"min_samples": 400}, feature_names=["a", "b"])
    assert any("noise" in w for w in noisy.warnings) or noisy.table[1]["noise_share"] <= 0.5
    lines = np.c_[np.repeat([0.0, 10.0, 20.0], 300), np.random.default_rng(1).normal(0, 1, 900)]
    result = suggest(lines, "kmeans", feature_names=["income", "score"])
    assert any(w.startswith("income alone makes") for w in result.warnings)
