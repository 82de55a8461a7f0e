"""Issue 10, class 11: hostile rulebooks through the library.

A rulebook is checked whole before it names anything: known fields only, each of its
type, bounded names without control characters, no deep nesting, no huge text. Names are
made unique whatever the rules say, so a fit never makes a model custseg would refuse.
"""

from __future__ import annotations

import pytest

from custseg.segments.profile import Rulebook, RulebookError, _name_segments

GOOD_RULE = '[[rules]]\nname = "A"\nwhen = { age = "low" }\nstrategy = "s"\n'


@pytest.mark.parametrize(("text", "words"), [
    ("a = " + "[" * 5_000 + "]" * 5_000, "nests tables or arrays too deeply"),
    ("x = { " * 2_000 + "}" * 2_000, "too deeply|not valid TOML"),
    ("x" * ((1 << 20) + 1), "characters long; a rulebook holds at most 1,048,576"),
    ("rules = 5", "rules: input should be a valid list"),
    ("rules = [5]", r"rules\[0\]: input should be a valid dictionary"),
    ('[[rules]]\nname = "A"\nwhen = "age low"\nstrategy = "s"\n', r"rules\[0\]\.when: input"),
    ('[[rules]]\nname = "A"\nwhen = {}\nstrategy = "s"\n', r"rules\[0\]\.when: dictionary should"),
    ('[[rules]]\nname = ""\nwhen = { age = "low" }\nstrategy = "s"\n', "must not be blank"),
    ('[[rules]]\nname = "A"\nwhen = { age = 1 }\nstrategy = "s"\n',
     r"when\.age must be 'low', 'mid' or 'high'.*\(got 1\)"),
    (GOOD_RULE.replace('strategy = "s"', "strategy = 1979-05-27"), r"strategy: input should be a "
     "valid string"),
    ("[levels]\nthreshold = 0\n", "greater than 0"),
    ("[levels]\nthreshold = nan\n", "finite number"),
    ("[levels]\nthreshold = true\n", "valid number"),
    ("[levels]\nsplit = 1\n", "levels.split is not a field"),
    ("[words.height]\nlow = 'short'\n", r"words\.height \(a key\)"),
    ('[words.age]\nlow = "young\\u202e"\n', "U\\+202E"),
    (f"[words.age]\nlow = '{'w' * 31}'\n", "31 characters long"),
    ("[modifiers.annual_income]\nlow = 'Poor'\n", r"modifiers\.annual_income \(a key\)"),
    ("[outliers]\nname = 'Out'\ncolour = 'grey'\n", "outliers.colour is not a field"),
    ('[outliers]\nstrategy = "\\u001b[2J"\n', "outliers.strategy holds the control character"),
    ("version = '1'\n", "version: input should be 1"),
    ("\n".join([GOOD_RULE] * 1_001), "at most 1000 items"),
])
def test_hostile_rulebook_is_refused_with_the_field(text, words):
    with pytest.raises(RulebookError, match=words):
        Rulebook.from_toml(text)


def test_the_default_rulebook_and_its_round_trip_pass(rulebook):
    assert Rulebook.from_toml(rulebook.to_toml()) == rulebook
    assert Rulebook.from_toml("") == Rulebook.from_dict({})  # every section has a default


def test_load_rulebook_reads_no_more_than_the_cap(tmp_path):
    from custseg.io.rulebooks import load_rulebook

    big = tmp_path / "big.toml"
    with big.open("wb") as fh:
        fh.truncate(2 << 30)  # a sparse 2 GB file: reading it whole would be the bug
    with pytest.raises(RulebookError, match="larger than 1 MB"):
        load_rulebook(big)
    with pytest.raises(Exception, match="is not a file"):
        load_rulebook(tmp_path)


def _draft(i, age):
    return {"id": i, "levels": {"age": age}, "z": {"age": 0.0}}


def test_names_stay_unique_when_rules_collide():
    book = Rulebook.from_dict({
        "rules": [
            {"name": "X", "when": {"age": "high"}, "strategy": "s"},
            {"name": "X", "when": {"age": "mid"}, "strategy": "s"},
            {"name": "X (2)", "when": {"age": "low"}, "strategy": "s"},
        ],
        "outliers": {"name": "X (3)"},
    })
    drafts = [_draft(0, "high"), _draft(1, "mid"), _draft(2, "low"), _draft(-1, "mid")]
    names = {i: v["name"] for i, v in _name_segments(drafts, ["age"], book).items()}
    # segments 0 and 1 share "X": their age tells them apart (segment 2's own name is
    # "X (2)", the outliers' "X (3)"; the old numbering gave segment 1 "X (2)")
    assert names == {0: "X · High Age", 1: "X", 2: "X (2)", -1: "X (3)"}


@pytest.mark.parametrize("rule, outliers", [("Outliers", "Outliers"), ("Champions", " champions")])
def test_a_rule_named_like_the_outliers_is_refused(rule, outliers):
    """Noise and a segment of customers must never look alike (the adversary had every
    K-Means segment named "Outliers · …", and HDBSCAN's noise named "Champions")."""
    with pytest.raises(RulebookError, match=r"rules\[0\] is named '.*', the name of the "
                       "outliers; give the rule, or the outliers, another name"):
        Rulebook.from_dict({"rules": [{"name": rule, "when": {"age": "mid"}, "strategy": "s"}],
                            "outliers": {"name": outliers}})


def test_modifiers_that_recreate_a_name_are_numbered():
    book = Rulebook.from_dict({
        "rules": [{"name": "Spenders", "when": {"age": "low"}, "strategy": "s"},
                  {"name": "Spenders", "when": {"age": "high"}, "strategy": "s"},
                  {"name": "Young Spenders", "when": {"age": "mid"}, "strategy": "s"}],
        "modifiers": {"age": {"low": "Young", "high": "Mature"}},
    })
    drafts = [_draft(0, "low"), _draft(1, "high"), _draft(2, "mid")]
    names = [v["name"] for v in _name_segments(drafts, ["age"], book).values()]
    assert sorted(names) == ["Mature Spenders", "Young Spenders", "Young Spenders (2)"]


def test_segments_sharing_a_rule_name_are_told_apart_by_their_strongest_trait():
    book = Rulebook.from_dict({"rules": [{"name": "Need Attention", "when": {"age": "mid"},
                                          "strategy": "s"}]})

    def draft(i, kids, teens):
        return {"id": i, "levels": {"age": "mid", "Kidhome": kids, "Teenhome": teens}}

    drafts = [draft(0, "high", "mid"), draft(1, "low", "high"), draft(2, "low", "low"),
              draft(3, "low", "low")]
    ranks = {0: {"age": 0.5, "Kidhome": 0.9, "Teenhome": 0.5},
             1: {"age": 0.5, "Kidhome": 0.2, "Teenhome": 0.8},
             2: {"age": 0.5, "Kidhome": 0.2, "Teenhome": 0.1},
             3: {"age": 0.5, "Kidhome": 0.2, "Teenhome": 0.1}}
    from custseg.table.spec import Feature, InputSpec

    spec = InputSpec(extra=tuple(Feature(c, "column", role="count", column=c)
                                 for c in ("Kidhome", "Teenhome")))
    names = {i: v["name"] for i, v in _name_segments(
        drafts, ["age", "Kidhome", "Teenhome"], book, ranks, spec).items()}
    assert names == {0: "Need Attention · High Kidhome",
                     1: "Need Attention · High Teenhome",
                     2: "Need Attention · Low Teenhome",
                     3: "Need Attention · Low Teenhome (2)"}  # identical: numbered


def test_a_segment_no_rule_names_is_described_by_its_traits():
    from custseg.table.spec import Feature, InputSpec

    spec = InputSpec(extra=tuple(Feature(c, "column", column=c) for c in ("CASH", "BUYS")))
    drafts = [{"id": 0, "levels": {"CASH": "high", "BUYS": "low"}},
              {"id": 1, "levels": {"CASH": "mid", "BUYS": "mid"}}]
    ranks = {0: {"CASH": 0.9, "BUYS": 0.2}, 1: {"CASH": 0.5, "BUYS": 0.5}}
    out = _name_segments(drafts, ["CASH", "BUYS"], Rulebook.from_dict({}), ranks, spec)
    assert out[0]["name"] == "High CASH · Low BUYS"
    assert out[0]["description"] == ("High CASH and low BUYS compared with the whole base "
                                      "(no naming rule covers these columns).")
    assert out[1]["description"] == ("Close to the average customer on every feature (no "
                                      "naming rule covers these columns).")
    assert "test it on a sample" in out[0]["strategy"]
