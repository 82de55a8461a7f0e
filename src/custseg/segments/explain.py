"""What is in each segment, in words: rules, drivers, and two segments compared.

- **Rules** come from a shallow surrogate decision tree per segment (this segment against
  the rest), fitted on the features in their own units so that thresholds read
  naturally, in the features' labels and units at the data's precision ("Annual income
  ≥ 70 k$ and Spending score ≥ 61 points"). Each rule carries its
  *precision* (the share of customers it selects that are in the segment) and its
  *coverage* (the share of the segment it selects), both measured on every customer.
- **Drivers** are the segment's averages against the whole base, as lifts (ratios).
- **Comparisons** test each feature between two segments (Welch's t-test) and give an
  effect size (Cohen's d), then say the meaningful differences in plain words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.tree import DecisionTreeClassifier

from custseg.cluster.evaluate import sample_rows
from custseg.cluster.labels import NOISE
from custseg.segments.profile import BaseStats, SegmentProfile, numeric_columns
from custseg.table.fields import GENDER, fmt_number
from custseg.table.spec import InputSpec, label_of, unit_of, with_unit

RULE_SAMPLE = 50_000


@dataclass(frozen=True)
class SegmentRule:
    text: str
    precision: float
    coverage: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Most decimals a column's values are written with for its thresholds to be shown at
#: that precision; finer (or continuous) values are shown to three significant digits.
MAX_DECIMALS = 3


def decimals_of(column: np.ndarray, most: int = MAX_DECIMALS) -> int | None:
    """How many decimals ``column``'s values are written with: 0 for whole numbers, 1
    for 112.7…; None when they need more than ``most`` (measured, continuous values)."""
    finite = np.asarray(column, dtype="float64")
    finite = finite[np.isfinite(finite)]
    for d in range(most + 1):
        scaled = finite * 10**d
        grid = np.round(scaled)
        # on the grid, and not a value of 1e-40 rounded to 0 (then it needs more places)
        if np.all((np.abs(scaled - grid) <= 1e-9 * np.maximum(1.0, np.abs(scaled)))
                  & ((grid != 0) | (finite == 0))):
            return d
    return None


def _significant(value: float, digits: int = 3) -> str:
    if value == 0 or not np.isfinite(value):
        return fmt_number(value) if np.isfinite(value) else str(value)
    if abs(value) < 1e-4:  # six places would show 0
        return f"{value:.{digits}g}"
    places = min(6, max(0, digits - 1 - int(np.floor(np.log10(abs(value))))))
    text = f"{value:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def bounds_text(feature: str, low: float | None, high: float | None,
                decimals: int | None = None, spec: InputSpec | None = None) -> str:
    """One feature's condition in its label and unit: "Annual income ≤ 112.7 k$",
    "Age from 40 to 59 years".

    A tree's threshold lies halfway between two values of the data, so on values written
    with ``decimals`` decimals, "> 69.5" is "≥ 70" and "≤ 69.5" is "≤ 69": the same
    customers, at the data's own precision. Values with no such precision (None) keep
    ">" and "≤" with three significant digits.
    """
    unit = unit_of(feature, spec)
    unit = f" {unit}" if unit else ""
    label = label_of(feature)
    if decimals is None:
        lo = None if low is None else f"> {_significant(low)}"
        hi = None if high is None else f"≤ {_significant(high)}"
        return f"{label} {', '.join(t for t in (lo, hi) if t)}{unit}"  # " and " joins rules
    scale = 10.0**decimals
    # the grid values just inside each bound (a small margin for the float midpoints)
    first = None if low is None else (np.floor(low * scale + 1e-9) + 1) / scale
    last = None if high is None else np.floor(high * scale + 1e-9) / scale

    def shown(v: float) -> str:
        return fmt_number(round(float(v), decimals))

    if first is not None and last is not None:
        if first == last:
            return f"{label} = {shown(first)}{unit}"
        return f"{label} from {shown(first)} to {shown(last)}{unit}"
    if first is not None:
        return f"{label} ≥ {shown(first)}{unit}"
    return f"{label} ≤ {shown(last)}{unit}"


def segment_rules(
    values: pd.DataFrame,
    labels: np.ndarray,
    features: Sequence[str],
    *,
    max_depth: int = 3,
    max_rules: int = 3,
    min_precision: float = 0.5,
    seed: int = 0,
    spec: InputSpec | None = None,
) -> dict[int, list[SegmentRule]]:
    """Readable rules per segment (noise excluded), best coverage first, in the
    features' labels and units at the data's precision (see :func:`bounds_text`).

    The trees learn on at most :data:`RULE_SAMPLE` customers; precision and coverage
    are then measured on all of them.
    """
    features = [f for f in features if f in values.columns]
    labels = np.asarray(labels)
    if not features or len(values) == 0:
        return {}
    X_all = values[features].to_numpy(dtype="float64")
    decimals = [decimals_of(X_all[:, i]) for i in range(len(features))]
    rows = sample_rows(len(X_all), RULE_SAMPLE, seed)
    scale = _float32_scale(X_all)
    X, y_all = X_all[rows] * scale, labels[rows]
    min_leaf = max(5, int(0.01 * len(X)))
    out: dict[int, list[SegmentRule]] = {}
    for segment in np.unique(labels):
        if segment == NOISE:
            continue
        target = y_all == segment
        if target.all() or not target.any():
            continue
        tree = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=min_leaf,
                                      random_state=seed).fit(X, target)
        positive_all = labels == segment
        rules = []
        for conditions in _positive_paths(tree, min_precision):
            mask = np.ones(len(X_all), dtype=bool)
            bounds: dict[int, list[float | None]] = {}
            for feat, is_upper, threshold in conditions:
                threshold = float(threshold / scale[feat])  # back in the column's units
                low, high = bounds.setdefault(feat, [None, None])
                if is_upper:
                    bounds[feat][1] = threshold if high is None else min(high, threshold)
                else:
                    bounds[feat][0] = threshold if low is None else max(low, threshold)
            for feat, (low, high) in bounds.items():
                if low is not None:
                    mask &= X_all[:, feat] > low
                if high is not None:
                    mask &= X_all[:, feat] <= high
            selected = int(mask.sum())
            if not selected:
                continue
            hits = int((mask & positive_all).sum())
            text = " and ".join(bounds_text(features[f], *bounds[f], decimals[f], spec)
                                for f in sorted(bounds))
            rules.append(SegmentRule(text, hits / selected, hits / int(positive_all.sum())))
        rules.sort(key=lambda r: (-r.coverage * r.precision, -r.precision))
        out[int(segment)] = rules[:max_rules]
    return out


#: The largest magnitude a tree's feature may have: scikit-learn's trees hold their
#: inputs in float32, whose largest finite value is about 3.4e38.
_TREE_MAX = 2.0 ** 100


def _float32_scale(X: np.ndarray) -> np.ndarray:
    """Per column, a power of two that brings its magnitudes within what a tree can hold
    (1 for ordinary columns): a balance of 8.6e39 is finite in float64 and valid, but
    made the tree raise. Powers of two scale exactly, so the thresholds scaled back are
    the ones the tree chose."""
    top = np.max(np.abs(X), axis=0, initial=0.0)
    scale = np.ones(X.shape[1])
    # too large for float32, or so small that float32 would make every value 0
    out = (top > _TREE_MAX) | ((top > 0) & (top < 1 / _TREE_MAX))
    scale[out] = np.ldexp(1.0, -np.frexp(top[out])[1])
    return scale


def _positive_paths(tree: DecisionTreeClassifier, min_precision: float):
    """Conditions (feature, is_upper_bound, threshold) leading to leaves whose training
    customers are mostly in the segment."""
    t = tree.tree_
    positive = list(tree.classes_).index(True)

    def walk(node: int, path: list[tuple[int, bool, float]]):
        if t.children_left[node] == -1:
            counts = t.value[node][0]
            share = counts[positive] / counts.sum() if counts.sum() else 0.0
            if share >= min_precision:
                yield list(path)
            return
        feature, threshold = int(t.feature[node]), float(t.threshold[node])
        yield from walk(t.children_left[node], path + [(feature, True, threshold)])
        yield from walk(t.children_right[node], path + [(feature, False, threshold)])

    yield from walk(0, [])


def drivers(segment: SegmentProfile, base: BaseStats) -> list[dict[str, Any]]:
    """Each feature's average against everyone's, as a lift, strongest first."""
    out = []
    for f in segment.means:
        mean = segment.means.get(f)
        everyone = base.means.get(f)
        if mean is None or everyone is None or not np.isfinite(mean):
            continue  # no value (the recency of the returns only)
        lift = mean / everyone if everyone else None
        out.append({"feature": f, "segment_mean": mean, "base_mean": everyone,
                    "lift": lift, "z": segment.z.get(f, 0.0)})
    out.sort(key=lambda d: -abs(d["z"]))
    return out


def lift_text(driver: Mapping[str, Any], spec: InputSpec | None = None) -> str:
    """"Annual income 1.4× the average (86.5 vs 60.6 k$)"."""
    lift = driver["lift"]
    f = driver["feature"]
    shown = "–" if lift is None else f"{lift:.2f}×"
    unit = unit_of(f, spec)
    return (f"{label_of(f)} {shown} the average ({driver['segment_mean']:.1f} vs "
            f"{driver['base_mean']:.1f}{' ' + unit if unit else ''})")


# ----------------------------------------------------------------- comparisons


@dataclass(frozen=True)
class Comparison:
    """Two segments compared: ``table`` for people (each feature's label and unit, the
    p-value as "< 0.001"), ``measured`` with the same rows as numbers (feature names,
    p-values as floats), and the differences in a sentence."""

    a: int
    b: int
    table: pd.DataFrame
    sentence: str
    measured: pd.DataFrame | None = None


def p_text(p: float) -> str:
    """A p-value as people read it: "< 0.001", else three decimals ("0.032")."""
    if not np.isfinite(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _shown_table(rows: list[dict[str, Any]], spec: InputSpec | None) -> pd.DataFrame:
    shown = pd.DataFrame(rows)
    if shown.empty:
        return shown
    shown["feature"] = [with_unit(f, spec) for f in shown["feature"]]
    shown.insert(shown.columns.get_loc("p_value"), "p-value",
                 [p_text(p) for p in shown["p_value"]])
    return shown.drop(columns="p_value")


_VERBS = {"annual_income": ("earns", "income"), "spending_score": ("spends", "spending")}


def compare_segments(
    values: pd.DataFrame,
    labels: np.ndarray,
    a: int,
    b: int,
    names: Mapping[int, str] | None = None,
    *,
    alpha: float = 0.05,
    min_effect: float = 0.2,
    spec: InputSpec | None = None,
) -> Comparison:
    """How segment ``a`` differs from segment ``b``, feature by feature.

    A difference counts when Welch's t-test is significant at ``alpha`` *and* Cohen's
    d is at least ``min_effect`` (a small effect); otherwise the segments are "the same"
    on that feature.
    """
    labels = np.asarray(labels)
    in_a, in_b = labels == a, labels == b
    if not in_a.any() or not in_b.any():
        raise ValueError(f"segments {a} and {b} must both have customers")
    rows, phrases = [], []
    for f in numeric_columns(values):
        xa = values.loc[in_a, f].to_numpy(dtype="float64")
        xb = values.loc[in_b, f].to_numpy(dtype="float64")
        xa, xb = xa[np.isfinite(xa)], xb[np.isfinite(xb)]
        if len(xa) < 2 or len(xb) < 2:
            continue
        ma, mb = xa.mean(), xb.mean()
        pooled = np.sqrt(((len(xa) - 1) * xa.var(ddof=1) + (len(xb) - 1) * xb.var(ddof=1))
                         / (len(xa) + len(xb) - 2))
        d = (ma - mb) / pooled if pooled > 0 else 0.0
        p = float(stats.ttest_ind(xa, xb, equal_var=False).pvalue) if pooled > 0 else 1.0
        meaningful = p < alpha and abs(d) >= min_effect
        rows.append({"feature": f, f"mean {a}": ma, f"mean {b}": mb, "ratio": ma / mb if mb else None,
                     "difference": ma - mb, "cohens_d": d, "p_value": p, "meaningful": meaningful})
        phrases.append(_phrase(f, ma, mb, meaningful, spec))
    if GENDER in values.columns:
        phrase = _gender_phrase(values[GENDER], in_a, in_b, alpha)
        if phrase:
            phrases.append(phrase)
    names = names or {}
    who = names.get(a, f"segment {a}")
    than = names.get(b, f"segment {b}")
    sentence = f"{who} against {than}: " + ", ".join(phrases) + "."
    return Comparison(a, b, _shown_table(rows, spec), sentence, pd.DataFrame(rows))


def _phrase(feature: str, ma: float, mb: float, meaningful: bool,
            spec: InputSpec | None = None) -> str:
    """The difference on one feature in words, in the column's own unit."""
    if feature == "age":
        if not meaningful:
            return "same age"
        diff = ma - mb
        return f"{abs(diff):.0f} years {'older' if diff > 0 else 'younger'}"
    verb, noun = _VERBS.get(feature, ("is", feature))
    if not meaningful:
        return f"same {noun}"
    if feature not in _VERBS:
        unit = unit_of(feature, spec)
        return f"{label_of(feature)} {ma:.1f} vs {mb:.1f}{' ' + unit if unit else ''}"
    ratio = ma / mb if mb else float("inf")
    if ratio >= 1.5:
        return f"{verb} {ratio:.1f}× more"
    if ratio >= 1:
        return f"{verb} {100 * (ratio - 1):.0f}% more"
    return f"{verb} {100 * (1 - ratio):.0f}% less"


def _gender_phrase(gender: pd.Series, in_a: np.ndarray, in_b: np.ndarray, alpha: float) -> str | None:
    known = gender.notna().to_numpy()
    table = pd.crosstab(np.where(in_a[known & (in_a | in_b)], "a", "b"),
                        gender.to_numpy()[known & (in_a | in_b)])
    if table.shape != (2, table.shape[1]) or table.shape[1] < 2 or "Female" not in table.columns:
        return None
    p = stats.chi2_contingency(table.to_numpy())[1]
    share = table["Female"] / table.sum(axis=1)
    if p >= alpha or abs(share["a"] - share["b"]) < 0.1:
        return "same gender mix"
    more = "more women" if share["a"] > share["b"] else "more men"
    return f"{more} ({share['a']:.0%} vs {share['b']:.0%} women)"
