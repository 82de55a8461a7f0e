from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

import custseg
from custseg.cli import main
from custseg.errors import CustsegError
from custseg.model.identity import keep_identities, match_segments, migration
from custseg.table.validate import validate


@pytest.fixture(scope="module")
def mall(mall_path):
    table = custseg.read_table(mall_path)
    old = custseg.fit(table, features=["annual_income", "spending_score"])
    values = validate(table.fields_frame()).valid_values()
    return table, old, values


def scrambled(model):
    """The same model with its segment ids permuted, as a fresh fit might number them."""
    mapping = {0: 3, 1: 0, 2: 4, 3: 1, 4: 2}
    profiles = [s.__class__(**{**s.to_dict(), "id": mapping[s.id], "facts": tuple(s.facts),
                               "rules": tuple(s.rules)}) for s in model.segments]
    return model.relabelled(mapping, profiles)


def test_refit_on_most_of_the_customers_keeps_every_id_and_name(mall, tmp_path, capsys):
    table, old, values = mall
    sample = table.fields_frame().sample(frac=0.9, random_state=3)
    new_raw = custseg.fit(sample, features=["annual_income", "spending_score"], random_state=7)
    new_raw = scrambled(new_raw)
    assert [s.name for s in new_raw.segments] != [s.name for s in old.segments]
    new, matching = keep_identities(new_raw, old)
    assert matching.unmatched_new == () and matching.unmatched_old == ()
    assert {s.id: s.name for s in new.segments} == {s.id: s.name for s in old.segments}
    # the same customers land in the same ids
    assert np.mean(new.assign(values).labels == old.assign(values).labels) > 0.95


def test_edited_names_and_strategies_carry_over(mall):
    table, old, _ = mall
    edited = old.with_edits({1: {"name": "Our VIPs", "strategy": "Call them."}})
    new, _ = keep_identities(scrambled(custseg.fit(table, features=["annual_income",
                                                                    "spending_score"])), edited)
    vip = new.segment(1)
    assert (vip.name, vip.strategy, vip.edited) == ("Our VIPs", "Call them.", True)


def test_unmatched_segments_are_new(mall):
    table, old, _ = mall
    more = custseg.fit(table, features=["annual_income", "spending_score"],
                       params={"n_clusters": 7})
    new, matching = keep_identities(more, old)
    assert len(matching.pairs) == 5
    assert sorted(s.id for s in new.segments) == list(range(7))
    names = [s.name for s in new.segments]
    assert len(set(names)) == 7


def test_different_features_refused(mall):
    table, old, _ = mall
    other = custseg.fit(table)
    with pytest.raises(CustsegError, match="clusters on different features"):
        match_segments(old, other)


def test_migration_counts(mall):
    _, old, values = mall
    new = scrambled(old)
    moved = migration(old, new, values)
    counts = np.array(moved.counts)
    assert counts.sum() == len(values)
    assert moved.stayed_share < 0.5  # ids permuted: few keep their number
    assert counts[0, 3] == counts[0].sum()  # everyone in old 0 is in new 3
    matched = migration(old, new, values, match_segments(old, new))
    assert matched.stayed_share == 1.0  # but every one stays in the matching segment


def test_cli_reference_and_compare(mall_path, tmp_path, capsys):
    old_path, new_path = tmp_path / "old.custseg", tmp_path / "new.custseg"
    assert main(["fit", str(mall_path), "-o", str(old_path), "--features",
                 "annual_income,spending_score"]) == 0
    assert main(["fit", str(mall_path), "-o", str(new_path), "--features",
                 "annual_income,spending_score", "--seed", "9", "--reference",
                 str(old_path), "--json"]) == 0
    capsys.readouterr()
    assert main(["compare", str(old_path), str(new_path), "--data", str(mall_path),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(m["old"], m["new"]) for m in out["matching"]] == [(i, i) for i in range(5)]
    assert all(m["old_name"] == m["new_name"] for m in out["matching"])
    counts = out["migration"]["counts"]
    assert sum(map(sum, counts)) == 200
    assert sum(counts[i][i] for i in range(5)) >= 195


def test_stability_reading_follows_renumbering(mall):
    _, old, _ = mall
    swapped = old.relabelled({0: 1, 1: 0}, [
        s.__class__(**{**s.to_dict(), "id": {0: 1, 1: 0}.get(s.id, s.id), "facts": tuple(s.facts),
                       "rules": tuple(s.rules)}) for s in old.segments])
    before = old.metrics.stability
    after = swapped.metrics.stability
    assert after.per_segment[1] == before.per_segment[0]
    fragile = {0: 0.3, 1: 0.9}
    from custseg.cluster.stability import sentence

    assert "segment 0 (0.30) is fragile" in sentence(0.8, fragile)
    renamed = old.relabelled({0: 1, 1: 0}, list(old.segments))
    renamed_metrics = replace(old.metrics, stability=replace(before, per_segment=fragile))
    moved = replace(old, metrics=renamed_metrics).relabelled({0: 1, 1: 0}, list(old.segments))
    assert "segment 1 (0.30) is fragile" in moved.metrics.stability.reading
    assert renamed.metrics.stability.reading.startswith("Across 10 refits on")
