"""Issue 10, class 9 (settings that size allocations), class 12 (values) and the fit and
suggest items, through the library: each refusal is a CustsegError subclass carrying the
``parameter`` (and ``key``) that fixes it; nothing large is allocated to find out."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import custseg
from custseg.cluster import algorithms, segmenter
from custseg.cluster.algorithms import (
    ALGORITHMS,
    FIT_MEMORY_BUDGET,
    MAX_NEIGHBORS,
    MAX_SEED,
    AlgorithmSpec,
    ParamSpec,
    check_fit_settings,
    get_algorithm,
)
from custseg.cluster.features import MAX_GENDER_CATEGORIES, fit_encoding
from custseg.cluster.segmenter import Segmenter, degenerate_warnings
from custseg.cluster.stability import stability
from custseg.cluster.suggestions import _score, suggest
from custseg.errors import CustsegError, ParameterError
from custseg.table.fields import Ranges
from custseg.table.sample import make_customers


def scaled(n: int, seed: int = 0) -> np.ndarray:
    values = make_customers(n, seed=seed)
    X = values[["age", "annual_income", "spending_score"]].to_numpy(dtype=float)
    return (X - X.mean(axis=0)) / X.std(axis=0)


# ------------------------------------------------------------------ declared bounds


@pytest.mark.parametrize(
    ("settings", "parameter"),
    [
        ({"n_neighbors": 0}, "n_neighbors"),
        ({"n_neighbors": MAX_NEIGHBORS + 1}, "n_neighbors"),
        ({"n_neighbors": 10**9}, "n_neighbors"),
        ({"n_neighbors": 2.5}, "n_neighbors"),
        ({"n_neighbors": True}, "n_neighbors"),
        ({"n_neighbors": "3"}, "n_neighbors"),
        ({"random_state": -1}, "random_state"),
        ({"random_state": MAX_SEED + 1}, "random_state"),
        ({"random_state": 1.5}, "random_state"),
        ({"random_state": None}, "random_state"),
        ({"sample_size": 1}, "sample_size"),
        ({"sample_size": "half"}, "sample_size"),
        ({"sample_size": 2.0}, "sample_size"),
        ({"sample_size": True}, "sample_size"),
        ({"reference_size": 1}, "reference_size"),
        ({"atypical_quantile": 0}, "atypical_quantile"),
        ({"atypical_quantile": float("nan")}, "atypical_quantile"),
    ],
)
def test_fit_settings_outside_their_bounds_are_refused(settings, parameter):
    with pytest.raises(ParameterError) as caught:
        check_fit_settings(**settings)
    assert caught.value.parameter == parameter
    with pytest.raises(ParameterError):
        Segmenter(**settings).fit(scaled(50))


def test_settings_are_checked_before_the_data_is_read(tmp_path):
    """api.fit resolves its settings first: the missing file is never looked at."""
    for settings, parameter in (({"n_neighbors": 10**9}, "n_neighbors"),
                                ({"random_state": -1}, "random_state")):
        with pytest.raises(ParameterError) as caught:
            custseg.fit(tmp_path / "nope.csv", **settings)
        assert caught.value.parameter == parameter


def test_the_bounds_hold_at_their_edges():
    check_fit_settings(n_neighbors=MAX_NEIGHBORS, random_state=MAX_SEED, sample_size=2)
    check_fit_settings(n_neighbors=np.int64(1), random_state=np.int64(0), sample_size="all")
    model = custseg.fit(make_customers(200), random_state=MAX_SEED, n_neighbors=MAX_NEIGHBORS)
    assert model.config.random_state == MAX_SEED


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "-inf", "1e400", "9" * 400, True, [5],
                                   None, "", "3.5", 3.5, 31, "0x10"])
def test_param_values_of_the_wrong_type_or_size_are_refused(value):
    spec = get_algorithm("kmeans").param("n_clusters")
    with pytest.raises(ParameterError) as caught:
        spec.coerce(value)
    assert caught.value.parameter == "params"
    assert caught.value.message.startswith("n_clusters=")


@pytest.mark.parametrize(("name", "value"), [("eps", "nan"), ("eps", float("inf")),
                                             ("eps", 0), ("min_samples", 1), ("nope", 1)])
def test_every_refused_param_names_params(name, value):
    with pytest.raises(ParameterError) as caught:
        get_algorithm("dbscan").resolve({name: value})
    assert caught.value.parameter == "params"


# ---------------------------------------------------- memory, estimated up front


def refusal(algorithm: str, X: np.ndarray, **settings) -> ParameterError:
    with pytest.raises(ParameterError) as caught, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Segmenter(algorithm=algorithm, **settings).fit(X)
    error = caught.value
    assert isinstance(error, CustsegError)
    assert "a fit may use" in error.message and "--" not in error.message
    return error


def test_agglomerative_on_every_row_is_refused_with_the_sample_that_fits():
    X = scaled(9_000)
    error = refusal("agglomerative", X, sample_size="all")
    assert error.parameter == "sample_size"
    rows = int(error.key)
    assert 5_000 < rows < 9_000
    spec = get_algorithm("agglomerative")
    assert spec.cost(X[:rows], spec.resolve()).fits
    assert not spec.cost(X[: rows + 200], spec.resolve()).fits
    assert f"at most {rows:,} customers" in error.message


def test_single_linkage_needs_no_pairwise_matrix():
    spec = get_algorithm("agglomerative")
    assert spec.cost(scaled(9_000), spec.resolve({"linkage": "single"})).fits


def test_a_wide_dbscan_eps_is_refused_with_an_eps_that_fits():
    X = scaled(30_000)
    error = refusal("dbscan", X, params={"eps": 5.0})
    assert error.parameter == "params" and error.key.startswith("eps=")
    spec = get_algorithm("dbscan")
    eps = float(error.key.split("=")[1])
    assert 0.01 <= eps < 5.0
    assert spec.cost(X, spec.resolve({"eps": eps})).fits


def test_dbscan_neighbourhoods_are_estimated_from_pair_distances():
    """The estimate is within a few percent of the real mean neighbourhood."""
    from scipy.spatial import cKDTree

    X = scaled(20_000)
    cost = get_algorithm("dbscan").cost(X, {"eps": 1.0, "min_samples": 5})
    real = cKDTree(X).query_ball_point(X[:2_000], 1.0, return_length=True).mean()
    assert cost.memory == pytest.approx(16 * len(X) * real, rel=0.1)


def test_a_large_hdbscan_core_is_refused_with_a_min_samples_that_fits():
    X = scaled(20_000)
    error = refusal("hdbscan", X, params={"min_cluster_size": 5_000})
    assert error.parameter == "params" and error.key.startswith("min_samples=")
    spec = get_algorithm("hdbscan")
    value = int(error.key.split("=")[1])
    assert spec.cost(X, spec.resolve({"min_cluster_size": 5_000, "min_samples": value})).fits


def test_a_mixture_on_every_row_is_refused_with_the_sample_that_fits():
    X = np.random.default_rng(0).normal(size=(300_000, 3))
    error = refusal("gmm", X, params={"n_components": 30}, sample_size="all")
    assert error.parameter == "sample_size"
    # over both budgets: the sample named brings it within both (time is the tighter)
    assert "a fit may take" in error.message
    rows = int(error.key)
    assert 100_000 < rows < 300_000
    spec = get_algorithm("gmm")
    params = spec.resolve({"n_components": 30})
    assert spec.cost(X[:rows], params).fits and spec.duration(X[:rows], params).quick
    assert not spec.duration(X[: rows + 1_000], params).quick


def test_birch_with_too_many_sub_clusters_is_refused_before_merging_them():
    X = np.random.default_rng(0).uniform(size=(20_000, 3))
    error = refusal("birch", (X - X.mean(0)) / X.std(0), params={"threshold": 0.05})
    assert error.parameter == "params" and error.key == "threshold=0.1"
    assert "sub-clusters" in error.message


def test_birch_still_fits_and_predicts_as_before():
    from sklearn.cluster import Birch

    X = scaled(3_000)
    ours = get_algorithm("birch").make({}, 0).fit(X)
    theirs = Birch(n_clusters=5, threshold=0.5, branching_factor=50).fit(X)
    assert np.array_equal(ours.labels_, theirs.labels_)
    assert np.array_equal(ours.predict(X[:100]), theirs.predict(X[:100]))
    assert ours.get_params()["n_clusters"] == 5


@pytest.fixture
def small_budget(monkeypatch):
    """A 4 MB budget, so that small data exercises what large data would."""
    monkeypatch.setattr(algorithms, "FIT_MEMORY_BUDGET", 4 * 2**20)
    monkeypatch.setattr(segmenter, "AUTO_SAMPLE_FLOOR", 100)


def test_the_default_sample_is_lowered_with_a_warning(small_budget):
    X = scaled(3_000)
    with pytest.warns(UserWarning, match=r"agglomerative was fitted on a sample of \d+ of the "
                      r"3,000 customers: on 3,000, the distances between every pair"):
        fitted = Segmenter(algorithm="agglomerative").fit(X)
    rows = fitted.n_fit_rows_
    assert 100 <= rows < 700
    assert len(fitted.labels_) == 3_000  # the assigner places the others


def test_a_chosen_sample_is_refused_not_lowered(small_budget):
    with pytest.raises(ParameterError) as caught:
        Segmenter(algorithm="agglomerative", sample_size=2_000).fit(scaled(3_000))
    assert caught.value.parameter == "sample_size"


def test_a_parameter_at_fault_is_refused_even_on_the_default_sample(small_budget):
    with pytest.raises(ParameterError) as caught:
        Segmenter(algorithm="dbscan", params={"eps": 5.0}).fit(scaled(3_000))
    assert caught.value.parameter == "params"


def test_registry_defaults_fit_the_budget():
    """Each default sample fits the budget with default settings on the demo data."""
    X = scaled(60_000)
    for spec in ALGORITHMS.values():
        rows = X[: spec.fit_sample or len(X)]
        if spec.name == "dbscan":
            continue  # density-dependent: lowered on dense data (tested above)
        cost = spec.cost(rows, spec.resolve())
        assert cost is None or cost.memory <= FIT_MEMORY_BUDGET, spec.name


def test_registry_fixes_name_their_own_parameters():
    for spec in ALGORITHMS.values():
        names = {p.name for p in spec.params}
        for outcome in ("coarse", "fine"):
            if spec.scored:  # no settings: the fix is the rulebook's score map
                assert "score map" in spec.fix_for(outcome) and not names
                continue
            assert any(n in spec.fix_for(outcome) for n in names), (spec.name, outcome)
        if spec.has_noise:
            assert spec.fix_for("noise") == spec.noise_fix


def test_a_new_entry_without_fixes_gets_the_number_of_segments():
    spec = AlgorithmSpec(name="x", label="X", summary="", build=lambda p, s: None,
                         params=(ParamSpec("k", "int", 3, "", low=2, high=9),),
                         predicts_natively=True, suggest_by="n_segments", k_param="k")
    assert (spec.fix_for("coarse"), spec.fix_for("fine")) == ("raise k", "lower k")
    assert spec.cost(scaled(10), {"k": 3}) is None


# --------------------------------------------------------------- gender categories


def test_a_gender_column_of_ids_is_refused_before_encoding():
    values = make_customers(2_000, seed=0)
    values["gender"] = values["customer_id"]
    with pytest.raises(ParameterError) as caught:
        fit_encoding(values, ("age",), use_gender=True)
    assert (caught.value.parameter, caught.value.key) == ("mapping", "gender")
    assert "2,000 different answers" in caught.value.message


def test_a_dozen_gender_answers_are_fine():
    values = make_customers(200, seed=0)
    values["gender"] = [f"answer {i % MAX_GENDER_CATEGORIES}" for i in range(200)]
    encoding = fit_encoding(values, ("age",), use_gender=True)
    assert len(encoding.gender_categories) == MAX_GENDER_CATEGORIES
    values.loc[0, "gender"] = "one more"
    with pytest.raises(ParameterError):
        fit_encoding(values, ("age",), use_gender=True)


def test_the_library_refuses_ids_as_gender_through_fit():
    frame = make_customers(500, seed=0)
    frame["gender"] = frame["customer_id"]
    with pytest.raises(ParameterError, match="different answers"):
        custseg.fit(frame, use_gender=True)


# ------------------------------------------------------------- degenerate results

SPEC = get_algorithm("dbscan")


def labels_of(*sizes: int, noise: int = 0) -> np.ndarray:
    parts = [np.full(s, i) for i, s in enumerate(sizes)] + [np.full(noise, -1)]
    return np.concatenate(parts)


@pytest.mark.parametrize(
    ("labels", "words"),
    [
        (labels_of(950, 30, 20), ["95.0% of the customers in one segment", "lower eps"]),
        (labels_of(*[40] * 25), ["found 25 segments, more than 20", "raise min_samples"]),
        (labels_of(500, 496, 4), ["1 segment holds fewer than 10 customers (1% of the "
                                  "customers; its size: 4)", "raise min_samples"]),
        (labels_of(600, 399, 1), ["(1% of the customers; its size: 1)"]),
        (labels_of(*[300] * 3, 9, 8), ["2 segments hold fewer than 10", "smallest: 8, 9)"]),
        (labels_of(300, 250, noise=450), ["left 45% of customers as noise; raise eps or lower "
                                          "min_samples"]),
        (labels_of(noise=100), ["put every customer in noise", "raise eps"]),
        (labels_of(100), ["found a single segment", "lower eps or raise min_samples"]),
    ],
)
def test_degenerate_results_warn_with_the_setting_to_change(labels, words):
    said = " | ".join(degenerate_warnings(labels, SPEC))
    for word in words:
        assert word in said


@pytest.mark.parametrize(("algorithm", "advice"), [
    ("dbscan", "raise eps: a neighbourhood this small leaves many customers as noise"),
    ("hdbscan", "lower min_samples, so that fewer customers are noise, or raise "
                "cluster_selection_epsilon"),
])
@pytest.mark.parametrize("labels", [labels_of(120, 110, 3, noise=167),
                                    labels_of(*[8] * 25, noise=300)])
def test_noise_beside_crumbs_is_one_warning_that_does_not_contradict_itself(
        labels, algorithm, advice):
    """DBSCAN on 400 rows at eps=0.3 said "raise min_samples" for a segment of 3 beside
    "lower min_samples" for 40% noise: both fixes at once cancel out."""
    said = degenerate_warnings(labels, get_algorithm(algorithm))
    assert all(advice in w for w in said), said  # every warning, the same advice
    joined = " | ".join(said)
    assert advice in joined and "as noise" in joined
    for setting in ("min_samples", "min_cluster_size"):
        assert not (f"raise {setting}" in joined and f"lower {setting}" in joined), said


def test_degenerate_warnings_name_the_algorithm_by_its_label():
    """Issue 14: algorithm labels, not ids, in every human text (the Dashboard shows these)."""
    said = degenerate_warnings(labels_of(500, 496, 4), get_algorithm("hdbscan"))
    assert said and all(w.startswith("HDBSCAN") for w in said)
    assert not any(w.startswith("hdbscan") for w in said)


def test_a_balanced_result_warns_nothing():
    assert degenerate_warnings(labels_of(400, 300, 200, 100, noise=300), SPEC) == []
    assert degenerate_warnings(labels_of(5, 5), SPEC) == []  # ten customers: nothing is tiny


def test_fit_records_the_warnings_in_the_model(rulebook):
    from custseg.model.segmentation import ModelConfig, fit_model

    model = fit_model(make_customers(400, seed=0),
                      ModelConfig(params={"n_clusters": 30}, stability_resamples=0), rulebook)
    assert any("more than 20" in w for w in model.warnings)
    assert model.summary()["warnings"] == list(model.warnings)


def test_stability_keeps_size_bounded_parameters_within_its_rows():
    X = scaled(200)
    labels = np.zeros(200, dtype=int)
    measured = stability(X, labels, "hdbscan", {"min_cluster_size": 5_000}, fitted_rows=200,
                         resamples=2)
    assert measured.resamples == 2


# -------------------------------------------------------------------------- suggest


def test_a_setting_fit_would_warn_about_is_never_recommended():
    X = scaled(400)
    lone = np.zeros(400, dtype=int)
    lone[:200] = 1
    lone[0] = 2  # a segment of one customer
    assert _score(X, lone)["score"] is None
    dominant = np.zeros(400, dtype=int)
    dominant[:20] = 1
    assert _score(X, dominant)["score"] is None
    balanced = (X[:, 1] > 0).astype(int)
    assert _score(X, balanced)["score"] is not None


def test_suggest_says_how_many_rows_it_saw():
    X = scaled(9_000)
    result = suggest(X, "kmeans", ks=(2, 3))
    assert (result.n_rows, result.sample_rows) == (9_000, 4_000)
    result = suggest(X, "dbscan")
    assert (result.n_rows, result.sample_rows) == (9_000, 9_000)


def test_suggest_and_fit_use_the_same_valid_rows():
    frame = make_customers(800, seed=2).astype({"age": str})
    frame.loc[::5, "age"] = "?"
    frame.loc[::9, "spending_score"] = 400
    ranges = Ranges.from_dict({"age": (25, 55)})
    model = custseg.fit(frame, ranges=ranges)
    result = custseg.suggest(frame, ranges=ranges)
    assert result.n_rows == model.quality.n_used
    assert result.n_rows < len(frame)


def test_suggest_refuses_what_fit_refuses():
    frame = make_customers(500, seed=0)
    with pytest.raises(ParameterError):
        custseg.suggest(frame, random_state=-1)
    frame["gender"] = frame["customer_id"]
    with pytest.raises(ParameterError, match="different answers"):
        custseg.suggest(frame, use_gender=True)


def test_a_frame_is_never_changed_by_a_refusal():
    frame = make_customers(300, seed=0)
    before = frame.copy()
    with pytest.raises(ParameterError):
        custseg.fit(frame, params={"n_clusters": "abc"})
    pd.testing.assert_frame_equal(frame, before)
