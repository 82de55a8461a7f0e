"""Classic RFM scoring: quintile scores 1-5 of recency, frequency and monetary value.

A feature's cut points are the values at its 20, 40, 60 and 80% quantiles over the
fitted customers (numpy's ``inverted_cdf``: each cut point is a value some customer
has). A value's *quintile* is 1 + the number of cut points strictly below it, so a value
equal to a cut point falls in the quintile below it (right-closed bins, as pandas'
``qcut``). Identical values therefore always get identical scores, whatever the order
of the rows; where many customers share a value (42% who bought once), they share one
score and the other scores hold fewer customers (a score may even be empty). The three
features are all bounded below and skewed, with their ties at the low end, which
right-closed bins keep in the lowest quintile.

Frequency and monetary scores are the quintiles; the recency score is reversed
(``6 - quintile``): the most recent customers score 5. A column whose values are all
equal has every cut point at that value: every customer is in quintile 1 (recency
score 5, frequency or monetary score 1).

A customer's *cell* is its three scores as text, ``"545"``; the 125 cells are indexed
``25 (r - 1) + 5 (f - 1) + (m - 1)``. What segment a cell belongs to is the rulebook's
score map (:mod:`custseg.segments.profile`); :class:`RFMScoring` holds the cut points
and the cell-to-segment table a model applies. Numpy only: scoring never loads
scikit-learn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from custseg.errors import ParameterError

#: The roles scored, in cell order: recency first.
SCORE_ROLES: tuple[str, ...] = ("recency", "frequency", "monetary")
#: The scored output's columns for an RFM model, in order.
SCORE_NAMES: tuple[str, ...] = ("r_score", "f_score", "m_score")
CELL_COLUMN = "rfm_cell"
#: Scores per feature (quintiles) and cells (5 ** 3).
N_SCORES = 5
N_CELLS = N_SCORES ** 3
#: The quantiles of the cut points.
QUANTILES = (0.2, 0.4, 0.6, 0.8)


def quintile_cuts(values: Any) -> np.ndarray:
    """The four cut points of ``values`` (finite numbers, at least one)."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or len(x) == 0 or not np.isfinite(x).all():
        raise ValueError("quintile cut points need at least one value, all finite")
    return np.quantile(x, QUANTILES, method="inverted_cdf").astype(np.float64)


def quintiles(values: Any, cuts: Sequence[float]) -> np.ndarray:
    """1 + the number of ``cuts`` strictly below each value (1-5)."""
    x = np.asarray(values, dtype=np.float64)
    return (1 + np.searchsorted(np.asarray(cuts, dtype=np.float64), x, side="left")).astype(
        np.int8)


def scores(values: Any, cuts: Sequence[float], *, reverse: bool = False) -> np.ndarray:
    """Scores 1-5 of ``values``; ``reverse`` (recency): the lowest values score 5."""
    q = quintiles(values, cuts)
    return (N_SCORES + 1 - q).astype(np.int8) if reverse else q


def cell_index(r: Any, f: Any, m: Any) -> np.ndarray:
    """Index 0-124 of each cell from its three scores."""
    r, f, m = (np.asarray(s, dtype=np.int64) for s in (r, f, m))
    return 25 * (r - 1) + 5 * (f - 1) + (m - 1)


def cell_text(index: int) -> str:
    """``"545"`` for the cell of index ``index``."""
    r, rest = divmod(int(index), 25)
    f, m = divmod(rest, 5)
    return f"{r + 1}{f + 1}{m + 1}"


#: Every cell's text, in index order ("111", "112", … "555").
CELLS: tuple[str, ...] = tuple(cell_text(i) for i in range(N_CELLS))


def check_cuts(cuts: Any, what: str) -> np.ndarray:
    """Four finite, non-decreasing cut points, or a ParameterError naming ``what``."""
    c = np.asarray(cuts, dtype=np.float64)
    if c.shape != (len(QUANTILES),) or not np.isfinite(c).all():
        raise ParameterError(f"the {what} cut points must be {len(QUANTILES)} finite numbers")
    if np.any(np.diff(c) < 0):
        raise ParameterError(f"the {what} cut points must not decrease (got "
                             f"{', '.join(f'{v:g}' for v in c)})")
    return c


@dataclass(frozen=True)
class RFMScoring:
    """What an RFM model applies to a customer: its features' cut points and the
    segment of each of the 125 cells.

    ``features`` maps each role of :data:`SCORE_ROLES` to the model's feature of that
    role; ``cuts`` maps each role to its four cut points, in the feature's own units;
    ``cells`` holds the segment id of every cell, in index order; ``unfitted`` the
    segments of the map no fitted customer fell in (``{"id", "name", "description",
    "strategy"}``), which new customers can still be placed in.
    """

    features: Mapping[str, str]
    cuts: Mapping[str, tuple[float, ...]]
    cells: tuple[int, ...]
    unfitted: tuple[Mapping[str, Any], ...] = field(default=())

    def score(self, columns: Mapping[str, Any]) -> np.ndarray:
        """The (rows, 3) scores of the customers whose features are ``columns``
        (feature name -> values)."""
        out = [scores(columns[self.features[role]], self.cuts[role],
                      reverse=(role == "recency")) for role in SCORE_ROLES]
        return np.column_stack(out).astype(np.int8) if out else np.empty((0, 3), np.int8)

    def segments_of(self, score: np.ndarray) -> np.ndarray:
        """The segment id of each row of scores: the map applied to its cell."""
        index = cell_index(score[:, 0], score[:, 1], score[:, 2])
        return np.asarray(self.cells, dtype=np.int64)[index]

    def cells_of(self, segment_id: int) -> list[str]:
        """The cells of a segment, in cell order."""
        return [CELLS[i] for i, s in enumerate(self.cells) if s == segment_id]

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": dict(self.features),
            "cuts": {role: [float(v) for v in self.cuts[role]] for role in SCORE_ROLES},
            "cells": [int(s) for s in self.cells],
            "unfitted": [dict(u) for u in self.unfitted],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RFMScoring:
        return cls(
            features=dict(data["features"]),
            cuts={role: tuple(float(v) for v in data["cuts"][role]) for role in SCORE_ROLES},
            cells=tuple(int(s) for s in data["cells"]),
            unfitted=tuple(dict(u) for u in data.get("unfitted", ())),
        )


class RFMQuintiles:
    """The registry's estimator for ``rfm`` on a bare matrix: each row's cell of column
    quintiles (ascending, no map), as a whole-number label. A model fits RFM from the
    features' roles and the rulebook's map instead (see
    :func:`custseg.model.segmentation.fit_model`); this keeps the generic machinery (a
    Segmenter on any matrix) meaningful: customers with the same quintiles share a label.
    """

    def __init__(self) -> None:
        pass

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {}

    def set_params(self, **params: Any) -> RFMQuintiles:
        return self

    def fit(self, X: Any, y: Any = None) -> RFMQuintiles:
        X = np.asarray(X, dtype=np.float64)
        self.cuts_ = [quintile_cuts(X[:, j]) for j in range(X.shape[1])]
        self.labels_ = self._codes(X)
        return self

    def _codes(self, X: np.ndarray) -> np.ndarray:
        code = np.zeros(len(X), dtype=np.int64)
        for j, cuts in enumerate(self.cuts_):
            code = code * N_SCORES + (quintiles(X[:, j], cuts).astype(np.int64) - 1)
        return code

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        return self.fit(X).labels_
