"""The clustering algorithms custseg offers, their tunable parameters and their traits.

This registry is the single source for the command line's ``--param NAME=VALUE`` and
the dashboard's controls: each parameter carries its type, range, default and a
one-line help. Parameter names are scikit-learn's. It is also the only place that knows
algorithms by name: suggestions, stability, warnings and the dashboard's diagnostics
read an entry's traits (how to suggest settings, which parameters count customers, what
to change when too many customers are noise, which charts apply), so that adding an
algorithm means adding one entry. scikit-learn itself is imported only when an estimator
is built: reading the registry (the command line's choices and help, say) does not load it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from custseg.errors import ParameterError, shown

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

Kind = Literal["int", "float", "choice"]
#: How settings are suggested: a search over the number of segments, eps at the knee of
#: the k-distance curve, or a search over the smallest segment as a share of customers.
SuggestBy = Literal["n_segments", "eps", "min_cluster_size"]
#: Charts that help choose settings: silhouette/inertia/BIC over the number of segments,
#: the sorted k-th-neighbour distances, and the merge tree.
Diagnostic = Literal["k_curve", "k_distance", "dendrogram"]


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
                    f"{', '.join(self.choices)}."
                )
            return text
        try:
            number = float(str(value).strip()) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            raise ParameterError(
                f"{self.name}={shown(value)} is not a number; {self.describe_range()}."
            ) from None
        if self.kind == "int":
            if not number.is_integer():
                raise ParameterError(
                    f"{self.name}={shown(value)} must be a whole number; {self.describe_range()}."
                )
            number = int(number)
        if not (self.low <= number <= self.high):
            raise ParameterError(
                f"{self.name}={shown(value)} is out of range; {self.describe_range()}."
            )
        return number

    def describe_range(self) -> str:
        if self.kind == "choice":
            return f"one of {', '.join(self.choices)}"
        extra = " or 'auto'" if self.optional else ""
        return f"{self.name} takes {self.low:g} to {self.high:g}{extra}"


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

    def param(self, name: str) -> ParamSpec:
        for spec in self.params:
            if spec.name == name:
                return spec
        names = ", ".join(p.name for p in self.params)
        raise ParameterError(
            f"{self.name} has no parameter {shown(name)}; its parameters are {names}."
        )

    def resolve(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overlaid with ``given`` values, each checked against its spec."""
        values = {p.name: p.default for p in self.params}
        for name, value in (given or {}).items():
            values[name] = self.param(name).coerce(value)
        return values

    def make(self, params: Mapping[str, Any], random_state: int) -> BaseEstimator:
        return self.build(self.resolve(params), random_state)

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
    from sklearn.cluster import HDBSCAN

    return HDBSCAN(
        min_cluster_size=p["min_cluster_size"],
        min_samples=p["min_samples"],
        cluster_selection_epsilon=p["cluster_selection_epsilon"],
        copy=True,
    )


def _birch(p: Mapping[str, Any], seed: int) -> BaseEstimator:
    from sklearn.cluster import Birch

    return Birch(
        n_clusters=p["n_clusters"],
        threshold=p["threshold"],
        branching_factor=p["branching_factor"],
    )


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
            fit_sample=50_000,
            count_params=("min_samples",),
            diagnostics=("k_distance",),
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
            fit_sample=10_000,
            k_param="n_clusters",
            diagnostics=("k_curve", "dendrogram"),
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
        ),
        AlgorithmSpec(
            name="hdbscan",
            label="HDBSCAN",
            summary="DBSCAN over all densities at once; finds the number of segments itself.",
            params=(
                ParamSpec("min_cluster_size", "int", 15, "Smallest group that counts as a "
                          "segment.", low=2, high=5000, step=1, title="Smallest segment"),
                ParamSpec("min_samples", "int", None, "How conservative the density "
                          "estimate is; 'auto' uses min_cluster_size.", low=1, high=500,
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
            fit_sample=50_000,
            # min_samples first: when it is 'auto', HDBSCAN uses min_cluster_size
            count_params=("min_samples", "min_cluster_size"),
            size_bounded=("min_cluster_size", "min_samples"),
            diagnostics=("k_distance",),
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
            diagnostics=("k_curve",),
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

