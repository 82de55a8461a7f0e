"""How typical one customer is: its distance to the nearest known customers, in words.

The neighbour vote's confidence says how many of the nearest known customers share a
segment; it says nothing of how near they are. A customer far from every known customer
(age 95 with an income of 500 k$, on the Mall model) gets a unanimous vote from
neighbours that are not like it at all. So the Predict page shows the two together, and
an atypical customer never gets a "high confidence" badge.

The scale: each known customer's distance to its own nearest other known customer (the
distances the atypical threshold is the 99th percentile of, see
:class:`~custseg.cluster.segmenter.Segmenter`). A customer's distance is read against
their median ("typical") and as the share of known customers that are closer to a
neighbour than it is to any of them. Measured on at most :data:`SAMPLE` known customers
(a fixed, seeded sample: the same figures each time); numpy and scipy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from custseg.model.segmentation import SegmentationModel

#: Known customers whose nearest-neighbour distances make the scale.
SAMPLE = 2_000
#: Vote shares from which the confidence is called high, and medium.
HIGH = 0.999
MEDIUM = 0.5


@dataclass(frozen=True)
class Typicality:
    """One customer's nearest distance against the known customers' own."""

    #: To the nearest known customer, in the clustering space (standardised units).
    distance: float
    #: The median of the known customers' distances to their nearest neighbour.
    typical: float
    #: The atypical threshold: 99% of known customers have a neighbour this close.
    limit: float
    #: Share of known customers with a neighbour nearer than this customer's nearest.
    share_closer: float
    atypical: bool

    @property
    def ratio(self) -> float | None:
        """The distance over the typical one (None when the typical one is 0)."""
        return self.distance / self.typical if self.typical > 0 else None

    def level(self) -> str:
        """``"typical"``, ``"unusual"`` (further than 90% of known customers are from a
        neighbour) or ``"atypical"`` (beyond the threshold)."""
        if self.atypical:
            return "atypical"
        return "unusual" if self.share_closer > 0.9 else "typical"

    def words(self) -> str:
        """The distance in plain words, against the typical distance in the base."""
        ratio = self.ratio
        if self.distance == 0:
            return "The customer is identical to a known customer."
        elif ratio is None:
            near = f"Its nearest known customer is {self.distance:.2g} away"
        elif ratio < 0.95:
            near = (f"Its nearest known customer is nearer than is typical between "
                    f"neighbouring known customers ({_times(ratio)} the typical distance)")
        elif ratio <= 1.05:
            near = ("Its nearest known customer is as near as is typical between "
                    "neighbouring known customers")
        else:
            near = (f"Its nearest known customer is {_times(ratio)} as far as is typical "
                    "between neighbouring known customers")
        if self.atypical:
            than = ("any known customer is from its nearest neighbour"
                    if self.share_closer >= 1 else
                    f"{_percent(self.share_closer)} of known customers are from their "
                    "nearest neighbour")
            return f"{near}: further than {than}, beyond the 99% the model calls atypical."
        return (f"{near}; {_percent(self.share_closer)} of known customers have a "
                "neighbour nearer than that.")


def confidence_level(confidence: float, atypical: bool) -> str:
    """``"high"``, ``"medium"`` or ``"low"``: the vote share, and low whatever the vote
    for an atypical customer (its neighbours are not like it)."""
    if atypical:
        return "low"
    if confidence >= HIGH:
        return "high"
    return "medium" if confidence >= MEDIUM else "low"


def neighbour_scale(model: SegmentationModel) -> np.ndarray:
    """Sorted distances of (a seeded sample of) the known customers to their nearest
    other known customer."""
    vote = model.fitted.vote
    points = vote.points
    if len(points) < 2:
        return np.zeros(1)
    rows = np.arange(len(points))
    if len(points) > SAMPLE:
        rows = np.sort(np.random.default_rng(0).choice(len(points), SAMPLE, replace=False))
    distance, _ = vote.query(points[rows], k=2)
    return np.sort(distance[:, 1])


def typicality(model: SegmentationModel, values: pd.DataFrame,
               scale: np.ndarray | None = None) -> Typicality:
    """How typical the customer in the one row of ``values`` (valid, canonical, typed)
    is; ``scale`` is :func:`neighbour_scale`'s, computed when not given."""
    scale = neighbour_scale(model) if scale is None else scale
    X = model.encoding.transform(values.iloc[:1])
    vote = model.fitted.vote
    distance = float(vote.query(X, k=1)[0][0, 0])
    threshold = float(vote.atypical_threshold)
    return Typicality(
        distance=distance,
        typical=float(np.median(scale)),
        limit=threshold,
        share_closer=float(np.searchsorted(scale, distance, side="left") / len(scale)),
        atypical=bool(distance > threshold),
    )


def outside_segment(features: dict[str, float | None], segment, spec=None) -> list[str]:
    """The customer's features outside the range of the segment's own customers, in
    words ("Age (years) 95 is above every customer of this segment (19–59)"): what a
    segment's name, which describes its members, says nothing of."""
    from custseg.table.fields import fmt_number
    from custseg.table.spec import with_unit

    out = []
    for name, value in features.items():
        low, high = segment.mins.get(name), segment.maxs.get(name)
        if value is None or low is None or high is None:
            continue
        span = f"{fmt_number(round(low, 2))}–{fmt_number(round(high, 2))}"
        if value > high:
            out.append(f"{with_unit(name, spec)} {fmt_number(round(value, 2))} is above "
                       f"every customer of this segment ({span})")
        elif value < low:
            out.append(f"{with_unit(name, spec)} {fmt_number(round(value, 2))} is below "
                       f"every customer of this segment ({span})")
    return out


def _times(ratio: float) -> str:
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:,.0f}×"


def _percent(share: float) -> str:
    if share > 0.999:
        return "over 99.9%"
    if 0 < share < 0.001:
        return "under 0.1%"
    return f"{share:.0%}" if share >= 0.01 else f"{share:.1%}"
