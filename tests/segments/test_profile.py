from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from custseg.segments.profile import Rulebook, RulebookError, level_of, profile_segments

RULES = """
[levels]
threshold = 0.5
[modifiers.age]
low = "Young"
high = "Mature"
[words.spending_score]
high = "high spending"
low = "low spending"
mid = "moderate spending"
[words.age]
low = "young"
mid = "middle-aged"
high = "mature"
[[rules]]
name = "Big Spenders"
when = { spending_score = "high" }
strategy = "VIP."
[[rules]]
name = "Rich Big Spenders"
when = { spending_score = "high", annual_income = "high" }
strategy = "Concierge."
"""


def base_frame():
    # three groups: young big spenders, old big spenders, old low spenders
    return pd.DataFrame(
        {
            "age": [20.0] * 4 + [70.0] * 4 + [70.0] * 4,
            "annual_income": [50.0] * 12,
            "spending_score": [90.0] * 8 + [10.0] * 4,
            "gender": ["Female", "Male"] * 6,
        }
    )


def test_levels_are_relative_to_the_base():
    assert level_of(0.6, 0.5) == "high"
    assert level_of(-0.6, 0.5) == "low"
    assert level_of(0.2, 0.5) == "mid"
    assert level_of(float("nan"), 0.5) == "mid"


def test_profile_statistics_and_levels():
    rb = Rulebook.from_toml(RULES)
    values = base_frame()
    labels = np.array([0] * 4 + [1] * 4 + [2] * 4)
    base, segments = profile_segments(values, labels, ["age", "spending_score"], rb)
    assert base.n == 12
    assert base.means["spending_score"] == pytest.approx(190 / 3)
    s0 = segments[0]
    assert (s0.size, s0.share) == (4, pytest.approx(1 / 3))
    assert s0.means == {"age": 20.0, "annual_income": 50.0, "spending_score": 90.0}
    assert s0.levels == {"age": "low", "annual_income": "mid", "spending_score": "high"}
    assert s0.gender_mix == {"Female": 0.5, "Male": 0.5}
    assert s0.facts[0].startswith("Age: 20 years on average vs 53.3 years for all customers (-1.4 SD, low)")


def test_names_most_specific_rule_first_and_only_clustered_features():
    rb = Rulebook.from_toml(RULES)
    values = base_frame().assign(annual_income=[90.0] * 4 + [10.0] * 8)
    labels = np.array([0] * 4 + [1] * 4 + [2] * 4)
    _, with_income = profile_segments(values, labels, ["annual_income", "spending_score"], rb)
    assert with_income[0].name == "Rich Big Spenders"
    _, without = profile_segments(values, labels, ["spending_score"], rb)
    assert without[0].name.startswith("Young Big Spenders") or without[0].name == "Big Spenders"


def test_age_modifier_then_numbered_suffix_keep_names_unique():
    rb = Rulebook.from_toml(RULES)
    values = base_frame()
    labels = np.array([0] * 4 + [1] * 4 + [2] * 4)
    _, segments = profile_segments(values, labels, ["spending_score"], rb)
    names = [s.name for s in segments]
    # 0 and 1 are both "Big Spenders": age separates them
    assert names[:2] == ["Young Big Spenders", "Mature Big Spenders"]
    # same age: numbered in id order
    same_age = values.assign(age=50.0)
    _, segments = profile_segments(same_age, labels, ["spending_score"], rb)
    assert [s.name for s in segments][:2] == ["Big Spenders", "Big Spenders (2)"]


def test_generic_fallback_and_outliers():
    rb = Rulebook.from_toml(RULES)
    values = base_frame()
    labels = np.array([0] * 4 + [-1] * 4 + [1] * 4)
    _, segments = profile_segments(values, labels, ["spending_score", "age"], rb)
    names = {s.id: s.name for s in segments}
    assert names[-1] == "Outliers"
    assert segments[-1].is_outliers
    assert names[1] == "Segment 1: low spending, mature"
    assert [s.id for s in segments] == [0, 1, -1]


def test_default_rulebook_names_every_level_pair(rulebook):
    for a in ("low", "mid", "high"):
        for b in ("low", "mid", "high"):
            rule = rulebook.match({"annual_income": a, "spending_score": b},
                                  ["annual_income", "spending_score"])
            assert rule is not None and len(rule.when) == 2
    assert rulebook.match({"age": "low", "spending_score": "high"},
                          ["age", "spending_score"]).name == "Young Trendsetters"
    assert rulebook.match({"annual_income": "high"}, ["annual_income"]).name == "High Earners"


def test_rulebook_round_trip_and_errors(rulebook):
    assert Rulebook.from_dict(rulebook.to_dict()) == rulebook
    with pytest.raises(RulebookError, match="not valid TOML"):
        Rulebook.from_toml("[[rules]\n")
    with pytest.raises(RulebookError, match=r"rules\[0\]\.when\.height \(a key\): input should be "
                       "'age', 'annual_income' or 'spending_score'"):
        Rulebook.from_toml('[[rules]]\nname="x"\nstrategy="y"\nwhen={height="high"}\n')
    with pytest.raises(RulebookError, match=r"rules\[0\]\.strategy is missing"):
        Rulebook.from_toml('[[rules]]\nname="x"\nwhen={age="high"}\n')
