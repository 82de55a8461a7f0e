"""Tables and figures-as-numbers the faces show: pure functions over a model and data.

Pages and commands stay thin by calling these instead of doing pandas work themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from custseg.cluster.algorithms import ALGORITHMS, Diagnostic
from custseg.cluster.labels import NOISE, segment_label
from custseg.cluster.stability import Stability, reading
from custseg.model.segmentation import SegmentationModel
from custseg.segments.profile import BaseStats, SegmentProfile
from custseg.table.spec import InputSpec, label_of, with_unit
from custseg.table.validate import Validated


def headline(model: SegmentationModel) -> dict[str, Any]:
    """Customers, average age / income / score, number of segments, outlier share."""
    base = model.base
    outliers = sum(s.size for s in model.segments if s.id == NOISE)
    return {
        "customers": base.n + model.quality.n_returns_only,  # every customer, in one segment
        "returns_only": model.quality.n_returns_only,
        "age": base.means.get("age"),
        "annual_income": base.means.get("annual_income"),
        "spending_score": base.means.get("spending_score"),
        "segments": sum(1 for s in model.segments if s.id != NOISE),
        "outlier_share": outliers / base.n if base.n else 0.0,
    }


#: How the headline names the well-known fields' averages (the Mall dashboard's figures).
_HEADLINE_FIELDS = {
    "age": ("Average age", " yrs", None),
    "annual_income": ("Average income", " k$", None),
    "spending_score": ("Average score", "", "Average spending score, 1–100."),
}


def headline_figures(model: SegmentationModel, limit: int = 3) -> list[tuple[str, str, str]]:
    """``(label, value, help)`` for the headline's averages: the well-known fields the
    model has, as the Mall dashboard shows them, then its other features in their
    order, with their units, up to ``limit`` in all. ``help`` names the feature whole
    (a long header is cut in the label)."""
    base, spec = model.base, model.config.spec
    out = []
    for name in model.config.features:
        mean = base.means.get(name)
        if name in _HEADLINE_FIELDS:
            label, suffix, help_text = _HEADLINE_FIELDS[name]
            out.append((label, "–" if mean is None else f"{mean:,.1f}{suffix}",
                        help_text or f"Average {with_unit(name, spec)} of every customer."))
    for name in model.config.features:
        if name in _HEADLINE_FIELDS:
            continue
        mean = base.means.get(name)
        unit = spec.get(name).unit if spec.get(name) is not None else ""
        value = "–" if mean is None else f"{mean:,.{_digits(mean)}f}" + (f" {unit}" if unit else "")
        out.append((f"{label_of(name)} (average)", value,
                    f"Average {with_unit(name, spec)} of every customer."))
    return out[:limit]


def _digits(value: float) -> int:
    """Decimals for an average: 1 from 10 up, 2 below (a share such as 0.47)."""
    return 1 if abs(value) >= 10 else 2


def features_table(model: SegmentationModel) -> pd.DataFrame:
    """One row per feature the model clusters on: where it comes from (a well-known
    field, a column, a derivation), its role, unit and the transform applied."""
    from custseg.table.roles import FIELD_ROLES
    from custseg.table.spec import unit_of

    spec = model.config.spec
    applied = dict(zip(model.encoding.features, model.encoding.transforms, strict=False))
    rows = []
    for name in model.config.features:
        feature = spec.get(name)
        if feature is None:
            source, role, read = "field", FIELD_ROLES.get(name, "other"), ""
        else:
            source, role = feature.source, feature.role
            read = feature.expr if feature.source == "derived" else (feature.column or "")
        rows.append({"feature": name, "source": source, "role": role,
                     "unit": unit_of(name, spec), "transform": applied.get(name, "none"),
                     "reads": read})
    return pd.DataFrame(rows)


def level_table(segment: SegmentProfile, base: BaseStats,
                spec: InputSpec | None = None) -> pd.DataFrame:
    """Per feature: the segment's average, everyone's average, and the gap in SD (the
    level chart beside it says low / mid / high). A feature the segment has no value of
    (the recency of customers with returns only) is left out, as in its level chart."""
    # Column names are short so the table fits a dashboard card.
    rows = []
    for f in segment.means:
        if not np.isfinite(segment.means[f]):  # no value (recency for the returns only)
            continue
        rows.append(
            {
                "feature": with_unit(f, spec),
                "segment": segment.means[f],
                "everyone": base.means[f],
                "gap (SD)": segment.z[f],
            }
        )
    return pd.DataFrame(rows)


def category_table(segment: SegmentProfile, base: BaseStats) -> pd.DataFrame:
    """Per column profiled by and value: the segment's share, everyone's, and the lift
    (the segment's shares of a column held by none of it are left out)."""
    rows = []
    for column, entries in segment.categories.items():
        everyone = base.categories.get(column, {})
        for e in entries:
            if not e.get("count"):
                continue
            rows.append({"column": column, "value": str(e["value"]), "segment": e["share"],
                         "everyone": everyone.get(e["value"]), "lift": e["lift"]})
    return pd.DataFrame(rows, columns=["column", "value", "segment", "everyone", "lift"])


def _listed(items: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def settings_text(algorithm: str, params: Mapping[str, Any]) -> str:
    """An algorithm by its registry label with its settings, in the names ``--param``
    takes: "HDBSCAN (min_cluster_size=15, min_samples=auto, cluster_selection_epsilon=0.55)".
    Settings come in the registry's order; one left to the algorithm (None) reads
    "auto"; RFM scoring has none."""
    spec = ALGORITHMS.get(algorithm)
    label = spec.label if spec is not None else algorithm
    order = [p.name for p in spec.params] if spec is not None else []
    # in the registry's order (a model file read back holds them sorted)
    names = sorted(params, key=lambda k: (order.index(k) if k in order else len(order), k))
    shown = ", ".join(f"{k}={_setting(params[k])}" for k in names)
    return f"{label} ({shown})" if shown else label


def _setting(value: Any) -> str:
    if value is None:
        return "auto"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def features_text(features: Sequence[str], use_gender: bool = False) -> str:
    """"age, annual income and spending score": the well-known fields' labels in lower
    case, other features as their headers write them."""
    named = [label_of(f).lower() if f in _HEADLINE_FIELDS else label_of(f) for f in features]
    if use_gender:
        named.append("gender")
    return _listed(named) if named else "no feature"


def describe_model(model: SegmentationModel) -> str:
    """"K-Means (n_clusters=5, n_init=10) on age, annual income and spending score"."""
    return (f"{settings_text(model.config.algorithm, model.config.params)} on "
            f"{features_text(model.config.features, model.config.use_gender)}")


def algorithms_with(diagnostic: Diagnostic) -> str:
    """The algorithms a diagnostic chart is drawn for, by label: "K-Means, … and BIRCH"."""
    return _listed([s.label for s in ALGORITHMS.values() if diagnostic in s.diagnostics])


def fit_note(model: SegmentationModel) -> str:
    """How the fit was made: sample size and the assigner's agreement, in one sentence;
    for RFM scoring, that the segments are the score map's (the assigner's agreement,
    about a vote that never sets an RFM segment, is left to the Model Lab); and the
    customers with returns only, set apart, when there are some."""
    seg = model.segmenter
    used = model.quality.n_used
    apart = model.quality.n_returns_only
    apart_said = (f" {apart:,} customer{'s' if apart != 1 else ''} with returns only "
                  "set apart in their own segment, never clustered." if apart else "")
    if model.rfm is not None:
        return (f"Every one of the {used:,} customers scored 1–5 on recency, frequency and "
                "monetary value (quintiles of these customers); the segment is the "
                f"rulebook's score map applied to the scores.{apart_said}")
    agreement = seg.fidelity_.cv_agreement
    said = ("" if agreement is None
            else f" The assigner agrees with the clusterer on {agreement:.1%} of held-out customers.")
    if seg.n_fit_rows_ < used:
        return (f"The clusterer was fitted on a random sample of {seg.n_fit_rows_:,} of "
                f"{used:,} customers; the assigner placed the others.{said}{apart_said}")
    return f"The clusterer was fitted on all {used:,} customers.{said}{apart_said}"


def cells_text(cells: Sequence[str], shown: int = 12) -> str:
    """A segment's RFM cells (R, F, M scores, 5 best) in one line: "RFM cells (3): 555,
    554 and 545"; past ``shown``, the first ones and how many more."""
    if not cells:
        return "RFM cells: none."
    listed = list(cells[:shown]) + ([f"{len(cells) - shown} more"] if len(cells) > shown else [])
    return f"RFM cells ({len(cells)}): {_listed(listed)}."


#: An RFM placement's scores as the Predict page shows them: key, label.
_SCORE_FIGURES = (("r_score", "Recency score"), ("f_score", "Frequency score"),
                  ("m_score", "Monetary score"))


def rfm_score_figures(result: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(label, value, help)`` for an RFM model's placement of one customer (the
    result of ``api.predict_one``): its three scores and its cell; none when it has no
    scores (a customer with returns only, or a model that is not RFM scoring)."""
    if result.get("rfm_cell") is None:
        return []
    help_text = "Quintile score with the fit's cut points, 5 the best (for recency, the most recent)."
    return [*((label, f"{result[key]} of 5", help_text) for key, label in _SCORE_FIGURES),
            ("RFM cell", str(result["rfm_cell"]), "The recency, frequency and monetary scores.")]


def assignment_note(model: SegmentationModel) -> str:
    """How a new customer is placed, in one sentence (the Predict page's caption)."""
    k = model.config.n_neighbors
    if model.rfm is not None:
        return ("The customer is scored 1–5 on recency, frequency and monetary value with "
                "the fit's cut points, and the segment is the score map's for that cell; the "
                f"vote of the {k} nearest known customers gives only the confidence and the "
                "atypical flag.")
    return (f"Every algorithm assigns through the same nearest-neighbour vote ({k} "
            "neighbours).")


def rules_table(model: SegmentationModel) -> pd.DataFrame:
    """Every segment's rules: segment, rule, precision, coverage."""
    rows = [
        {"segment": segment_label(s.id, s.name), "rule": r["text"], "precision": r["precision"],
         "coverage": r["coverage"]}
        for s in model.segments for r in s.rules
    ]
    return pd.DataFrame(rows, columns=["segment", "rule", "precision", "coverage"])


def stability_table(model: SegmentationModel, measured: Stability) -> pd.DataFrame:
    """Per segment: its Jaccard stability and the plain reading."""
    rows = []
    for s in model.segments:
        value = measured.per_segment.get(s.id)
        if value is None:
            continue
        rows.append({"segment": segment_label(s.id, s.name), "Jaccard": value, "reading": reading(value)})
    return pd.DataFrame(rows, columns=["segment", "Jaccard", "reading"])


def matching_table(matching, old: SegmentationModel, new: SegmentationModel) -> pd.DataFrame:
    """Earlier segment, current segment and the distance between their centres."""
    rows = [{"earlier": segment_label(o, old.names[o]), "now": segment_label(n, new.names[n]),
             "distance (SD)": matching.distances[n]} for n, o in matching.pairs.items()]
    rows += [{"earlier": segment_label(o, old.names[o]), "now": "(no match)", "distance (SD)": None}
             for o in matching.unmatched_old]
    rows += [{"earlier": "(new)", "now": segment_label(n, new.names[n]), "distance (SD)": None}
             for n in matching.unmatched_new]
    return pd.DataFrame(rows, columns=["earlier", "now", "distance (SD)"])


def gender_mix_text(mix: Mapping[str, float]) -> str:
    """"Female 56% · Male 44%" (largest first)."""
    return " · ".join(f"{k} {v:.0%}" for k, v in sorted(mix.items(), key=lambda kv: -kv[1]))


def invalid_rows(validated: Validated, limit: int = 1_000) -> pd.DataFrame:
    """Rows that cannot be used, numbered from 1 (first row after the header), with why."""
    positions = np.flatnonzero(validated.invalid)[:limit]
    return pd.DataFrame(
        {"row": positions + 1, "issues": validated.issues[positions].astype(str)}
    )


def noted_rows(validated: Validated, limit: int = 1_000) -> pd.DataFrame:
    """Valid rows that still carry a note (duplicate ids, values outside ranges of
    fields not clustered on)."""
    positions = np.flatnonzero(validated.valid & (validated.issues != ""))[:limit]
    return pd.DataFrame({"row": positions + 1, "note": validated.issues[positions].astype(str)})


def reasons_table(reasons: Mapping[str, int]) -> pd.DataFrame:
    items = sorted(reasons.items(), key=lambda kv: -kv[1])
    return pd.DataFrame(items, columns=["reason", "rows"])


@dataclass(frozen=True)
class ScoredCounts:
    """How a scored batch fell: customers per segment, and how many were atypical."""

    per_segment: dict[int, int]  # segment id -> scored rows (invalid rows have none)
    atypical: int

    @property
    def scored(self) -> int:
        return sum(self.per_segment.values())


def scored_counts(scored: pd.DataFrame) -> ScoredCounts:
    """Count the rows of a scored batch (its ``segment_id`` and ``atypical`` columns)."""
    counts = scored["segment_id"].value_counts(dropna=True)
    return ScoredCounts(
        per_segment={int(k): int(v) for k, v in counts.items()},
        atypical=int(scored["atypical"].fillna(False).astype(bool).sum()),
    )
