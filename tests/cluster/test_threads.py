"""Fits run their native code on FIT_THREADS threads (issue 10, fit speed): parallel loops
that synchronise many times per fit collapse on a busy machine."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from custseg.cluster import algorithms, threads
from custseg.cluster.segmenter import Segmenter
from custseg.cluster.stability import stability


def native_threads() -> dict[str, int]:
    return {lib["user_api"]: lib["num_threads"] for lib in threadpool_info()}


def test_the_block_limits_openmp_and_blas_to_one_thread():
    with threadpool_limits(limits=2):  # as on the two-core machine, whatever this one has
        with threads.fit_threads():
            inside = native_threads()
        after = native_threads()
    assert inside["openmp"] == 1 and inside["blas"] == 1
    assert after["openmp"] == 2  # restored on the way out


def test_none_leaves_the_libraries_alone(monkeypatch):
    monkeypatch.setattr(threads, "FIT_THREADS", None)
    with threadpool_limits(limits=2), threads.fit_threads():
        assert native_threads()["openmp"] == 2


@pytest.fixture
def recording(monkeypatch):
    """K-Means whose fit records the OpenMP threads it was given."""
    seen: list[int] = []
    spec = algorithms.ALGORITHMS["kmeans"]

    def build(p, seed):
        estimator = spec.build(p, seed)
        fit_predict = estimator.fit_predict

        def recorded(X, y=None):
            seen.append(native_threads()["openmp"])
            return fit_predict(X)

        estimator.fit_predict = recorded
        return estimator

    monkeypatch.setitem(algorithms.ALGORITHMS, "kmeans", dataclasses.replace(spec, build=build))
    return seen


def test_the_fit_and_its_stability_refits_run_on_one_thread(recording):
    X = np.random.default_rng(0).normal(size=(300, 3))
    with threadpool_limits(limits=2):
        labels = Segmenter(params={"n_clusters": 3}).fit(X).labels_
        stability(X, labels, "kmeans", {"n_clusters": 3}, resamples=3)
    assert recording == [1, 1, 1, 1]  # the fit, then three refits
