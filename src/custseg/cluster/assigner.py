"""The k-nearest-neighbour classifier every assignment goes through, as an estimator.

A plain majority vote of the ``n_neighbors`` nearest known customers; the vote share is
the confidence, and a tie goes to the tied class whose first neighbour is nearest. The
vote itself is :class:`~custseg.cluster.assignment.NeighbourVote` (numpy and scipy only,
so that scoring never loads scikit-learn); this estimator builds one in ``fit`` and
delegates to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from custseg.cluster.assignment import NeighbourVote


class KNNAssigner(ClassifierMixin, BaseEstimator):
    """k-nearest-neighbour classifier (uniform vote) on an exact neighbour search (a
    cKDTree in a few dimensions, a BLAS screen in many: see NeighbourVote).

    Parameters
    ----------
    n_neighbors : int
        Neighbours in the vote; lowered to the number of known samples when larger.
    workers : int
        Threads for queries (-1: every core).

    ``tree_`` is the cKDTree over the known samples, built whatever the search.

    Attributes
    ----------
    vote_ : NeighbourVote
        The vote over the known samples, which :meth:`predict` delegates to.
    """

    def __init__(self, n_neighbors: int = 3, *, workers: int = -1) -> None:
        self.n_neighbors = n_neighbors
        self.workers = workers

    def fit(self, X: Any, y: Any) -> KNNAssigner:
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.vote_ = NeighbourVote(np.array(X, dtype=np.float64, copy=True), y,
                                   self.n_neighbors, workers=self.workers)
        self.classes_ = self.vote_.classes
        self.tree_ = self.vote_.tree
        self.n_samples_fit_ = X.shape[0]
        return self

    def kneighbors(
        self, X: Any = None, n_neighbors: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices of the nearest known samples, nearest first.

        With ``X=None``, the neighbours of each known sample other than itself.
        """
        check_is_fitted(self, "vote_")
        k = min(int(n_neighbors or self.n_neighbors), self.n_samples_fit_)
        if X is None:
            k = min(k, self.n_samples_fit_ - 1)
            if k < 1:
                raise ValueError("need at least two known samples for their own neighbours")
            dist, ind = self.vote_.query(self.vote_.points, k + 1)
            own = ind == np.arange(len(ind))[:, None]
            # drop each sample itself (or, among equal distances, the last neighbour)
            drop = np.where(own.any(axis=1), np.argmax(own, axis=1), k)
            keep = np.ones_like(own)
            keep[np.arange(len(ind)), drop] = False
            return dist[keep].reshape(-1, k), ind[keep].reshape(-1, k)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.vote_.query(X, k)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "vote_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.vote_.assign_rows(X).labels

    def predict_proba(self, X: Any) -> np.ndarray:
        """Vote shares per class (see :meth:`NeighbourVote.shares`)."""
        _, ind = self.kneighbors(X)
        return self.vote_.shares(ind)
