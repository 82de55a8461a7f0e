"""The Dashboard's overview and a segment's members: pure functions over a model."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import custseg
from custseg.io.source import table_from_frame
from custseg.model import summaries


@pytest.mark.parametrize(("share", "text"), [
    (0.0, "none"), (37 / 200_000, "< 0.1%"), (0.00049, "< 0.1%"), (0.0005, "0.1%"),
    (0.382, "38.2%"), (1.0, "100.0%"),
])
def test_share_text_never_says_a_few_customers_are_none(share, text):
    assert summaries.share_text(share) == text


def test_unsigned_zero_drops_the_sign_of_a_rounded_zero():
    assert math.copysign(1, summaries.unsigned_zero(-0.0004, 2)) == 1
    assert f"{summaries.unsigned_zero(-0.004, 2):+.2f}" == "+0.00"
    assert summaries.unsigned_zero(-0.006, 2) == -0.006
    assert summaries.unsigned_zero(float("nan"), 2) != summaries.unsigned_zero(float("nan"), 2)


def test_level_table_has_no_negative_zero(demo_model):
    for segment in demo_model.segments:
        table = summaries.level_table(segment, demo_model.base)
        for column in ("segment", "everyone", "gap (SD)"):
            digits = 2 if column == "gap (SD)" else 1
            shown = [f"{v:+.{digits}f}" for v in table[column]]
            assert not any(s.startswith("-0.0") and float(s) == 0 for s in shown), shown


def test_first_sentence():
    assert summaries.first_sentence("Retention first: VIP access. Then more.") == (
        "Retention first: VIP access.")
    assert summaries.first_sentence("a " * 80, limit=20).endswith("…")
    assert len(summaries.first_sentence("a " * 80, limit=20)) == 20


def test_overview_compares_every_segment(demo, demo_model):
    model = demo_model
    valid = table_from_frame(demo).validated(model.config.needs, model.config.ranges,
                                              model.config.spec).valid_values()
    glance = summaries.overview(model, valid, model.labels)
    table = glance.table
    segments = [s for s in model.segments if not s.is_outliers]
    assert table["segment"].tolist() == [f"{s.id} · {s.name}" for s in segments]
    assert table["customers"].tolist() == [s.size for s in segments]
    assert table["share"].tolist() == [summaries.share_text(s.share) for s in segments]
    assert table["Annual income (k$)"].tolist() == pytest.approx(
        [s.means["annual_income"] for s in segments])
    assert glance.levels["Age (years)"] == [s.levels["age"] for s in segments]
    # income is the value feature: its shares add up to the whole, as its sums do
    assert glance.value_column == "share of total annual income"
    income = valid["annual_income"].to_numpy()
    expected = [income[model.labels == s.id].sum() / income.sum() for s in segments]
    assert table[glance.value_column].tolist() == pytest.approx(expected)
    assert sum(table[glance.value_column]) == pytest.approx(1.0)
    assert set(table["stability"]) == {"not measured"}
    assert not glance.stability_measured
    assert all(len(s) <= 110 and s for s in table["strategy"])


def test_overview_reads_a_measured_stability(demo_model, demo):
    from custseg.cluster.stability import Stability

    ids = [s.id for s in demo_model.segments]
    measured = Stability(0.9, {ids[0]: 0.9, ids[1]: 0.5, ids[2]: 0.7}, 10, 480, "…")
    valid = table_from_frame(demo).validated(
        demo_model.config.needs, demo_model.config.ranges,
        demo_model.config.spec).valid_values()
    table = summaries.overview(demo_model, valid, demo_model.labels, measured).table
    assert table["stability"].tolist()[:3] == ["stable", "fragile", "moderately stable"]
    assert table["stability"].tolist()[3:] == ["not measured"] * (len(ids) - 3)


def test_overview_sets_the_outliers_apart_and_says_them():
    frame = custseg.make_customers(2_000, seed=0)
    model = custseg.fit(frame, algorithm="hdbscan")
    outliers = model.segment(-1)
    valid = table_from_frame(frame).validated(model.config.needs, model.config.ranges,
                                              model.config.spec).valid_values()
    table = summaries.overview(model, valid, model.labels).table
    assert "Outliers" not in table["segment"].tolist()
    assert table["customers"].sum() == 2_000 - outliers.size
    assert summaries.outliers_line(model) == (
        f"{outliers.size:,} customers ({outliers.share:.1%}) fit no dense group: the "
        "outliers, set apart from the segments below.")
    assert summaries.outliers_line(custseg.fit(frame)) is None


def test_segment_members_match_the_fit_counts_and_keep_every_column():
    frame = custseg.make_customers(2_000, seed=0).assign(notes="=1+1", **{"segment_id": "old"})
    table = table_from_frame(frame)
    model = custseg.fit(frame)
    validated = table.validated(model.config.needs, model.config.ranges, model.config.spec)
    values = validated.valid_values()
    everyone = []
    for s in model.segments:
        members = summaries.segment_members(model, table.data, table.header, validated,
                                            values, model.labels, s.id)
        assert members.num_rows == s.size
        assert members.column_names == [*(h if h != "segment_id" else "segment_id_input"
                                          for h in table.header), *summaries.MEMBER_COLUMNS]
        assert set(members.column("segment_id").to_pylist()) == {s.id}
        assert set(members.column("segment_name").to_pylist()) == {s.name}
        everyone.append(members.to_pandas())
    whole = pd.concat(everyone)
    assert sorted(whole["customer_id"]) == sorted(frame["customer_id"])
    # the scored columns are what scoring the same rows gives: the Batch page's counts
    scored = custseg.score(model, frame)
    assert Counter(whole["scored_segment_id"]) == Counter(scored["segment_id"].astype(int))
    # row by row, too: the same segment and confidence as the scored file
    by_id = whole.set_index("customer_id")
    mine = scored.set_index("customer_id")
    assert (by_id.loc[mine.index, "scored_segment_id"].to_numpy()
            == mine["segment_id"].astype(int).to_numpy()).all()
    assert np.allclose(by_id.loc[mine.index, "confidence"].astype(float),
                       mine["confidence"].astype(float))
    # and the fit and scoring disagree on a few customers: the counts the Batch page shows
    moved = (whole["segment_id"] != whole["scored_segment_id"]).sum()
    assert 0 < moved < 0.05 * len(whole)
    assert (whole.loc[whole["notes"] != "=1+1"]).empty  # the extra columns, as read


def test_members_note_says_why_batch_counts_differ():
    fit, scored = np.array([0, 0, 0, 0]), np.array([0, 1, 0, 0])
    note = summaries.members_note(fit, scored, 4, 3)
    assert note.startswith("4 customers. segment_id is the segment the clusterer put")
    assert "the vote of the 3 nearest known customers" in note
    assert "places 1 of them elsewhere" in note
    same = summaries.members_note(fit, fit, 2, 3)
    assert same.startswith("4 customers (the first 2 shown).")
    assert "every one of them in the same segment" in same


def test_overview_decimals_follow_a_columns_largest_average(demo, demo_model):
    """A column shows one decimal when any of its averages reaches 10 (a segment of
    7.0 points beside others of 50.1), two only when all stay below (shares)."""
    from dataclasses import replace

    valid = table_from_frame(demo).validated(
        demo_model.config.needs, demo_model.config.ranges,
        demo_model.config.spec).valid_values()
    segments = list(demo_model.segments)
    segments[0] = replace(segments[0], means={**segments[0].means, "spending_score": 7.0})
    mixed = summaries.overview(replace(demo_model, segments=tuple(segments)), valid,
                               demo_model.labels)
    assert mixed.digits["Spending score (points)"] == 1
    small = [replace(s, means={**s.means, "age": 0.5}) for s in demo_model.segments]
    below = summaries.overview(replace(demo_model, segments=tuple(small)), valid,
                               demo_model.labels)
    assert below.digits["Age (years)"] == 2

