"""The clustering algorithms custseg offers, their tunable parameters and their traits.

This registry is the single source for the command line's ``--param NAME=VALUE`` and
the dashboard's controls: each parameter carries its type, range, default and a
one-line help. Parameter names are scikit-learn's. It is also the only place that knows
algorithms by name: suggestions, stability, warnings and the dashboard's diagnostics
read an entry's traits (how to suggest settings, which parameters count customers, what
to change when too many customers are noise, which charts apply), so that adding an
algorithm means adding one entry. scikit-learn itself is imported only when an estimator
is built: reading the registry (the command line's choices and help, say) does not load it.

Each entry also says what a fit will cost (``fit_memory``): the memory of the clusterer's
largest structures for the rows and settings at hand, estimated before anything is
allocated, so that a fit that cannot fit in :data:`FIT_MEMORY_BUDGET` is refused (or, on
the default sample, fitted on fewer rows) with the setting that lowers it, instead of
running out of memory. It also says how long a fit will take (``fit_time``, see
:class:`FitTime`): seconds on one core, calibrated coarsely on the machine custseg is
developed on, so that a fit estimated over :data:`FIT_TIME_BUDGET` is refused (or, on the
default sample, fitted on fewer rows) with the setting that shortens it, instead of
running for minutes.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from custseg.errors import ParameterError, shown

if TYPE_CHECKING:
    import numpy as np
    from sklearn.base import BaseEstimator

Kind = Literal["int", "float", "choice"]
#: How settings are suggested: a search over the number of segments, eps at the knee of
#: the k-distance curve, a search over the smallest segment as a share of customers, or
#: nothing to search (RFM scoring: no settings).
SuggestBy = Literal["n_segments", "eps", "min_cluster_size", "none"]
#: Charts that help choose settings: silhouette/inertia/BIC over the number of segments,
#: the sorted k-th-neighbour distances, and the merge tree.
Diagnostic = Literal["k_curve", "k_distance", "dendrogram"]

#: Most neighbours in the assigner's vote: each scored row holds this many distances and
#: indices, so a batch of 250,000 rows stays within a few hundred MB.
MAX_NEIGHBORS = 50
#: Seeds scikit-learn accepts (0 to 2**32 - 1), with room for the seeds derived from one
#: (seed + 1 + refit number in the stability refits and suggestions).
MAX_SEED = 2**31 - 1
#: Largest reference set the assigner keeps (rows sampled per segment; the default). A
#: model file holds at most twice as many rows, room for each segment's floor of rows.
MAX_REFERENCE_SIZE = 50_000
#: Memory the clusterer's own largest structures may take. The rest of a fit (the table,
#: the assigner, the metrics) and the interpreter stay within the rest of custseg's 1 GB.
FIT_MEMORY_BUDGET = 512 * 2**20
#: Seconds the clusterer's own fit may take, as estimated by the registry (one core, see
#: :class:`FitTime`). With the rest of a fit (the metrics, the stability refits, the
#: assigner) and the start of the process, a command stays well under 30 seconds.
FIT_TIME_BUDGET = 10.0


def _whole(value: Any) -> bool:
    """A whole number (Python's or numpy's), never a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_fit_settings(
    *, n_neighbors: Any = 3, sample_size: Any = None, random_state: Any = 0,
    reference_size: Any = 50_000, atypical_quantile: Any = 0.99,
) -> None:
    """Refuse a fit setting outside its declared bounds, before any data is touched (every
    face calls it through ``ModelConfig.resolved``; the Segmenter again when it fits).

    Raises :class:`ParameterError` naming the setting (``parameter``).
    """
    if not _whole(n_neighbors) or not 1 <= n_neighbors <= MAX_NEIGHBORS:
        raise ParameterError(
            f"n_neighbors must be a whole number from 1 to {MAX_NEIGHBORS}, got "
            f"{shown(n_neighbors)}", parameter="n_neighbors", key="3",
        )
    if not _whole(random_state) or not 0 <= random_state <= MAX_SEED:
        raise ParameterError(
            f"random_state (the seed) must be a whole number from 0 to {MAX_SEED:,}, got "
            f"{shown(random_state)}", parameter="random_state", key="0",
        )
    if sample_size not in (None, "all") and (not _whole(sample_size) or sample_size < 2):
        raise ParameterError(
            f"sample_size must be a whole number ≥ 2, 'all' or None, got {shown(sample_size)}",
            parameter="sample_size",
        )
    if not _whole(reference_size) or not 2 <= reference_size <= MAX_REFERENCE_SIZE:
        raise ParameterError(
            f"reference_size must be a whole number from 2 to {MAX_REFERENCE_SIZE:,}, got "
            f"{shown(reference_size)}",
            parameter="reference_size",
        )
    if isinstance(atypical_quantile, bool) or not isinstance(atypical_quantile, numbers.Real) \
            or not 0 < atypical_quantile <= 1:
        raise ParameterError(
            f"atypical_quantile must be in (0, 1], got {shown(atypical_quantile)}",
            parameter="atypical_quantile",
        )


@dataclass(frozen=True)
class FitCost:
    """What fitting a clusterer on some rows will need.

    ``memory`` (bytes) goes to ``what``; ``max_rows`` is the most rows these settings fit
    within :data:`FIT_MEMORY_BUDGET`; ``fix``, when a parameter rather than the number of
    rows is the cause, is the value that brings these rows within it (``"eps=0.42"``).
    """

    memory: float
    what: str
    max_rows: int
    fix: str = ""

    @property
    def fits(self) -> bool:
        return self.memory <= FIT_MEMORY_BUDGET


@dataclass(frozen=True)
class FitTime:
    """How long fitting a clusterer on some rows will take, estimated before it starts.

    ``seconds`` is approximate: the registry's formulas (rows × parameters, see each
    ``_*_time``) were calibrated coarsely on a two-core machine with scikit-learn 1.9 and
    one thread per fit (:mod:`custseg.cluster.threads`); expect a factor of two either way,
    and longer on a busy machine. ``max_rows`` is the most rows these settings fit within
    ``budget``; ``fix``, for an algorithm with restarts, the most restarts that bring
    these rows within it (``"n_init=3"``).
    """

    seconds: float
    rows: int
    max_rows: int
    budget: float
    fix: str = ""

    @property
    def quick(self) -> bool:
        return self.seconds <= self.budget


def time_text(seconds: float) -> str:
    """Seconds as people say them: 40 s, 3 min, 2.5 h."""
    if seconds >= 5_400:
        return f"{seconds / 3_600:,.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:,.0f} min"
    return f"{max(1, round(seconds)):,} s"


def size_text(n_bytes: float) -> str:
    """Bytes as people say them: 3.4 GB, 512 MB."""
    if n_bytes >= 2**30:
        return f"{n_bytes / 2**30:,.1f} GB"
    return f"{max(1, round(n_bytes / 2**20)):,} MB"


@dataclass(frozen=True)
class ParamSpec:
    """One hyperparameter: what it is, what it may be, and what it starts at."""

    name: str
    kind: Kind
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False  # None ("auto") is allowed
    step: float | None = None
    title: str = ""  # short label for the dashboard; the name when empty

    @property
    def label(self) -> str:
        return f"{self.title} ({self.name})" if self.title else self.name

    def coerce(self, value: Any) -> Any:
        """Turn a CLI string or a Python value into a checked parameter value."""
        if self.optional and (value is None or str(value).strip().lower() in {"none", "auto"}):
            return None
        if self.kind == "choice":
            text = str(value).strip()
            if text not in self.choices:
                raise ParameterError(
                    f"{self.name}={shown(value)} is not allowed; choose one of "
                    f"{', '.join(self.choices)}",
                    parameter="params",
                )
            return text
        if isinstance(value, bool):  # True is 1 to Python, never a count or a radius
            raise ParameterError(f"{self.name}={shown(value)} is not a number; "
                                 f"{self.describe_range()}", parameter="params")
        try:
            number = float(str(value).strip()) if isinstance(value, str) else float(value)
        except (TypeError, ValueError, OverflowError):
            raise ParameterError(
                f"{self.name}={shown(value)} is not a number; {self.describe_range()}",
                parameter="params",
            ) from None
        if math.isnan(number):  # "nan" parses as a float, but is no number of any range
            raise ParameterError(
                f"{self.name}={shown(value)} is not a number; {self.describe_range()}",
                parameter="params",
            )
        if math.isinf(number) and not (isinstance(value, str) and re.search(r"\d", value)):
            # "inf", "-Infinity" or a float infinity; written digits that overflow
            # (1e999) are a number beyond the range
            raise ParameterError(
                f"{self.name}={shown(value)} is not finite; {self.describe_range()}",
                parameter="params",
            )
        if not math.isfinite(number) or not (self.low <= number <= self.high):
            raise ParameterError(
                f"{self.name}={shown(value)} is out of range; {self.describe_range()}",
                parameter="params",
            )
        if self.kind == "int":
            if not number.is_integer():
                raise ParameterError(
                    f"{self.name}={shown(value)} must be a whole number; {self.describe_range()}",
                    parameter="params",
                )
            number = int(number)
        return number

    def describe_range(self) -> str:
        if self.kind == "choice":
            return f"one of {', '.join(self.choices)}"
        extra = " or 'auto'" if self.optional else ""
        return f"{self.name} takes {self.low:g} to {self.high:g}{extra}"


#: The advice for one segment holding nearly everyone beside small ones, by default.
UNEVEN_FIX = ("a few customers far from the rest make segments of their own: log-transform "
              "skewed features (auto does it above a skew of 1), or choose HDBSCAN or "
              "DBSCAN, which set such customers apart as outliers")


@dataclass(frozen=True)
class AlgorithmSpec:
    """A clustering algorithm: how to build it, what can be tuned, and how it behaves."""

    name: str
    label: str
    summary: str
    params: tuple[ParamSpec, ...]
    build: Callable[[Mapping[str, Any], int], BaseEstimator]
    predicts_natively: bool
    suggest_by: SuggestBy
    has_noise: bool = False
    #: What to change when most customers end up as noise (algorithms with noise only).
    noise_fix: str = ""
    #: Default cap on the rows the clusterer itself sees; the KNN assigner extends its
    #: labels to every other customer. None: fits all rows (cost grows linearly).
    fit_sample: int | None = None
    #: Name of the parameter that sets the number of segments, when there is one.
    k_param: str | None = None
    #: Parameters that count customers (neighbours, smallest segment): scaled to the
    #: subsample when refitting on one. The first one set is the neighbour count of the
    #: k-distance curve.
    count_params: tuple[str, ...] = ()
    #: Parameters that cannot exceed the number of rows fitted; lowered, with a warning.
    size_bounded: tuple[str, ...] = field(default=())
    #: The charts that help choose this algorithm's settings.
    diagnostics: tuple[Diagnostic, ...] = ()
    #: The memory a fit on rows ``X`` with resolved parameters will need (see
    #: :class:`FitCost`); None when it grows no faster than the table itself.
    fit_memory: Callable[[np.ndarray, Mapping[str, Any]], FitCost] | None = None
    #: How long a fit on rows drawn like ``X`` with resolved parameters takes, as a
    #: function of the number of rows (see :class:`FitTime`); None: no estimate.
    fit_time: Callable[[np.ndarray, Mapping[str, Any]], Callable[[int], float]] | None = None
    #: The restarts parameter, whose lowering shortens a fit in proportion.
    restarts: str | None = None
    #: What to change when one segment holds nearly every customer, and when the
    #: customers break into too many or too small segments. Empty: raise (lower) the
    #: number of segments when there is one.
    coarse_fix: str = ""
    fine_fix: str = ""
    #: What to change when one segment holds nearly everyone and the others are small;
    #: empty: :data:`UNEVEN_FIX`.
    uneven_fix: str = ""
    #: What to change when many customers are noise and the rest break into too many or
    #: too small segments (the fixes for each alone may pull one setting both ways);
    #: empty: the noise fix.
    sparse_fix: str = ""
    #: The parameter that joins segments closer than it after they are found (HDBSCAN's
    #: merge distance): a degenerate outcome's advice names it when it caused one segment
    #: to hold nearly everyone, and says it is not the cause of everyone in noise (a
    #: merge only joins segments; see :func:`custseg.cluster.segmenter.degenerate_warnings`).
    merge_param: str | None = None
    #: Whether the clusterer reads the one-hot blocks that end the clustering space as
    #: categories (``blocks``, their widths, set by :meth:`build_on`): K-Prototypes.
    mixed: bool = False
    #: The roles whose scores make the segments, when the segments are the rulebook's
    #: score map applied to them rather than a clustering (RFM: recency, frequency,
    #: monetary). The Segmenter then fits only the assigner, on those segments.
    scores_roles: tuple[str, ...] = ()

    @property
    def scored(self) -> bool:
        """Whether segments come from scores and the rulebook's map (see scores_roles)."""
        return bool(self.scores_roles)

    def build_on(self, params: Mapping[str, Any], seed: int,
                 blocks: tuple[int, ...] = ()) -> BaseEstimator:
        """:attr:`build`, told the widths of the one-hot blocks when it reads them."""
        estimator = self.build(params, seed)
        if self.mixed:
            estimator.set_params(blocks=tuple(int(b) for b in blocks))
        return estimator

    def param(self, name: str) -> ParamSpec:
        for spec in self.params:
            if spec.name == name:
                return spec
        names = ", ".join(p.name for p in self.params)
        raise ParameterError(
            f"{self.name} has no parameter {shown(name)}; its parameters are {names}",
            parameter="params",
        )

    def resolve(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overlaid with ``given`` values, each checked against its spec."""
        values = {p.name: p.default for p in self.params}
        for name, value in (given or {}).items():
            values[name] = self.param(name).coerce(value)
        return values

    def make(self, params: Mapping[str, Any], random_state: int) -> BaseEstimator:
        return self.build(self.resolve(params), random_state)

    def fix_for(self, outcome: Literal["noise", "coarse", "fine", "uneven", "sparse"]) -> str:
        """What to change for a degenerate outcome: most customers noise, one segment
        holding nearly everyone (coarse), too many or too small segments (fine), one
        holding nearly everyone beside small ones (uneven), or much noise beside too
        many or too small segments (sparse)."""
        if outcome == "sparse" and self.sparse_fix:
            return self.sparse_fix
        if outcome in ("noise", "sparse"):
            return self.noise_fix or "try other settings"
        if outcome == "uneven":
            return self.uneven_fix or UNEVEN_FIX
        given = self.coarse_fix if outcome == "coarse" else self.fine_fix
        if given:
            return given
        if self.k_param:
            return f"{'raise' if outcome == 'coarse' else 'lower'} {self.k_param}"
        return "try other settings"

    def cost(self, X: np.ndarray, params: Mapping[str, Any]) -> FitCost | None:
        """The :class:`FitCost` of fitting on ``X`` with resolved ``params``, or None
        when the registry declares none (cost linear in the table)."""
        return None if self.fit_memory is None else self.fit_memory(X, params)

    def duration(
        self, X: np.ndarray, params: Mapping[str, Any], budget: float | None = None,
        rows: int | None = None,
    ) -> FitTime | None:
        """The :class:`FitTime` of fitting on ``rows`` rows drawn like ``X`` (all of
        ``X`` by default) with resolved ``params``, against ``budget`` seconds
        (:data:`FIT_TIME_BUDGET` by default); None when the registry has no estimate."""
        if self.fit_time is None:
            return None
        budget = FIT_TIME_BUDGET if budget is None else float(budget)
        n = len(X) if rows is None else int(rows)
        seconds_for = self.fit_time(X, params)
        seconds = float(seconds_for(n))
        fix = ""
        if seconds > budget and self.restarts and params.get(self.restarts):
            for value in range(int(params[self.restarts]) - 1, 0, -1):
                if self.fit_time(X, {**params, self.restarts: value})(n) <= budget:
                    fix = f"{self.restarts}={value}"
                    break
        return FitTime(seconds, n, _most_rows(seconds_for, budget), budget, fix)

    def neighbours(self, params: Mapping[str, Any]) -> int | None:
        """The neighbour count of the k-distance curve for ``params`` (resolved values):
        the first of :attr:`count_params` that is set; None when none is."""
        return next((int(params[n]) for n in self.count_params if params.get(n) is not None),
                    None)


_K = dict(kind="int", low=2, high=30, step=1)


def _kmeans(p: Mapping[str, Any], seed: int) -> BaseEstimator:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=p["n_clusters"], n_init=p["n_init"], random_state=seed)


def _dbscan(p: Mapping[str, Any], seed: int) -> BaseEstimator:
    from sklearn.cluster import DBSCAN

    return DBSCAN(eps=p["eps"], min_samples=p["min_samples"])


def _agglomerative(p: Mapping[str, Any], seed: int) -> BaseEstimator:
    from sklearn.cluster import AgglomerativeClustering

    return AgglomerativeClustering(n_clusters=p["n_clusters"], linkage=p["linkage"])


def _gmm(p: Mapping[str, Any], seed: int) -> BaseEstimator:
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(
        n_components=p["n_components"],
        covariance_type=p["covariance_type"],
        n_init=p["n_init"],
        random_state=seed,
    )


def _hdbscan(p: Mapping[str, Any], seed: int) -> BaseEstimator:
    # scikit-learn's own HDBSCAN, whose merge distance crashes under NumPy 2.4
    from custseg.cluster.hdbscan_merge import merging_hdbscan

    return merging_hdbscan()(
        min_cluster_size=p["min_cluster_size"],
        min_samples=p["min_samples"],
        cluster_selection_epsilon=p["cluster_selection_epsilon"],
        copy=True,
    )


def _kprototypes(p: Mapping[str, Any], seed: int) -> BaseEstimator:
    return _kprototypes_class()(
        n_clusters=p["n_clusters"], gamma=p["gamma"], init=p["init"], n_init=p["n_init"],
        max_iter=p["max_iter"], random_state=seed,
    )


def _kprototypes_class():
    """A scikit-learn clusterer over the clustering space around ``kmodes``'
    KPrototypes: the numeric columns as they are, each one-hot block (``blocks``, the
    widths of the blocks that end the matrix) read back as one categorical attribute.

    K-Prototypes' cost is the squared Euclidean distance on the (standardised) numeric
    columns plus ``gamma`` for each categorical attribute that differs from the
    segment's mode. The default ``gamma`` of 1 is a squared standard deviation: before
    any clustering, a numeric feature costs 1 per customer (its variance) and a
    categorical one ``1 - p`` (p: the commonest category's share), never more, as in
    the one-hot space (see :mod:`custseg.cluster.features`). With no block the cost is
    K-Means' and K-Means is fitted; with no numeric column it is K-Modes'.
    """
    global _KPrototypes
    if _KPrototypes is None:
        from sklearn.base import BaseEstimator, ClusterMixin

        class KPrototypesClusterer(ClusterMixin, BaseEstimator):
            def __init__(self, *, n_clusters=5, gamma=1.0, init="Huang", n_init=3,
                         max_iter=10, random_state=0, blocks=()):
                self.n_clusters = n_clusters
                self.gamma = gamma
                self.init = init
                self.n_init = n_init
                self.max_iter = max_iter
                self.random_state = random_state
                self.blocks = blocks

            def fit(self, X, y=None):
                import numpy as np

                X = np.asarray(X, dtype="float64")
                widths = [int(b) for b in self.blocks]
                numeric = X.shape[1] - sum(widths)
                if numeric < 0 or any(b < 1 for b in widths):
                    raise ValueError(f"one-hot blocks {widths} do not fit {X.shape[1]} columns")
                if not widths:
                    from sklearn.cluster import KMeans

                    km = KMeans(n_clusters=self.n_clusters, n_init=self.n_init,
                                max_iter=max(self.max_iter, 100),
                                random_state=self.random_state).fit(X)
                    self.labels_ = km.labels_
                    return self
                codes, start = [], numeric
                for width in widths:
                    codes.append(np.argmax(X[:, start:start + width], axis=1))
                    start += width
                cats = np.column_stack(codes).astype("float64")
                options = dict(n_clusters=self.n_clusters, init=self.init, n_init=self.n_init,
                               max_iter=self.max_iter, random_state=self.random_state,
                               n_jobs=1)
                if numeric == 0:
                    from kmodes.kmodes import KModes

                    self.labels_ = np.asarray(KModes(**options).fit_predict(cats))
                    return self
                from kmodes.kprototypes import KPrototypes

                model = KPrototypes(gamma=self.gamma, **options)
                try:
                    self.labels_ = np.asarray(model.fit_predict(
                        np.column_stack([X[:, :numeric], cats]),
                        categorical=list(range(numeric, numeric + len(widths)))))
                except ValueError as error:
                    if "could not initialize" not in str(error):
                        raise
                    # kmodes' starts left a segment empty every time (many segments,
                    # few customers or few distinct ones)
                    raise ParameterError(
                        f"K-Prototypes found no start for {self.n_clusters} segments on "
                        f"{len(X):,} customers: every try left a segment empty; lower "
                        "n_clusters", parameter="params",
                        key=f"n_clusters={max(2, self.n_clusters // 2)}",
                    ) from None
                return self

        _KPrototypes = KPrototypesClusterer
    return _KPrototypes


_KPrototypes = None


def _birch(p: Mapping[str, Any], seed: int) -> BaseEstimator:
    return _bounded_birch()(
        n_clusters=p["n_clusters"],
        threshold=p["threshold"],
        branching_factor=p["branching_factor"],
    )


# ------------------------------------------------------------------- fit costs
# Bytes per unit, measured on scikit-learn 1.9 (peak resident memory of the fit, less
# the data), rounded up.

#: Agglomerative clustering (ward, complete, average) holds the condensed matrix of
#: pairwise distances and a working copy: about 9 bytes per pair of rows squared.
_PAIRWISE = 9.0
#: DBSCAN keeps every customer's neighbourhood (indices, and distances while they are
#: found): about 16 bytes per neighbour.
_PER_NEIGHBOUR = 16.0
#: HDBSCAN keeps the distances and indices of each customer's min_samples neighbours.
_PER_CORE_NEIGHBOUR = 32.0
#: A Gaussian mixture keeps several rows-by-components arrays (responsibilities, log
#: probabilities) and rows-by-features work arrays.
_PER_RESPONSIBILITY, _PER_FEATURE = 64.0, 32.0
#: HDBSCAN's largest min_samples (its ParamSpec's high).
_MAX_CORE = 500
#: A parameter is the cause, not the rows, when it makes an average neighbourhood or
#: core this large a share of the customers.
_WIDE = 0.05


def _rows_within(per_row: float, per_pair: float = 0.0) -> int:
    """Most rows ``m`` with ``per_row * m + per_pair * m**2`` within the budget."""
    budget = FIT_MEMORY_BUDGET
    if per_pair <= 0:
        return int(budget // max(per_row, 1.0))
    return int((-per_row + math.sqrt(per_row**2 + 4 * per_pair * budget)) / (2 * per_pair))


def pair_distances(X: np.ndarray, pairs: int = 100_000, seed: int = 0) -> np.ndarray:
    """Distances between ``pairs`` random pairs of distinct rows of ``X``, sorted: their
    distribution says what share of the customers lies within a radius of an average
    customer, without building any neighbourhood."""
    import numpy as np

    n = len(X)
    if n < 2:
        return np.zeros(0)
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, size=pairs)
    j = (i + rng.integers(1, n, size=pairs)) % n  # never i itself
    return np.sort(np.sqrt(((X[i] - X[j]) ** 2).sum(axis=1)))


def _agglomerative_cost(X: np.ndarray, p: Mapping[str, Any]) -> FitCost:
    n, d = X.shape
    if p["linkage"] == "single":  # a minimum spanning tree: memory linear in the rows
        per_row = 8.0 * (d + 8)
        return FitCost(per_row * n, "the spanning tree of the customers", _rows_within(per_row))
    return FitCost(_PAIRWISE * n * n, "the distances between every pair of customers",
                   _rows_within(8.0 * d, _PAIRWISE))


def _dbscan_cost(X: np.ndarray, p: Mapping[str, Any]) -> FitCost:
    import numpy as np

    n = len(X)
    distances = pair_distances(X)
    share = float(np.searchsorted(distances, p["eps"], side="right") / max(len(distances), 1))
    neighbours = 1 + share * (n - 1)
    cost = FitCost(
        _PER_NEIGHBOUR * n * neighbours,
        f"the neighbourhoods within eps={p['eps']:g} (about {neighbours:,.0f} customers "
        "each)",
        _rows_within(_PER_NEIGHBOUR, _PER_NEIGHBOUR * share),
    )
    if share > _WIDE and len(distances):
        # the widest eps whose neighbourhoods, on these rows, fit
        room = (FIT_MEMORY_BUDGET / (_PER_NEIGHBOUR * n) - 1) / max(n - 1, 1)
        if room > 0:
            eps = math.floor(float(np.quantile(distances, min(room, 1.0))) * 100) / 100
            if eps >= 0.01:
                cost = FitCost(cost.memory, cost.what, cost.max_rows, f"eps={eps:g}")
    return cost


def _hdbscan_cost(X: np.ndarray, p: Mapping[str, Any]) -> FitCost:
    n = len(X)
    k = min(int(p["min_samples"] or p["min_cluster_size"]), n)
    per_row = _PER_CORE_NEIGHBOUR * k + 64.0
    fix = ""
    if k > _WIDE * n:
        fitting = int((FIT_MEMORY_BUDGET / n - 64.0) // _PER_CORE_NEIGHBOUR)
        fix = f"min_samples={min(fitting, _MAX_CORE)}" if fitting >= 1 else ""
    return FitCost(per_row * n, f"the {k:,} nearest neighbours of each customer",
                   _rows_within(per_row), fix)


def _gmm_cost(X: np.ndarray, p: Mapping[str, Any]) -> FitCost:
    n, d = X.shape
    per_row = _PER_RESPONSIBILITY * p["n_components"] + _PER_FEATURE * d
    return FitCost(per_row * n, f"the responsibilities of {p['n_components']} components "
                   "for each customer", _rows_within(per_row))


def _kmeans_cost(X: np.ndarray, p: Mapping[str, Any]) -> FitCost:
    n, d = X.shape
    per_row = 8.0 * (3 * d + p["n_clusters"] + 4)
    return FitCost(per_row * n, "the distances of each customer to the centres",
                   _rows_within(per_row))


# ------------------------------------------------------------------- fit times
# Seconds, measured on the development machine (a shared two-core Xeon, scikit-learn 1.9,
# one thread: see custseg.cluster.threads) on the demo customers: the quietest timings
# seen (BENCHMARKS.md's and ours) with a margin of about 1.5, since the machine is shared.
# Coarse on purpose: the estimate exists to refuse fits of minutes, not to time fits of
# seconds; expect a factor of two either way.

#: K-Means (Lloyd): per row, segment and restart (more segments need more iterations),
#: and per segment and restart whatever the rows (small samples iterate longer).
_KMEANS_S, _KMEANS_RESTART_S = 1.3e-7, 2.5e-4
#: Gaussian mixture: per row, component and restart (EM until it converges), and per
#: component and restart whatever the rows.
_GMM_S, _GMM_RESTART_S = 3e-6, 4e-3
#: HDBSCAN: per pair of rows (its spanning tree), at min_samples 15.
_HDBSCAN_S = 6e-9
#: Agglomerative clustering per pair of rows: ward, complete and average merge over the
#: pairwise matrix; single linkage builds a spanning tree.
_PAIRWISE_S, _SINGLE_S = 5e-8, 1e-8
#: DBSCAN: per row (its tree), and per neighbour found.
_DBSCAN_ROW_S, _DBSCAN_NEIGHBOUR_S = 2e-5, 4e-8
#: BIRCH: per row, at threshold 0.5 and branching factor 50, in three dimensions.
_BIRCH_S = 2.5e-5
#: K-Prototypes (kmodes, a Python loop over the rows): per row, iteration and restart,
#: and per row, iteration, restart and segment (2 s for 3,000 rows, 5 segments and 10
#: iterations; 3 s with 10 segments).
_KPROTO_S, _KPROTO_SEGMENT_S = 4e-5, 1e-5
#: RFM quintiles: per row, column and step of a sort (quantiles and searchsorted).
_RFM_S = 5e-9


def _most_rows(seconds_for: Callable[[int], float], budget: float) -> int:
    """Most rows ``m`` with ``seconds_for(m)`` within ``budget`` (the estimates grow
    with the rows)."""
    if seconds_for(1) > budget:
        return 0
    low, high = 1, 2
    while seconds_for(high) <= budget and high < 2**40:
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if seconds_for(mid) <= budget else (low, mid)
    return low


def _wide(X: np.ndarray) -> float:
    """How much more a fit costs in more than three dimensions (distances, trees)."""
    return max(1.0, X.shape[1] / 3) ** 0.5


def _kmeans_time(X: np.ndarray, p: Mapping[str, Any]) -> Callable[[int], float]:
    k = p["n_clusters"]
    per_row = _KMEANS_S * k * (1 + k / 40) * p["n_init"] * _wide(X)
    fixed = _KMEANS_RESTART_S * k * p["n_init"]
    return lambda n: per_row * n + fixed


def _gmm_time(X: np.ndarray, p: Mapping[str, Any]) -> Callable[[int], float]:
    per_row = _GMM_S * p["n_components"] * p["n_init"] * _wide(X)
    fixed = _GMM_RESTART_S * p["n_components"] * p["n_init"]
    return lambda n: per_row * n + fixed


def _hdbscan_time(X: np.ndarray, p: Mapping[str, Any]) -> Callable[[int], float]:
    k = max(15, int(p["min_samples"] or p["min_cluster_size"]))
    per_pair = _HDBSCAN_S * (1 + 0.8 * math.log10(k / 15)) * _wide(X)
    return lambda n: per_pair * n * n


def _agglomerative_time(X: np.ndarray, p: Mapping[str, Any]) -> Callable[[int], float]:
    per_pair = _SINGLE_S * _wide(X) if p["linkage"] == "single" else _PAIRWISE_S
    return lambda n: per_pair * n * n


def _dbscan_time(X: np.ndarray, p: Mapping[str, Any]) -> Callable[[int], float]:
    import numpy as np

    distances = pair_distances(X)
    share = float(np.searchsorted(distances, p["eps"], side="right") / max(len(distances), 1))
    return lambda n: n * (_DBSCAN_ROW_S + _DBSCAN_NEIGHBOUR_S * (1 + share * (n - 1)))


def _kprototypes_time(X: np.ndarray, p: Mapping[str, Any]) -> Callable[[int], float]:
    # every iteration up to max_iter counted: an upper bound, as fits often stop sooner;
    # no factor for the width: kmodes' loop over the rows costs the same with 3 or 15
    # columns (measured: 10 numeric and 5 categorical no slower than 3 and 2)
    per_row = ((_KPROTO_S + _KPROTO_SEGMENT_S * p["n_clusters"]) * p["max_iter"]
               * p["n_init"])
    return lambda n: per_row * n


def _rfm_time(X: np.ndarray, p: Mapping[str, Any]) -> Callable[[int], float]:
    # a quantile and a search per column: sorting, n log n, well under a second a million
    per_row = _RFM_S * X.shape[1]
    return lambda n: per_row * n * max(1.0, math.log2(max(n, 2)))


def _rfm(params: Mapping[str, Any], seed: int):
    from custseg.cluster.rfm import RFMQuintiles

    return RFMQuintiles()


def _birch_time(X: np.ndarray, p: Mapping[str, Any]) -> Callable[[int], float]:
    # a smaller radius, a smaller branching factor and more dimensions all mean more
    # sub-clusters to search and split
    per_row = (_BIRCH_S * (0.5 / p["threshold"]) ** 0.3
               * max(1.0, 50 / p["branching_factor"]) ** 0.25
               * max(1.0, X.shape[1] / 3) ** 1.8)
    return lambda n: per_row * n


def _bounded_birch():
    """scikit-learn's Birch, whose final step (agglomerative clustering of the
    sub-cluster centres, quadratic in their number) is refused when the sub-clusters
    are too many for memory, instead of running out of it."""
    from sklearn.cluster import Birch

    global _BoundedBirch
    if _BoundedBirch is None:

        class BoundedBirch(Birch):
            def fit(self, X, y=None):
                n_clusters = self.n_clusters
                self.set_params(n_clusters=None)
                try:
                    super().fit(X)  # the tree of sub-clusters only
                finally:
                    self.set_params(n_clusters=n_clusters)
                m = len(self.subcluster_centers_)
                memory = _PAIRWISE * m * m
                if n_clusters is not None and memory > FIT_MEMORY_BUDGET:
                    raise ParameterError(
                        f"threshold={self.threshold:g} leaves {m:,} sub-clusters, whose final "
                        f"merge needs about {size_text(memory)}, more than the "
                        f"{size_text(FIT_MEMORY_BUDGET)} a fit may use; raise threshold",
                        parameter="params", key=f"threshold={min(self.threshold * 2, 5.0):g}",
                    )
                self.partial_fit()  # the final, global step alone
                self.labels_ = self.predict(X)
                return self

        _BoundedBirch = BoundedBirch
    return _BoundedBirch


_BoundedBirch = None


ALGORITHMS: dict[str, AlgorithmSpec] = {
    spec.name: spec
    for spec in (
        AlgorithmSpec(
            name="kmeans",
            label="K-Means",
            summary="Round segments of similar size around centroids; the usual start.",
            params=(
                ParamSpec("n_clusters", default=5, help="Number of segments.", title="Segments", **_K),
                ParamSpec("n_init", "int", 10, "Restarts from different seeds; the best is "
                          "kept.", low=1, high=50, step=1, title="Restarts"),
            ),
            build=_kmeans,
            predicts_natively=True,
            suggest_by="n_segments",
            k_param="n_clusters",
            diagnostics=("k_curve",),
            fit_memory=_kmeans_cost,
            fit_time=_kmeans_time,
            restarts="n_init",
        ),
        AlgorithmSpec(
            name="dbscan",
            label="DBSCAN",
            summary="Dense groups of any shape; customers in sparse areas become outliers.",
            params=(
                ParamSpec("eps", "float", 0.5, "Neighbourhood radius, in standard "
                          "deviations of the scaled features.", low=0.01, high=5.0, step=0.01,
                          title="Radius"),
                ParamSpec("min_samples", "int", 5, "Neighbours (itself included) a customer "
                          "needs to be in a dense core.", low=2, high=500, step=1,
                          title="Core size"),
            ),
            build=_dbscan,
            predicts_natively=False,
            suggest_by="eps",
            has_noise=True,
            noise_fix="raise eps or lower min_samples",
            coarse_fix="lower eps or raise min_samples",
            fine_fix="raise min_samples",
            sparse_fix="raise eps: a neighbourhood this small leaves many customers as noise "
                       "and splits the others into small groups",
            uneven_fix="lower eps, so that the large segment splits, and raise min_samples, "
            "so that the small ones become outliers",
            fit_sample=50_000,
            count_params=("min_samples",),
            diagnostics=("k_distance",),
            fit_memory=_dbscan_cost,
            fit_time=_dbscan_time,
        ),
        AlgorithmSpec(
            name="agglomerative",
            label="Hierarchical (agglomerative)",
            summary="Merges customers bottom-up into a tree, cut at the chosen number.",
            params=(
                ParamSpec("n_clusters", default=5, help="Number of segments.", title="Segments", **_K),
                ParamSpec("linkage", "choice", "ward", "How the distance between two "
                          "groups is measured; ward keeps segments compact.",
                          choices=("ward", "complete", "average", "single"), title="Linkage"),
            ),
            build=_agglomerative,
            predicts_natively=False,
            suggest_by="n_segments",
            # the pairwise distances of 7,500 rows take about 480 MB
            fit_sample=7_500,
            k_param="n_clusters",
            diagnostics=("k_curve", "dendrogram"),
            fit_memory=_agglomerative_cost,
            fit_time=_agglomerative_time,
            coarse_fix="raise n_clusters, or use linkage=ward",
            fine_fix="lower n_clusters, or use linkage=ward",
            uneven_fix="use linkage=ward (single and average linkage chain most customers "
            "into one segment and leave the far ones alone)",
        ),
        AlgorithmSpec(
            name="gmm",
            label="Gaussian mixture",
            summary="Soft, elliptical segments; each customer has a probability per segment.",
            params=(
                ParamSpec("n_components", default=5, help="Number of segments.", title="Segments",
                          **_K),
                ParamSpec("covariance_type", "choice", "full", "Shape freedom of each "
                          "segment: full ellipses down to spheres.",
                          choices=("full", "tied", "diag", "spherical"), title="Shape"),
                ParamSpec("n_init", "int", 1, "Restarts; the best likelihood is kept.",
                          low=1, high=20, step=1, title="Restarts"),
            ),
            build=_gmm,
            predicts_natively=True,
            suggest_by="n_segments",
            fit_sample=200_000,
            k_param="n_components",
            diagnostics=("k_curve",),
            fit_memory=_gmm_cost,
            fit_time=_gmm_time,
            restarts="n_init",
        ),
        AlgorithmSpec(
            name="hdbscan",
            label="HDBSCAN",
            summary="DBSCAN over all densities at once; finds the number of segments itself.",
            params=(
                ParamSpec("min_cluster_size", "int", 15, "Smallest group that counts as a "
                          "segment.", low=2, high=5000, step=1, title="Smallest segment"),
                ParamSpec("min_samples", "int", None, "How conservative the density "
                          "estimate is; 'auto' uses min_cluster_size.", low=1, high=_MAX_CORE,
                          optional=True, step=1, title="Density samples"),
                ParamSpec("cluster_selection_epsilon", "float", 0.0, "Merge segments "
                          "closer than this (scaled units).", low=0.0, high=5.0, step=0.05,
                          title="Merge distance"),
            ),
            build=_hdbscan,
            predicts_natively=False,
            suggest_by="min_cluster_size",
            has_noise=True,
            noise_fix="lower min_cluster_size or min_samples",
            coarse_fix="lower min_cluster_size",
            fine_fix="raise min_cluster_size",
            sparse_fix="lower min_samples, so that fewer customers are noise, or raise "
                       "cluster_selection_epsilon, so that segments closer than it join",
            uneven_fix="raise min_cluster_size, so that the small segments become outliers "
            "or join others",
            merge_param="cluster_selection_epsilon",
            # its spanning tree takes time quadratic in the rows: 20,000 in a few seconds
            fit_sample=20_000,
            # min_samples first: when it is 'auto', HDBSCAN uses min_cluster_size
            count_params=("min_samples", "min_cluster_size"),
            size_bounded=("min_cluster_size", "min_samples"),
            diagnostics=("k_distance",),
            fit_memory=_hdbscan_cost,
            fit_time=_hdbscan_time,
        ),
        AlgorithmSpec(
            name="birch",
            label="BIRCH",
            summary="One pass through a tree of sub-clusters; fast on very large tables.",
            params=(
                ParamSpec("n_clusters", default=5, help="Number of segments.", title="Segments", **_K),
                ParamSpec("threshold", "float", 0.5, "Radius of a sub-cluster (scaled "
                          "units); smaller is finer and slower.", low=0.05, high=5.0,
                          step=0.05, title="Sub-cluster radius"),
                ParamSpec("branching_factor", "int", 50, "Children per tree node.",
                          low=2, high=500, step=1, title="Branching"),
            ),
            build=_birch,
            predicts_natively=True,
            suggest_by="n_segments",
            k_param="n_clusters",
            # a wide sub-cluster radius leaves fewer sub-clusters than segments asked
            # not "or raise n_clusters": with fewer sub-clusters than segments asked, more
            # segments asked change nothing (the sub-cluster warning says so beside it)
            coarse_fix="lower threshold (fewer sub-clusters than segments leave fewer "
            "segments)",
            diagnostics=("k_curve",),
            fit_time=_birch_time,
        ),
        AlgorithmSpec(
            name="kprototypes",
            label="K-Prototypes",
            summary="K-Means for mixed data: numeric means and categorical modes.",
            params=(
                ParamSpec("n_clusters", default=5, help="Number of segments.", title="Segments", **_K),
                ParamSpec("gamma", "float", 1.0, "Cost of a category differing from its "
                          "segment's, in squared standard deviations of the numeric "
                          "features.", low=0.01, high=20.0, step=0.05,
                          title="Category weight"),
                ParamSpec("init", "choice", "Huang", "How the first prototypes are chosen: "
                          "Huang (random customers, seeded), Cao (by density, one start) "
                          "or random.", choices=("Huang", "Cao", "random"), title="Start"),
                ParamSpec("n_init", "int", 3, "Restarts; the lowest cost is kept.", low=1,
                          high=10, step=1, title="Restarts"),
                ParamSpec("max_iter", "int", 10, "Most passes over the customers per "
                          "restart.", low=1, high=100, step=1, title="Passes"),
            ),
            build=_kprototypes,
            predicts_natively=False,
            suggest_by="n_segments",
            # kmodes loops over the rows in Python: a few seconds on 2,000 customers
            fit_sample=2_000,
            k_param="n_clusters",
            diagnostics=("k_curve",),
            fit_time=_kprototypes_time,
            restarts="n_init",
            coarse_fix="raise n_clusters, or lower gamma",
            fine_fix="lower n_clusters",
            mixed=True,
        ),
        AlgorithmSpec(
            name="rfm",
            label="RFM scores (quintiles)",
            summary="Classic RFM: recency, frequency and monetary scored 1-5 by quintiles, "
                    "named by the rulebook's score map.",
            params=(),
            build=_rfm,
            predicts_natively=False,
            suggest_by="none",
            fit_time=_rfm_time,
            coarse_fix="edit the RFM score map of the rulebook (--rules), or choose kmeans",
            fine_fix="edit the RFM score map of the rulebook (--rules)",
            uneven_fix="edit the RFM score map of the rulebook (--rules)",
            scores_roles=("recency", "frequency", "monetary"),
        ),
    )
}


def get_algorithm(name: str) -> AlgorithmSpec:
    """The registry entry for ``name``, or a clear error listing the choices."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ParameterError(
            f"unknown algorithm {shown(name)}; choose one of {', '.join(ALGORITHMS)}."
        ) from None

