"""``--algorithm rfm`` models: segments are the score map applied to the scores, fitted or
new; cut points kept in the model file; forged scoring refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hostile_models import forge, set_field

import custseg.api as api
from custseg.cluster.rfm import CELLS, quintile_cuts, scores
from custseg.errors import ModelFileError, ParameterError
from custseg.io.model_files import model_bytes, model_from_bytes
from custseg.io.rulebooks import default_rulebook

FEATURES = ["recency_days", "frequency", "monetary"]


def customers(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """Customers of an RFM table, with heavy ties (40% bought once)."""
    rng = np.random.default_rng(seed)
    frequency = np.where(rng.random(n) < 0.4, 1, rng.integers(2, 30, n))
    return pd.DataFrame({
        "customer_id": [f"C{i:04d}" for i in range(n)],
        "recency_days": rng.integers(1, 400, n),
        "frequency": frequency,
        "monetary": np.round(frequency * rng.uniform(5, 80, n), 2),
    })


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return customers()


@pytest.fixture(scope="module")
def model(table):
    return api.fit(table, algorithm="rfm", features=FEATURES)


RULEBOOK = default_rulebook()
OWNERS = RULEBOOK.score_cells()


def map_name(r: int, f: int, m: int) -> str:
    """The default map's segment of a cell (scores as numbers)."""
    return RULEBOOK.score_map[OWNERS[CELLS.index(f"{r}{f}{m}")]].name


def test_fitted_customers_are_scored_by_quintiles_and_named_by_the_map(model, table):
    for role, col in zip(("recency", "frequency", "monetary"), FEATURES, strict=True):
        assert model.rfm.cuts[role] == tuple(quintile_cuts(table[col].to_numpy(float)))
    out = api.score(model, table)
    want_r = scores(table["recency_days"], model.rfm.cuts["recency"], reverse=True)
    want_f = scores(table["frequency"], model.rfm.cuts["frequency"])
    assert out["r_score"].tolist() == want_r.tolist()
    assert out["f_score"].tolist() == want_f.tolist()
    assert set(out.loc[table["frequency"] == 1, "f_score"]) == {1}  # ties: one score
    assert out["rfm_cell"].tolist() == [f"{r}{f}{m}" for r, f, m in zip(
        out["r_score"], out["f_score"], out["m_score"], strict=True)]
    assert out["segment_name"].tolist() == [map_name(*map(int, c)) for c in out["rfm_cell"]]
    # the extra columns come after the contract's
    assert list(out.columns[-10:]) == ["segment_id", "segment_name", "confidence", "atypical",
                                       "row_status", "row_issues", "r_score", "f_score",
                                       "m_score", "rfm_cell"]
    # the fitted labels are the same segments, and sizes add up
    assert np.array_equal(model.labels, out["segment_id"].to_numpy(dtype=int))
    sizes = {s.name: s.size for s in model.segments}
    assert sizes == out["segment_name"].value_counts().to_dict()
    summary = model.summary()
    assert summary["algorithm"] == "rfm" and summary["params"] == {}
    cells = {s["name"]: s["cells"] for s in summary["segments"]}
    assert "555" in cells["Champions"] and cells["Lost"] == ["111", "112", "121", "122"]
    assert summary["rfm_scoring"]["cuts"]["frequency"] == list(model.rfm.cuts["frequency"])


def test_the_assigner_never_changes_the_segment(model, table):
    values = table[FEATURES].astype(float)
    X = model.encoding.transform(values)
    vote = model.fitted.assign(X).labels  # what the neighbours alone would say
    mapped = model.rfm.segments_of(model.rfm_scores(values))
    assert (vote != mapped).sum() > 0  # customers on which the KNN disagrees
    got = model.assign(values)
    assert np.array_equal(got.labels, mapped)
    # confidence: the share of the 3 nearest known customers in the customer's segment
    _, ind = model.fitted.vote.query(X)
    share = (model.fitted.vote.labels[ind] == mapped[:, None]).mean(axis=1)
    assert np.allclose(got.confidence, share)
    assert got.confidence[vote != mapped].max() < 1.0


def test_cut_points_round_trip_and_place_new_customers(model):
    loaded = model_from_bytes(model_bytes(model))
    assert loaded.rfm == model.rfm
    cuts = model.rfm.cuts
    new = pd.DataFrame({
        "customer_id": ["N1", "N2", "N3"],
        "recency_days": [cuts["recency"][0], cuts["recency"][0] + 1, 10_000],
        "frequency": [cuts["frequency"][3] + 1, cuts["frequency"][3], 1],
        "monetary": [1e6, cuts["monetary"][1], 0.0],
    })
    out = api.score(loaded, new)
    assert out["rfm_cell"].tolist() == ["555", "442", "111"]  # at a cut point: below it
    assert out["segment_name"].tolist() == ["Champions", "Loyal Customers", "Lost"]
    assert out["r_score"].dtype.name == "Int64"
    one = api.predict_one(loaded, values={"recency_days": 0, "frequency": 500,
                                          "monetary": 50_000})
    assert one["segment_name"] == "Champions" and one["rfm_cell"] == "555"


def test_a_map_segment_nobody_fell_in_still_takes_new_customers():
    # recent customers buy most often: nobody is long gone and frequent
    n = 100
    recency = np.arange(1, n + 1)
    table = pd.DataFrame({"customer_id": [f"C{i}" for i in range(n)], "recency_days": recency,
                          "frequency": n + 1 - recency, "monetary": 10.0 * (n + 1 - recency)})
    model = api.fit(table, algorithm="rfm", features=FEATURES)
    fitted = {s.name for s in model.segments}
    assert "Can't Lose Them" not in fitted and "At Risk" not in fitted
    unfitted = {u["name"]: u["id"] for u in model.rfm.unfitted}
    assert set(unfitted) >= {"Can't Lose Them", "At Risk"}
    assert min(unfitted.values()) == len(model.segments)  # ids after the fitted ones
    loaded = model_from_bytes(model_bytes(model))
    out = api.score(loaded, pd.DataFrame({"customer_id": ["X"], "recency_days": [5_000],
                                          "frequency": [5_000], "monetary": [1e5]}))
    assert out["rfm_cell"].tolist() == ["155"]
    assert out["segment_name"].tolist() == ["Can't Lose Them"]
    assert out["segment_id"].tolist() == [unfitted["Can't Lose Them"]]


def test_degenerate_columns_fit(table):
    flat = table.assign(frequency=1, monetary=25.0)  # everyone bought once, the same
    model = api.fit(flat, algorithm="rfm", features=FEATURES)
    assert model.rfm.cuts["frequency"] == (1.0,) * 4
    out = api.score(model, flat)
    assert set(out["f_score"]) == {1} and set(out["m_score"]) == {1}
    assert set(out["segment_name"]) <= {"New Customers", "Promising", "About to Sleep",
                                        "Hibernating", "Lost"}
    assert set(out.loc[out["r_score"] == 1, "segment_name"]) == {"Lost"}


def test_a_missing_extra_or_repeated_role_is_refused(table):
    with pytest.raises(ParameterError, match="no feature has the role monetary"):
        api.fit(table, algorithm="rfm", features=FEATURES[:2])
    with pytest.raises(ParameterError, match="no feature has the role recency or frequency "
                                             "or monetary"):
        api.fit(table.rename(columns={"recency_days": "age"}), algorithm="rfm",
                features=["age"])
    with pytest.raises(ParameterError, match="leave tenure_days out of the features"):
        api.fit(table.assign(tenure_days=400), algorithm="rfm",
                features=[*FEATURES, "tenure_days"])


def test_a_reference_model_renumbers_the_cells_with_the_segments(model, table):
    again = api.fit(customers(seed=1), algorithm="rfm", features=FEATURES, reference=model)
    loaded = model_from_bytes(model_bytes(again))  # consistent after the renumbering
    out = api.score(loaded, table)
    assert out["segment_name"].tolist() == [map_name(*map(int, c)) for c in out["rfm_cell"]]


def _forged(model, change) -> bytes:
    return forge(model_bytes(model), change)


@pytest.mark.parametrize(("path", "value", "words"), [
    (["rfm_scoring", "cuts", "recency"], [50.0, 10.0, 100.0, 200.0], "never decrease"),
    (["rfm_scoring", "cuts", "monetary"], [1.0, 2.0, 3.0, 1e12], "outside the fitted"),
    (["rfm_scoring", "cuts", "frequency"], [1.0, 2.0, 3.0], "at least 4 items"),
    (["rfm_scoring", "cells"], [0] * 125, "every segment, fitted or not"),
    (["rfm_scoring", "features", "recency"], "monetary", "not a feature of role recency"),
])
def test_forged_scoring_is_refused(model, path, value, words):
    with pytest.raises(ModelFileError, match=words):
        model_from_bytes(_forged(model, set_field(path, value)))


def test_moved_cut_points_are_caught_by_the_reference_customers(model):
    cuts = list(model.rfm.cuts["recency"])
    moved = [cuts[0], cuts[1], cuts[1], cuts[3]]  # the 60% cut moved down to the 40%
    with pytest.raises(ModelFileError, match="reference customers are not in the segment"):
        model_from_bytes(_forged(model, set_field(["rfm_scoring", "cuts", "recency"], moved)))


def test_scoring_blocks_belong_to_rfm_models_only(model, demo_model):
    block = model.state()[0]["rfm_scoring"]
    with pytest.raises(ModelFileError, match="belongs to RFM models"):
        model_from_bytes(forge(model_bytes(demo_model), set_field(["rfm_scoring"], block)))
    with pytest.raises(ModelFileError, match="holds no rfm_scoring block"):
        model_from_bytes(forge(model_bytes(model), lambda m: m.pop("rfm_scoring")))
    older = forge(model_bytes(model), manifest_change=lambda m: m.update(format_version=3))
    with pytest.raises(ModelFileError, match="only format 4 has"):
        model_from_bytes(older)
