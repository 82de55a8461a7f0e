"""Fits that would run for minutes (issue 10, class 9 leftovers and the fit-speed item):
the registry estimates a fit's time before it starts (rows × parameters) and a fit over
FIT_TIME_BUDGET is refused with the setting that shortens it, or, on the default sample,
made on fewer rows with a warning; the stability refits are bounded the same way and say
how many were made on how many customers. No assertion here measures time: the estimates
are formulas, checked for what they promise (monotone, the most rows within the budget,
the fix that fits)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from custseg.cli import main
from custseg.cluster import algorithms, segmenter
from custseg.cluster import stability as stability_module
from custseg.cluster.algorithms import (
    ALGORITHMS,
    FIT_TIME_BUDGET,
    FitTime,
    get_algorithm,
    time_text,
)
from custseg.cluster.segmenter import Segmenter
from custseg.cluster.stability import MIN_RESAMPLES, MIN_ROWS, Stability, sentence, stability
from custseg.errors import CustsegError, ParameterError
from custseg.table.sample import make_customers


def scaled(n: int, seed: int = 0) -> np.ndarray:
    values = make_customers(n, seed=seed)
    X = values[["age", "annual_income", "spending_score"]].to_numpy(dtype=float)
    return (X - X.mean(axis=0)) / X.std(axis=0)


@pytest.fixture(scope="module")
def big() -> np.ndarray:
    """A million customers' worth of rows (the command line's row cap): only estimated,
    never fitted."""
    return np.random.default_rng(0).normal(size=(1_000_000, 3))


def refused(algorithm: str, X: np.ndarray, **settings) -> ParameterError:
    with pytest.raises(ParameterError) as caught, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Segmenter(algorithm=algorithm, **settings).fit(X)
    error = caught.value
    assert isinstance(error, CustsegError)
    assert "(estimated), more than the 10 s a fit may take" in error.message
    assert "--" not in error.message  # core messages name no flags
    return error


# ------------------------------------------------------------ the estimate itself


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_every_algorithm_has_an_estimate_growing_with_the_rows(name):
    spec = get_algorithm(name)
    X = scaled(2_000)
    times = [spec.duration(X, spec.resolve(), rows=n).seconds for n in (100, 1_000, 10_000)]
    assert 0 < times[0] < times[1] < times[2]


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_max_rows_is_the_most_rows_within_the_budget(name):
    spec = get_algorithm(name)
    X, params = scaled(2_000), spec.resolve()
    timing = spec.duration(X, params)
    assert isinstance(timing, FitTime) and timing.budget == FIT_TIME_BUDGET
    assert spec.duration(X, params, rows=timing.max_rows).quick
    assert not spec.duration(X, params, rows=timing.max_rows + 1).quick


@pytest.mark.parametrize(
    ("name", "params", "slower"),
    [
        ("kmeans", {"n_init": 50}, {"n_init": 10}),
        ("kmeans", {"n_clusters": 30}, {"n_clusters": 5}),
        ("gmm", {"n_components": 30}, {"n_components": 5}),
        ("gmm", {"n_init": 5}, {"n_init": 1}),
        ("hdbscan", {"min_cluster_size": 500}, {"min_cluster_size": 15}),
        ("agglomerative", {"linkage": "ward"}, {"linkage": "single"}),
        ("dbscan", {"eps": 1.5}, {"eps": 0.2}),
        ("birch", {"threshold": 0.1}, {"threshold": 1.0}),
        ("birch", {"branching_factor": 5}, {"branching_factor": 50}),
        ("kprototypes", {"n_init": 10}, {"n_init": 3}),
        ("kprototypes", {"max_iter": 100}, {"max_iter": 10}),
        ("kprototypes", {"n_clusters": 30}, {"n_clusters": 5}),
    ],
)
def test_heavier_settings_are_estimated_slower(name, params, slower):
    spec = get_algorithm(name)
    X = scaled(5_000)
    assert spec.duration(X, spec.resolve(params)).seconds > \
        spec.duration(X, spec.resolve(slower)).seconds


def test_more_features_are_estimated_slower():
    spec = get_algorithm("hdbscan")
    narrow = np.zeros((1_000, 3))
    wide = np.zeros((1_000, 12))
    assert spec.duration(wide, spec.resolve()).seconds > spec.duration(narrow, spec.resolve()).seconds


def test_restarts_fix_is_the_most_restarts_that_fit(big):
    spec = get_algorithm("kmeans")
    params = spec.resolve({"n_init": 50})
    timing = spec.duration(big, params)
    assert not timing.quick and timing.fix.startswith("n_init=")
    value = int(timing.fix.split("=")[1])
    assert 1 <= value < 50
    assert spec.duration(big, {**params, "n_init": value}).quick
    assert not spec.duration(big, {**params, "n_init": value + 1}).quick


def test_time_text():
    assert [time_text(s) for s in (0.2, 40, 119, 130, 3_000, 7_200)] == [
        "1 s", "40 s", "119 s", "2 min", "50 min", "2.0 h"]


@pytest.mark.parametrize("rows", [2_000, 200_000, 1_000_000])
def test_every_default_on_its_default_sample_is_within_the_budget(big, rows):
    """What the command line and the dashboard fit without options: within the budget,
    except BIRCH on a million rows, whose default sample is then lowered (below)."""
    for spec in ALGORITHMS.values():
        X = big[: min(rows, spec.fit_sample or rows)]
        timing = spec.duration(X, spec.resolve())
        if spec.name == "birch" and rows == 1_000_000:
            assert not timing.quick and timing.max_rows >= segmenter.AUTO_SAMPLE_FLOOR
            continue
        assert timing.quick, (spec.name, rows, timing)


# ---------------------------------------------- the cases that ran for minutes


def test_hdbscan_on_every_row_is_refused_with_the_sample_that_fits():
    X = scaled(60_000)
    error = refused("hdbscan", X, sample_size="all")
    assert error.parameter == "sample_size"
    rows = int(error.key)
    assert 5_000 < rows < 60_000
    assert f"at most {rows:,} customers" in error.message
    spec = get_algorithm("hdbscan")
    assert spec.duration(X, spec.resolve(), rows=rows).quick


def test_single_linkage_on_every_row_is_refused_with_the_sample_that_fits():
    X = scaled(60_000)
    error = refused("agglomerative", X, params={"linkage": "single"}, sample_size="all")
    assert error.parameter == "sample_size" and 5_000 < int(error.key) < 60_000
    assert "agglomerative on 60,000 customers would take about" in error.message


def test_many_restarts_on_a_million_rows_are_refused_with_the_restarts_that_fit(big):
    error = refused("kmeans", big, params={"n_init": 50}, sample_size="all")
    assert error.parameter == "params" and error.key.startswith("n_init=")
    assert f"use {error.key}, or fit on a sample of at most" in error.message


def test_a_chosen_sample_too_slow_for_its_components_is_refused(big):
    error = refused("gmm", big[:200_000], params={"n_components": 30, "n_init": 20},
                    sample_size=200_000)
    assert error.parameter == "sample_size" and int(error.key) < 200_000


def test_a_default_sample_too_small_to_help_is_refused_not_shrunk(big):
    """30 components and 20 restarts fit within the budget on fewer rows than the
    smallest default sample: refused, with the sample that would fit."""
    error = refused("gmm", big[:200_000], params={"n_components": 30, "n_init": 20})
    assert int(error.key) < segmenter.AUTO_SAMPLE_FLOOR


@pytest.fixture
def small_budget(monkeypatch):
    """A budget of 20 ms, so that small data exercises what large data would."""
    monkeypatch.setattr(algorithms, "FIT_TIME_BUDGET", 0.02)
    monkeypatch.setattr(segmenter, "AUTO_SAMPLE_FLOOR", 100)


def test_the_default_sample_is_lowered_to_what_fits_in_time_with_a_warning(small_budget):
    X = scaled(3_000)
    with pytest.warns(UserWarning, match=r"birch was fitted on a sample of [\d,]+ of the "
                      r"3,000 customers: on 3,000, the fit would take about \d+ s \(estimated\), "
                      r"more than the 1 s a fit may take; the assigner places the others"):
        fitted = Segmenter(algorithm="birch").fit(X)
    spec = get_algorithm("birch")
    assert 100 <= fitted.n_fit_rows_ < 3_000
    assert spec.duration(X, spec.resolve(), rows=fitted.n_fit_rows_).quick
    assert len(fitted.labels_) == 3_000  # the assigner places the others


def test_a_chosen_sample_is_refused_in_time_not_lowered(small_budget):
    with pytest.raises(ParameterError) as caught:
        Segmenter(algorithm="birch", sample_size=2_000).fit(scaled(3_000))
    assert caught.value.parameter == "sample_size"
    assert "a fit may take" in caught.value.message


def test_a_fit_within_the_budget_neither_warns_nor_shrinks():
    X = scaled(2_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        fitted = Segmenter(params={"n_clusters": 5}).fit(X)
    assert fitted.n_fit_rows_ == 2_000


def test_the_command_line_names_the_option_that_shortens_the_fit(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(algorithms, "FIT_TIME_BUDGET", 0.02)
    data = tmp_path / "d.csv"
    make_customers(2_000, seed=0).to_csv(data, index=False)
    code = main(["fit", str(data), "-o", str(tmp_path / "m.custseg"), "-p", "n_init=50",
                 "--sample-size", "all"])
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "m.custseg").exists()
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("error: kmeans on 2,000 customers would take about")
    assert "(--param n_init=" in err or "(--sample-size " in err


def test_the_command_line_names_the_sample_size_for_hdbscan(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(algorithms, "FIT_TIME_BUDGET", 0.02)
    data = tmp_path / "d.csv"
    make_customers(2_000, seed=0).to_csv(data, index=False)
    code = main(["fit", str(data), "-o", str(tmp_path / "m.custseg"), "-a", "hdbscan",
                 "--sample-size", "all"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.rstrip().endswith(")") and "(--sample-size " in err


# ------------------------------------------------------------ the stability refits


@pytest.fixture(scope="module")
def blobs():
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples=1_500, centers=[[0, 0], [6, 0], [0, 6]], cluster_std=0.6,
                      random_state=0)
    return X, Segmenter(params={"n_clusters": 3}).fit(X).labels_


def test_default_refits_say_how_many_on_how_many_customers(blobs):
    X, labels = blobs
    result = stability(X, labels, "kmeans", {"n_clusters": 3})
    assert (result.resamples, result.rows) == (10, 1_200)
    assert result.reading.startswith("Across 10 refits on 1,200 customers each, the segments "
                                     "agree with an adjusted Rand index of")


def test_slow_refits_are_fewer(blobs, monkeypatch):
    X, labels = blobs
    spec = get_algorithm("kmeans")
    params = {"n_clusters": 3, "n_init": 50}
    each = spec.duration(X, spec.resolve(params), rows=1_200).seconds
    monkeypatch.setattr(stability_module, "STABILITY_TIME_BUDGET", 4.5 * each)
    result = stability(X, labels, "kmeans", params)
    assert (result.resamples, result.rows) == (4, 1_200)
    assert result.overall > 0.9
    assert result.reading.startswith("Across 4 refits on 1,200 customers each")


def test_slower_refits_are_on_fewer_customers(blobs, monkeypatch):
    X, labels = blobs
    spec = get_algorithm("kmeans")
    params = {"n_clusters": 3, "n_init": 50}
    each = spec.duration(X, spec.resolve(params), rows=600).seconds
    monkeypatch.setattr(stability_module, "STABILITY_TIME_BUDGET", MIN_RESAMPLES * each)
    result = stability(X, labels, "kmeans", params)
    assert result.resamples == MIN_RESAMPLES
    assert MIN_ROWS <= result.rows <= 600
    assert spec.duration(X, spec.resolve(params), rows=result.rows).seconds * MIN_RESAMPLES \
        <= MIN_RESAMPLES * each
    assert f"Across {MIN_RESAMPLES} refits on {result.rows:,} customers each" in result.reading


def test_refits_too_slow_even_when_fewest_are_not_measured_and_say_why(blobs, monkeypatch):
    X, labels = blobs
    monkeypatch.setattr(stability_module, "STABILITY_TIME_BUDGET", 1e-9)
    result = stability(X, labels, "kmeans", {"n_clusters": 3})
    assert result.overall is None and result.per_segment == {} and result.resamples == 0
    assert result.reading.startswith(f"Stability was not measured: {MIN_RESAMPLES} refits on "
                                     f"{MIN_ROWS} customers would take about")
    again = Stability.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result
    assert again.relabelled({0: 1}).reading == result.reading


def test_the_model_file_keeps_the_shape_of_its_stability(tmp_path, capsys):
    data = tmp_path / "d.csv"
    make_customers(500, seed=0).to_csv(data, index=False)
    assert main(["fit", str(data), "-o", str(tmp_path / "m.custseg"), "--json"]) == 0
    measured = json.loads(capsys.readouterr().out)["metrics"]["stability"]
    assert set(measured) == {"overall", "per_segment", "resamples", "rows", "reading"}
    assert (measured["resamples"], measured["rows"]) == (10, 400)
    assert measured["reading"].startswith("Across 10 refits on 400 customers each")


def test_sentence_without_counts_reads_as_before():
    assert sentence(0.9, {0: 0.9}).startswith("Across resamples, the segments agree")


# ------------------------------------------------------------------ the suggestions


def test_a_slow_search_over_segments_looks_at_fewer_customers(monkeypatch):
    from custseg.cluster.suggestions import SEARCH_FLOOR, suggest

    X = scaled(6_000)
    quick = suggest(X, "kmeans")
    assert quick.sample_rows == 4_000
    spec = get_algorithm("kmeans")
    # a budget the nine fits of the search make on 1,000 customers, not on 4,000
    budget = sum(spec.duration(X, spec.resolve({"n_clusters": k}), rows=1_000).seconds
                 for k in range(2, 11))
    monkeypatch.setattr(algorithms, "FIT_TIME_BUDGET", budget)
    slow = suggest(X, "kmeans")
    assert 990 <= slow.sample_rows <= 1_000 and slow.n_rows == 6_000
    assert slow.recommended["n_clusters"] in range(2, 11)
    monkeypatch.setattr(algorithms, "FIT_TIME_BUDGET", 1e-9)
    assert suggest(X, "kmeans").sample_rows == SEARCH_FLOOR
