"""The k-nearest-neighbour classifier every assignment goes through.

A plain majority vote of the ``n_neighbors`` nearest known customers (exact Euclidean
neighbours from scipy's cKDTree, queried on all cores — several times faster than a
single-threaded tree on a million queries). The vote share is the confidence; a tie
goes to the tied class whose first neighbour is nearest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial import cKDTree
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

#: Weight of the tie-break: each neighbour adds TIE * 2**-rank to its class. A class's
#: sum of 2**-rank is decided by its nearest member, so among classes with equal votes
#: the one holding the nearest neighbour wins, and no vote count is ever overturned.
TIE = 1e-6


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


class KNNAssigner(ClassifierMixin, BaseEstimator):
    """k-nearest-neighbour classifier (uniform vote) on a cKDTree.

    Parameters
    ----------
    n_neighbors : int
        Neighbours in the vote; lowered to the number of known samples when larger.
    workers : int
        Threads for queries (-1: every core).
    """

    def __init__(self, n_neighbors: int = 3, *, workers: int = -1) -> None:
        self.n_neighbors = n_neighbors
        self.workers = workers

    def fit(self, X: Any, y: Any) -> KNNAssigner:
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        if not isinstance(self.n_neighbors, int | np.integer) or self.n_neighbors < 1:
            raise ValueError(f"n_neighbors must be a whole number >= 1, got {self.n_neighbors!r}")
        self.classes_, self._codes = np.unique(y, return_inverse=True)
        self._codes = self._codes.astype(np.int64)
        self.tree_ = cKDTree(np.array(X, dtype=np.float64, copy=True))
        self.n_samples_fit_ = X.shape[0]
        return self

    def kneighbors(
        self, X: Any = None, n_neighbors: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices of the nearest known samples, nearest first.

        With ``X=None``, the neighbours of each known sample other than itself.
        """
        check_is_fitted(self, "tree_")
        k = min(int(n_neighbors or self.n_neighbors), self.n_samples_fit_)
        if X is None:
            k = min(k, self.n_samples_fit_ - 1)
            if k < 1:
                raise ValueError("need at least two known samples for their own neighbours")
            dist, ind = self._query(self.tree_.data, k + 1)
            own = ind == np.arange(len(ind))[:, None]
            # drop each sample itself (or, among equal distances, the last neighbour)
            drop = np.where(own.any(axis=1), np.argmax(own, axis=1), k)
            keep = np.ones_like(own)
            keep[np.arange(len(ind)), drop] = False
            return dist[keep].reshape(-1, k), ind[keep].reshape(-1, k)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self._query(X, k)

    def _query(self, X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        dist, ind = self.tree_.query(X, k=k, workers=self.workers)
        if k == 1:
            dist, ind = dist[:, None], ind[:, None]
        return dist, ind.astype(np.int64)

    def vote_codes(self, ind: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(class codes, vote shares) for neighbour indices from :meth:`kneighbors`."""
        return vote(self._codes[ind], len(self.classes_))

    def predict(self, X: Any) -> np.ndarray:
        _, ind = self.kneighbors(X)
        return self.classes_[self.vote_codes(ind)[0]]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Vote shares per class. The tie-break adds at most 2e-6 to a share, so that
        the most probable class is always the predicted one."""
        _, ind = self.kneighbors(X)
        _, scores = _scores(self._codes[ind], len(self.classes_))
        return scores / scores.sum(axis=1, keepdims=True)
