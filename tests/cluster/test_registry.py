"""Adding an algorithm means adding one registry entry: every entry's traits are complete
and agree with its parameters, nothing outside the registry branches on an algorithm's
name, and a new entry works through fitting, suggestions, stability and the diagnostics."""

from __future__ import annotations

import ast
import warnings
from dataclasses import replace
from pathlib import Path
from typing import get_args

import pytest
from sklearn.cluster import DBSCAN, MiniBatchKMeans
from sklearn.datasets import make_blobs

import custseg
from custseg.cluster.algorithms import (
    ALGORITHMS,
    AlgorithmSpec,
    Diagnostic,
    ParamSpec,
    SuggestBy,
    get_algorithm,
)
from custseg.cluster.evaluate import k_curve
from custseg.cluster.segmenter import Segmenter
from custseg.cluster.stability import stability
from custseg.cluster.suggestions import suggest
from custseg.io.rulebooks import default_rulebook
from custseg.model.segmentation import ModelConfig, fit_model
from custseg.model.summaries import algorithms_with
from custseg.table.sample import make_customers

SRC = Path(custseg.__file__).parent


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_traits_are_complete_and_consistent(name):
    spec = get_algorithm(name)
    params = {p.name: p for p in spec.params}
    assert spec.suggest_by in get_args(SuggestBy)
    assert set(spec.diagnostics) <= set(get_args(Diagnostic))
    assert len(set(spec.diagnostics)) == len(spec.diagnostics)
    # a number of segments: searched by suggest, drawn as the k curve
    if spec.k_param is not None:
        assert params[spec.k_param].kind == "int"
    assert (spec.suggest_by == "n_segments") == (spec.k_param is not None)
    assert ("k_curve" in spec.diagnostics) == (spec.k_param is not None)
    # the other searches tune parameters the entry must have
    needs = {"n_segments": set(), "eps": {"eps", "min_samples"},
             "min_cluster_size": {"min_cluster_size", "min_samples"},
             "none": set()}[spec.suggest_by]
    # nothing to search only where the segments are scores and a map, with no settings
    assert (spec.suggest_by == "none") == spec.scored
    if spec.scored:
        assert not spec.params and not spec.diagnostics and not spec.has_noise
    assert needs <= set(params)
    # parameters that count customers are whole numbers; the bounded ones among them
    assert set(spec.count_params) <= set(params)
    assert all(params[n].kind == "int" for n in spec.count_params)
    assert set(spec.size_bounded) <= set(spec.count_params)
    # noise comes with a hint naming the entry's own parameters
    assert spec.has_noise == bool(spec.noise_fix)
    if spec.noise_fix:
        assert any(n in spec.noise_fix for n in params)
    if "k_distance" in spec.diagnostics:
        assert spec.neighbours(spec.resolve()) >= 1
    if "dendrogram" in spec.diagnostics:
        assert "linkage" in params and spec.k_param is not None
    assert spec.fit_sample is None or spec.fit_sample >= 2


def test_every_diagnostic_and_search_serves_some_algorithm():
    assert {d for s in ALGORITHMS.values() for d in s.diagnostics} == set(get_args(Diagnostic))
    assert {s.suggest_by for s in ALGORITHMS.values()} == set(get_args(SuggestBy))


def _compared_names(tree: ast.AST) -> list[tuple[int, str]]:
    """Algorithm names compared with (``==``, ``in {...}``) or used as dict keys."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            parts = [node.left, *node.comparators]
        elif isinstance(node, ast.Dict):
            parts = [k for k in node.keys if k is not None]
        else:
            continue
        for part in parts:
            for leaf in ast.walk(part):
                if isinstance(leaf, ast.Constant) and leaf.value in ALGORITHMS:
                    found.append((leaf.lineno, leaf.value))
    return found


def test_no_branch_on_an_algorithm_name_outside_the_registry():
    registry = SRC / "cluster" / "algorithms.py"
    offenders = [
        f"{path.relative_to(SRC)}:{line}: {name}"
        for path in sorted(SRC.rglob("*.py")) if path != registry
        for line, name in _compared_names(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert offenders == []


# ----------------------------------------------------------- a new entry, end to end


def _minibatch(p, seed):
    return MiniBatchKMeans(n_clusters=p["k"], n_init=3, random_state=seed)


def _dense(p, seed):
    return DBSCAN(eps=p["eps"], min_samples=p["min_samples"])


MINIBATCH = AlgorithmSpec(
    name="minibatch",
    label="Mini-batch K-Means",
    summary="K-Means on small batches.",
    params=(ParamSpec("k", "int", 4, "Number of segments.", low=2, high=30, step=1),),
    build=_minibatch,
    predicts_natively=True,
    suggest_by="n_segments",
    k_param="k",  # not scikit-learn's n_clusters: nothing may assume that name
    diagnostics=("k_curve",),
)
DENSE = AlgorithmSpec(
    name="dense",
    label="Dense groups",
    summary="DBSCAN under another name.",
    params=(ParamSpec("eps", "float", 0.5, "Radius.", low=0.01, high=5.0),
            ParamSpec("min_samples", "int", 10, "Core size.", low=2, high=500)),
    build=_dense,
    predicts_natively=False,
    suggest_by="eps",
    has_noise=True,
    noise_fix="widen eps or lower min_samples",
    count_params=("min_samples",),
    diagnostics=("k_distance",),
)


@pytest.fixture
def registered(monkeypatch):
    for spec in (MINIBATCH, DENSE):
        monkeypatch.setitem(ALGORITHMS, spec.name, spec)
        test_traits_are_complete_and_consistent(spec.name)


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(n_samples=1_500, centers=[[0, 0], [6, 0], [0, 6]], cluster_std=0.6,
                      random_state=0)
    return X


def test_a_new_segment_count_algorithm_works_everywhere(registered, blobs):
    assert suggest(blobs, "minibatch").recommended == {"k": 3}
    labels = Segmenter(algorithm="minibatch", params={"k": 3}).fit(blobs).labels_
    assert stability(blobs, labels, "minibatch", {"k": 3}, resamples=3).overall > 0.9
    assert k_curve(blobs, "minibatch", ks=range(2, 5)).ks == (2, 3, 4)
    assert "Mini-batch K-Means" in algorithms_with("k_curve")
    assert "Mini-batch K-Means" not in algorithms_with("k_distance")
    model = fit_model(make_customers(300, seed=0),
                      ModelConfig(algorithm="minibatch", stability_resamples=2),
                      default_rulebook())
    assert model.summary()["params"] == {"k": 4}
    assert model.metrics.stability.resamples == 2


def test_a_new_density_algorithm_works_everywhere(registered, blobs, monkeypatch):
    assert suggest(blobs, "dense").recommended["eps"] > 0
    assert DENSE.neighbours(DENSE.resolve()) == 10
    assert algorithms_with("k_distance").endswith("and Dense groups")
    with pytest.warns(UserWarning, match="put every customer in noise.*widen eps or lower"):
        Segmenter(algorithm="dense", params={"eps": 0.01}).fit(blobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = Segmenter(algorithm="dense").fit(blobs).labels_
    seen = []
    monkeypatch.setitem(ALGORITHMS, "dense", replace(
        DENSE, build=lambda p, seed: seen.append(p) or _dense(p, seed)))
    stability(blobs, labels, "dense", {}, resamples=2)
    # refits see 80% of the customers, so the core size shrinks with them
    assert [p["min_samples"] for p in seen] == [8, 8]


def test_noise_fix_comes_from_the_registry(blobs):
    for name in ("dbscan", "hdbscan"):
        params = {"eps": 0.01} if name == "dbscan" else {"min_cluster_size": 1_400}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Segmenter(algorithm=name, params=params).fit(blobs)
        said = " ".join(str(w.message) for w in caught)
        assert ALGORITHMS[name].noise_fix in said
