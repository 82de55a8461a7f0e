"""Assigning customers to a fitted segmentation, with numpy and scipy only.

Scoring a file needs the neighbour vote, the atypical threshold and the reference set,
and none of scikit-learn (whose import alone costs about a second). They live here as
plain frozen objects: :class:`NeighbourVote` is the one implementation of the vote, which
:class:`~custseg.cluster.assigner.KNNAssigner` builds in ``fit`` and delegates to, and
:class:`FittedSegmenter` is a fitted :class:`~custseg.cluster.segmenter.Segmenter` as
plain data — what a model file holds and a loaded model assigns with.

The vote: the ``n_neighbors`` nearest known customers (exact Euclidean neighbours) each
give one vote to their segment. The vote share is the confidence; a tie goes to the tied
segment whose first neighbour is nearest.

Two exact searches find the neighbours, chosen by the number of features
(:data:`SCREEN_MIN_FEATURES`): below it scipy's cKDTree, queried on all cores (a tree is
fastest in a few dimensions: a million demo customers in about a second); from it
:class:`BlockScreen`, a blocked brute force on BLAS (a k-d tree degenerates in many
dimensions: at 17 features it was 7 times slower than scikit-learn's brute force). Both
return the same neighbours; among neighbours at exactly the same distance the screen
takes the lowest index, the tree its own order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from custseg.errors import ParameterError

#: Weight of the tie-break: each neighbour adds TIE * 2**-rank to its class. A class's
#: sum of 2**-rank is decided by its nearest member, so among classes with equal votes
#: the one holding the nearest neighbour wins, and no vote count is ever overturned.
TIE = 1e-6
#: The Segmenter's own parameters (``get_params()``), as a model file holds them.
SEGMENTER_PARAMS = ("algorithm", "params", "n_neighbors", "sample_size", "random_state",
                    "reference_size", "atypical_quantile")
#: Held only when not empty (a model without categories has the file it always had): the
#: widths of the one-hot blocks an algorithm for mixed data read as categories.
BLOCKS_PARAM = "categorical_blocks"
#: From this many features the neighbours are found by :class:`BlockScreen`, below it by
#: the cKDTree. Measured on 20,000 reference points (CPU time for 20,000 queries, k=3):
#: on a 17-dimensional Gaussian mixture the tree costs 0.05 s at 3 features, 0.5 s at 6,
#: 1.3 s at 8 and 2.8 s at 10, on the credit-card table's columns 0.05 s, 0.11 s, 0.25 s
#: and 0.7 s; the screen costs 0.5–0.6 s whatever the dimension.
SCREEN_MIN_FEATURES = 8


def _scores(codes: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(vote counts, counts plus the tie-break) per row and class."""
    n, k = codes.shape
    flat = (np.arange(n)[:, None] * n_classes + codes).ravel()
    counts = np.bincount(flat, minlength=n * n_classes).reshape(n, n_classes)
    ranks = np.broadcast_to(2.0 ** -np.arange(k), (n, k)).ravel()
    tie = np.bincount(flat, weights=ranks, minlength=n * n_classes).reshape(n, n_classes)
    return counts, counts + TIE * tie


def vote(codes: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Majority class code per row of ``codes`` (neighbours nearest first), and its
    exact vote share. Ties go to the tied class whose first neighbour is nearest."""
    n, k = codes.shape
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    rows = np.arange(n)
    if k <= 8:
        # votes for each neighbour's class, position by position; argmax takes the
        # first (nearest) position holding the most votes: the tie rule, directly
        votes = (codes[:, :, None] == codes[:, None, :]).sum(axis=2)
        first = np.argmax(votes, axis=1)
        return codes[rows, first], votes[rows, first] / k
    counts, scores = _scores(codes, n_classes)
    winner = np.argmax(scores, axis=1)
    return winner, counts[rows, winner] / k


def row_keys64(X: np.ndarray) -> np.ndarray:
    """A 64-bit key per row, mixed from the bit patterns of its values."""
    bits = np.ascontiguousarray(X, dtype=np.float64).view(np.uint64)
    key = np.zeros(len(X), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(bits.shape[1]):
            key = (key ^ bits[:, j]) * np.uint64(0x100000001B3)
            key ^= key >> np.uint64(29)
    return key


def distinct_rows(
    X: np.ndarray, force: bool = False
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """(distinct rows, index of each row among them, their keys), or Nones when not
    worth it (unless ``force``).

    Customer tables repeat rows a lot (whole-number ages, incomes and scores: a million
    demo customers hold under 200,000 distinct rows), so assigning the distinct rows and
    spreading the result saves most of the work; below a fifth saved it is not done.

    Rows are keyed by a 64-bit mix of their bit patterns and factorised (hash-based,
    linear time); the result is verified exactly, so a key collision only means no
    deduplication, never a wrong neighbour.
    """
    if X.ndim != 2 or len(X) == 0 or (len(X) < 10_000 and not force):
        return None, None, None
    import pandas as pd

    inverse, keys = pd.factorize(row_keys64(X))
    if len(keys) > 0.8 * len(X) and not force:
        return None, None, None
    representative = np.zeros(len(keys), dtype=np.int64)
    representative[inverse[::-1]] = np.arange(len(X))[::-1]
    unique = X[representative]
    if not np.array_equal(unique[inverse], X):
        return None, None, None
    return unique, inverse, np.asarray(keys, dtype=np.uint64)


#: Unit roundoff of float32 and float64.
_U32 = 2.0 ** -24
_U64 = 2.0 ** -53
#: Coordinates (after centring) beyond which the float32 screen could overflow, and a
#: query's distance from the centre, in reference radii, beyond which its rounding margin
#: would let too many candidates through: such rows go to the tree.
_SCREEN_LIMIT = 1e12
_SCREEN_FAR = 1e4
#: The screened value of the padding rows: above any real one (at most a few times
#: features × _SCREEN_LIMIT², 1e30 at a million features), so never a bound nor a candidate.
_PADDING = float(np.finfo(np.float32).max) / 4


def sq_distances(X: np.ndarray, R: np.ndarray, rows: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances of the pairs (``X[rows]``, ``R[refs]``), in float64:
    the squared differences summed feature by feature, in order (as the cKDTree does up
    to 7 features; beyond, its sums may differ in the last bit)."""
    total = np.zeros(len(rows))
    for j in range(X.shape[1]):
        diff = X[rows, j] - R[refs, j]
        total += diff * diff
    return total


def _kth_smallest(A: np.ndarray, k: int) -> np.ndarray:
    """The k-th smallest value of each column of ``A``."""
    if k == 1:
        return A.min(axis=0)
    return np.partition(np.ascontiguousarray(A.T), k - 1, axis=1)[:, k - 1]


class BlockScreen:
    """Exact k nearest neighbours by blocked brute force: a float32 screen on BLAS, then
    an exact float64 refinement of the few candidates it lets through.

    For a block of queries ``x`` and all reference points ``y`` (both centred on the
    reference mean), one matrix product gives ``s(x, y) = ||y||² − 2 x·y`` in float32
    (the squared distance less ``||x||²``, which does not change the ranking), tile by
    tile so that it stays in cache. Each tile is reduced at once to the minimum over
    groups of ``group`` points, and the groups to the minimum over super-groups of
    ``supergroup``; the k-th smallest super-group minimum ``b`` is an upper bound of the
    k-th nearest neighbour's ``s`` (k distinct points reach it), up to rounding.

    Rounding is bounded, not hoped away: with ``d`` features, the float32 rounding of the
    inputs and of a sum of ``d + 1`` products moves ``s`` by at most
    ``E = (d + 8) u (2 ||x|| Y + Y²)`` (``u = 2⁻²⁴``, ``Y`` the largest reference norm;
    the standard bound is ``(d + 3) u``), and the float64 distances by far less. So every
    point among the exact k nearest has a screened ``s`` within ``b + 2E`` (plus the
    float64 slack): the super-groups, groups and points under that threshold are the
    candidates, whose exact distances (:func:`sq_distances`) decide. The result is the
    exact k nearest, ordered by distance, then by index among equal distances.

    Work: one ``(tile × (d+1)) @ ((d+1) × block)`` product and a minimum per pair of
    query and reference point, nearly all in BLAS and numpy's vector loops, on
    ``workers`` threads (BLAS itself on one thread each). Memory: a block's products
    (``reference × block`` float32, at most 32 MB) per thread. A query too far out for
    the float32 margin (:data:`_SCREEN_FAR`), or a block whose candidates would be
    unbounded (tied distances by the thousand), goes to the ``fallback`` search.
    """

    TILE = 512
    GROUP = 32
    SUPERGROUP = 8
    BLOCK = 256
    BLOCK_FLOATS = 1 << 23

    def __init__(self, points: np.ndarray, fallback: Callable[[np.ndarray, int], tuple]) -> None:
        self.points = points
        self.fallback = fallback
        m, d = points.shape
        self.centre = points.mean(axis=0)
        centred = points - self.centre
        norms = np.einsum("ij,ij->i", centred, centred)
        self.radius = float(np.sqrt(norms.max()))
        self.usable = bool(np.abs(centred).max() <= _SCREEN_LIMIT)
        self.tile = min(self.TILE, -(-m // self.GROUP) * self.GROUP)
        padded = -(-m // self.tile) * self.tile if self.usable else 0
        self.rows = np.zeros((padded, d + 1), dtype=np.float32)
        self.block = int(min(self.BLOCK, max(16, self.BLOCK_FLOATS // max(padded, 1))))
        if not self.usable:  # beyond float32: the fallback searches
            return
        self.rows[:m, :d] = -2.0 * centred
        self.rows[:m, d] = norms
        self.rows[m:, d] = _PADDING

    def _layout(self, k: int) -> tuple[int, int]:
        """(group, supergroup) sizes leaving at least k super-groups."""
        group, supergroup = self.GROUP, self.SUPERGROUP
        while group > 1 and len(self.rows) // group < k:
            group //= 2
        while supergroup > 1 and len(self.rows) // group // supergroup < k:
            supergroup //= 2
        return group, supergroup

    def query(self, X: np.ndarray, k: int, workers: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices of the ``k`` nearest points of each row, nearest first."""
        from threadpoolctl import threadpool_limits

        n = len(X)
        dist = np.empty((n, k))
        ind = np.empty((n, k), dtype=np.int64)
        if n == 0:
            return dist, ind
        starts = range(0, n, self.block)

        def run(start: int) -> None:
            stop = min(start + self.block, n)
            dist[start:stop], ind[start:stop] = self._block(X[start:stop], k)

        if workers < 0:
            workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
                else os.cpu_count() or 1
        threads = max(1, workers)
        threads = min(threads, len(starts))
        with threadpool_limits(limits=1, user_api="blas"):
            if threads > 1:
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(run, starts))
            else:
                for start in starts:
                    run(start)
        return dist, ind

    def _block(self, X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        m, d = self.points.shape
        n, tile, padded = len(X), self.tile, len(self.rows)
        centred = X - self.centre
        norm = np.sqrt(np.einsum("ij,ij->i", centred, centred))
        if not (np.abs(centred).max() <= _SCREEN_LIMIT
                and norm.max() <= _SCREEN_FAR * max(self.radius, 1.0)):
            return self._mixed(X, k, norm)
        group, supergroup = self._layout(k)
        per_tile = tile // group
        groups = padded // group
        queries = np.empty((d + 1, n), dtype=np.float32)
        queries[:d] = centred.T
        queries[d] = 1.0
        products = np.empty((padded, n), dtype=np.float32)
        minima = np.empty((groups, n), dtype=np.float32)
        for start in range(0, padded, tile):
            part = products[start:start + tile]
            np.matmul(self.rows[start:start + tile], queries, out=part)
            # group j of the tile: its points j, j + per_tile, j + 2 per_tile, ...
            np.minimum.reduce(part.reshape(group, per_tile, n), axis=0,
                              out=minima[start // group:(start + tile) // group])
        per_super = groups // supergroup
        supers = np.minimum.reduce(minima[:per_super * supergroup].reshape(
            supergroup, per_super, n), axis=0)
        bound = _kth_smallest(supers, k).astype(np.float64)
        radius = self.radius
        error = (d + 8) * _U32 * (2 * norm * radius + radius * radius)
        slack = (d + 8) * _U64 * (norm + radius) ** 2
        threshold = np.nextafter((bound + 2 * error + 2 * slack + 1e-30).astype(np.float32),
                                 np.float32(np.inf))
        # candidates: super-groups, then their groups, then their points, under the bound
        sup, q = np.nonzero(supers <= threshold)
        grp = sup[:, None] + per_super * np.arange(supergroup)
        keep = minima.ravel().take(grp * n + q[:, None]) <= threshold[q][:, None]
        grp, q = grp[keep], np.broadcast_to(q[:, None], keep.shape)[keep]
        if len(grp) > 16 * k * n:  # thousands of tied points: let the tree sort them out
            return self.fallback(X, k)
        # leftover groups past the last whole super-group
        rest = np.arange(per_super * supergroup, groups)
        if len(rest):
            extra, eq = np.nonzero(minima[rest] <= threshold)
            grp, q = np.concatenate([grp, rest[extra]]), np.concatenate([q, eq])
        members = ((grp // per_tile) * tile + grp % per_tile)[:, None] + per_tile * np.arange(group)
        keep = products.ravel().take(members * n + q[:, None]) <= threshold[q][:, None]
        refs, rows = members[keep], np.broadcast_to(q[:, None], keep.shape)[keep]
        real = refs < m
        refs, rows = refs[real], rows[real]
        sq = sq_distances(X, self.points, rows, refs)
        order = np.lexsort((refs, sq, rows))
        counts = np.bincount(rows, minlength=n)
        if counts.min() < k:  # cannot happen (k points are under the bound); be safe
            return self.fallback(X, k)
        first = np.cumsum(counts) - counts
        pick = order[first[:, None] + np.arange(k)]
        return np.sqrt(sq[pick]), refs[pick]

    def _mixed(self, X: np.ndarray, k: int, norm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows too far out for the float32 screen go to the fallback, the rest through it."""
        centred = np.abs(X - self.centre).max(axis=1)
        far = (centred > _SCREEN_LIMIT) | (norm > _SCREEN_FAR * max(self.radius, 1.0))
        dist = np.empty((len(X), k))
        ind = np.empty((len(X), k), dtype=np.int64)
        if far.any():
            dist[far], ind[far] = self.fallback(X[far], k)
        if not far.all():
            dist[~far], ind[~far] = self._block(X[~far], k)
        return dist, ind


def far_neighbours(points: np.ndarray, X: np.ndarray, k: int,
                   block: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest ``points`` of rows so far out that their squared distances
    overflow float64 (past about 1.3e154), where the tree finds no neighbour at all.

    With ``R = ||x - c||`` (``c`` the points' mean, ``u`` the unit vector towards ``x``),
    ``||x - p||² = R² + R f(p)`` with ``f(p) = ||p - c||² / R - 2 u·(p - c)``: ``f``
    ranks the points as the distance does, with no square of ``R``. Ties go to the lower
    index, as in the tree; the distances are ``R √(1 + f/R)`` (infinite only when ``R``
    itself is past float64)."""
    centre = points.mean(axis=0)
    around = points - centre
    norms = np.einsum("ij,ij->i", around, around)
    dist = np.empty((len(X), k))
    ind = np.empty((len(X), k), dtype=np.int64)
    for start in range(0, len(X), block):
        away = X[start:start + block] - centre
        top = np.abs(away).max(axis=1, keepdims=True)
        top[top == 0] = 1.0
        unit = away / top
        length = np.sqrt(np.einsum("ij,ij->i", unit, unit))[:, None]
        unit /= length
        with np.errstate(over="ignore"):
            R = top * length
        f = norms[None, :] / R - 2.0 * (unit @ around.T)
        nearest = np.argsort(f, axis=1, kind="stable")[:, :k]  # stable: lower index first
        ind[start:start + block] = nearest
        with np.errstate(over="ignore", invalid="ignore"):
            dist[start:start + block] = R * np.sqrt(np.maximum(
                1.0 + np.take_along_axis(f, nearest, axis=1) / R, 0.0))
    return dist, ind


@dataclass(frozen=True)
class Assignment:
    """Where customers land: per row label, vote share, atypical flag, nearest distance."""

    labels: np.ndarray
    confidence: np.ndarray
    atypical: np.ndarray
    distance: np.ndarray

    def take(self, rows: np.ndarray) -> Assignment:
        return Assignment(self.labels[rows], self.confidence[rows], self.atypical[rows],
                          self.distance[rows])

    @staticmethod
    def concat(parts: list[Assignment]) -> Assignment:
        return Assignment(*(np.concatenate([getattr(p, f) for p in parts])
                            for f in ("labels", "confidence", "atypical", "distance")))


class AssignmentMemo:
    """Distinct customers already placed during one scoring run, and where they went.

    A large file repeats the same rows (whole-number ages, incomes and scores) across its
    batches; with a memo each distinct row meets the neighbour search once per file, not
    once per batch. It is exact — a hit is compared value for value — and bounded to
    ``limit`` rows, after which new rows are still assigned but no longer remembered.
    """

    def __init__(self, limit: int = 1_000_000) -> None:
        self.limit = limit
        self._keys = np.empty(0, dtype=np.uint64)
        self._rows: np.ndarray | None = None
        self._result: Assignment | None = None
        self._index = None

    def __len__(self) -> int:
        return len(self._keys)

    def assign(self, rows: np.ndarray, keys: np.ndarray,
               place: Callable[[np.ndarray], Assignment]) -> Assignment:
        """Results for distinct ``rows`` (keyed by ``keys``), calling ``place`` on misses."""
        import pandas as pd

        found = np.full(len(rows), -1, dtype=np.int64)
        if len(self._keys):
            found = self._index.get_indexer(keys)
            hit = found >= 0
            same = np.all(self._rows[found[hit]] == rows[hit], axis=1)
            found[np.flatnonzero(hit)[~same]] = -1  # a key collision: place it afresh
        miss = np.flatnonzero(found < 0)
        fresh = place(rows[miss]) if len(miss) else None
        if fresh is not None and len(self._keys) + len(miss) <= self.limit:
            start = len(self._keys)
            self._keys = np.concatenate([self._keys, keys[miss]])
            self._rows = rows[miss] if self._rows is None else np.vstack([self._rows, rows[miss]])
            self._result = fresh if self._result is None else Assignment.concat([self._result, fresh])
            self._index = pd.Index(self._keys)
            found[miss] = np.arange(start, start + len(miss))
            return self._result.take(found)
        if fresh is None:
            return self._result.take(found)
        # memo full: known rows from the memo, the rest from this call
        order = np.empty(len(rows), dtype=np.int64)
        order[miss] = np.arange(len(miss))
        known = np.flatnonzero(found >= 0)
        combined = Assignment.concat([fresh, self._result.take(found[known])]) if len(known) else fresh
        order[known] = len(miss) + np.arange(len(known))
        return combined.take(order)


@dataclass(frozen=True, eq=False)
class NeighbourVote:
    """The k-nearest-neighbour vote over a reference set: the assigner's prediction.

    ``labels`` are the reference points' classes; ``n_neighbors`` is lowered to the
    number of points when larger. A customer whose nearest reference point is further
    than ``atypical_threshold`` is flagged atypical (never, by default). ``tree`` is the
    points' cKDTree, built when not given (:func:`dataclasses.replace` passes it on).
    ``search`` picks the exact neighbour search: ``"auto"`` (the tree below
    :data:`SCREEN_MIN_FEATURES` features, :class:`BlockScreen` from it), ``"tree"`` or
    ``"screen"``; the neighbours are the same either way (see the module's docstring).
    """

    points: np.ndarray
    labels: np.ndarray
    n_neighbors: int
    atypical_threshold: float = np.inf
    workers: int = -1
    tree: cKDTree | None = field(default=None, repr=False)
    search: str = "auto"
    #: The distinct labels, sorted, and each point's position among them.
    classes: np.ndarray = field(init=False, repr=False)
    codes: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.n_neighbors, int | np.integer) or self.n_neighbors < 1:
            raise ParameterError(f"n_neighbors must be a whole number >= 1, got {self.n_neighbors!r}")
        points = np.ascontiguousarray(self.points, dtype=np.float64)
        if points.ndim != 2 or len(points) == 0 or len(points) != len(self.labels):
            raise ValueError("a neighbour vote needs a 2-D, non-empty set of points, one "
                             "label each")
        classes, codes = np.unique(self.labels, return_inverse=True)
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "codes", codes.reshape(-1).astype(np.int64))
        if self.search not in ("auto", "tree", "screen"):
            raise ValueError(f"search must be auto, tree or screen, got {self.search!r:.40}")
        if self.tree is None:
            object.__setattr__(self, "tree", cKDTree(points))
        object.__setattr__(self, "_screen", None)

    @property
    def screens(self) -> bool:
        """Whether :meth:`query` uses :class:`BlockScreen` (else the tree)."""
        if self.search == "auto":
            return self.points.shape[1] >= SCREEN_MIN_FEATURES
        return self.search == "screen"

    def query(self, X: np.ndarray, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices of the ``k`` (default ``n_neighbors``) nearest points,
        nearest first."""
        k = min(int(k or self.n_neighbors), len(self.points))
        X = np.ascontiguousarray(X, dtype=np.float64)
        if self.screens:
            if self._screen is None:
                object.__setattr__(self, "_screen", BlockScreen(self.points, self._tree_query))
            if self._screen.usable:
                return self._screen.query(X, k, self.workers)
        return self._tree_query(X, k)

    def _tree_query(self, X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        dist, ind = self.tree.query(X, k=k, workers=self.workers)
        if k == 1:
            dist, ind = dist[:, None], ind[:, None]
        ind = ind.astype(np.int64)
        lost = np.flatnonzero((ind == len(self.points)).any(axis=1))
        if len(lost):  # squared distances past float64 (a value of 1e200): no neighbour
            dist[lost], ind[lost] = far_neighbours(self.points, X[lost], k)
        return dist, ind

    def vote_codes(self, ind: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(class codes, vote shares) for neighbour indices from :meth:`query`."""
        return vote(self.codes[ind], len(self.classes))

    def shares(self, ind: np.ndarray) -> np.ndarray:
        """Vote shares per class of :attr:`classes`. The tie-break adds at most 2e-6 to a
        share, so that the most probable class is always the voted one."""
        _, scores = _scores(self.codes[ind], len(self.classes))
        return scores / scores.sum(axis=1, keepdims=True)

    def assign_rows(self, X: np.ndarray) -> Assignment:
        """Labels, confidence, atypical flags and nearest distances, row by row."""
        distance, ind = self.query(X)
        codes, confidence = self.vote_codes(ind)
        nearest = distance[:, 0]
        return Assignment(self.classes[codes], confidence, nearest > self.atypical_threshold,
                          nearest)

    def assign(self, X: np.ndarray, memo: AssignmentMemo | None = None) -> Assignment:
        """As :meth:`assign_rows`, each distinct row looked up once.

        A ``memo`` carries the distinct rows already placed across calls (the batches
        of one file), so that each is looked up once per file.
        """
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.points.shape[1]:
            raise ValueError(f"expected rows of {self.points.shape[1]} features, got an "
                             f"array of shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("the rows to assign contain NaN or infinity")
        unique, inverse, keys = distinct_rows(X, force=memo is not None)
        if unique is None:
            return self.assign_rows(X)
        result = self.assign_rows(unique) if memo is None else memo.assign(
            unique, keys, self.assign_rows)
        return result.take(inverse)


@dataclass(frozen=True)
class Fidelity:
    """How faithfully the assigner reproduces the clusterer, on ``evaluated_on`` of the
    reference customers held out in turn: ``cv_agreement`` with the clusterer's labels,
    ``native_agreement`` with its own ``predict`` (None without one, or when there was
    too little to measure)."""

    cv_agreement: float | None
    native_agreement: float | None
    evaluated_on: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fidelity:
        return cls(**{f.name: data[f.name] for f in fields(cls)})


@dataclass(frozen=True, eq=False)
class FittedSegmenter:
    """A fitted Segmenter as plain data: what its model file holds, what assigning needs.

    ``params`` are the Segmenter's own (``get_params()``), enough to rebuild the
    estimator; ``vote`` is built from the reference set when not given.
    """

    params: Mapping[str, Any]
    reference_X: np.ndarray
    reference_labels: np.ndarray
    classes: np.ndarray
    atypical_threshold: float
    n_features_in: int
    n_fit_rows: int
    fidelity: Fidelity
    vote: NeighbourVote | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.vote is None:
            object.__setattr__(self, "vote", NeighbourVote(
                self.reference_X, self.reference_labels, int(self.params["n_neighbors"]),
                self.atypical_threshold))

    def assign(self, X: np.ndarray, memo: AssignmentMemo | None = None) -> Assignment:
        """Labels, confidence, atypical flags and nearest distances (see
        :meth:`NeighbourVote.assign`)."""
        return self.vote.assign(X, memo)

    def relabel(self, mapping: Mapping[int, int]) -> FittedSegmenter:
        """The same segmenter with segment ids renamed by ``mapping`` (old id -> new id;
        ids not in it, and noise, keep theirs): every customer lands exactly where it
        did, under its new id."""
        labels = map_ids(self.reference_labels, mapping)
        return replace(self, reference_labels=labels,
                       classes=np.unique(map_ids(self.classes, mapping)),
                       vote=replace(self.vote, labels=labels))

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Plain values and arrays (no objects): the model file's ``segmenter``."""
        params = {k: v for k, v in self.params.items() if k != BLOCKS_PARAM}
        if self.params.get(BLOCKS_PARAM):
            params[BLOCKS_PARAM] = [int(b) for b in self.params[BLOCKS_PARAM]]
        meta = {
            "params": params,
            "atypical_threshold": self.atypical_threshold,
            "n_features_in": int(self.n_features_in),
            "n_fit_rows": int(self.n_fit_rows),
            "fidelity": self.fidelity.to_dict(),
        }
        arrays = {
            "reference_X": self.reference_X,
            "reference_labels": self.reference_labels.astype(np.int64),
            "classes": self.classes.astype(np.int64),
        }
        return meta, arrays

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> FittedSegmenter:
        """Read :meth:`state` back (the vote's tree is rebuilt on the same reference set).

        The Segmenter's parameters are checked here, against the registry, not when the
        estimator is first rebuilt: exactly the Segmenter's own names, the fit settings
        within their bounds, the algorithm's parameters as it declares them; the
        atypical threshold a finite distance. Raises :class:`ParameterError` (or
        ``ValueError`` for arrays of the wrong shape).
        """
        from custseg.cluster.algorithms import check_fit_settings, get_algorithm

        params = meta["params"]
        if not isinstance(params, Mapping) or set(params) - {BLOCKS_PARAM} != set(SEGMENTER_PARAMS):
            given = sorted(map(str, params)) if isinstance(params, Mapping) else params
            raise ParameterError(f"the segmenter's parameters must be exactly "
                                 f"{', '.join(SEGMENTER_PARAMS)} (and {BLOCKS_PARAM}, when "
                                 f"it clustered on categories); got {given!r:.200}")
        blocks = params.get(BLOCKS_PARAM, ())
        if not isinstance(blocks, list | tuple) or not blocks and BLOCKS_PARAM in params \
                or not all(type(b) is int and 1 <= b <= 1_000 for b in blocks):
            raise ParameterError(f"the segmenter's {BLOCKS_PARAM} must be widths of one-hot "
                                 f"blocks (whole numbers ≥ 1); got {blocks!r:.80}")
        check_fit_settings(**{k: params[k] for k in SEGMENTER_PARAMS[2:]})
        given = params["params"]
        if given is None:  # the Segmenter's default: the algorithm's defaults
            given = {}
        elif not isinstance(given, Mapping):
            raise ParameterError(f"the algorithm's parameters must be a mapping, got {given!r:.40}")
        resolved = get_algorithm(params["algorithm"]).resolve(given)
        for name, value in given.items():
            if type(value) is str and type(resolved[name]) is not str:  # "5" for a number
                raise ParameterError(f"{name}={value!r:.40} is text; the model must hold a "
                                     "number", parameter="params")
        params = {**params, "params": None if params["params"] is None else resolved,
                  BLOCKS_PARAM: tuple(blocks)}
        threshold = meta["atypical_threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) \
                or not np.isfinite(threshold) or threshold < 0:
            raise ParameterError(f"the atypical threshold must be a finite distance ≥ 0, got "
                                 f"{threshold!r:.40}")
        labels = np.asarray(arrays["reference_labels"])
        classes = np.asarray(arrays["classes"])
        if labels.ndim != 1 or classes.ndim != 1 or labels.dtype.kind not in "iu" \
                or classes.dtype.kind not in "iu":
            raise ValueError("reference labels and classes must be 1-D arrays of whole numbers")
        if not np.isin(labels, classes).all():
            raise ValueError("some reference labels are not among the classes")
        return cls(
            params=params,
            reference_X=np.ascontiguousarray(arrays["reference_X"], dtype=np.float64),
            reference_labels=np.asarray(arrays["reference_labels"], dtype=np.int64),
            classes=np.asarray(arrays["classes"], dtype=np.int64),
            atypical_threshold=float(meta["atypical_threshold"]),
            n_features_in=int(meta["n_features_in"]),
            n_fit_rows=int(meta["n_fit_rows"]),
            fidelity=Fidelity.from_dict(meta["fidelity"]),
        )


def map_ids(labels: np.ndarray, mapping: Mapping[int, int]) -> np.ndarray:
    """Segment ids renamed by ``mapping`` (ids not in it keep theirs), all at once."""
    labels = np.asarray(labels, dtype=np.int64)
    out = labels.copy()
    for old_id, new_id in mapping.items():
        out[labels == old_id] = new_id
    return out
