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

from custseg.model import SegmentationModel
from custseg.schema import Validated, validate

SCORE_COLUMNS: tuple[str, ...] = (
    "segment_id",
    "segment_name",
    "confidence",
    "atypical",
    "row_status",
    "row_issues",
)


@dataclass(frozen=True)
class Scored:
    """Contract columns for some rows; invalid rows counted by reason, remarks by kind."""

    columns: pd.DataFrame
    reasons: Counter
    notes: Counter


def score_rows(
    model: SegmentationModel,
    frame: pd.DataFrame,
    *,
    decimal: str = ".",
    income_unit: str = "k$",
    duplicates: Mapping[int, str] | None = None,
    structural: Mapping[int, str] | None = None,
) -> Scored:
    """Validate and assign the rows of ``frame`` (canonical field columns).

    ``duplicates`` carries notes from a whole-file duplicate check when ``frame`` is
    one batch of a larger input; by default duplicates are found within ``frame``.
    ``structural`` marks rows the reader could not split into columns.
    """
    validated = validate(
        frame,
        required=model.encoding.needs,
        ranges=model.config.ranges,
        decimal=decimal,
        income_unit=income_unit,
        duplicates=duplicates,
        structural=structural,
    )
    return Scored(score_validated(model, validated), validated.reasons, validated.notes)


def score_frame(model: SegmentationModel, frame: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """The six contract columns for each row of ``frame`` (see :func:`score_rows`)."""
    return score_rows(model, frame, **options).columns


def score_validated(model: SegmentationModel, validated: Validated) -> pd.DataFrame:
    """Contract columns for an already validated table."""
    n = validated.n_rows
    ok = validated.valid
    seg_id = pd.array(np.zeros(n, dtype=np.int64), dtype="Int64")
    seg_id[:] = pd.NA
    confidence = pd.array(np.zeros(n), dtype="Float64")
    confidence[:] = pd.NA
    atypical = pd.array(np.zeros(n, dtype=bool), dtype="boolean")
    atypical[:] = pd.NA
    issues = validated.issues.copy()
    if ok.any():
        values = validated.values.loc[ok]
        result = model.assign(values)
        seg_id[ok] = result.labels
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
    names = pd.Series(model.names, dtype="str")
    seg_name = pd.Series(seg_id).map(names).astype("str")
    return pd.DataFrame(
        {
            "segment_id": seg_id,
            "segment_name": seg_name.array,
            "confidence": confidence,
            "atypical": atypical,
            "row_status": np.where(ok, "ok", "invalid"),
            "row_issues": issues.astype("str"),
        }
    )


def _unseen_gender(model: SegmentationModel, values: pd.DataFrame) -> np.ndarray | None:
    if not model.encoding.use_gender:
        return None
    known = np.asarray(model.encoding.gender_categories, dtype=object)
    return ~np.isin(values["gender"].to_numpy(dtype=object), known)
