"""The population stability index of a batch against the customers a model was fitted on."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from custseg.model.drift import (
    EPSILON,
    MIN_ROWS,
    drift_message,
    drift_reference,
    measure,
    numeric_cuts,
    psi,
    reference_weights,
)
from custseg.model.segmentation import ModelConfig, fit_model
from custseg.table.sample import make_customers
from custseg.table.validate import validate


def test_psi_known_values():
    # two bins, 50/50 against 60/40: 0.1·ln(1.2) + (−0.1)·ln(0.8)
    assert psi(np.array([0.5, 0.5]), np.array([0.6, 0.4])) == pytest.approx(
        0.1 * math.log(1.2) - 0.1 * math.log(0.8))
    assert psi(np.array([0.25] * 4), np.array([0.25] * 4)) == 0.0
    # an empty bin is taken as EPSILON, so the index stays finite
    value = psi(np.array([0.5, 0.5]), np.array([1.0, 0.0]))
    assert value == pytest.approx(0.5 * math.log(2) + (EPSILON - 0.5) * math.log(EPSILON / 0.5))
    assert math.isfinite(value)


def test_cuts_sit_between_known_values_and_ties_fall_on_one_side():
    x = np.array([1, 1, 1, 1, 2, 2, 3, 3, 3, 10], dtype=float)
    cuts = numeric_cuts(x, np.ones(len(x)), n_bins=4)
    assert cuts.tolist() == [1.5, 2.5, 6.5]  # quartiles 1, 2, 3: halfway to the next value
    assert not np.isin(cuts, x).any()
    assert numeric_cuts(np.array([5.0, 5.0, 7.0]), np.ones(3), n_bins=10).tolist() == [6.0]


def test_weights_make_the_stratified_reference_stand_for_every_customer():
    labels = np.array([0, 0, 1, 1, 1, 1])
    w = reference_weights(labels, {0: 100, 1: 100})
    assert w.tolist() == [50, 50, 25, 25, 25, 25]
    assert reference_weights(labels, {0: 100}).tolist() == [1.0] * 6  # a size unknown


@pytest.fixture(scope="module")
def fitted(rulebook):
    data = make_customers(1_500, seed=3)
    model = fit_model(data, ModelConfig(params={"n_clusters": 4}, stability_resamples=0,
                                        use_gender=True), rulebook)
    values = validate(data, required=model.encoding.needs).valid_values()
    return model, values


def test_the_customers_fitted_do_not_drift(fitted):
    model, values = fitted
    drift = measure(model, values)
    assert drift.n_rows == 1_500
    assert [f.feature for f in drift.features()] == ["age", "annual_income",
                                                      "spending_score", "gender"]
    assert all(f.psi < 1e-6 for f in drift.features()), drift.to_list()
    assert drift_message(drift) is None


def test_a_shifted_batch_drifts_on_the_shifted_feature_only(fitted):
    model, values = fitted
    shifted = values.assign(age=values["age"] + 25)
    drift = {f.feature: f for f in measure(model, shifted).features()}
    assert drift["age"].psi > 1.0 and drift["age"].flagged
    assert drift["annual_income"].psi < 1e-6 and not drift["annual_income"].flagged
    message = drift_message(measure(model, shifted))
    assert message.startswith("these customers differ from the ones the model was fitted on: "
                              f"age (PSI {drift['age'].psi:.4g})")
    assert "annual_income" not in message


def test_an_independent_sample_of_the_same_kind_stays_under_the_flag(fitted):
    model, _ = fitted
    other = make_customers(5_000, seed=11)
    values = validate(other, required=model.encoding.needs).valid_values()
    assert all(0 < f.psi < 0.1 for f in measure(model, values).features())


def test_a_category_never_seen_at_fit_drifts(fitted):
    model, values = fitted
    unseen = values.assign(gender=np.where(np.arange(len(values)) % 2 == 0, "Other",
                                           values["gender"]))
    drift = {f.feature: f.psi for f in measure(model, unseen).features()}
    assert drift["gender"] > 0.25
    assert drift["age"] < 1e-6


def test_counts_of_batches_add_up_to_the_whole(fitted):
    model, values = fitted
    reference = drift_reference(model)
    whole = reference.count(values)
    parts = reference.count(values.iloc[:700]) + reference.count(values.iloc[700:])
    assert parts.n_rows == whole.n_rows == 1_500
    assert all(np.array_equal(a, b) for a, b in zip(parts.counts, whole.counts, strict=True))
    assert parts.to_list() == whole.to_list()


def test_too_few_rows_give_no_index(fitted):
    model, values = fitted
    few = measure(model, values.iloc[:MIN_ROWS - 1].assign(age=99))
    assert [f["psi"] for f in few.to_list()] == [None] * 4
    assert few.flagged() == ()
    empty = measure(model, values.iloc[:0])
    assert empty.n_rows == 0 and empty.to_list()[0] == {"feature": "age", "psi": None,
                                                        "flagged": False}


def test_a_log_transformed_feature_is_binned_as_in_its_own_units():
    import custseg
    from custseg.api import drift

    rng = np.random.default_rng(0)
    data = pd.DataFrame({"customer_id": [f"c{i}" for i in range(800)],
                         "age": rng.integers(18, 70, 800),
                         "Balance": rng.lognormal(6, 1.5, 800).round(2)})
    model = custseg.fit(data, features=["age", "Balance"], params={"n_clusters": 3})
    assert model.encoding.transform_of(1) == "log1p"
    same = {f["feature"]: f["psi"] for f in drift(model, data)}
    assert same == {"age": 0.0, "Balance": 0.0}
    richer = {f["feature"]: f for f in drift(model, data.assign(Balance=data["Balance"] * 20))}
    assert richer["Balance"]["psi"] > 1.0 and richer["Balance"]["flagged"]
    assert richer["age"]["psi"] == 0.0


def test_the_library_summary_equals_the_scored_rows(fitted):
    from custseg.api import score, score_summary

    model, _ = fitted
    batch = make_customers(400, seed=9)
    summary = score_summary(model, batch)
    scored = score(model, batch)
    assert summary["rows"] == 400 and summary["invalid"] == 0
    assert summary["atypical"] == int(scored["atypical"].sum())
    counts = scored["segment_id"].value_counts()
    assert {s["id"]: s["count"] for s in summary["segments"]} == {
        i: int(counts.get(i, 0)) for i in model.assignable_names}
    assert [d["feature"] for d in summary["drift"]] == ["age", "annual_income",
                                                         "spending_score", "gender"]
    assert "output" not in summary


def test_a_flag_agrees_with_the_figure_shown():
    """The PSI is kept to the 4 places shown: a value that rounds to the threshold is
    shown as 0.25 and not flagged; one a ten-thousandth above it is both."""
    from custseg.model.drift import PSI_FLAG, FeatureDrift

    at = FeatureDrift("age", PSI_FLAG + 0.000004)
    assert at.psi == 0.25 and not at.flagged and at.to_dict() == {
        "feature": "age", "psi": 0.25, "flagged": False}
    above = FeatureDrift("age", PSI_FLAG + 0.0001)
    assert above.psi == 0.2501 and above.flagged
