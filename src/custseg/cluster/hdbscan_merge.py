"""HDBSCAN's merge distance (``cluster_selection_epsilon``), selected here rather than by
scikit-learn.

scikit-learn 1.9's HDBSCAN crashes whenever a merge distance above 0 actually merges a
segment: the Cython step that climbs the cluster tree (``traverse_upwards`` in
``sklearn/cluster/_hdbscan/_tree.pyx``) assigns a one-element array to a scalar, which
NumPy 2.4 refuses (``TypeError: only 0-dimensional arrays can be converted to Python
scalars``; scikit-learn issue #33219, unfixed in the latest release, 1.9.1). custseg needs
NumPy 2.4, so :class:`MergingHDBSCAN` lets scikit-learn build the tree (with no merge
distance, a path that works), then selects the segments again with the merge distance,
following the same rule (HDBSCAN(ε̂), Malzer and Baum 2020): each segment the excess of
mass selects that was born closer than ε to its sibling is replaced by its nearest
ancestor born farther than ε apart. With a merge distance of 0 nothing differs from
scikit-learn's own HDBSCAN.

The condensing of the tree and the labelling of the customers are scikit-learn's own
(``_condense_tree`` and ``_do_labelling``, compiled); only the stability sums and the
selection, small loops over the segments of the tree, are written here. A test checks
that they give scikit-learn's labels and probabilities wherever scikit-learn works.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_Merging = None


def merging_hdbscan() -> type:
    """scikit-learn's HDBSCAN whose merge distance does not crash (the class, built on
    first use so that reading the registry does not import scikit-learn)."""
    global _Merging
    if _Merging is None:
        from sklearn.cluster import HDBSCAN

        class MergingHDBSCAN(HDBSCAN):
            def fit(self, X, y=None):
                epsilon = float(self.cluster_selection_epsilon)
                if epsilon == 0.0 or self.cluster_selection_method != "eom":
                    return super().fit(X, y)
                self.set_params(cluster_selection_epsilon=0.0)
                try:
                    super().fit(X, y)  # the tree, and its selection with no merging
                finally:
                    self.set_params(cluster_selection_epsilon=epsilon)
                if not np.all(self.labels_ >= -1):  # -2, -3: infinite or missing values
                    raise ValueError("a merge distance needs finite features")
                # the segments before the merge: what a warning compares with, to tell
                # whether the merge distance made the outcome (see degenerate_warnings)
                self.unmerged_labels_ = self.labels_.copy()
                self.labels_, self.probabilities_ = tree_to_labels(
                    self._single_linkage_tree_, self.min_cluster_size, epsilon,
                    allow_single_cluster=self.allow_single_cluster,
                    max_cluster_size=self.max_cluster_size,
                )
                return self

        _Merging = MergingHDBSCAN
    return _Merging


def tree_to_labels(
    single_linkage_tree: np.ndarray, min_cluster_size: int, epsilon: float, *,
    allow_single_cluster: bool = False, max_cluster_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Labels (-1: noise) and membership probabilities of the customers under
    scikit-learn's single-linkage tree, segments chosen by the excess of mass and merged
    below ``epsilon`` (scaled units), as ``sklearn.cluster.HDBSCAN`` would."""
    from sklearn.cluster._hdbscan._tree import _condense_tree, _do_labelling

    condensed = _condense_tree(single_linkage_tree, int(min_cluster_size))
    parents = np.asarray(condensed["parent"], dtype=np.intp)
    children = np.asarray(condensed["child"], dtype=np.intp)
    values = np.asarray(condensed["value"], dtype=np.float64)
    sizes = np.asarray(condensed["cluster_size"], dtype=np.intp)
    root = int(parents.min())
    n_samples = root
    stability = _stability(parents, children, values, sizes, root)

    nodes = sorted(stability, reverse=True)
    if not allow_single_cluster:
        nodes = nodes[:-1]  # the root is never a segment
    tree_rows = sizes > 1
    t_parent, t_child = parents[tree_rows], children[tree_rows]
    t_value, t_size = values[tree_rows], sizes[tree_rows]
    parent_of = dict(zip(t_child.tolist(), t_parent.tolist(), strict=True))
    birth = dict(zip(t_child.tolist(), t_value.tolist(), strict=True))
    kids: dict[int, list[int]] = {}
    for child, parent in parent_of.items():
        kids.setdefault(parent, []).append(child)
    cluster_size = dict(zip(t_child.tolist(), t_size.tolist(), strict=True))
    largest = n_samples + 1 if max_cluster_size is None else int(max_cluster_size)
    if allow_single_cluster:
        cluster_size[root] = int(t_size[t_parent == root].sum())

    chosen = dict.fromkeys(nodes, True)
    for node in nodes:  # excess of mass, children before parents (ids grow downwards)
        below = sum(stability[c] for c in kids.get(node, ()))
        if below > stability[node] or cluster_size.get(node, 0) > largest:
            chosen[node] = False
            stability[node] = below
        else:
            for sub in _descendants(kids, node):
                chosen[sub] = False

    if len(t_parent):
        selected = [c for c, keep in chosen.items() if keep]
        if len(selected) == 1 and selected[0] == root:
            merged = set(selected) if allow_single_cluster else set()
        else:
            merged = _merge(selected, parent_of, birth, kids, root, epsilon,
                            allow_single_cluster)
        chosen = {c: c in merged for c in chosen}

    clusters = {c for c, keep in chosen.items() if keep}
    label_of = {c: i for i, c in enumerate(sorted(clusters))}
    labels = np.asarray(_do_labelling(condensed, clusters, label_of,
                                      int(allow_single_cluster), float(epsilon)))
    return labels, _probabilities(parents, children, values, labels, sorted(clusters), root)


def _stability(parents, children, values, sizes, root: int) -> dict[int, float]:
    """Each tree node's stability: the sum over its members of the lambda they stay for."""
    births = np.full(max(int(children.max()), root) + 1, np.nan)
    births[children] = values
    births[root] = 0.0
    n_nodes = int(parents.max()) - root + 1
    sums = np.bincount(parents - root, weights=(values - births[parents]) * sizes,
                       minlength=n_nodes)
    return {root + i: float(s) for i, s in enumerate(sums)}


def _descendants(kids: dict[int, list[int]], node: int) -> list[int]:
    out, stack = [], list(kids.get(node, ()))
    while stack:
        sub = stack.pop()
        out.append(sub)
        stack.extend(kids.get(sub, ()))
    return out


def _merge(selected: list[int], parent_of: dict[int, int], birth: dict[int, float],
           kids: dict[int, list[int]], root: int, epsilon: float,
           allow_single_cluster: bool) -> set[int]:
    """HDBSCAN(ε̂): a selected segment born closer than ``epsilon`` gives way to its
    nearest ancestor born farther apart (the root only when a single segment is
    allowed; otherwise the ancestor just below it)."""

    def distance(node: int) -> float:
        return np.inf if birth[node] == 0 else 1.0 / birth[node]

    out: list[int] = []
    done: set[int] = set()
    for leaf in selected:
        if distance(leaf) >= epsilon:
            out.append(leaf)
            continue
        if leaf in done:
            continue
        node = leaf
        while True:
            parent = parent_of[node]
            if parent == root:
                node = root if allow_single_cluster else node
                break
            if distance(parent) > epsilon:
                node = parent
                break
            node = parent
        out.append(node)
        done.update(_descendants(kids, node))
    return set(out)


def _probabilities(parents, children, values, labels, clusters: list[Any],
                   root: int) -> np.ndarray:
    """Each customer's membership strength: its lambda in its segment over the
    segment's largest (1 where that is 0 or infinite), 0 for noise."""
    deaths = np.zeros(int(parents.max()) + 1)
    np.maximum.at(deaths, parents, values)
    result = np.zeros(len(labels))
    points = children < root
    point, lam = children[points], values[points]
    member = labels[point] >= 0
    point, lam = point[member], lam[member]
    node = np.asarray(clusters, dtype=np.intp)[labels[point]] if len(clusters) else point
    most = deaths[node] if len(clusters) else np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.minimum(lam, most) / most
    result[point] = np.where((most == 0) | np.isinf(lam), 1.0, share)
    return result
