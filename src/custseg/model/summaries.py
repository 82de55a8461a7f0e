"""Tables and figures-as-numbers the faces show: pure functions over a model and data.

Pages and commands stay thin by calling these instead of doing pandas work themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from custseg.cluster.algorithms import ALGORITHMS, Diagnostic
from custseg.cluster.labels import NOISE, segment_label
from custseg.cluster.stability import Stability, reading
from custseg.model.segmentation import SegmentationModel
from custseg.segments.profile import BaseStats, SegmentProfile
from custseg.table.fields import compact_number, telling_digits
from custseg.table.headers import renamed_clashes
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
        value = "–" if mean is None else compact_number(mean, _digits(mean)) + (
            f" {unit}" if unit else "")
        exact = "" if mean is None or abs(mean) < 1e6 else f" Exactly {mean:,.1f}."
        out.append((f"{label_of(name)} (average)", value,
                    f"Average {with_unit(name, spec)} of every customer.{exact}"))
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
                "segment": unsigned_zero(segment.means[f], 1),
                "everyone": unsigned_zero(base.means[f], 1),
                "gap (SD)": unsigned_zero(segment.z[f], 2),  # never "−0.00"
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
            f"{'neighbour' if k == 1 else 'neighbours'}).")


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


# ------------------------------------------------------------ the Dashboard's overview

#: From this share of the customers up, the outliers are said before the overview.
LARGE_OUTLIER_SHARE = 0.10


def share_text(share: float) -> str:
    """A share for people: "none" for nothing, "< 0.1%" for a few customers (never a
    "0.0%" that reads as none), else one decimal."""
    if not share or share <= 0:
        return "none"
    if share < 0.0005:
        return "< 0.1%"
    return f"{share:.1%}"


def unsigned_zero(value: float, digits: int) -> float:
    """``value``, or 0.0 when it rounds to zero at ``digits`` decimals: no "−0.00"
    (a missing or infinite value is returned as it is)."""
    if value is None or not np.isfinite(value):
        return value
    return 0.0 if round(float(value), digits) == 0 else float(value)


def value_feature(model: SegmentationModel) -> str | None:
    """The feature a segment's share of total value is counted in: the first with the
    monetary role, else the first with the income role; None without either."""
    from custseg.table.spec import role_of

    features, spec = model.config.features, model.config.spec
    for role in ("monetary", "income"):
        found = next((f for f in features if role_of(f, spec) == role), None)
        if found is not None:
            return found
    return None


def first_sentence(text: str, limit: int = 110) -> str:
    """A strategy in a line: its first sentence (or clause before a colon's list), cut
    at ``limit`` characters."""
    text = " ".join(str(text).split())
    for stop in (". ", "; "):
        if stop in text:
            text = text[: text.index(stop) + (1 if stop == ". " else 0)]
            break
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Overview:
    """One row per segment (the outliers apart): the table itself, and for each
    feature column the level of each cell (for the heat map colours) and the column's
    decimals."""

    table: pd.DataFrame
    levels: dict[str, list[str]]  # overview column -> level per row ("low"|"mid"|"high")
    digits: dict[str, int]  # overview column -> decimals shown
    value_column: str | None  # the share-of-value column, when there is one
    stability_measured: bool


def overview(model: SegmentationModel, values: pd.DataFrame, labels: np.ndarray,
             measured: Stability | None = None) -> Overview:
    """Every segment at a glance, the outliers apart: customers, share of the base,
    each feature's average in its unit (with its level against the base), the share of
    total value (monetary, else income) when the model has such a feature, stability
    (stable / moderately stable / fragile from ``measured``; "not measured" without
    it), and the strategy in a line.

    ``values`` and ``labels`` are the customers the segments were made of (the share
    of value is counted over them, set-apart customers with no value left out).
    """
    from custseg.cluster.labels import RETURNS_ONLY

    spec = model.config.spec
    segments = [s for s in model.segments if not s.is_outliers]
    money = value_feature(model)
    totals: dict[int, float] = {}
    total = 0.0
    if money is not None and money in values.columns:
        column = values[money].to_numpy(dtype="float64")
        finite = np.isfinite(column)
        labels = np.asarray(labels)
        total = float(column[finite].sum())
        frame = pd.DataFrame({"label": labels[finite], "value": column[finite]})
        totals = {int(k): float(v) for k, v in frame.groupby("label")["value"].sum().items()}
    rows, levels, digits = [], {}, {}
    feature_columns = {f: with_unit(f, spec) for f in model.config.features}
    for s in segments:
        row: dict[str, Any] = {"segment": segment_label(s.id, s.name), "customers": s.size,
                               "share": share_text(s.share)}
        for f, column in feature_columns.items():
            mean = s.means.get(f)
            finite = mean is not None and np.isfinite(mean)
            row[column] = float(mean) if finite else None
            levels.setdefault(column, []).append(s.levels.get(f, "") if finite else "")
            if finite:  # a column's decimals by its largest average: 7.0 beside 50.1
                digits[column] = min(digits.get(column, 2), _digits(mean))
        if money is not None:
            row["value"] = (totals.get(s.id, 0.0) / total if total > 0 and s.id != RETURNS_ONLY
                            else None)
        if s.id == RETURNS_ONLY:
            row["stability"] = "set apart, not clustered"
        elif measured is None or measured.overall is None:
            row["stability"] = "not measured"
        else:
            row["stability"] = reading(measured.per_segment.get(s.id))
            if row["stability"] == "unknown":
                row["stability"] = "not measured"
        row["strategy"] = first_sentence(s.strategy)
        rows.append(row)
    value_column = None
    columns = ["segment", "customers", "share", *feature_columns.values(),
               *(["value"] if money is not None else []), "stability", "strategy"]
    table = pd.DataFrame(rows, columns=columns)  # its columns even with no segment
    if money is not None:
        named = label_of(money).lower() if label_of(money) != money else money
        value_column = f"share of total {named}"
        table = table.rename(columns={"value": value_column})
    for column in feature_columns.values():
        # enough decimals that segments with different averages read differently
        digits[column] = telling_digits(table[column].tolist(), digits.get(column, 1), most=3)
    return Overview(table, levels, digits, value_column,
                    measured is not None and measured.overall is not None)


def outliers_line(model: SegmentationModel) -> str | None:
    """The outliers in one sentence ("392 customers (19.6%) fit no dense group…"), or
    None when the model has none."""
    found = [s for s in model.segments if s.is_outliers]
    if not found or not found[0].size:
        return None
    o = found[0]
    return (f"{o.size:,} customers ({share_text(o.share)}) fit no dense group: the outliers, "
            "set apart from the segments below.")


# ------------------------------------------------------------ a segment's customers

#: What the members' table adds to every original column. ``segment_id`` and
#: ``segment_name`` are the fit's (the segment the Dashboard counts the customer in);
#: ``scored_segment_id``, ``scored_segment_name``, ``confidence`` and ``atypical`` are
#: what scoring the same row gives (the Batch page, ``custseg score``): the vote of the
#: nearest known customers, which can differ from the clusterer for a few rows.
MEMBER_COLUMNS = ("segment_id", "segment_name", "scored_segment_id", "scored_segment_name",
                  "confidence", "atypical")


def segment_members(
    model: SegmentationModel, data: pa.Table, header: Sequence[str], validated: Validated,
    values: pd.DataFrame, labels: np.ndarray, segment_id: int | None = None,
) -> pa.Table:
    """The customers of one segment (every segment with None), in input order: every
    original column under its own header (text, as read), then :data:`MEMBER_COLUMNS`.

    ``values`` and ``labels`` are the valid rows and their segments, as the Dashboard
    counts them, so the rows returned for a segment are exactly its count. Customers
    with returns only (set apart, segment -2) are placed by their rule: certain, and
    typical of their segment.
    """
    from custseg.cluster.labels import RETURNS_ONLY

    labels = np.asarray(labels)
    valid_rows = np.flatnonzero(validated.valid)
    chosen = np.arange(len(labels)) if segment_id is None else np.flatnonzero(labels == segment_id)
    rows = valid_rows[chosen]
    fit = labels[chosen]
    if len(chosen):
        placed = model.assign(values.iloc[chosen].reset_index(drop=True))
        scored, confidence, atypical = (np.asarray(placed.labels),
                                        np.round(np.asarray(placed.confidence, dtype="float64"), 4),
                                        np.asarray(placed.atypical, dtype=bool))
    else:
        scored, confidence, atypical = (np.zeros(0, dtype=np.int64), np.zeros(0),
                                        np.zeros(0, dtype=bool))
    apart = validated.apart
    if apart is not None and apart.any() and segment_id in (None, RETURNS_ONLY):
        extra = np.flatnonzero(apart)
        order = np.argsort(np.concatenate([rows, extra]), kind="stable")
        rows = np.concatenate([rows, extra])[order]
        fit = np.concatenate([fit, np.full(len(extra), RETURNS_ONLY)])[order]
        scored = np.concatenate([scored, np.full(len(extra), RETURNS_ONLY)])[order]
        confidence = np.concatenate([confidence, np.ones(len(extra))])[order]
        atypical = np.concatenate([atypical, np.zeros(len(extra), dtype=bool)])[order]
    names = model.names
    taken = data.take(pa.array(rows, type=pa.int64()))
    added = {
        "segment_id": pa.array(fit.astype(np.int64)),
        "segment_name": pa.array([str(names.get(int(i), i)) for i in fit], type=pa.string()),
        "scored_segment_id": pa.array(np.asarray(scored).astype(np.int64)),
        "scored_segment_name": pa.array([str(names.get(int(i), i)) for i in scored],
                                        type=pa.string()),
        "confidence": pa.array(confidence, type=pa.float64()),
        "atypical": pa.array(atypical, type=pa.bool_()),
    }
    own = renamed_clashes(header, list(added))
    return pa.Table.from_arrays([*taken.columns, *added.values()], names=[*own, *added])


def members_note(fit: np.ndarray, scored: np.ndarray, shown: int, n_neighbors: int) -> str:
    """Why the Batch page may count a segment's customers differently: how many of its
    members (``fit``: their segment ids; ``scored``: scoring's) scoring places in
    another segment. ``shown``: rows on screen."""
    fit, scored = np.asarray(fit), np.asarray(scored)
    moved = int((fit != scored).sum())
    head = f"{len(fit):,} customers" + (f" (the first {shown:,} shown)" if shown < len(fit)
                                         else "")
    if not moved:
        return (f"{head}. Scoring these rows again (the Batch page, custseg score) places "
                "every one of them in the same segment.")
    return (f"{head}. segment_id is the segment the clusterer put each customer in, as the "
            f"Dashboard counts them. Scoring the same rows (the Batch page, custseg score) "
            f"uses the vote of the {n_neighbors} nearest known customers instead, and places "
            f"{moved:,} of them elsewhere (scored_segment_id): that is why a batch of the "
            "same file can count a segment a few customers differently.")
