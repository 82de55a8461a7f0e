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

The refits are bounded in time: when the registry estimates (:meth:`AlgorithmSpec.duration`)
that they would take more than :data:`STABILITY_TIME_BUDGET` seconds — many restarts or
components, say — fewer refits are made (at least :data:`MIN_RESAMPLES`), then on fewer
customers (at least :data:`MIN_ROWS`), and when even that is too slow stability is not
measured and its reading says why. The result always says how many refits were made
(``resamples``) and on how many customers each (``rows``); its reading says so too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from custseg.cluster.algorithms import get_algorithm
from custseg.cluster.labels import NOISE
from custseg.cluster.threads import fit_threads
from custseg.errors import ParameterError

STABLE, FRAGILE = 0.75, 0.6
#: Seconds all the refits of one measurement may take together, as estimated by the
#: registry (one core). With the defaults they take well under a second.
STABILITY_TIME_BUDGET = 5.0
#: Fewest refits, and fewest customers per refit, a measurement is made with.
MIN_RESAMPLES, MIN_ROWS = 3, 200


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
        if self.overall is None:  # not measured: the reading says why, ids or not
            return replace(self, per_segment=per_segment)
        return replace(self, per_segment=per_segment,
                       reading=sentence(self.overall, per_segment, self.resamples, self.rows))


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
    blocks: tuple[int, ...] = (),
) -> Stability:
    """Overall and per-segment stability of ``labels`` (the model's segments of ``X``).

    ``fitted_rows`` is how many customers the clusterer itself was fitted on (to scale
    count parameters); by default ``len(X)``. ``blocks``: the widths of the one-hot
    blocks ending ``X``, for an algorithm that reads them as categories.
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
    p = _refit_params(spec, params, take, fitted_rows or len(X))
    resamples, take, p, slow = _within_time(spec, Xs, params, p, resamples, take,
                                            fitted_rows or len(X))
    if slow is not None:
        return Stability(None, {}, 0, int(take), slow)
    aris: list[float] = []
    jaccard: dict[int, list[float]] = {s: [] for s in segments}
    for r in range(resamples):
        idx = np.sort(rng.choice(len(Xs), take, replace=False))
        if spec.k_param and p[spec.k_param] > take:
            continue
        try:
            refit = np.asarray(spec.build_on(p, seed + 1 + r, blocks).fit_predict(Xs[idx]))
        except ParameterError:  # a subsample these settings cannot fit: no refit made
            continue
        ref = ls[idx]
        aris.append(float(adjusted_rand_score(ref, refit)))
        for s, best in _best_jaccard(ref, refit).items():
            if s in jaccard:
                jaccard[s].append(best)
    per_segment = {s: float(np.mean(v)) for s, v in jaccard.items() if v}
    overall = float(np.mean(aris)) if aris else None
    return Stability(overall, per_segment, len(aris), int(take),
                     sentence(overall, per_segment, len(aris), take))


def _best_jaccard(ref: np.ndarray, refit: np.ndarray) -> dict[int, float]:
    """For each segment present in ``ref``, the best Jaccard overlap with any cluster of
    ``refit`` (its outliers are no cluster): from the pair counts, in O(n log n) however
    many segments there are (a loop over segment × cluster took minutes at 1,000)."""
    ref_ids, ref_at = np.unique(ref, return_inverse=True)
    fit_ids, fit_at = np.unique(refit, return_inverse=True)
    ref_sizes = np.bincount(ref_at, minlength=len(ref_ids))
    fit_sizes = np.bincount(fit_at, minlength=len(fit_ids))
    pairs, both = np.unique(ref_at.astype(np.int64) * len(fit_ids) + fit_at,
                            return_counts=True)
    r, f = np.divmod(pairs, len(fit_ids))
    keep = fit_ids[f] != NOISE
    r, f, both = r[keep], f[keep], both[keep]
    best = np.zeros(len(ref_ids))
    np.maximum.at(best, r, both / (ref_sizes[r] + fit_sizes[f] - both))
    return {int(s): float(best[i]) for i, s in enumerate(ref_ids) if s != NOISE}


def _refit_params(spec, params: Mapping[str, Any], take: int, fitted: int) -> dict[str, Any]:
    """The clusterer's parameters for a refit on ``take`` customers: counts of customers
    scaled from the ``fitted`` rows, sizes bounded by the rows (as the fit itself does)."""
    p = dict(spec.resolve(params))
    scale = take / float(fitted)
    for name in spec.count_params:
        if p.get(name) is not None:
            p[name] = max(2, int(round(p[name] * scale)))
    for name in spec.size_bounded:  # as the fit itself does: never more than the rows
        if p.get(name) is not None:
            p[name] = min(p[name], take)
    return p


def _within_time(spec, Xs: np.ndarray, params: Mapping[str, Any], p: dict[str, Any],
                 resamples: int, take: int, fitted: int):
    """Refits, rows per refit and their parameters within :data:`STABILITY_TIME_BUDGET`:
    fewer refits first, then fewer rows; the last item is the reading when even the
    fewest refits on the fewest rows would be too slow (else None)."""
    from custseg.cluster.algorithms import time_text

    def seconds(rows: int, values: Mapping[str, Any]) -> float:
        timing = spec.duration(Xs, values, rows=rows)
        return 0.0 if timing is None else timing.seconds

    each = seconds(take, p)
    if resamples * each <= STABILITY_TIME_BUDGET:
        return resamples, take, p, None
    fewest = min(resamples, MIN_RESAMPLES)
    if each > 0 and fewest * each <= STABILITY_TIME_BUDGET:
        return max(fewest, int(STABILITY_TIME_BUDGET // each)), take, p, None
    rows = take
    while rows > MIN_ROWS:
        rows = max(MIN_ROWS, int(rows * 0.7))
        values = _refit_params(spec, params, rows, fitted)
        if fewest * seconds(rows, values) <= STABILITY_TIME_BUDGET \
                and not (spec.k_param and values[spec.k_param] > rows):
            return fewest, rows, values, None
    smallest = fewest * seconds(MIN_ROWS, _refit_params(spec, params, MIN_ROWS, fitted))
    return 0, take, p, (
        f"Stability was not measured: {fewest} refits on {MIN_ROWS:,} customers would take "
        f"about {time_text(smallest)} (estimated), more than the "
        f"{time_text(STABILITY_TIME_BUDGET)} it may take. The segments themselves are not "
        "affected.")


#: The most fragile segments a stability reading names one by one.
FRAGILE_LISTED = 10


def sentence(overall: float | None, per_segment: Mapping[int, float],
             resamples: int | None = None, rows: int | None = None) -> str:
    """The plain reading of a stability result (with how many refits on how many
    customers, when given)."""
    if overall is None:
        return "Stability could not be measured (too few customers)."
    across = (f"Across {resamples} refits on {rows:,} customers each"
              if resamples and rows else "Across resamples")
    parts = [f"{across}, the segments agree with an adjusted Rand index of "
             f"{overall:.2f} ({reading(overall)})."]
    fragile = [s for s, v in sorted(per_segment.items()) if v < FRAGILE]
    if fragile:
        shown_ = fragile[:FRAGILE_LISTED]  # bounded: a model's text fields are capped
        listed = ", ".join(f"segment {s} ({per_segment[s]:.2f})" for s in shown_)
        if len(fragile) > len(shown_):
            listed += f" and {len(fragile) - len(shown_):,} more segments"
        verb = "is" if len(fragile) == 1 else "are"
        parts.append(f"{listed} {verb} fragile: it changes shape when customers are resampled."
                     if len(fragile) == 1 else
                     f"{listed} {verb} fragile: they change shape when customers are resampled.")
    else:
        parts.append("No segment is fragile.")
    return " ".join(parts)
