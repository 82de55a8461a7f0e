"""Score a table: the contract's segment columns for every input row, nothing dropped.

Scored output = every input row, in input order, every input column unchanged, plus
``segment_id``, ``segment_name``, ``confidence`` (0–1), ``atypical``, ``row_status``
(``ok`` | ``invalid``) and ``row_issues``. Invalid rows keep their place with empty
segment fields. This module builds those six columns; :mod:`custseg.io` puts them beside
the untouched input columns and writes them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custseg.cluster.assignment import AssignmentMemo
from custseg.cluster.labels import RETURNS_ONLY
from custseg.cluster.rfm import CELL_COLUMN, CELLS, SCORE_NAMES, cell_index
from custseg.model.drift import DriftCounts, DriftReference
from custseg.model.segmentation import SegmentationModel
from custseg.table.parse import NumberFormat
from custseg.table.validate import Validated, validate

SCORE_COLUMNS: tuple[str, ...] = (
    "segment_id",
    "segment_name",
    "confidence",
    "atypical",
    "row_status",
    "row_issues",
)


def score_columns(model: SegmentationModel) -> tuple[str, ...]:
    """The columns scoring adds for ``model``: the contract's, then, for an RFM model,
    ``r_score``, ``f_score``, ``m_score`` and ``rfm_cell``."""
    return SCORE_COLUMNS + ((*SCORE_NAMES, CELL_COLUMN) if model.rfm is not None else ())


@dataclass(frozen=True)
class Scored:
    """Contract columns for some rows; invalid rows counted by reason, remarks by kind;
    the valid rows counted per bin of each feature when drift was asked for."""

    columns: pd.DataFrame
    reasons: Counter
    notes: Counter
    drift: DriftCounts | None = None


def score_rows(
    model: SegmentationModel,
    frame: pd.DataFrame,
    *,
    decimal: str = ".",
    income_unit: str = "k$",
    duplicates: Mapping[int, str] | None = None,
    structural: Mapping[int, str] | None = None,
    memo: AssignmentMemo | None = None,
    number_format: NumberFormat | None = None,
    drift: DriftReference | None = None,
) -> Scored:
    """Validate and assign the rows of ``frame`` (canonical field columns).

    ``duplicates`` carries notes from a whole-file duplicate check when ``frame`` is
    one batch of a larger input; by default duplicates are found within ``frame``.
    ``structural`` marks rows the reader could not split into columns. ``memo`` (one per
    file) remembers the distinct rows already placed by earlier batches.
    ``number_format`` is how the whole file writes its numbers, when ``frame`` is one
    batch of it, so that a cell reads the same in every batch.
    ``drift`` (from :func:`custseg.model.drift.drift_reference`) counts the valid rows
    per bin of each feature, for the population stability index.
    """
    validated = validate(
        frame,
        required=model.encoding.needs,
        ranges=model.config.ranges,
        decimal=decimal,
        income_unit=income_unit,
        duplicates=duplicates,
        structural=structural,
        number_format=number_format,
        spec=model.config.spec,
        as_of=model.config.spec.fit_date,
    )
    counts = drift.count(validated.valid_values()) if drift is not None else None
    return Scored(score_validated(model, validated, memo), validated.reasons, validated.notes,
                  counts)


def score_frame(model: SegmentationModel, frame: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """The six contract columns for each row of ``frame`` (see :func:`score_rows`)."""
    return score_rows(model, frame, **options).columns


def score_validated(
    model: SegmentationModel, validated: Validated, memo: AssignmentMemo | None = None
) -> pd.DataFrame:
    """Contract columns for an already validated table."""
    n = validated.n_rows
    ok = validated.valid
    labels = np.zeros(n, dtype=np.int64)
    confidence = np.zeros(n)
    atypical = np.zeros(n, dtype=bool)
    issues = validated.issues.copy()
    rfm = np.ones((n, 3), dtype=np.int8) if model.rfm is not None else None
    if ok.any():
        values = validated.values.loc[ok] if not ok.all() else validated.values
        result = model.assign(values, memo)
        if rfm is not None:
            rfm[ok] = model.rfm_scores(values)
        labels[ok] = result.labels
        confidence[ok] = np.round(result.confidence, 4)
        atypical[ok] = result.atypical
        unseen = _unseen_gender(model, values)
        if unseen is not None and unseen.any():
            rows = np.flatnonzero(ok)[unseen]
            notes = np.array(
                [f"gender {v!r} was not seen when the model was fitted"
                 for v in values["gender"].to_numpy()[unseen]],
                dtype=object,
            )
            current = issues[rows]
            issues[rows] = np.where(current == "", notes, current + "; " + notes)
    if validated.apart is not None and validated.apart.any():
        # returns only: placed by the rule, not by the assigner, so certain and typical
        # of their segment (see custseg.table.spec.ReturnsOnly)
        labels[validated.apart] = RETURNS_ONLY
        confidence[validated.apart] = 1.0
    unscored = ~ok  # rows the model did not place: invalid, or set apart (no RFM scores)
    missing = validated.invalid
    ok = ~missing
    known = model.assignable_names
    ids = sorted(known)
    names = pa.array([str(known[i]) for i in ids], type=pa.string())
    position = pd.Index(ids, dtype="int64").get_indexer(labels)  # -1: a label with no name
    seg_name = pc.take(names, pa.array(position, mask=missing | (position < 0)))
    status = pc.take(pa.array(["invalid", "ok"]), pa.array(ok.astype(np.int8)))
    extra = {}
    if rfm is not None:  # after the contract columns; empty on invalid and set-apart rows
        extra = {name: pd.arrays.IntegerArray(rfm[:, j].astype(np.int64), unscored.copy())
                 for j, name in enumerate(SCORE_NAMES)}
        cell = cell_index(rfm[:, 0], rfm[:, 1], rfm[:, 2])
        extra[CELL_COLUMN] = pd.arrays.ArrowExtensionArray(
            pc.take(pa.array(CELLS, type=pa.string()), pa.array(cell, mask=unscored)))
    return pd.DataFrame(
        {
            "segment_id": pd.arrays.IntegerArray(labels, missing),
            "segment_name": pd.arrays.ArrowExtensionArray(seg_name),
            "confidence": pd.arrays.FloatingArray(confidence, missing.copy()),
            "atypical": pd.arrays.BooleanArray(atypical, missing.copy()),
            "row_status": pd.arrays.ArrowExtensionArray(status),
            "row_issues": pd.arrays.ArrowExtensionArray(_sparse_text(issues)),
            **extra,
        }
    )


def _sparse_text(issues: np.ndarray) -> pa.Array:
    """An arrow text column from an object array that is mostly "" (cheap when so)."""
    filled = np.flatnonzero(issues != "")
    codes = np.zeros(len(issues), dtype=np.int64)
    codes[filled] = np.arange(1, len(filled) + 1)
    values = pa.array([""] + issues[filled].tolist(), type=pa.string())
    return pc.take(values, pa.array(codes))


def _unseen_gender(model: SegmentationModel, values: pd.DataFrame) -> np.ndarray | None:
    if not model.encoding.use_gender:
        return None
    known = np.asarray(model.encoding.gender_categories, dtype=object)
    return ~np.isin(values["gender"].to_numpy(dtype=object), known)
