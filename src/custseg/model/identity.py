"""Stable identities across refits, and how customers move between two models.

When the data is refreshed, a new fit numbers its segments afresh. Matching the new
segments to an old model's — Hungarian matching on their centres, both measured in the
old model's scaled space — lets a segment keep its id, name and strategy from one month
to the next. A new segment further than ``max_distance`` (standard deviations) from
every old one is new, and gets a new id.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from custseg.cluster.labels import NOISE, RETURNS_ONLY, SET_APART, outliers_last
from custseg.errors import CustsegError
from custseg.model.segmentation import SegmentationModel
from custseg.table.fields import GENDER


@dataclass(frozen=True)
class Matching:
    """new segment id -> old segment id, with the distance between their centres."""

    pairs: dict[int, int]
    distances: dict[int, float]
    unmatched_old: tuple[int, ...]
    unmatched_new: tuple[int, ...]

    def to_dict(self, old: SegmentationModel, new: SegmentationModel) -> dict[str, Any]:
        return {
            "matching": [
                {"new": n, "old": o, "distance": round(self.distances[n], 4),
                 "old_name": old.names[o], "new_name": new.names[n]}
                for n, o in sorted(self.pairs.items(), key=lambda kv: kv[1])
            ],
            "unmatched_old": [{"id": i, "name": old.names[i]} for i in self.unmatched_old],
            "unmatched_new": [{"id": i, "name": new.names[i]} for i in self.unmatched_new],
        }


@dataclass(frozen=True)
class Migration:
    """How many of the same customers sit in each old segment and each new one.

    ``counts[i][j]`` customers are in old segment ``old_ids[i]`` and new segment
    ``new_ids[j]``; ``stayed_share`` is the share whose new segment is their old one's
    match (or carries the same id, without a matching).
    """

    old_ids: tuple[int, ...]
    new_ids: tuple[int, ...]
    old_names: tuple[str, ...]
    new_names: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]
    customers: int
    stayed_share: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_ids": list(self.old_ids),
            "new_ids": list(self.new_ids),
            "old_names": list(self.old_names),
            "new_names": list(self.new_names),
            "counts": [list(row) for row in self.counts],
            "customers": self.customers,
            "stayed_share": self.stayed_share,
        }


def _centres(model: SegmentationModel, space: SegmentationModel) -> dict[int, np.ndarray]:
    """Each non-noise segment's centre (from its profile) in ``space``'s scaled space."""
    enc = space.encoding
    out = {}
    for s in model.segments:
        if s.id in SET_APART:  # noise, and the returns only (placed by their rule)
            continue
        row = {f: [s.means[f]] for f in enc.features}
        # no category mix in a segment's profile (yet): its categorical columns are 0 in
        # both models' centres, so segments are matched on the rest
        row.update({name: [None] for name in enc.categorical_names})
        if enc.use_gender:
            mix = s.gender_mix
            row[GENDER] = [max(mix, key=mix.get) if mix else ""]
        point = enc.transform(pd.DataFrame(row))[0]
        if enc.use_gender:  # the centre's gender part is the mix, not one customer's
            k = len(enc.features)
            point[k:] = [s.gender_mix.get(c, 0.0) for c in enc.gender_categories]
        out[s.id] = point
    return out


def match_segments(
    old: SegmentationModel, new: SegmentationModel, max_distance: float = 1.0
) -> Matching:
    """Hungarian matching of ``new``'s segments to ``old``'s on their centres."""
    if tuple(old.config.features) != tuple(new.config.features) or (
        old.config.use_gender != new.config.use_gender
    ) or old.encoding.categorical != new.encoding.categorical:
        categorical = "".join(f" + {name}" for name in old.config.categorical)
        raise CustsegError(
            "the reference model clusters on different features "
            f"({', '.join(old.config.features)}{' + gender' if old.config.use_gender else ''}"
            f"{categorical}, with the same categories);"
            " fit with the same features to keep segment identities."
        )
    old_c, new_c = _centres(old, old), _centres(new, old)
    old_ids, new_ids = list(old_c), list(new_c)
    pairs: dict[int, int] = {}
    distances: dict[int, float] = {}
    if old_ids and new_ids:
        cost = np.array([[np.linalg.norm(new_c[n] - old_c[o]) for o in old_ids] for n in new_ids])
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols, strict=True):
            if cost[r, c] <= max_distance:
                pairs[new_ids[r]] = old_ids[c]
                distances[new_ids[r]] = float(cost[r, c])
    return Matching(
        pairs=pairs,
        distances=distances,
        unmatched_old=tuple(o for o in old_ids if o not in pairs.values()),
        unmatched_new=tuple(n for n in new_ids if n not in pairs),
    )


def keep_identities(
    new: SegmentationModel, old: SegmentationModel, max_distance: float = 1.0
) -> tuple[SegmentationModel, Matching]:
    """``new`` with its matched segments renumbered to the old ids and carrying the old
    names, descriptions and strategies; unmatched segments get fresh ids after the old
    ones and keep their rule-based names (made unique)."""
    matching = match_segments(old, new, max_distance)
    mapping = dict(matching.pairs)
    next_id = max([s.id for s in old.segments] + [-1]) + 1
    for n in matching.unmatched_new:
        mapping[n] = next_id
        next_id += 1
    old_by_id = {s.id: s for s in old.segments}
    taken = {old_by_id[o].name for o in matching.pairs.values()}
    taken |= {s.name for s in new.segments if s.id in SET_APART}  # names unique, noise too
    profiles = []
    for s in new.segments:
        if s.id in SET_APART:
            profiles.append(s)
            continue
        target = mapping[s.id]
        if s.id in matching.pairs:
            was = old_by_id[matching.pairs[s.id]]
            profiles.append(replace(s, id=target, name=was.name, description=was.description,
                                    strategy=was.strategy, edited=was.edited))
        else:
            name, n = s.name, 2
            while name in taken:
                name, n = f"{s.name} ({n})", n + 1
            taken.add(name)
            profiles.append(replace(s, id=target, name=name))
    return new.relabelled(mapping, profiles), matching


def migration(
    old: SegmentationModel,
    new: SegmentationModel,
    values: pd.DataFrame,
    matching: Matching | None = None,
) -> Migration:
    """Where the customers of ``values`` sit in ``old`` and in ``new`` (see
    :class:`Migration`; ``matching`` decides what staying means)."""
    a = old.assign(values).labels
    b = new.assign(values).labels
    old_ids = sorted(set(old.names) | set(np.unique(a).tolist()), key=outliers_last)
    new_ids = sorted(set(new.names) | set(np.unique(b).tolist()), key=outliers_last)
    table = pd.crosstab(pd.Categorical(a, old_ids), pd.Categorical(b, new_ids), dropna=False)
    return Migration(
        old_ids=tuple(old_ids),
        new_ids=tuple(new_ids),
        old_names=tuple(old.names.get(i, str(i)) for i in old_ids),
        new_names=tuple(new.names.get(i, str(i)) for i in new_ids),
        counts=tuple(map(tuple, table.to_numpy().astype(int).tolist())),
        customers=int(len(values)),
        stayed_share=_stayed(a, b, matching),
    )


def _stayed(a: np.ndarray, b: np.ndarray, matching: Matching | None) -> float:
    if not len(a):
        return 0.0
    if matching is None:
        return float(np.mean(a == b))
    partner = {o: n for n, o in matching.pairs.items()}
    partner[NOISE] = NOISE
    partner[RETURNS_ONLY] = RETURNS_ONLY
    expected = np.array([partner.get(int(v), np.iinfo(np.int64).min) for v in a])
    return float(np.mean(expected == b))

