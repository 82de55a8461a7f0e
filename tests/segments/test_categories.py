"""Category profiles and the rulebook over roles (issue 16), on small frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from custseg.segments.categories import (
    MAX_ENTRIES,
    category_fact,
    category_profiles,
    over_represented,
    profilable,
)
from custseg.segments.profile import Rulebook, RulebookError, profile_segments, role_levels
from custseg.table.spec import Feature, InputSpec


def test_shares_and_lifts_per_segment():
    cells = pd.DataFrame({"Education": ["PhD"] * 30 + ["Basic"] * 10 + ["PhD"] * 10
                          + ["Basic"] * 50})
    labels = np.array([0] * 40 + [1] * 60)
    out = category_profiles(cells, labels)
    assert out.base["Education"] == {"Basic": 0.6, "PhD": 0.4}
    seg0 = {e["value"]: e for e in out.segments[0]["Education"]}
    assert seg0["PhD"]["share"] == pytest.approx(0.75)
    assert seg0["PhD"]["lift"] == pytest.approx(0.75 / 0.4)
    assert seg0["PhD"]["count"] == 30
    assert [e["value"] for e in out.segments[1]["Education"]] == ["Basic", "PhD"]


def test_blanks_are_not_a_value_and_a_segment_without_values_has_no_share():
    cells = pd.DataFrame({"c": ["a", " a ", "", None, "b", "b"]})
    out = category_profiles(cells, np.array([0, 0, 1, 1, 2, 2]))
    assert out.base["c"] == {"a": 0.5, "b": 0.5}
    assert {e["share"] for e in out.segments[1]["c"]} == {None}
    assert {e["lift"] for e in out.segments[1]["c"]} == {None}


def test_rare_values_stay_in_the_table_never_in_the_headline():
    # 2 "Absurd" customers of 20: a 10% share and a lift of 5, but only 2 customers
    cells = pd.DataFrame({"Education": ["Absurd"] * 2 + ["PhD"] * 18 + ["PhD"] * 20
                          + ["Basic"] * 160})
    labels = np.array([0] * 20 + [1] * 180)
    out = category_profiles(cells, labels)
    assert any(e["value"] == "Absurd" for e in out.segments[0]["Education"])
    named = over_represented(out.segments[0], 20)
    assert [e["value"] for _, e in named] == ["PhD"]
    assert category_fact(*named[0]) == "Education = PhD: 90% vs 19% of everyone (4.7×)"


def test_a_value_under_five_percent_of_the_segment_is_not_named():
    cells = pd.DataFrame({"x": ["v"] * 12 + ["w"] * 288 + ["w"] * 700})
    labels = np.array([0] * 300 + [1] * 700)
    # 12 customers (more than 10) but 4% of the segment; everyone's share 1.2%
    assert over_represented(category_profiles(cells, labels).segments[0], 300) == []


def test_columns_beyond_the_bounds_are_left_out():
    assert "distinct values" in profilable(pd.Series([str(i) for i in range(21)]))
    assert profilable(pd.Series(["a", "b"])) is None
    wide = pd.DataFrame({f"c{i}": ["a", "b"] * 50 for i in range(30)})
    out = category_profiles(wide, np.arange(100) % 2)
    assert len(out.base) == 20 and out.left_out == tuple(f"c{i}" for i in range(20, 30))
    many = category_profiles(pd.DataFrame({"c": [str(i % 20) for i in range(6_000)]}),
                             np.arange(6_000) % 3_000)
    assert many.left_out == ("c",) and 3_000 * 20 > MAX_ENTRIES


def test_profile_segments_names_over_represented_values_in_the_facts():
    values = pd.DataFrame({"age": [20.0] * 50 + [60.0] * 50,
                           "spending_score": [90.0] * 50 + [10.0] * 50})
    cells = pd.DataFrame({"Plan": ["gold"] * 45 + ["basic"] * 55})
    labels = np.array([0] * 50 + [1] * 50)
    base, segments = profile_segments(values, labels, ["age", "spending_score"],
                                      Rulebook.from_dict({}), cells=cells)
    assert base.categories == {"Plan": {"basic": 0.55, "gold": 0.45}}
    assert segments[0].facts[-1] == "Plan = gold: 90% vs 45% of everyone (2.0×)"
    assert segments[0].medians == {"age": 20.0, "spending_score": 90.0}
    assert segments[1].facts[-1] == "Plan = basic: 100% vs 55% of everyone (1.8×)"
    assert [f for f in segments[0].facts if "basic" in f] == []  # 5 customers: under 10


RFM_SPEC = InputSpec(extra=(
    Feature("Recency", "column", role="recency", column="Recency"),
    Feature("NumWebPurchases", "column", role="frequency", column="NumWebPurchases"),
    Feature("MntWines", "column", role="monetary", column="MntWines"),
    Feature("MntMeat", "column", role="monetary", column="MntMeat"),
))


def test_a_role_shared_by_several_features_takes_their_mean_mid_rank():
    features = ["Recency", "NumWebPurchases", "MntWines", "MntMeat"]
    levels = role_levels({"Recency": 0.1, "NumWebPurchases": 0.9, "MntWines": 0.9,
                          "MntMeat": 0.5}, features, RFM_SPEC)
    assert levels == {"recency": "low", "frequency": "high", "monetary": "high"}  # mean 0.7
    levels = role_levels({"Recency": 0.1, "NumWebPurchases": 0.9, "MntWines": 0.9,
                          "MntMeat": 0.3}, features, RFM_SPEC)
    assert levels["monetary"] == "mid"  # mean 0.6


@pytest.mark.parametrize(("levels", "name"), [
    ({"recency": "low", "frequency": "high", "monetary": "high"}, "Champions"),
    ({"recency": "mid", "frequency": "high", "monetary": "low"}, "Loyal Customers"),
    ({"recency": "low", "frequency": "low", "monetary": "mid"}, "New Customers"),
    ({"recency": "low", "frequency": "low", "monetary": "mid", "tenure": "high"},
     "Recent Occasional Buyers"),
    ({"recency": "high", "frequency": "high", "monetary": "high"}, "Can't Lose Them"),
    ({"recency": "high", "frequency": "mid", "monetary": "high"}, "At Risk"),
    ({"recency": "high", "frequency": "low", "monetary": "low"}, "Lost"),
    ({"recency": "high", "frequency": "low", "monetary": "high"}, "Hibernating"),
    # the Mall rules keep working: annual_income is the feature with role income
    ({"income": "high", "spending_score": "high"}, "Affluent Spenders"),
    ({"age": "low", "income": "high", "recency": "low"}, "Young Professionals"),
])
def test_the_default_rulebook_names_roles(rulebook, levels, name):
    assert rulebook.match(levels).name == name


def test_every_rfm_combination_has_an_rfm_name(rulebook):
    rfm = {r.name for r in rulebook.rules if "recency" in r.when}
    for r in ("low", "mid", "high"):
        for f in ("low", "mid", "high"):
            for m in ("low", "mid", "high"):
                found = rulebook.match({"recency": r, "frequency": f, "monetary": m,
                                        "income": "high", "age": "low"})
                assert found.name in rfm, (r, f, m)


def test_role_keys_and_level_lists_round_trip_and_are_checked():
    book = Rulebook.from_toml('[[rules]]\nname = "Big"\nwhen = { balance = ["mid", "high"], '
                              'annual_income = "high" }\nstrategy = "s"\n')
    assert book.rules[0].when == {"balance": ("mid", "high"), "annual_income": "high"}
    assert Rulebook.from_toml(book.to_toml()) == book
    assert book.match({"balance": "mid", "income": "high"}).name == "Big"
    assert book.match({"balance": "low", "income": "high"}) is None
    with pytest.raises(RulebookError, match=r"rules\[0\]\.when names the role income twice "
                       r"\(annual_income and income\)"):
        Rulebook.from_toml('[[rules]]\nname = "x"\nwhen = { annual_income = "high", '
                           'income = "low" }\nstrategy = "s"\n')
    with pytest.raises(RulebookError, match=r"when\.recency must be .*\(got \['low', 'low'\]\)"):
        Rulebook.from_toml('[[rules]]\nname = "x"\nwhen = { recency = ["low", "low"] }\n'
                           'strategy = "s"\n')
    with pytest.raises(RulebookError, match=r"when\.other \(a key\)"):
        Rulebook.from_toml('[[rules]]\nname = "x"\nwhen = { other = "low" }\nstrategy = "s"\n')


def test_missing_markers_are_missing_not_values():
    cells = pd.DataFrame({"Response": ["1", "NA", "n/a", "NULL", " ", None, "0", "1"]})
    out = category_profiles(cells, np.zeros(8, dtype=int))
    assert out.base["Response"] == {"1": 2 / 3, "0": 1 / 3}
    assert [e["count"] for e in out.segments[0]["Response"]] == [2, 1]


def test_numbers_spelled_two_ways_are_one_value_shown_shortest():
    cells = pd.DataFrame({"Flag": ["1", "1.0", "0.0", "0", " 1 ", "NA"],
                          "Code": ["1", "1.0", "A", "A", "B", "B"]})
    out = category_profiles(cells, np.zeros(6, dtype=int))
    assert out.base["Flag"] == {"1": 0.6, "0": 0.4}
    # a column not all numbers keeps its texts as written
    assert set(out.base["Code"]) == {"1", "1.0", "A", "B"}


def test_composed_and_decomposed_text_is_one_value():
    import unicodedata

    nfc, nfd = (unicodedata.normalize(f, "Zürich") for f in ("NFC", "NFD"))
    assert nfc != nfd
    out = category_profiles(pd.DataFrame({"City": [nfc, nfd, f" {nfd}", "Bern"]}),
                            np.zeros(4, dtype=int))
    assert out.base["City"] == {nfc: 0.75, "Bern": 0.25}


def test_a_lift_of_exactly_the_threshold_is_named():
    # 11 of 15 hold "yes" against 55 of 90: a lift of 12/10, which share over share
    # reads as 1.1999999999999997
    assert (11 / 15) / (55 / 90) < 1.2
    cells = pd.DataFrame({"flagcol": ["yes"] * 11 + ["no"] * 4 + ["yes"] * 44 + ["no"] * 31})
    labels = np.array([0] * 15 + [1] * 75)
    out = category_profiles(cells, labels)
    yes = next(e for e in out.segments[0]["flagcol"] if e["value"] == "yes")
    assert yes["lift"] == 1.2
    found = over_represented(out.segments[0], 15)
    assert [(c, e["value"]) for c, e in found] == [("flagcol", "yes")]


def test_everyone_share_in_a_fact_comes_from_the_base():
    entry = {"value": "PhD", "share": 0.31, "lift": 9.9, "count": 31}
    assert "vs 22% of everyone" in category_fact("Education", entry,
                                                 {"Education": {"PhD": 0.22}})
