from __future__ import annotations

import re

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
    # in the features' labels and units, at the data's precision (whole numbers)
    assert re.fullmatch(r"Annual income ≥ \d+ k\$ and Spending score ≥ \d+ points",
                        first["text"]), first["text"]
    assert first["precision"] >= 0.9
    assert first["coverage"] >= 0.9


def number(text: str) -> float:
    return float(text.replace(",", ""))


CONDITION = re.compile(r"(?P<label>.+?) (?:(?P<op>≥|≤|=) (?P<v>[\d,.-]+)"
                       r"|from (?P<lo>[\d,.-]+) to (?P<hi>[\d,.-]+))(?: (?P<unit>\S+))?")


def rule_mask(text: str, values: pd.DataFrame, columns: dict[str, str]) -> np.ndarray:
    """The customers a rule's text selects, read back from the text alone."""
    mask = np.ones(len(values), dtype=bool)
    for part in text.split(" and "):
        m = CONDITION.fullmatch(part)
        assert m, part
        column = values[columns[m["label"]]]
        if m["lo"] is not None:
            mask &= (column >= number(m["lo"])) & (column <= number(m["hi"]))
        elif m["op"] == "≥":
            mask &= column >= number(m["v"])
        elif m["op"] == "≤":
            mask &= column <= number(m["v"])
        else:
            mask &= column == number(m["v"])
    return mask


def test_rules_are_measured_on_every_customer(mall):
    model, values = mall
    rules = segment_rules(values, model.labels, ["annual_income", "spending_score"])
    columns = {"Annual income": "annual_income", "Spending score": "spending_score"}
    for segment_id, found in rules.items():
        for rule in found:
            # the text, at the data's precision, selects exactly the customers measured
            mask = rule_mask(rule.text, values, columns)
            inside = model.labels == segment_id
            assert rule.precision == pytest.approx((mask & inside).sum() / mask.sum(), abs=1e-9)
            assert rule.coverage == pytest.approx((mask & inside).sum() / inside.sum(), abs=1e-9)


def test_p_values_read_as_people_write_them():
    from custseg.segments.explain import p_text

    assert p_text(1e-12) == "< 0.001"
    assert p_text(0.0009999) == "< 0.001"
    assert p_text(0.001) == "0.001"
    assert p_text(0.0321) == "0.032"
    assert p_text(float("nan")) == "–"


def test_thresholds_follow_the_datas_precision():
    from custseg.segments.explain import bounds_text, decimals_of

    assert decimals_of(np.array([1.0, 2.0, 30.0])) == 0
    assert decimals_of(np.array([1.5, 2.25, 30.0])) == 2
    assert decimals_of(np.array([112.7, 3.1])) == 1
    assert decimals_of(np.array([np.pi, 1.0])) is None
    # a tree's threshold halfway between two values: the nearest values inside it
    assert bounds_text("annual_income", None, 112.65, 1) == "Annual income ≤ 112.6 k$"
    assert bounds_text("annual_income", 112.65, None, 1) == "Annual income ≥ 112.7 k$"
    assert bounds_text("age", 39.5, 59.5, 0) == "Age from 40 to 59 years"
    assert bounds_text("Kidhome", 0.5, 1.5, 0) == "Kidhome = 1"
    assert bounds_text("BALANCE", 1234.5678, None, None) == "BALANCE > 1,235"
    assert bounds_text("ratio", 0.123456, 0.98765, None) == "ratio > 0.123, ≤ 0.988"
    assert bounds_text("annual_income", None, 1_234.5, 0) == "Annual income ≤ 1,234 k$"


def test_rules_on_decimal_data_read_back_exactly():
    rng = np.random.default_rng(0)
    values = pd.DataFrame({"annual_income": np.r_[rng.normal(30, 3, 100), rng.normal(90, 3, 100)]
                           .round(1)})
    labels = np.r_[np.zeros(100, int), np.ones(100, int)]
    rules = segment_rules(values, labels, ["annual_income"])
    for segment_id, found in rules.items():
        for rule in found:
            assert re.fullmatch(r"Annual income [≤≥] \d+\.\d k\$", rule.text), rule.text
            mask = rule_mask(rule.text, values, {"Annual income": "annual_income"})
            inside = labels == segment_id
            assert rule.precision == pytest.approx((mask & inside).sum() / mask.sum())


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
    table = result.measured.set_index("feature")
    assert not table.loc["age", "meaningful"]
    assert table.loc["annual_income", "p_value"] < 1e-10
    assert table.loc["annual_income", "cohens_d"] > 5
    # for people: labels with units, p-values as "< 0.001"
    shown = result.table.set_index("feature")
    assert list(shown.index) == ["Age (years)", "Annual income (k$)", "Spending score (points)"]
    assert shown.loc["Annual income (k$)", "p-value"] == "< 0.001"
    age_p = table.loc["age", "p_value"]
    assert shown.loc["Age (years)", "p-value"] == f"{age_p:.3f}" and age_p >= 0.001
    assert "p_value" not in shown.columns
    with pytest.raises(ValueError, match="must both have customers"):
        compare_segments(values, labels, 0, 7)


@pytest.mark.parametrize("magnitude", [1e39, 1e-40])
def test_rules_on_values_beyond_float32_split_where_the_segments_part(magnitude):
    """A balance of 8.6e39 is a finite, valid float64 that scikit-learn's float32 trees
    cannot hold (they raised, and every dashboard page showed the traceback)."""
    values = pd.DataFrame({"balance": np.r_[np.linspace(1, 2, 50), np.linspace(5, 6, 50)]
                           * magnitude})
    labels = np.r_[np.zeros(50, int), np.ones(50, int)]
    rules = segment_rules(values, labels, ["balance"])
    assert [r.precision for r in rules[0]] == [1.0] and [r.coverage for r in rules[1]] == [1.0]
    low, high = (float(re.search(r"[≤≥>] ([\d.e+-]+)", rules[s][0].text).group(1))
                 for s in (0, 1))
    assert 2 * magnitude <= low < 5 * magnitude and 2 * magnitude <= high <= 5 * magnitude
