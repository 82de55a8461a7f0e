"""The whole pipeline, on demo data and on the public Mall Customers table."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import custseg
from custseg.errors import NotEnoughDataError
from custseg.model.segmentation import ModelConfig, SegmentationModel, fit_model


def test_mall_kmeans_gives_the_well_known_segments(mall_path):
    model = custseg.fit(mall_path, features=["annual_income", "spending_score"],
                        params={"n_clusters": 5})
    sizes = [s.size for s in model.segments]
    assert sizes == [81, 39, 35, 23, 22]
    names = [s.name for s in model.segments]
    assert len(set(names)) == 5
    rich = [s for s in model.segments if s.levels["annual_income"] == "high"
            and s.levels["spending_score"] == "high"]
    assert len(rich) == 1
    assert rich[0].name == "Affluent Spenders"
    assert rich[0].size == 39
    assert names == ["Balanced Shoppers", "Affluent Spenders", "Cautious Affluent",
                     "Frugal Shoppers", "Trend-Driven Budget Spenders"]
    assert model.metrics.quality.silhouette == pytest.approx(0.5547, abs=1e-3)
    assert model.segmenter.fidelity_.cv_agreement >= 0.95


def test_fit_reports_invalid_rows_and_excludes_them(demo, rulebook):
    dirty = demo.astype(str)
    dirty.loc[0, "age"] = "NA"
    dirty.loc[1, "spending_score"] = "150"
    dirty.loc[2, "annual_income"] = "lots"
    model = fit_model(dirty, ModelConfig(), rulebook)
    assert model.quality.n_input == 600
    assert model.quality.n_used == 597
    assert model.quality.n_invalid == 3
    assert model.quality.reasons == {"age missing": 1, "spending_score out of range": 1,
                                     "annual_income not a number": 1}
    assert sum(s.size for s in model.segments) == 597


def test_not_enough_valid_rows(rulebook):
    frame = pd.DataFrame({"age": ["x"] * 10, "annual_income": ["1"] * 10,
                          "spending_score": ["1"] * 10})
    with pytest.raises(NotEnoughDataError, match=r"only 0 of 10 rows are valid.*age not a number: 10"):
        fit_model(frame, ModelConfig(), rulebook)


def test_summary_matches_the_json_contract(demo_model):
    summary = demo_model.summary()
    for key in ("algorithm", "params", "features", "n_rows", "metrics", "segments"):
        assert key in summary
    seg = summary["segments"][0]
    assert set(seg) >= {"id", "name", "size", "share", "means", "levels", "strategy"}
    assert set(seg["levels"].values()) <= {"low", "mid", "high"}
    assert summary["params"] == {"n_clusters": 5, "n_init": 10}
    assert summary["metrics"]["fidelity"]["cv_agreement"] > 0.9


def test_state_round_trip(demo_model, demo):
    again = SegmentationModel.from_state(*demo_model.state())
    values = demo.astype({"age": float, "annual_income": float, "spending_score": float})
    a, b = demo_model.assign(values), again.assign(values)
    assert np.array_equal(a.labels, b.labels)
    assert again.summary()["segments"] == demo_model.summary()["segments"]


def test_read_back_model_assigns_and_relabels_without_its_estimator(demo_model, demo):
    again = SegmentationModel.from_state(*demo_model.state())
    assert again.estimator is None  # nothing has asked for the scikit-learn Segmenter
    values = demo.astype({"age": float, "annual_income": float, "spending_score": float})
    mapping = {0: 1, 1: 0}
    fresh = demo_model.relabelled(mapping, list(demo_model.segments)).assign(values)
    read = again.relabelled(mapping, list(again.segments))
    assert read.estimator is None
    for field in ("labels", "confidence", "atypical", "distance"):
        assert np.array_equal(getattr(read.assign(values), field), getattr(fresh, field))
    # built on first use, from the same reference set: the same customers, the same votes
    assert np.array_equal(read.segmenter.predict(read.encoding.transform(values)), fresh.labels)
    assert read.segmenter.fidelity_ == demo_model.segmenter.fidelity_


# RFM scoring needs recency, frequency and monetary features (tests/model/test_rfm_model.py)
@pytest.mark.parametrize("algorithm", [n for n, s in custseg.ALGORITHMS.items() if not s.scored])
def test_every_algorithm_names_its_segments(demo, rulebook, algorithm):
    model = fit_model(demo, ModelConfig(algorithm=algorithm), rulebook)
    names = [s.name for s in model.segments]
    assert len(names) == len(set(names))
    for s in model.segments:
        if s.id == -1:
            assert s.name == "Outliers"
        else:
            assert "Outliers" not in s.name


def test_gender_on_is_one_hot_and_required(demo, rulebook):
    from custseg.model.scoring import score_frame

    model = fit_model(demo, ModelConfig(use_gender=True), rulebook)
    assert model.encoding.gender_categories == ("Female", "Male")
    assert model.encoding.needs[-1] == "gender"
    rows = demo.head(3).astype(str).assign(gender=["", "Female", "Other"])
    scored = score_frame(model, rows)
    assert scored["row_status"].tolist() == ["invalid", "ok", "ok"]
    assert scored["row_issues"].tolist()[0] == "gender: missing"
    assert scored["row_issues"].tolist()[2] == "gender 'Other' was not seen when the model was fitted"


def test_why_gender_is_off_by_default(demo, rulebook):
    """A standardised 0/1 gender column makes K-Means split segments by gender first;
    custseg's plain one-hot (when switched on) weighs less. Figures quoted in the README."""
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    numeric = demo[["age", "annual_income", "spending_score"]].to_numpy(float)
    male = (demo["gender"] == "Male").to_numpy(float)[:, None]
    X = StandardScaler().fit_transform(np.hstack([male, numeric]))
    labels = KMeans(8, n_init=10, random_state=0).fit_predict(X)
    standardised = pd.crosstab(labels, demo["gender"], normalize="index").max(axis=1)
    assert (standardised == 1.0).sum() == 8  # every segment single-gender

    model = fit_model(demo, ModelConfig(use_gender=True, params={"n_clusters": 8}), rulebook)
    ours = [max(s.gender_mix.values()) for s in model.segments]
    assert sum(p == 1.0 for p in ours) == 4


def test_model_is_frozen_and_edits_make_a_new_one(demo_model):
    with pytest.raises(dataclasses.FrozenInstanceError):
        demo_model.metrics = None
    edited = demo_model.with_edits({0: {"name": "Renamed"}})
    assert edited.segment(0).name == "Renamed"
    assert demo_model.segment(0).name != "Renamed"
