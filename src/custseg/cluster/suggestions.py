"""How many segments, which eps? Parameter suggestions with their reasons.

Each algorithm's registry entry says which search applies (``suggest_by``):

- ``n_segments`` (K-Means, Gaussian mixture, agglomerative, BIRCH): every number of
  segments from 2 to 10 is fitted on a sample; the recommendation is the highest
  silhouette among the numbers whose smallest segment holds at least ``min_share`` of the
  customers, and the reason says whether Davies–Bouldin, the elbow of the inertia (when
  the clusterer has one) and BIC (likewise) agree.
- ``eps`` (DBSCAN): eps at the knee of the sorted distances to the ``min_samples``-th
  neighbour; when that eps joins everyone into one segment (or breaks them into more than
  fifteen, or leaves most as noise), the eps among the curve's quantiles that best
  balances silhouette and customers kept out of noise, and the reason says so.
- ``min_cluster_size`` (HDBSCAN): the ``min_cluster_size`` (as a share of the customers
  fitted) that maximises the silhouette of the clustered customers times the share not
  left as noise.

A setting is only recommended by the ``eps`` and ``min_cluster_size`` searches when its
segmentation is not degenerate in the sense of the fit's own warnings (no segment under
1% of the customers or under 5, none over 90%, noise at most 40%).

The search runs on a random sample of the valid customers (``sample`` rows, five times as
many for eps, whose density a sample would thin out; for the number of segments fewer
when the registry estimates that the fits of the search would together take longer than
a fit may, as with many restarts or components); the result says how many valid
customers there were (``n_rows``, the same rows ``fit`` uses) and how many the search saw
(``sample_rows``).

Warnings: the fit's warnings for a degenerate segmentation (most customers left as noise,
one segment holding nearly all, tiny segments…), and one feature accounting for almost
all of the distance between the segments' centres.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import davies_bouldin_score, silhouette_score

from custseg.cluster.algorithms import get_algorithm
from custseg.cluster.evaluate import k_distance, sample_rows
from custseg.cluster.labels import NOISE
from custseg.cluster.segmenter import (
    DOMINANT_SHARE,
    NOISE_SHARE,
    SMALL_COUNT,
    SMALL_SHARE,
    degenerate_warnings,
)
from custseg.cluster.threads import fit_threads
from custseg.errors import NotEnoughDataError


@dataclass
class Suggestion:
    algorithm: str
    recommended: dict[str, Any]
    table: list[dict[str, Any]]
    reason: str
    warnings: list[str] = field(default_factory=list)
    #: Valid customers given, and how many of them (a random sample) the search saw.
    n_rows: int = 0
    sample_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def knee(y: Sequence[float]) -> int:
    """Index of the knee of a curve: the point furthest from the chord joining its ends
    (after scaling both axes to 0–1)."""
    y = np.asarray(y, dtype="float64")
    if len(y) < 3:
        return 0
    x = np.linspace(0, 1, len(y))
    span = y.max() - y.min()
    yn = (y - y.min()) / span if span > 0 else np.zeros_like(y)
    chord = yn[0] + (yn[-1] - yn[0]) * x
    return int(np.argmax(np.abs(yn - chord)))


def _sample(X: np.ndarray, limit: int, seed: int) -> np.ndarray:
    return X[sample_rows(len(X), limit, seed)]


@fit_threads()
def suggest(
    X: np.ndarray,
    algorithm: str,
    params: Mapping[str, Any] | None = None,
    *,
    feature_names: Sequence[str] = (),
    fitted_rows: int | None = None,
    ks: Sequence[int] = tuple(range(2, 11)),
    min_share: float = 0.03,
    sample: int = 4_000,
    seed: int = 0,
    blocks: tuple[int, ...] = (),
) -> Suggestion:
    """Recommended parameters for ``algorithm`` on ``X`` (the scaled features; ``blocks``
    the widths of the one-hot blocks ending it, for an algorithm that reads categories)."""
    spec = get_algorithm(algorithm)
    base = spec.resolve(params)
    if spec.suggest_by == "none":
        return Suggestion(spec.name, {}, [], f"{spec.label} has no settings to search: its "
                          "segments are the rulebook's score map applied to the scores.",
                          n_rows=int(len(X)), sample_rows=0)
    # eps depends on density, so its search looks at a larger sample (it is quick);
    # segment sizes are shares, which a sample keeps
    Xs = _sample(X, 5 * sample if spec.suggest_by == "eps" else sample, seed)
    if spec.suggest_by == "n_segments":
        Xs = _sample(Xs, _search_rows(Xs, spec, base, ks), seed)
        result = _suggest_k(Xs, spec, base, ks, min_share, seed, blocks)
    elif spec.suggest_by == "eps":
        result = _suggest_eps(Xs, spec, base, seed, fitted_rows or len(X))
    else:
        result = _suggest_min_cluster_size(Xs, spec, base, seed, fitted_rows or len(X))
    labels = result.pop("labels")
    warnings = _warnings(Xs, labels, spec, feature_names)
    return Suggestion(spec.name, result["recommended"], result["table"], result["reason"],
                      warnings, n_rows=int(len(X)), sample_rows=int(len(Xs)))


#: Fewest customers the search over the number of segments is lowered to for time.
SEARCH_FLOOR = 500


def _search_rows(X: np.ndarray, spec, base: Mapping[str, Any], ks: Sequence[int]) -> int:
    """Rows of ``X`` the search over ``ks`` fits within the fit's time budget (one fit
    per k): all of them unless slow settings (many restarts or components) would make
    the search take longer; never fewer than :data:`SEARCH_FLOOR`."""
    from custseg.cluster.algorithms import FIT_TIME_BUDGET

    usable = [k for k in ks if 2 <= k < len(X)]
    if spec.fit_time is None or not usable:
        return len(X)
    times = [spec.fit_time(X, {**base, spec.k_param: k}) for k in usable]

    def total(rows: int) -> float:
        return sum(t(rows) for t in times)

    if total(len(X)) <= FIT_TIME_BUDGET:
        return len(X)
    low, high = SEARCH_FLOOR, len(X)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if total(mid) <= FIT_TIME_BUDGET else (low, mid)
    return low


def _suggest_k(X, spec, base, ks, min_share, seed, blocks=()) -> dict[str, Any]:
    table, fits = [], {}
    sil_rows = _sample(X, 3_000, seed + 1)
    for k in [k for k in ks if 2 <= k < len(X)]:
        model = spec.build_on({**base, spec.k_param: k}, seed, blocks)
        labels = np.asarray(model.fit_predict(X))
        found = np.unique(labels)
        shares = np.bincount(np.searchsorted(found, labels)) / len(labels)
        row = {spec.k_param: k, "silhouette": None, "davies_bouldin": None,
               "smallest_share": float(shares.min())}
        if len(found) > 1:
            row["silhouette"] = float(silhouette_score(X, labels, sample_size=len(sil_rows),
                                                       random_state=seed))
            row["davies_bouldin"] = float(davies_bouldin_score(X, labels))
        if hasattr(model, "inertia_"):
            row["inertia"] = float(model.inertia_)
        if hasattr(model, "bic"):
            row["bic"] = float(model.bic(X))
        table.append(row)
        fits[k] = labels
    usable = [r for r in table if r["silhouette"] is not None and r["smallest_share"] >= min_share]
    pool = usable or [r for r in table if r["silhouette"] is not None]
    if not pool:
        raise NotEnoughDataError(
            f"the customers do not separate: {spec.name} put the {len(X):,} customers "
            f"searched in a single group for every number of segments tried "
            f"({', '.join(str(r[spec.k_param]) for r in table) or 'none'}); they are "
            "identical, or nearly, on the features used. Choose features that differ "
            "between customers.", parameter="features")
    best = max(pool, key=lambda r: r["silhouette"])
    k = best[spec.k_param]
    agree = []
    db_best = min(pool, key=lambda r: r["davies_bouldin"])[spec.k_param]
    agree.append("Davies–Bouldin agrees" if db_best == k else f"Davies–Bouldin prefers {db_best}")
    if "inertia" in best:
        elbow = table[knee([r["inertia"] for r in table])][spec.k_param]
        agree.append("the elbow of the inertia is there too" if elbow == k
                     else f"the elbow of the inertia is at {elbow}")
    if "bic" in best:
        bic_best = min(table, key=lambda r: r["bic"])[spec.k_param]
        agree.append("BIC agrees" if bic_best == k else f"BIC is lowest at {bic_best}")
    size_note = (f"every segment holds at least {min_share:.0%} of customers" if usable
                 else f"no number of segments keeps every segment above {min_share:.0%}")
    reason = (f"{k} segments: the highest silhouette ({best['silhouette']:.2f}) from "
              f"{table[0][spec.k_param]} to {table[-1][spec.k_param]} where {size_note}; "
              + "; ".join(agree) + ".")
    return {"recommended": {spec.k_param: int(k)}, "table": table, "reason": reason,
            "labels": fits[k]}


def _score(X: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Segments found, noise share, silhouette of the clustered customers, and their
    product with the share kept out of noise (None when fewer than two segments)."""
    clustered = labels != NOISE
    sizes = np.unique(labels[clustered], return_counts=True)[1]
    found = len(sizes)
    noise = float(np.mean(~clustered))
    sil = (float(silhouette_score(X[clustered], labels[clustered],
                                  sample_size=min(3_000, int(clustered.sum())), random_state=0))
           if found > 1 and clustered.sum() > found else None)
    n = len(labels)
    # what the fit would warn about is never recommended
    balanced = found > 1 and sizes.min() >= max(SMALL_COUNT, SMALL_SHARE * n) \
        and sizes.max() <= DOMINANT_SHARE * n
    usable = sil is not None and found <= 15 and noise <= NOISE_SHARE and balanced
    return {"segments": found, "noise_share": noise, "silhouette": sil,
            "smallest": int(sizes.min()) if found else 0,
            "score": sil * (1 - noise) if usable else None}


def _suggest_eps(X, spec, base, seed, fitted_rows) -> dict[str, Any]:
    k = int(base["min_samples"])
    scaled_k = max(2, int(round(k * len(X) / fitted_rows)))
    distances = k_distance(X, scaled_k, sample=len(X), seed=seed)
    low, high = spec.param("eps").low, spec.param("eps").high
    at_knee = float(np.clip(round(float(distances[knee(distances)]), 2), low, high))
    candidates = sorted({at_knee} | {
        float(np.clip(round(float(np.quantile(distances, q)), 2), low, high))
        for q in (0.5, 0.6, 0.7, 0.8, 0.9)})
    table, fits = [], {}
    for eps in candidates:
        labels = np.asarray(spec.build({**base, "eps": eps, "min_samples": scaled_k},
                                       seed).fit_predict(X))
        table.append({"eps": eps, "knee": eps == at_knee, **_score(X, labels)})
        fits[eps] = labels
    knee_row = next(r for r in table if r["knee"])
    scored = [r for r in table if r["score"] is not None]
    if knee_row["score"] is not None or not scored:
        best = knee_row
        reason = (f"eps {at_knee:g}: the knee of the distance from each customer to its "
                  f"{k}th-nearest neighbour (scaled units); {spec.label} then finds "
                  f"{best['segments']} segments and leaves {best['noise_share']:.0%} as outliers.")
    else:
        best = max(scored, key=lambda r: r["score"])
        reason = (f"eps {best['eps']:g}: the knee of the {k}th-neighbour distances ({at_knee:g}) "
                  f"joins the customers into {knee_row['segments']} segment"
                  f"{'s' if knee_row['segments'] != 1 else ''}, so the eps that best balances "
                  f"silhouette ({best['silhouette']:.2f}) and customers kept out of noise "
                  f"({1 - best['noise_share']:.0%}) is suggested: {best['segments']} segments.")
    return {"recommended": {"eps": best["eps"]}, "table": table, "reason": reason,
            "labels": fits[best["eps"]]}


def _suggest_min_cluster_size(X, spec, base, seed, fitted_rows) -> dict[str, Any]:
    table, fits = [], {}
    for share in (0.01, 0.02, 0.05, 0.1):
        size_here = max(5, int(round(share * len(X))))
        labels = np.asarray(spec.build({**base, "min_cluster_size": size_here, "min_samples": None},
                                       seed).fit_predict(X))
        size_full = max(5, int(round(share * min(fitted_rows, spec.fit_sample or fitted_rows))))
        table.append({"min_cluster_size": size_full, "share": share, **_score(X, labels)})
        fits[size_full] = labels
    scored = [r for r in table if r["score"] is not None]
    if not scored:
        best = table[0]
        reason = ("no setting found between two and fifteen segments with most customers "
                  "clustered and none tiny or holding nearly everyone; the smallest segment "
                  "size is suggested.")
    else:
        best = max(scored, key=lambda r: r["score"])
        reason = (f"min_cluster_size {best['min_cluster_size']} ({best['share']:.0%} of the "
                  f"customers fitted): the best balance of silhouette ({best['silhouette']:.2f}) "
                  f"and customers kept out of noise ({1 - best['noise_share']:.0%}); "
                  f"{best['segments']} segments.")
    size = min(best["min_cluster_size"], int(spec.param("min_cluster_size").high))
    return {"recommended": {"min_cluster_size": size}, "table": table, "reason": reason,
            "labels": fits[best["min_cluster_size"]]}


def _warnings(X, labels, spec, feature_names) -> list[str]:
    out = [f"with the recommended settings, {w}" for w in degenerate_warnings(labels, spec)]
    segments = [s for s in np.unique(labels) if s != NOISE]
    if len(segments) > 1 and feature_names:
        centres = np.array([X[labels == s].mean(axis=0) for s in segments])
        spread = centres.var(axis=0)[: len(feature_names)]
        if spread.sum() > 0:
            shares = spread / spread.sum()
            top = int(np.argmax(shares))
            if shares[top] > 0.8 and len(feature_names) > 1:
                out.append(f"{feature_names[top]} alone makes {shares[top]:.0%} of the spread "
                           "between the segments' centres: the other features barely matter.")
    return out
