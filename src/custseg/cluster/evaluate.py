"""How good is a segmentation: quality metrics, and the curves that help choose settings.

Silhouette is quadratic in the number of customers, so every metric here runs on a
bounded random sample (``METRIC_SAMPLE`` rows) and says how many rows it used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from custseg.cluster.algorithms import get_algorithm
from custseg.cluster.labels import NOISE
from custseg.cluster.threads import fit_threads

METRIC_SAMPLE = 5_000


def sample_rows(n: int, limit: int, seed: int = 0) -> np.ndarray:
    """Sorted positions of a random sample of at most ``limit`` of ``n`` rows (all when
    ``n <= limit``); the same ``seed`` gives the same sample."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


@dataclass(frozen=True)
class QualityMetrics:
    """Silhouette (higher is better, −1…1), Davies–Bouldin (lower is better) and
    Calinski–Harabasz (higher is better) on the ``metric_rows`` non-noise customers of a
    sample, None when undefined (fewer than two segments); the number of segments and
    the share of customers left as noise."""

    silhouette: float | None
    davies_bouldin: float | None
    calinski_harabasz: float | None
    metric_rows: int
    n_segments: int
    noise_share: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityMetrics:
        return cls(**{f.name: data[f.name] for f in fields(cls)})


@fit_threads()
def quality_metrics(
    X: np.ndarray, labels: np.ndarray, *, sample: int = METRIC_SAMPLE, seed: int = 0
) -> QualityMetrics:
    """The :class:`QualityMetrics` of ``labels`` on a sample of ``X``."""
    # here, not at the top: reading a model's metrics must not load scikit-learn
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    labels = np.asarray(labels)
    rows = sample_rows(len(X), sample, seed)
    Xs, ls = X[rows], labels[rows]
    keep = ls != NOISE
    Xs, ls = Xs[keep], ls[keep]
    scores = (None, None, None)
    if 2 <= len(np.unique(ls)) < len(Xs):
        scores = (float(silhouette_score(Xs, ls)), float(davies_bouldin_score(Xs, ls)),
                  float(calinski_harabasz_score(Xs, ls)))
    return QualityMetrics(
        *scores,
        metric_rows=int(len(Xs)),
        n_segments=int(len(np.unique(labels[labels != NOISE]))),
        noise_share=float(np.mean(labels == NOISE)) if len(labels) else 0.0,
    )


@dataclass(frozen=True)
class KCurve:
    """Per number of segments: inertia (K-Means), BIC (mixture) and silhouette."""

    ks: tuple[int, ...]
    silhouette: tuple[float | None, ...]
    inertia: tuple[float | None, ...]
    bic: tuple[float | None, ...]
    rows: int


@fit_threads()
def k_curve(
    X: np.ndarray,
    algorithm: str,
    ks: Sequence[int] = tuple(range(2, 11)),
    *,
    params: dict[str, Any] | None = None,
    sample: int = 5_000,
    seed: int = 0,
    blocks: tuple[int, ...] = (),
) -> KCurve:
    """Fit ``algorithm`` for each k on a sample and record the curves used to choose k
    (a sample small enough for all the fits to take about one fit's time budget, for a
    slow algorithm such as K-Prototypes)."""
    from sklearn.metrics import silhouette_score

    from custseg.cluster.suggestions import _search_rows

    spec = get_algorithm(algorithm)
    if spec.k_param is None:
        raise ValueError(f"{algorithm} has no number-of-segments parameter")
    rows = sample_rows(len(X), sample, seed)
    Xs = X[rows]
    Xs = Xs[sample_rows(len(Xs), _search_rows(Xs, spec, spec.resolve(params), ks), seed)]
    sil, inertia, bic = [], [], []
    usable = [k for k in ks if 2 <= k < len(Xs)]
    for k in usable:
        model = spec.build_on(spec.resolve({**(params or {}), spec.k_param: k}), seed, blocks)
        labels = model.fit_predict(Xs)
        n_found = len(np.unique(labels))
        sil_rows = sample_rows(len(Xs), 3_000, seed)
        sil.append(
            float(silhouette_score(Xs[sil_rows], labels[sil_rows]))
            if 2 <= n_found < len(sil_rows) and len(np.unique(labels[sil_rows])) > 1
            else None
        )
        inertia.append(float(model.inertia_) if hasattr(model, "inertia_") else None)
        bic.append(float(model.bic(Xs)) if hasattr(model, "bic") else None)
    return KCurve(tuple(usable), tuple(sil), tuple(inertia), tuple(bic), int(len(Xs)))


@fit_threads()
def k_distance(
    X: np.ndarray, k: int, *, sample: int = 20_000, seed: int = 0
) -> np.ndarray:
    """Sorted distance of each (sampled) customer to its k-th nearest neighbour.

    The knee of this curve is the usual choice of DBSCAN's eps for min_samples = k.
    """
    from sklearn.neighbors import NearestNeighbors

    rows = sample_rows(len(X), sample, seed)
    Xs = X[rows]
    k = max(1, min(k, len(Xs) - 1))
    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(Xs).kneighbors(Xs)
    return np.sort(dist[:, k])
