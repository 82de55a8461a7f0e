"""Segment ids: the outliers' label, the order segments are listed in, and their short label.

Clusterers that find noise (DBSCAN, HDBSCAN) label it -1; custseg keeps it as a segment of
its own, listed after the others and never given a business name. Customers of a
transaction log with returns only (no purchase, so no recency) are never clustered: they
are the segment -2, "Returns only", listed last (see :mod:`custseg.model.segmentation`).
"""

from __future__ import annotations

#: The label of customers in no dense group (the outliers).
NOISE = -1
#: The segment of the customers with returns only (frequency 0), set apart before
#: clustering.
RETURNS_ONLY = -2
#: Segments no clusterer made: never given a cluster name.
SET_APART = (NOISE, RETURNS_ONLY)

#: The most segments a model holds (a model file holds no more): a clustering that finds
#: more is refused as soon as its labels are known, before any segment is described.
MAX_MODEL_SEGMENTS = 1_000


def outliers_last(segment_id: int) -> tuple[bool, int]:
    """Sort key: segments by id, the outliers after every other segment, then the
    customers with returns only."""
    return (segment_id in SET_APART, -segment_id if segment_id in SET_APART else segment_id)


def segment_label(segment_id: int, name: str) -> str:
    """``"3 · Affluent Spenders"``; the outliers and the returns only are their name alone."""
    return name if segment_id in SET_APART else f"{segment_id} · {name}"
