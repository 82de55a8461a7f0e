"""Segmenter: any clusterer, plus one k-nearest-neighbour assigner for new customers.

Only some clustering algorithms can place a customer they were not fitted on (K-Means
can; DBSCAN and agglomerative clustering cannot). The Segmenter fits the chosen
clusterer, then trains a k-nearest-neighbour classifier on the clustering space and the
cluster labels, and *every* assignment goes through that classifier. This is assignment
to an existing segmentation, not a re-fit: a new customer joins the segment most of its
nearest known customers belong to.

- Confidence is the neighbours' vote share (1/3, 2/3 or 1 with 3 neighbours); a tie goes
  to the segment of the nearest neighbour.
- A customer is *atypical* when the distance to its nearest known customer is larger
  than that of ``atypical_quantile`` (99%) of the known customers to their own nearest
  neighbour: it is further from every known customer than almost any known customer is
  from the rest. It is still assigned, and flagged.
- Noise (label -1 from DBSCAN/HDBSCAN) is a label like any other: a customer whose
  neighbours are outliers is an outlier.

For large tables the clusterer sees at most a sample (``sample_size``; each algorithm has
a default cap, none for linear-cost ones), and the assigner's reference set is bounded
by ``reference_size``, stratified by segment, so that assignment speed does not fall as
the customer base grows.

Before the clusterer is built, the registry estimates the memory its fit will need
(:meth:`AlgorithmSpec.cost`) and the time it will take (:meth:`AlgorithmSpec.duration`).
Over :data:`FIT_MEMORY_BUDGET` or :data:`FIT_TIME_BUDGET`, a fit on the default sample is
made on fewer rows, with a warning; a fit on a sample the caller chose (or whose
parameters are the cause of its memory) is refused, naming the sample size or the
parameter value that fits. A degenerate but legal outcome (see :func:`degenerate_warnings`) warns.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted, validate_data

from custseg.cluster.algorithms import (
    FIT_MEMORY_BUDGET,
    AlgorithmSpec,
    FitCost,
    FitTime,
    check_fit_settings,
    get_algorithm,
    size_text,
    time_text,
)
from custseg.cluster.assigner import KNNAssigner
from custseg.cluster.assignment import (
    Assignment,
    AssignmentMemo,
    Fidelity,
    FittedSegmenter,
    map_ids,
)
from custseg.cluster.labels import MAX_MODEL_SEGMENTS, NOISE
from custseg.cluster.threads import fit_threads
from custseg.errors import NotEnoughDataError, ParameterError

#: Fewest rows the default sample is lowered to for memory; below it, the fit is refused.
AUTO_SAMPLE_FLOOR = 5_000

#: Degenerate outcomes worth a warning: one segment over 90% of the customers, more than
#: 20 segments, noise over 40%, a segment under 1% of the customers or under 5 of them.
DOMINANT_SHARE = 0.9
MAX_SEGMENTS = 20
NOISE_SHARE = 0.4
SMALL_SHARE, SMALL_COUNT = 0.01, 5


def degenerate_warnings(labels: np.ndarray, spec: AlgorithmSpec,
                        params: Mapping[str, Any] | None = None,
                        unmerged: np.ndarray | None = None) -> list[str]:
    """Warnings for a legal but degenerate segmentation, each with the setting to change:
    everyone noise, a single segment, one segment holding over 90% of the customers,
    more than 20 segments, segments under 1% of the customers or under 5 of them, noise
    over 40%.

    ``params`` (resolved) and ``unmerged`` (the labels before the algorithm's merge
    distance joined segments, :attr:`AlgorithmSpec.merge_param`) let the advice fit the
    cause: a merge distance that joined the segments into one holding nearly everyone is
    named as what to lower; a merge distance is never why everyone is noise (it only
    joins segments, and takes customers out of noise), and the advice says so."""
    labels = np.asarray(labels)
    n = len(labels)
    if n == 0:
        return []
    values, counts = np.unique(labels[labels != NOISE], return_counts=True)
    noise_share = float(np.mean(labels == NOISE))
    name = spec.label  # the registry's label (HDBSCAN), as every human text names it
    merge = _merge_distance(spec, params)
    if len(values) == 0:
        cause = f"; {merge} is not the cause: it only joins segments found" if merge else ""
        return [f"{name} put every customer in noise: no segment was found; "
                f"{spec.fix_for('noise')}{cause}."]
    coarse = _coarse_fix(spec, merge, len(values), unmerged)
    # "under 1% or under 5" is one limit on whole counts, the larger: tested and said as
    # one number, so that sizes of 5 never read as "fewer than 5".
    limit = max(math.ceil(SMALL_SHARE * n), SMALL_COUNT)
    small = np.sort(counts[counts < limit])
    small = small if n >= 2 * SMALL_COUNT else small[:0]
    dominant = len(values) > 1 and counts.max() > DOMINANT_SHARE * n
    noisy = noise_share > NOISE_SHARE
    crumbs = len(values) > MAX_SEGMENTS or bool(len(small) and not dominant)
    # much noise beside crumbs is one warning: "raise min_samples" for the crumbs beside
    # "lower min_samples" for the noise would pull one setting both ways
    fine = spec.fix_for("sparse" if noisy else "fine")
    noise = f"{name} left {noise_share:.0%} of customers as noise"
    out = []
    if len(values) == 1:
        out.append(f"{name} found a single segment; the customers do not separate with "
                   f"these settings: {coarse}.")
    elif dominant and len(small):
        # one giant and crumbs: more segments would be crumbs, fewer would not split the
        # giant, so neither "raise" nor "lower" the number of segments is the advice
        rest = len(values) - 1
        which = (f"the other {rest:,}" if len(small) == rest
                 else f"{len(small):,} of the other {rest:,}")
        holds = "holds" if len(small) == 1 else "hold"
        out.append(f"{name} put {counts.max() / n:.1%} of the customers in one segment, and "
                   f"{which} {holds} fewer than {limit:,} customers: the segments are uneven, "
                   f"whatever their number; {spec.fix_for('uneven')}.")
    elif dominant:
        out.append(f"{name} put {counts.max() / n:.1%} of the customers in one segment; the "
                   f"others barely separate: {coarse}.")
    if len(values) > MAX_SEGMENTS:
        also = f", and left {noise_share:.0%} of customers as noise" if noisy else ""
        out.append(f"{name} found {len(values):,} segments, more than {MAX_SEGMENTS} anyone "
                   f"can act on{also}: {fine}.")
    if len(small) and not dominant:
        why = "1% of the customers" if limit > SMALL_COUNT else "too few to act on"
        sizes = ", ".join(f"{c:,}" for c in small[:5]) + (" …" if len(small) > 5 else "")
        noun = "segment holds" if len(small) == 1 else "segments hold"
        smallest = "its size" if len(small) == 1 else "the smallest"
        lead = (f"{noise}, and {len(small):,} {noun}" if noisy and len(values) <= MAX_SEGMENTS
                else f"{name}: {len(small):,} {noun}")
        out.append(f"{lead} fewer than {limit:,} customers ({why}; "
                   f"{smallest}: {sizes}): {fine}.")
    if noisy and not crumbs:
        out.append(f"{noise}; {spec.fix_for('noise')}.")
    return out


#: scikit-learn's warnings in a fit, said in the analyst's words (None: not worth saying,
#: the degenerate warnings say what it means for the segments).
_LIBRARY_WARNINGS: tuple[tuple[re.Pattern, Callable[[re.Match, AlgorithmSpec], str | None]], ...] = (
    (re.compile(r"Number of distinct clusters \((\d+)\) found smaller than n_clusters "
                r"\((\d+)\)"),
     lambda m, spec: f"{spec.label} found only {_count(m[1], 'distinct group')} of "
     f"customers for the {m[2]} segments asked: many customers have the same values on "
     "these features; lower n_clusters, or add features that tell them apart"),
    (re.compile(r"Number of subclusters found \((\d+)\) by BIRCH is less than \((\d+)\)"),
     lambda m, spec: f"BIRCH found {_count(m[1], 'sub-cluster')}, fewer than the {m[2]} "
     "segments asked: lower threshold (the sub-cluster radius)"),
    # the assigner's classifier on a reference set with many small segments
    (re.compile(r"The number of unique classes is greater than 50% of the number of "
                r"samples"), lambda m, spec: None),
)


def _count(number: int | str, noun: str) -> str:
    """``3 segments``, ``1 segment``: a count (a regex group's text too) and its noun."""
    return f"{int(number):,} {noun}{'' if int(number) == 1 else 's'}"


def plain_warning(message: str, spec: AlgorithmSpec) -> str | None:
    """A warning raised during a fit, in custseg's words: scikit-learn's own are
    rephrased for an analyst (or dropped when another warning says what they mean);
    custseg's pass as they are."""
    for pattern, said in _LIBRARY_WARNINGS:
        found = pattern.search(message)
        if found:
            return said(found, spec)
    return message


def _merge_distance(spec: AlgorithmSpec, params: Mapping[str, Any] | None) -> str:
    """The merge distance in words ("the merge distance (cluster_selection_epsilon=1)")
    when the algorithm has one and it is above 0, else ""."""
    merge = spec.merge_param
    value = (params or {}).get(merge) if merge else None
    if value is None or not float(value) > 0:
        return ""
    return f"the merge distance ({merge}={float(value):g})"


def _is_coarse(labels: np.ndarray) -> bool:
    """One segment, or one holding over :data:`DOMINANT_SHARE` of the customers."""
    found = labels[labels != NOISE]
    counts = np.unique(found, return_counts=True)[1]
    return len(counts) == 1 or (len(counts) > 1 and counts.max() > DOMINANT_SHARE * len(labels))


def _coarse_fix(spec: AlgorithmSpec, merge: str, found: int,
                unmerged: np.ndarray | None) -> str:
    """What to change when one segment holds nearly everyone: the merge distance when it
    made it so (before the merge the customers separated), else the registry's fix."""
    fix = spec.fix_for("coarse")
    if not merge:
        return fix
    if unmerged is None:  # the cause is not known: both may help
        return f"{fix}, or lower {merge}"
    unmerged = np.asarray(unmerged)
    if _is_coarse(unmerged) or not np.any(unmerged != NOISE):
        return f"{fix}; {merge} is not the cause: without it they separate no better"
    before = len(np.unique(unmerged[unmerged != NOISE]))
    return f"lower {merge}: it joined {before:,} segments into {found:,}"


class Segmenter(ClusterMixin, BaseEstimator):
    """Cluster customers and assign new ones through a k-nearest-neighbour vote.

    Parameters
    ----------
    algorithm : str
        A name from :data:`custseg.cluster.algorithms.ALGORITHMS`.
    params : dict or None
        Hyperparameters for the algorithm (scikit-learn names); defaults fill the rest.
    n_neighbors : int
        Neighbours in the assigner's vote.
    sample_size : int, "all" or None
        Rows the clusterer itself is fitted on. None uses the algorithm's default cap
        (none for K-Means and BIRCH); "all" fits every row.
    reference_size : int
        Largest reference set the assigner keeps, sampled per segment.
    atypical_quantile : float
        Quantile of the known customers' nearest-neighbour distances beyond which a new
        customer is flagged atypical.
    random_state : int
        Seed for the clusterer and the samples: the same seed gives the same segments.
    categorical_blocks : tuple of int
        Widths of the one-hot blocks (gender, categorical features) that end ``X``, for
        an algorithm that reads them as categories (K-Prototypes); others ignore them.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Segment of every fitted row, ids 0, 1, … by decreasing size; -1 is noise.
    classes_ : ndarray
        The labels, sorted (-1 first when present).
    assigner_ : KNNAssigner
        The k-nearest-neighbour classifier, fitted on ``reference_X_`` and
        ``reference_labels_``.
    atypical_threshold_ : float
    vote_ : NeighbourVote
        The assigner's vote with the atypical threshold: every assignment goes through it.
    sample_indices_, reference_indices_ : ndarray
        Rows the clusterer saw, and rows kept as the assigner's reference.
    centroids_ : ndarray of shape (n_segments, n_features)
        Mean of each non-noise segment in the clustering space.
    fidelity_ : Fidelity
        ``cv_agreement``: cross-validated agreement of the assigner with the clusterer's
        labels; ``native_agreement``: agreement with the clusterer's own ``predict``
        on the same held-out customers, for algorithms that have one.
    """

    def __init__(
        self,
        *,
        algorithm: str = "kmeans",
        params: dict[str, Any] | None = None,
        n_neighbors: int = 3,
        sample_size: int | str | None = None,
        reference_size: int = 50_000,
        atypical_quantile: float = 0.99,
        random_state: int = 0,
        categorical_blocks: tuple[int, ...] = (),
    ) -> None:
        self.algorithm = algorithm
        self.params = params
        self.n_neighbors = n_neighbors
        self.sample_size = sample_size
        self.reference_size = reference_size
        self.atypical_quantile = atypical_quantile
        self.random_state = random_state
        self.categorical_blocks = categorical_blocks

    # ------------------------------------------------------------------ fitting

    def _check_settings(self) -> None:
        check_fit_settings(n_neighbors=self.n_neighbors, sample_size=self.sample_size,
                           random_state=self.random_state, reference_size=self.reference_size,
                           atypical_quantile=self.atypical_quantile)

    def fit(self, X: Any, y: Any = None) -> Segmenter:
        """Fit the clusterer (on a sample when large), then the assigner."""
        self._check_settings()
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        spec = get_algorithm(self.algorithm)
        params = spec.resolve(self.params)
        rng = np.random.default_rng(self.random_state)
        n = X.shape[0]
        self.lowered_: dict[str, Any] = {}  # the settings lowered to the rows fitted

        cap = {None: spec.fit_sample, "all": None}.get(self.sample_size, self.sample_size)
        sample = _sample(n, cap, rng)
        X_fit = X[sample]
        if spec.k_param and params[spec.k_param] > len(X_fit):
            raise NotEnoughDataError(
                f"{spec.k_param}={params[spec.k_param]} asks for more segments than there "
                f"are customers to fit ({len(X_fit)}); lower it or add data."
            )
        self._bound_sizes(spec, params, len(X_fit))
        cost, timing = spec.cost(X_fit, params), spec.duration(X_fit, params)
        too_big = cost is not None and not cost.fits
        too_slow = timing is not None and not timing.quick
        if too_big or too_slow:
            limits = ([int(0.9 * cost.max_rows)] if too_big else []) + (  # a margin for memory
                [timing.max_rows] if too_slow else [])
            if self.sample_size is not None or (too_big and cost.fix) \
                    or min(limits) < AUTO_SAMPLE_FLOOR:
                raise _refusal(spec, len(X_fit), cost if too_big else None,
                               timing if too_slow else None)
            # the default sample is the registry's own choice: lower it to what fits
            wanted = len(X_fit)
            sample = _sample(n, min(limits), rng)
            X_fit = X[sample]
            self._bound_sizes(spec, params, len(X_fit))
            again, again_time = spec.cost(X_fit, params), spec.duration(X_fit, params)
            if (again is not None and not again.fits) or \
                    (again_time is not None and not again_time.quick):
                raise _refusal(spec, wanted, cost if too_big else None,
                               timing if too_slow else None)
            warnings.warn(
                f"{spec.name} was fitted on a sample of {len(X_fit):,} of the {n:,} "
                f"customers: on {wanted:,}, "
                f"{_needs(cost if too_big else None, timing if too_slow else None)}; the "
                "assigner places the others.",
                UserWarning,
                stacklevel=2,
            )
        clusterer = spec.build_on(params, self.random_state, tuple(self.categorical_blocks))
        with warnings.catch_warnings(), fit_threads():
            warnings.filterwarnings("ignore", message=".*copy.*", category=FutureWarning)
            raw = np.asarray(clusterer.fit_predict(X_fit))
        found = len(np.unique(raw[raw != NOISE]))
        if found > MAX_MODEL_SEGMENTS:  # describing thousands of segments takes minutes
            raise ParameterError(
                f"{spec.label} found {found:,} segments in {len(X_fit):,} customers, more "
                f"than the {MAX_MODEL_SEGMENTS:,} a model holds: {spec.fix_for('fine')}"
            )
        relabel = _size_order(raw)
        fit_labels = relabel(raw)

        ref_local = _stratified(fit_labels, int(self.reference_size), rng)
        self.sample_indices_ = sample
        self.reference_indices_ = sample[ref_local]
        self.reference_X_ = np.ascontiguousarray(X_fit[ref_local])
        self.reference_labels_ = fit_labels[ref_local]
        self.classes_ = np.unique(fit_labels)
        self._fit_assigner()

        labels = np.empty(n, dtype=np.int64)
        labels[sample] = fit_labels
        rest = np.setdiff1d(np.arange(n), sample, assume_unique=True)
        if len(rest):
            labels[rest] = self.vote_.assign(X[rest]).labels
        self._warn_outvoted(sampled=bool(len(rest)))
        self.labels_ = labels
        self.n_fit_rows_ = len(sample)
        with fit_threads():
            self.fidelity_ = self._fidelity(clusterer, relabel, rng)
        self._warn_degenerate(spec, params, getattr(clusterer, "unmerged_labels_", None))
        return self

    def fit_given(self, X: Any, labels: Any) -> Segmenter:
        """Fit the assigner alone, on the segment of every row given (an algorithm whose
        segments are scores and a map: RFM). The ids are kept as given; no clusterer
        runs, and the assigner only ever adds confidence and the atypical flag to them."""
        self._check_settings()
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        labels = np.asarray(labels)
        if labels.shape != (len(X),) or labels.dtype.kind not in "iu":
            raise ValueError("fit_given needs one whole-number segment id per row")
        labels = labels.astype(np.int64)
        rng = np.random.default_rng(self.random_state)
        n = len(X)
        ref_local = _stratified(labels, int(self.reference_size), rng)
        self.sample_indices_ = np.arange(n)
        self.reference_indices_ = ref_local
        self.reference_X_ = np.ascontiguousarray(X[ref_local])
        self.reference_labels_ = labels[ref_local]
        self.classes_ = np.unique(labels)
        self._fit_assigner()
        self.labels_ = labels
        self.n_fit_rows_ = n
        with fit_threads():
            self.fidelity_ = self._fidelity(None, None, rng)
        self._warn_degenerate(get_algorithm(self.algorithm))
        return self

    def _bound_sizes(self, spec: AlgorithmSpec, params: dict[str, Any], rows: int) -> None:
        """Lower the parameters that cannot exceed the rows fitted (with a warning), and
        record them in :attr:`lowered_`, so that the model says the settings it used."""
        for name in spec.size_bounded:
            if params[name] is not None and params[name] > rows:
                warnings.warn(
                    f"The setting {name}={params[name]} is more than the {rows} customers "
                    f"fitted; lowered to {rows}.",
                    UserWarning,
                    stacklevel=3,
                )
                params[name] = rows
                self.lowered_[name] = rows

    def _fit_assigner(self, atypical_threshold: float | None = None) -> None:
        """Fit the assigner on the reference set; measure the atypical threshold unless
        it is given (a model read back keeps the one it was saved with)."""
        k = min(int(self.n_neighbors), len(self.reference_X_))
        self.assigner_ = KNNAssigner(n_neighbors=k).fit(self.reference_X_, self.reference_labels_)
        if atypical_threshold is None:
            atypical_threshold = 0.0
            if len(self.reference_X_) > 1:
                nearest, _ = self.assigner_.kneighbors(n_neighbors=1)
                atypical_threshold = float(np.quantile(nearest[:, 0], self.atypical_quantile))
        self.atypical_threshold_ = atypical_threshold
        self.vote_ = replace(self.assigner_.vote_, atypical_threshold=atypical_threshold)
        segments = self.classes_[self.classes_ != NOISE]
        dim = self.reference_X_.shape[1]
        self.centroids_ = np.array(
            [self.reference_X_[self.reference_labels_ == c].mean(axis=0) for c in segments]
        ).reshape(len(segments), dim)

    def _fidelity(self, clusterer: Any, relabel: Any, rng: np.random.Generator) -> Fidelity:
        X, y = self.reference_X_, self.reference_labels_
        n = len(X)
        folds = min(5, n // 2)
        if folds < 2 or len(self.classes_) < 2:
            return Fidelity(None, None, 0)
        limit = min(n, 20_000)
        rows = np.sort(rng.choice(n, size=limit, replace=False)) if n > limit else np.arange(n)
        held_out = np.empty(len(rows), dtype=np.int64)
        splitter = KFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        for train, test in splitter.split(rows):
            k = min(int(self.n_neighbors), len(train))
            knn = KNNAssigner(n_neighbors=k).fit(X[rows[train]], y[rows[train]])
            held_out[test] = knn.predict(X[rows[test]])
        native_agreement = None
        if get_algorithm(self.algorithm).predicts_natively and hasattr(clusterer, "predict"):
            native = relabel(np.asarray(clusterer.predict(X[rows])))
            native_agreement = float(np.mean(held_out == native))
        return Fidelity(float(np.mean(held_out == y[rows])), native_agreement, int(len(rows)))

    def _warn_outvoted(self, sampled: bool) -> None:
        """Say when the vote that places customers (the ones scored, and the ones the
        clusterer did not see) has more neighbours than twice a segment's fitted
        customers: such a segment can win few votes, and the others take its customers
        (25 neighbours over a sample of 30: 99% in one segment, which no number of
        segments mends; a segment of one customer at 1e308, scored into another)."""
        k = min(int(self.n_neighbors), len(self.reference_labels_))
        _, counts = np.unique(self.reference_labels_, return_counts=True)
        outvoted = counts[2 * counts < k]
        if len(outvoted):
            unseen = "the customers the clusterer did not see, and " if sampled else ""
            warnings.warn(
                f"The assigner's vote of {k} neighbours outweighs "
                f"{_count(len(outvoted), 'segment')} of "
                f"{_count(outvoted.max(), 'fitted customer')} or fewer: such a "
                f"segment holds at most that many of the {k} votes, so {unseen}customers "
                "scored, even its own, seldom go to it; lower the neighbours in the vote"
                + (", or fit the clusterer on more rows." if sampled else "."),
                UserWarning, stacklevel=3)

    def _warn_degenerate(self, spec: AlgorithmSpec, params: Mapping[str, Any] | None = None,
                         unmerged: np.ndarray | None = None) -> None:
        for message in degenerate_warnings(self.labels_, spec, params, unmerged):
            warnings.warn(message, UserWarning, stacklevel=3)

    # --------------------------------------------------------------- assigning

    def predict(self, X: Any) -> np.ndarray:
        """Segment of each row, by the assigner's vote (never the clusterer's)."""
        return self.assign(X).labels

    def predict_proba(self, X: Any) -> np.ndarray:
        """Neighbour vote shares per class of :attr:`classes_`."""
        check_is_fitted(self, "assigner_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        proba = self.assigner_.predict_proba(X)
        # the assigner knows the classes of its reference set; report every class
        out = np.zeros((len(X), len(self.classes_)))
        out[:, np.searchsorted(self.classes_, self.assigner_.classes_)] = proba
        return out

    def assign(self, X: Any, memo: AssignmentMemo | None = None) -> Assignment:
        """Labels, confidence, atypical flags and nearest distances in one query.

        A ``memo`` carries the distinct rows already placed across calls (the batches
        of one file), so that each is looked up once.
        """
        check_is_fitted(self, "assigner_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.vote_.assign(X, memo)

    def relabel(self, mapping: dict[int, int]) -> Segmenter:
        """A copy whose segment ids are renamed by ``mapping`` (old id -> new id; ids not
        in it, and noise, keep theirs). The assigner is rebuilt on the same reference set,
        so every customer lands exactly where it did, under its new id."""
        out = Segmenter.from_fitted(self.to_fitted().relabel(mapping))
        if hasattr(self, "labels_"):
            out.labels_ = map_ids(self.labels_, mapping)
        return out

    # ------------------------------------------------------------ persistence

    def to_fitted(self) -> FittedSegmenter:
        """Everything needed to assign again, as plain data (no estimator objects)."""
        check_is_fitted(self, "assigner_")
        params = self.get_params()
        if getattr(self, "lowered_", None):  # the settings used (see _bound_sizes)
            params["params"] = {**params["params"], **self.lowered_}
        return FittedSegmenter(
            params=params,
            reference_X=self.reference_X_,
            reference_labels=self.reference_labels_,
            classes=self.classes_,
            atypical_threshold=self.atypical_threshold_,
            n_features_in=int(self.n_features_in_),
            n_fit_rows=int(self.n_fit_rows_),
            fidelity=self.fidelity_,
            vote=self.vote_,
        )

    @classmethod
    def from_fitted(cls, fitted: FittedSegmenter) -> Segmenter:
        """Rebuild a fitted Segmenter from :meth:`to_fitted` (the assigner is refitted,
        deterministically, on the same reference set)."""
        self = cls(**fitted.params)
        self.reference_X_ = fitted.reference_X
        self.reference_labels_ = fitted.reference_labels
        self.classes_ = fitted.classes
        self.n_features_in_ = fitted.n_features_in
        self.n_fit_rows_ = fitted.n_fit_rows
        self.fidelity_ = fitted.fidelity
        self._fit_assigner(fitted.atypical_threshold)
        return self

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Everything needed to assign again: plain values and arrays (no objects)."""
        return self.to_fitted().state()

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Segmenter:
        """Rebuild a fitted Segmenter from :meth:`state`."""
        return cls.from_fitted(FittedSegmenter.from_state(meta, arrays))


def _sample(n: int, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of a random sample of ``cap`` of ``n`` rows (all when fewer)."""
    if cap is not None and n > cap:
        return np.sort(rng.choice(n, size=int(cap), replace=False))
    return np.arange(n)


def _needs(cost: FitCost | None, timing: FitTime | None, *, refusing: bool = False) -> str:
    """What a fit would need beyond its budgets (memory, time or both), as the clause
    after "on N customers" of a refusal, or after "on N," in a warning."""
    parts = []
    if cost is not None:
        memory = (f"would need about {size_text(cost.memory)} for {cost.what}" if refusing
                  else f"{cost.what} would need about {size_text(cost.memory)}")
        parts.append(f"{memory}, more than the {size_text(FIT_MEMORY_BUDGET)} a fit may use")
    if timing is not None:
        parts.append(f"{'would' if refusing else 'the fit would'} take about "
                     f"{time_text(timing.seconds)} (estimated), more than the "
                     f"{time_text(timing.budget)} a fit may take")
    return ", and ".join(parts)


def _refusal(spec: AlgorithmSpec, rows: int, cost: FitCost | None,
             timing: FitTime | None) -> ParameterError:
    """The refusal of a fit over its memory budget (``cost``), its time budget
    (``timing``) or both: what it would need, and the parameter value or the sample size
    that brings it within both."""
    need = f"{spec.name} on {rows:,} customers {_needs(cost, timing, refusing=True)}"
    fix = cost.fix if cost is not None else (timing.fix if timing is not None else "")
    if cost is not None and timing is not None and timing.fix:
        fix = ""  # a memory fix alone would still leave the fit too slow
    most = min(x.max_rows for x in (cost, timing) if x is not None)
    if fix:
        sample = f", or fit on a sample of at most {most:,} customers" if most >= 2 else ""
        return ParameterError(f"{need}; use {fix}{sample}", parameter="params", key=fix)
    if most < 2:
        return ParameterError(f"{need}; no sample is small enough with these settings: choose lighter ones",
                              parameter="params")
    return ParameterError(f"{need}; fit on a sample of at most {most:,} customers",
                          parameter="sample_size", key=str(most))


def _size_order(raw: np.ndarray):
    """A function renumbering labels 0, 1, … by decreasing size (ties: first seen).

    Noise stays -1; a label the clusterer never gave during fit maps to -2.
    """
    values, first, counts = np.unique(raw, return_index=True, return_counts=True)
    lut = np.full(len(values), NOISE, dtype=np.int64)
    keep = np.flatnonzero(values != NOISE)
    order = keep[np.lexsort((first[keep], -counts[keep]))]
    lut[order] = np.arange(len(order))

    def relabel(labels: np.ndarray) -> np.ndarray:
        labels = np.asarray(labels)
        pos = np.clip(np.searchsorted(values, labels), 0, max(len(values) - 1, 0))
        known = values[pos] == labels if len(values) else np.zeros(len(labels), bool)
        return np.where(known, lut[pos], -2).astype(np.int64)

    return relabel


def _stratified(labels: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``limit`` row positions, each label keeping its share (and at least a few)."""
    n = len(labels)
    if n <= limit:
        return np.arange(n)
    picked = []
    values, counts = np.unique(labels, return_counts=True)
    floor = max(1, min(50, limit // (4 * len(values))))
    for value, count in zip(values, counts, strict=True):
        quota = min(count, max(floor, int(round(limit * count / n))))
        members = np.flatnonzero(labels == value)
        picked.append(rng.choice(members, size=quota, replace=False))
    return np.sort(np.concatenate(picked))
