from __future__ import annotations

import pandas as pd
import pytest

from custseg.model import summaries
from custseg.table.validate import validate


def test_headline(demo_model):
    head = summaries.headline(demo_model)
    assert head["customers"] == 600
    assert head["segments"] == 5
    assert head["outlier_share"] == 0.0
    assert head["age"] == pytest.approx(demo_model.base.means["age"])


def test_level_table(demo_model):
    seg = demo_model.segments[0]
    table = summaries.level_table(seg, demo_model.base)
    assert table["feature"].tolist() == ["Age (years)", "Annual income (k$)", "Spending score (points)"]
    assert table["segment"].tolist() == pytest.approx([seg.means[f] for f in
                                                       ("age", "annual_income", "spending_score")])


def test_describe_model(demo_model):
    assert summaries.describe_model(demo_model) == (
        "K-Means (n_clusters=5, n_init=10) on age, annual income and spending score")


def test_settings_read_as_the_registry_labels_them():
    assert summaries.settings_text("hdbscan", {"min_cluster_size": 15, "min_samples": None,
                                               "cluster_selection_epsilon": 0.55}) == (
        "HDBSCAN (min_cluster_size=15, min_samples=auto, cluster_selection_epsilon=0.55)")
    assert summaries.settings_text("rfm", {}) == "RFM scores (quintiles)"
    assert summaries.settings_text("gmm", {"n_components": 3}) == "Gaussian mixture (n_components=3)"
    assert summaries.features_text(["age", "Recency"], use_gender=True) == (
        "age, Recency and gender")


def test_invalid_and_noted_rows():
    df = pd.DataFrame({"customer_id": ["1", "1", "2"], "age": ["x", "30", "31"],
                       "annual_income": ["5", "5", "6"], "spending_score": ["5", "5", "6"]})
    v = validate(df)
    bad = summaries.invalid_rows(v)
    assert bad.to_dict("list") == {"row": [1], "issues": [
        "age: 'x' is not a number; customer_id '1' also on row 2 (conflicting values)"]}
    noted = summaries.noted_rows(v)
    assert noted["row"].tolist() == [2]


def test_gender_mix_text():
    assert summaries.gender_mix_text({"Male": 0.4, "Female": 0.6}) == "Female 60% · Male 40%"


def test_fit_note_reports_sample_and_fidelity(rulebook):
    from custseg.model.segmentation import ModelConfig, fit_model
    from custseg.table.sample import make_customers

    model = fit_model(make_customers(3_000, seed=2),
                      ModelConfig(algorithm="agglomerative", sample_size=1_000), rulebook)
    note = summaries.fit_note(model)
    assert note.startswith("The clusterer was fitted on a random sample of 1,000 of 3,000 customers")
    agreement = model.segmenter.fidelity_.cv_agreement
    assert f"on {agreement:.1%} of held-out customers" in note


def test_scored_counts():
    scored = pd.DataFrame({"segment_id": [2.0, None, 0.0, 2.0, -1.0],
                           "atypical": [False, None, True, False, True]})
    counts = summaries.scored_counts(scored)
    assert counts.per_segment == {2: 2, 0: 1, -1: 1}
    assert counts.scored == 4  # the invalid row has no segment
    assert counts.atypical == 2


def test_cells_text_lists_a_segments_cells_and_how_many_more():
    assert summaries.cells_text(["555", "554"]) == "RFM cells (2): 555 and 554."
    many = [f"{r}{f}{m}" for r in "54" for f in "54321" for m in "54"]
    assert summaries.cells_text(many, shown=3) == "RFM cells (20): 555, 554, 545 and 17 more."
    assert summaries.cells_text([]) == "RFM cells: none."


def test_rfm_score_figures_for_a_placement_and_none_without_scores():
    placed = {"segment_id": 3, "r_score": 5, "f_score": 4, "m_score": 1, "rfm_cell": "541"}
    assert [(label, value) for label, value, _ in summaries.rfm_score_figures(placed)] == [
        ("Recency score", "5 of 5"), ("Frequency score", "4 of 5"),
        ("Monetary score", "1 of 5"), ("RFM cell", "541")]
    returns_only = {"segment_id": -2, "r_score": None, "f_score": None, "m_score": None,
                    "rfm_cell": None}
    assert summaries.rfm_score_figures(returns_only) == []
    assert summaries.rfm_score_figures({"segment_id": 0}) == []  # not RFM scoring
