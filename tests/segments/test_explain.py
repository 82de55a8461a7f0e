from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import custseg
from custseg.segments.explain import compare_segments, drivers, lift_text, segment_rules
from custseg.table.validate import validate


@pytest.fixture(scope="module")
def mall(mall_path):
    table = custseg.read_table(mall_path)
    model = custseg.fit(table, features=["annual_income", "spending_score"])
    values = validate(table.fields_frame()).valid_values()
    return model, values


def test_affluent_segment_first_rule_names_both_features(mall):
    model, _ = mall
    rich = next(s for s in model.segments if s.name == "Affluent Spenders")
    first = rich.rules[0]
    assert "annual_income >" in first["text"] and "spending_score >" in first["text"]
    assert first["precision"] >= 0.9
    assert first["coverage"] >= 0.9


def test_rules_are_measured_on_every_customer(mall):
    model, values = mall
    rules = segment_rules(values, model.labels, ["annual_income", "spending_score"])
    for segment_id, found in rules.items():
        for rule in found:
            # re-measure the rule by hand from its text
            mask = np.ones(len(values), dtype=bool)
            for part in rule.text.split(" and "):
                tokens = part.split()
                if len(tokens) == 5:  # low < feature <= high
                    low, feature, high = float(tokens[0]), tokens[2], float(tokens[4])
                    mask &= (values[feature] > low) & (values[feature] <= high)
                elif tokens[1] == ">":
                    mask &= values[tokens[0]] > float(tokens[2])
                else:
                    mask &= values[tokens[0]] <= float(tokens[2])
            inside = model.labels == segment_id
            assert rule.precision == pytest.approx((mask & inside).sum() / mask.sum(), abs=0.02)
            assert rule.coverage == pytest.approx((mask & inside).sum() / inside.sum(), abs=0.02)


def test_rules_in_profile_json(mall):
    model, _ = mall
    for seg in model.summary()["segments"]:
        assert seg["rules"], seg["name"]
        assert set(seg["rules"][0]) == {"text", "precision", "coverage"}
        assert seg["drivers"][0]["feature"] in {"age", "annual_income", "spending_score"}


def test_drivers_are_lifts(mall):
    model, _ = mall
    rich = next(s for s in model.segments if s.name == "Affluent Spenders")
    found = {d["feature"]: d for d in drivers(rich, model.base)}
    assert found["annual_income"]["lift"] == pytest.approx(86.54 / 60.56, abs=0.01)
    assert lift_text(found["spending_score"]).startswith("Spending score 1.64× the average")


def test_compare_in_plain_words():
    rng = np.random.default_rng(0)
    n = 400
    values = pd.DataFrame({
        "age": np.r_[rng.normal(40, 5, n), rng.normal(40, 5, n)],
        "annual_income": np.r_[rng.normal(90, 5, n), rng.normal(40, 5, n)],
        "spending_score": np.r_[rng.normal(30, 5, n), rng.normal(60, 5, n)],
        "gender": ["Female"] * n + ["Male"] * n,
    })
    labels = np.r_[np.zeros(n, int), np.ones(n, int)]
    result = compare_segments(values, labels, 0, 1, {0: "Rich", 1: "Poor"})
    assert result.sentence == ("Rich against Poor: same age, earns 2.2× more, spends 51% less, "
                               "more women (100% vs 0% women).")
    table = result.table.set_index("feature")
    assert not table.loc["age", "meaningful"]
    assert table.loc["annual_income", "p_value"] < 1e-10
    assert table.loc["annual_income", "cohens_d"] > 5
    with pytest.raises(ValueError, match="must both have customers"):
        compare_segments(values, labels, 0, 7)
