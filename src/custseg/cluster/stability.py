"""Are the segments real? Refit on subsamples and measure how much they hold together.

On ``resamples`` random subsamples (80% of a sample of at most 3,000 customers) the
clusterer is fitted again, with the same settings and a different seed each time, and
compared with the model's own segments on the same customers:

- **overall**: the mean adjusted Rand index (1 = identical partitions, 0 = chance);
- **per segment**: the mean Jaccard similarity between the segment and its best-matching
  cluster in each refit (Hennig's cluster-wise stability). Below 0.6 a segment is
  *fragile* — it changes shape when customers are resampled; from 0.75 it is *stable*.

Parameters that count customers (the registry's ``count_params``: neighbours, smallest
segment) are scaled to the subsample, so that density means the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from custseg.cluster.algorithms import get_algorithm
from custseg.cluster.labels import NOISE
from custseg.cluster.threads import fit_threads

STABLE, FRAGILE = 0.75, 0.6


@dataclass(frozen=True)
class Stability:
    """How much the segments hold together over subsample refits.

    ``overall`` is the mean adjusted Rand index (None when no refit could be made),
    ``per_segment`` the mean Jaccard similarity of each segment id, ``resamples`` the
    refits made on ``rows`` customers each, ``reading`` the plain sentence.
    """

    overall: float | None
    per_segment: Mapping[int, float]
    resamples: int
    rows: int
    reading: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stability:
        """The inverse of :meth:`to_dict`, also after JSON turned segment ids into text."""
        return cls(
            overall=data["overall"],
            per_segment={int(k): v for k, v in data["per_segment"].items()},
            resamples=data["resamples"],
            rows=data["rows"],
            reading=data["reading"],
        )

    def relabelled(self, mapping: Mapping[int, int]) -> Stability:
        """The same measurement with segment ids renamed by ``mapping`` (others keep
        theirs), and its reading rewritten for the new ids."""
        per_segment = {mapping.get(k, k): v for k, v in self.per_segment.items()}
        return replace(self, per_segment=per_segment,
                       reading=sentence(self.overall, per_segment))


def reading(value: float | None) -> str:
    if value is None:
        return "unknown"
    if value >= STABLE:
        return "stable"
    if value >= FRAGILE:
        return "moderately stable"
    return "fragile"


@fit_threads()
def stability(
    X: np.ndarray,
    labels: np.ndarray,
    algorithm: str,
    params: Mapping[str, Any],
    *,
    fitted_rows: int | None = None,
    resamples: int = 10,
    fraction: float = 0.8,
    sample: int = 3_000,
    seed: int = 0,
) -> Stability:
    """Overall and per-segment stability of ``labels`` (the model's segments of ``X``).

    ``fitted_rows`` is how many customers the clusterer itself was fitted on (to scale
    count parameters); by default ``len(X)``.
    """
    # here, not at the top: reading a model's stability must not load scikit-learn
    from sklearn.metrics import adjusted_rand_score

    spec = get_algorithm(algorithm)
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    rows = np.sort(rng.choice(len(X), sample, replace=False)) if len(X) > sample else np.arange(len(X))
    Xs, ls = X[rows], labels[rows]
    segments = [int(s) for s in np.unique(ls) if s != NOISE]
    take = max(2, int(round(fraction * len(Xs))))
    scale = take / float(fitted_rows or len(X))
    aris: list[float] = []
    jaccard: dict[int, list[float]] = {s: [] for s in segments}
    for r in range(resamples):
        idx = np.sort(rng.choice(len(Xs), take, replace=False))
        p = dict(spec.resolve(params))
        for name in spec.count_params:
            if p.get(name) is not None:
                p[name] = max(2, int(round(p[name] * scale)))
        for name in spec.size_bounded:  # as the fit itself does: never more than the rows
            if p.get(name) is not None:
                p[name] = min(p[name], take)
        if spec.k_param and p[spec.k_param] > take:
            continue
        refit = np.asarray(spec.build(p, seed + 1 + r).fit_predict(Xs[idx]))
        ref = ls[idx]
        aris.append(float(adjusted_rand_score(ref, refit)))
        clusters = [c for c in np.unique(refit) if c != NOISE]
        for s in segments:
            a = ref == s
            if not a.any():
                continue
            best = 0.0
            for c in clusters:
                b = refit == c
                union = np.count_nonzero(a | b)
                best = max(best, np.count_nonzero(a & b) / union if union else 0.0)
            jaccard[s].append(best)
    per_segment = {s: float(np.mean(v)) for s, v in jaccard.items() if v}
    overall = float(np.mean(aris)) if aris else None
    return Stability(overall, per_segment, len(aris), int(take), sentence(overall, per_segment))


def sentence(overall: float | None, per_segment: Mapping[int, float]) -> str:
    """The plain reading of a stability result."""
    if overall is None:
        return "Stability could not be measured (too few customers)."
    parts = [f"Across resamples the segments agree with an adjusted Rand index of "
             f"{overall:.2f} ({reading(overall)})."]
    fragile = [s for s, v in sorted(per_segment.items()) if v < FRAGILE]
    if fragile:
        listed = ", ".join(f"segment {s} ({per_segment[s]:.2f})" for s in fragile)
        verb = "is" if len(fragile) == 1 else "are"
        parts.append(f"{listed} {verb} fragile: it changes shape when customers are resampled."
                     if len(fragile) == 1 else
                     f"{listed} {verb} fragile: they change shape when customers are resampled.")
    else:
        parts.append("No segment is fragile.")
    return " ".join(parts)
