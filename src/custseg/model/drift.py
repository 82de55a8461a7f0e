"""Drift: are the customers being scored like the ones the model was fitted on?

A model holds the known customers its neighbour vote places new ones with (the reference
set of :class:`~custseg.cluster.assignment.FittedSegmenter`, in the clustering space). For
each feature the model clusters on, their distribution is the reference; a batch of
customers is compared with it by the **population stability index** (PSI)::

    PSI = sum over bins of (a - e) * ln(a / e)

with ``e`` the reference's share of a bin and ``a`` the batch's. The method:

- **Bins.** A numeric feature is cut at the reference's deciles (:data:`N_BINS` bins),
  each cut placed halfway between the decile and the next distinct known value, so that
  no known value sits on a cut and ties (whole-number ages, scores) fall on one side. A
  feature with few distinct values gets fewer bins (repeated cuts are merged). Values are
  binned in the clustering space (after the feature's transform and scaling), which is
  monotone in the feature's own units, so the bins are the same as in those units. A
  categorical feature (and gender, when the model clusters on it) has a bin per category
  seen at fit, and one for a category never seen.
- **Weights.** The reference set is sampled per segment, small segments kept with a few
  more customers than their share; each known customer is weighted by its segment's size
  over its segment's count in the reference set, so that the reference stands for every
  customer fitted.
- **Empty bins.** A share of 0 (a bin no batch customer, or no known customer, falls in)
  is taken as :data:`EPSILON` (0.0001), so that the logarithm stays finite.
- **Reading it.** Below 0.1 a feature is stable; 0.1 to 0.25 a moderate shift; above
  :data:`PSI_FLAG` (0.25) the batch differs from the customers fitted, and is flagged.
  On fewer than :data:`MIN_ROWS` valid rows the index is mostly noise (its expected value
  on an unchanged sample is about bins / rows): it is not computed (None).

Only valid rows (those the model places) are counted; counts of several batches add up,
so a file scored batch by batch, or by the Dask engine part by part, gives the same index
as one pass. numpy only: scoring never loads scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from custseg.table.fields import GENDER

if TYPE_CHECKING:
    from custseg.model.segmentation import SegmentationModel

#: Bins of a numeric feature (the reference's deciles).
N_BINS = 10
#: The share an empty bin is taken as.
EPSILON = 1e-4
#: Above this PSI, a feature of the batch is flagged as unlike the customers fitted.
PSI_FLAG = 0.25
#: Fewest valid rows the index is computed on.
MIN_ROWS = 100


@dataclass(frozen=True, eq=False)
class FeatureBins:
    """One feature's bins: cut points (numeric, in the clustering space) or categories,
    and the reference's share of each bin."""

    feature: str
    kind: str  # "numeric" or "categorical"
    column: int  # the numeric feature's column in the clustering space (-1: categorical)
    cuts: np.ndarray | None
    categories: tuple[str, ...]
    expected: np.ndarray

    def bin_of(self, encoded: np.ndarray | None, values: pd.DataFrame) -> np.ndarray:
        """The bin of each row: from its clustering-space column (numeric) or its
        category (categorical; the last bin for a category not seen at fit)."""
        if self.kind == "numeric":
            return np.searchsorted(self.cuts, encoded[:, self.column], side="right")
        codes = pd.Index(list(self.categories), dtype=object).get_indexer(
            values[self.feature].to_numpy(dtype=object)).astype(np.int64)
        return np.where(codes < 0, len(self.categories), codes)


@dataclass(frozen=True, eq=False)
class DriftReference:
    """Each feature's bins and the reference's shares: what a batch is compared with."""

    bins: tuple[FeatureBins, ...]
    #: The model's encoding without its one-hot columns (the numeric columns only).
    numeric: Any

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(b.feature for b in self.bins)

    def count(self, values: pd.DataFrame) -> DriftCounts:
        """Rows per bin of each feature, for valid rows (canonical, typed values)."""
        n = len(values)
        encoded = self.numeric.transform(values) if n and any(
            b.kind == "numeric" for b in self.bins) else None
        counts = tuple(
            np.bincount(b.bin_of(encoded, values), minlength=len(b.expected)).astype(np.int64)
            if n else np.zeros(len(b.expected), dtype=np.int64)
            for b in self.bins)
        return DriftCounts(self, counts, n)


@dataclass(frozen=True, eq=False)
class FeatureDrift:
    """One feature's PSI (None on fewer than :data:`MIN_ROWS` rows), flagged above
    :data:`PSI_FLAG`."""

    feature: str
    psi: float | None

    def __post_init__(self) -> None:
        # kept to the 4 places it is shown with, so a flag always agrees with the figure
        # shown beside it (an unrounded 0.250004 would be "0.25, flagged")
        if self.psi is not None:
            object.__setattr__(self, "psi", round(float(self.psi), 4))

    @property
    def flagged(self) -> bool:
        return self.psi is not None and self.psi > PSI_FLAG

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature,
                "psi": self.psi,
                "flagged": self.flagged}


@dataclass(frozen=True, eq=False)
class DriftCounts:
    """A batch's rows per bin of each feature; batches add up with ``+``."""

    reference: DriftReference
    counts: tuple[np.ndarray, ...]
    n_rows: int

    def __add__(self, other: DriftCounts) -> DriftCounts:
        return replace(self, counts=tuple(a + b for a, b in zip(self.counts, other.counts,
                                                                strict=True)),
                       n_rows=self.n_rows + other.n_rows)

    def features(self) -> tuple[FeatureDrift, ...]:
        """Each feature's PSI, in the model's order."""
        enough = self.n_rows >= MIN_ROWS
        return tuple(
            FeatureDrift(b.feature, psi(b.expected, c / self.n_rows) if enough else None)
            for b, c in zip(self.reference.bins, self.counts, strict=True))

    def flagged(self) -> tuple[FeatureDrift, ...]:
        return tuple(f for f in self.features() if f.flagged)

    def to_list(self) -> list[dict[str, Any]]:
        """``[{"feature", "psi", "flagged"}]``: the ``drift`` of ``score --json``."""
        return [f.to_dict() for f in self.features()]


def psi(expected: np.ndarray, actual: np.ndarray, epsilon: float = EPSILON) -> float:
    """Population stability index of the shares ``actual`` against ``expected`` (one per
    bin, each summing to 1); a share of 0 is taken as ``epsilon``."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), epsilon)
    a = np.maximum(np.asarray(actual, dtype=np.float64), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def numeric_cuts(x: np.ndarray, weights: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Cut points at the weighted quantiles 1/n_bins … (n_bins-1)/n_bins of ``x``, each
    moved halfway to the next distinct value above it (none past the largest value)."""
    order = np.argsort(x, kind="stable")
    xs, ws = x[order], weights[order]
    distinct, first = np.unique(xs, return_index=True)
    cumulative = np.cumsum(ws) / ws.sum()
    at = np.searchsorted(cumulative, np.arange(1, n_bins) / n_bins - 1e-12, side="left")
    quantiles = np.unique(xs[np.minimum(at, len(xs) - 1)])
    position = np.searchsorted(distinct, quantiles)
    inner = position < len(distinct) - 1
    return (distinct[position[inner]] + distinct[position[inner] + 1]) / 2


def reference_weights(labels: np.ndarray, sizes: Mapping[int, int]) -> np.ndarray:
    """Each known customer's weight: its segment's size over the segment's count in the
    reference set (all 1 when a segment's size is not known)."""
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if not all(int(c) in sizes and sizes[int(c)] > 0 for c in classes):
        return np.ones(len(labels))
    per_class = np.array([sizes[int(c)] for c in classes], dtype=np.float64) / counts
    return per_class[inverse.reshape(-1)]


def drift_reference(model: SegmentationModel) -> DriftReference:
    """The bins and reference shares of each feature ``model`` clusters on, from the
    known customers it holds (see the module)."""
    encoding = model.encoding
    X = model.fitted.reference_X
    weights = reference_weights(model.fitted.reference_labels,
                                {s.id: s.size for s in model.segments})
    total = weights.sum()
    bins: list[FeatureBins] = []
    for j, name in enumerate(encoding.features):
        cuts = numeric_cuts(X[:, j], weights)
        expected = np.bincount(np.searchsorted(cuts, X[:, j], side="right"), weights=weights,
                               minlength=len(cuts) + 1) / total
        bins.append(FeatureBins(name, "numeric", j, cuts, (), expected))
    start = len(encoding.features)
    blocks = ([(GENDER, encoding.gender_categories)] if encoding.use_gender else []) + [
        (name, cats) for name, cats in encoding.categorical]
    for name, cats in blocks:
        block = X[:, start:start + len(cats)]
        start += len(cats)
        code = np.where(block.max(axis=1) > 0, block.argmax(axis=1), len(cats))
        expected = np.bincount(code, weights=weights, minlength=len(cats) + 1) / total
        bins.append(FeatureBins(name, "categorical", -1, None, tuple(cats), expected))
    numeric = replace(encoding, gender_categories=(), categorical=())
    return DriftReference(tuple(bins), numeric)


def measure(model: SegmentationModel, values: pd.DataFrame) -> DriftCounts:
    """The drift counts of valid rows ``values`` (canonical, typed) against ``model``."""
    return drift_reference(model).count(values)


def drift_message(counts: DriftCounts, label: Callable[[str], str] = str) -> str | None:
    """The warning for a batch with a feature above :data:`PSI_FLAG`, naming each such
    feature (by ``label``: the command line says its name, the dashboard its label) and
    its PSI; None when there is none."""
    flagged = counts.flagged()
    if not flagged:
        return None
    listed = ", ".join(f"{label(f.feature)} (PSI {f.psi:.4g})" for f in flagged)
    return (f"these customers differ from the ones the model was fitted on: {listed}, "
            f"above {PSI_FLAG}; their segments may not mean what they meant at fit, so "
            "check the batch or refit on customers like these")


def reading(value: float | None) -> str:
    """A PSI in words: stable below 0.1, a moderate shift to 0.25, different above."""
    if value is None:
        return f"too few rows (under {MIN_ROWS})"
    if value > PSI_FLAG:
        return "differs from the customers fitted"
    return "moderate shift" if value >= 0.1 else "stable"


def drift_frame(counts: DriftCounts, spec: Any = None) -> pd.DataFrame:
    """One row per feature: its label, PSI, reading and whether it is flagged (the Batch
    page's table)."""
    from custseg.table.spec import with_unit

    rows = counts.features()
    return pd.DataFrame({
        "feature": [with_unit(f.feature, spec) for f in rows],
        "PSI": pd.array([f.psi for f in rows], dtype="Float64"),
        "reading": [reading(f.psi) for f in rows],
        "flagged": [f.flagged for f in rows],
    })
