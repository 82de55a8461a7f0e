"""Segment ids: the outliers' label, the order segments are listed in, and their short label.

Clusterers that find noise (DBSCAN, HDBSCAN) label it -1; custseg keeps it as a segment of
its own, listed after the others and never given a business name.
"""

from __future__ import annotations

#: The label of customers in no dense group (the outliers).
NOISE = -1

#: The most segments a model holds (a model file holds no more): a clustering that finds
#: more is refused as soon as its labels are known, before any segment is described.
MAX_MODEL_SEGMENTS = 1_000


def outliers_last(segment_id: int) -> tuple[bool, int]:
    """Sort key: segments by id, the outliers after every other segment."""
    return (segment_id == NOISE, segment_id)


def segment_label(segment_id: int, name: str) -> str:
    """``"3 · Affluent Spenders"``; the outliers are their name alone."""
    return name if segment_id == NOISE else f"{segment_id} · {name}"
