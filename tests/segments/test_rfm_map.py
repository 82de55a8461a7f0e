"""The rulebook's RFM score map: every cell in exactly one segment, checked at load."""

from __future__ import annotations

import pytest

from custseg.cluster.rfm import CELLS
from custseg.io.rulebooks import default_rulebook, default_rulebook_text, load_rulebook
from custseg.segments.profile import Rulebook, RulebookError

NAMES = ["Champions", "Loyal Customers", "Potential Loyalists", "New Customers", "Promising",
         "Need Attention", "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating",
         "Lost"]


def segment_of(rulebook: Rulebook, cell: str) -> str:
    return rulebook.score_map[rulebook.score_cells()[CELLS.index(cell)]].name


def test_default_map_has_the_eleven_segments_with_strategies():
    rb = default_rulebook()
    assert [s.name for s in rb.score_map] == NAMES
    assert all(s.strategy and s.description for s in rb.score_map)
    owners = rb.score_cells()
    assert len(owners) == 125 and set(owners) == set(range(11))  # total, none unused


@pytest.mark.parametrize(("cell", "name"), [
    ("555", "Champions"), ("541", "Champions"), ("111", "Lost"), ("122", "Lost"),
    ("123", "Hibernating"), ("211", "Hibernating"), ("511", "New Customers"),
    ("411", "Promising"), ("333", "Need Attention"), ("312", "About to Sleep"),
    ("345", "Loyal Customers"), ("425", "Potential Loyalists"), ("135", "At Risk"),
    ("155", "Can't Lose Them"), ("251", "Can't Lose Them"),
])
def test_default_map_on_known_cells(cell, name):
    assert segment_of(default_rulebook(), cell) == name


def _with_map(segments: str) -> str:
    """The default rulebook with its score map replaced."""
    text = default_rulebook_text()
    head = text[:text.index("[[rfm_segments]]")]
    return head + segments


ALL_BUT_555 = '''
[[rfm_segments]]
name = "Everyone"
when = [
    { r_score = [1, 2, 3, 4] },
    { r_score = 5, f_score = [1, 2, 3, 4] },
    { r_score = 5, f_score = 5, m_score = [1, 2, 3, 4] },
]
strategy = "Everything but the best."
'''


def test_a_map_with_a_gap_is_refused_naming_the_cells():
    with pytest.raises(RulebookError, match=r"leaves 1 of the 125 cells without a segment "
                                            r"\(555;"):
        Rulebook.from_toml(_with_map(ALL_BUT_555))
    complete = ALL_BUT_555 + '''
[[rfm_segments]]
name = "Best"
when = { r_score = 5, f_score = 5, m_score = 5 }
strategy = "Thank them."
'''
    rb = Rulebook.from_toml(_with_map(complete))
    assert segment_of(rb, "555") == "Best" and segment_of(rb, "554") == "Everyone"


def test_an_overlapping_map_is_refused_naming_both_segments():
    overlapping = ALL_BUT_555 + '''
[[rfm_segments]]
name = "Best"
when = { r_score = 5, f_score = 5 }
strategy = "Thank them."
'''
    with pytest.raises(RulebookError, match=r"cell 551 .* in two segments, rfm_segments\[0\] "
                                            r"\('Everyone'\) and rfm_segments\[1\] \('Best'\)"):
        Rulebook.from_toml(_with_map(overlapping))


@pytest.mark.parametrize(("when", "message"), [
    ("{ r_score = 6 }", r"rfm_segments\[0\]\.when.* must be a score from 1 to 5"),
    ('{ r_score = "5" }', r"must be a score from 1 to 5"),
    ("{ r_score = [4, 4] }", r"distinct"),
    ("{ recency = 5 }", r"recency is not a field custseg knows"),
])
def test_bad_conditions_are_refused(when, message):
    text = _with_map(f'[[rfm_segments]]\nname = "X"\nwhen = {when}\nstrategy = "s"\n')
    with pytest.raises(RulebookError, match=message):
        Rulebook.from_toml(text)


def test_names_are_unique_and_not_the_outliers():
    twice = ALL_BUT_555 + ALL_BUT_555.replace("Everything but the best.", "again")
    with pytest.raises(RulebookError, match=r"rfm_segments\[1\] is named 'Everyone', like "
                                            r"rfm_segments\[0\]"):
        Rulebook.from_toml(_with_map(twice))


def test_a_rulebook_without_a_map_loads_but_cannot_score():
    text = default_rulebook_text()
    rb = Rulebook.from_toml(text[:text.index("[[rfm_segments]]")])
    assert rb.score_map == () and rb.rules  # still names clustered segments
    with pytest.raises(RulebookError, match="no RFM score map"):
        rb.score_cells()


def test_the_map_round_trips_through_toml_and_a_file(tmp_path):
    rb = default_rulebook()
    again = Rulebook.from_toml(rb.to_toml())
    assert again.score_map == rb.score_map and again.score_cells() == rb.score_cells()
    path = tmp_path / "rules.toml"
    path.write_text(rb.to_toml(), encoding="utf-8")
    assert load_rulebook(path).score_map == rb.score_map
    assert Rulebook.from_dict(rb.to_dict()) == rb
