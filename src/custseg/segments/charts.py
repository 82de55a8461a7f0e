"""Plotly figure builders. Each returns a ``go.Figure`` and never renders it.

One segment, one colour, everywhere: :func:`segment_colors` keys colours by segment id,
and every figure takes its colours from it. Scatter plots draw at most ``max_points``
customers (a random sample, said in the title) with WebGL, so a million customers never
reach the browser; statistics elsewhere always use every customer.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from scipy.cluster.hierarchy import dendrogram, linkage

from custseg.cluster.evaluate import KCurve, sample_rows
from custseg.cluster.labels import NOISE, RETURNS_ONLY, outliers_last
from custseg.cluster.labels import segment_label as plain_label
from custseg.segments.profile import BaseStats, SegmentProfile
from custseg.table.fields import compact_number, fmt_number
from custseg.table.spec import InputSpec, label_of, role_of, unit_of, with_unit

OUTLIER_COLOR = "#8c8c8c"
#: The customers with returns only (segment -2): a dark slate, apart from every palette tone.
RETURNS_ONLY_COLOR = "#4a5a6a"
# Tableau 10 without its grey (kept for outliers), then Tableau 20's lighter tones:
# distinct on white and on dark backgrounds.
PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948",
    "#ff9da7", "#9c755f", "#a0cbe8", "#ffbe7d", "#8cd17d", "#ff9d9a", "#d4a6c8",
    "#86bcb6", "#f1ce63", "#d7b5a6", "#499894",
)
MAX_POINTS = 20_000


def segment_color(segment_id: int) -> str:
    if segment_id == NOISE:
        return OUTLIER_COLOR
    if segment_id == RETURNS_ONLY:
        return RETURNS_ONLY_COLOR
    return PALETTE[segment_id % len(PALETTE)]


def plot_text(text: str) -> str:
    """User text made inert for Plotly: its labels, legends, titles and hover text read
    a few HTML tags (``<a href>`` becomes a live link), and hover templates substitute
    ``%{...}``. Markup is escaped, and ``%`` written as its entity ``&#37;``, which
    Plotly shows as ``%`` without reading a template in it."""
    return html.escape(str(text), quote=False).replace("%", "&#37;")


def segment_label(segment_id: int, name: str) -> str:
    return plot_text(plain_label(segment_id, name))


def segment_colors(names: Mapping[int, str]) -> dict[str, str]:
    """Legend label -> colour, for every segment of ``names``."""
    return {segment_label(i, n): segment_color(i) for i, n in names.items()}


def _order(names: Mapping[int, str]) -> list[str]:
    ids = sorted(names, key=outliers_last)
    return [segment_label(i, names[i]) for i in ids]


def _axis(field: str, spec: InputSpec | None = None) -> str:
    """An axis title in the column's own unit ("MntWines ($)"), from the model's spec."""
    return plot_text(short_label(with_unit(field, spec)))


#: A label longer than this is cut in charts (the hover and tables keep it whole).
LABEL_MAX = 28


def short_label(text: str, limit: int = LABEL_MAX) -> str:
    """A long header cut to fit beside a chart: ``PURCHASES_INSTALLMENTS_FREQ…``."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _lower(name: str) -> str:
    """A label inside a sentence: a well-known field's in lower case ("annual income"), a
    column's as written ("CASH_ADVANCE")."""
    return label_of(name).lower() if label_of(name) != name else name


def labelled(values: pd.DataFrame, labels: np.ndarray, names: Mapping[int, str]) -> pd.DataFrame:
    """``values`` with a ``segment`` column of legend labels."""
    lookup = {i: segment_label(i, n) for i, n in names.items()}
    return values.assign(segment=pd.Series(np.asarray(labels)).map(lookup).to_numpy())


def _drawn(
    values: pd.DataFrame, labels: np.ndarray, names: Mapping[int, str], max_points: int,
    seed: int = 0,
) -> tuple[pd.DataFrame, str]:
    """A labelled random sample of at most ``max_points`` rows, and the title note."""
    n = len(values)
    if n <= max_points:
        return labelled(values.reset_index(drop=True), labels, names), ""
    rows = sample_rows(n, max_points, seed)
    sample = labelled(values.iloc[rows].reset_index(drop=True), np.asarray(labels)[rows], names)
    return sample, f" — {max_points:,} of {n:,} customers drawn"


def _finish(
    fig: go.Figure, title: str, height: int | None = None, legend: str | None = "Segment",
    top: int = 50,
) -> go.Figure:
    fig.update_layout(
        title=title,
        legend_title_text=legend,
        margin=dict(l=10, r=10, t=top, b=10),
        **({"height": height} if height else {}),
    )
    return fig


def scatter_2d(
    values: pd.DataFrame,
    labels: np.ndarray,
    names: Mapping[int, str],
    x: str,
    y: str,
    size: str | None = "age",
    max_points: int = MAX_POINTS,
    spec: InputSpec | None = None,
    legend_below: bool = False,
) -> go.Figure:
    """Customers on two features, coloured by segment, bubble size from ``size``.

    At most ``max_points`` customers are drawn (WebGL), a random sample said in the title.
    The legend goes below the plot from :data:`LEGEND_BELOW` segments, or always with
    ``legend_below`` (the dashboard's: beside it, five long names left the plot a 230 px
    strip at 1,024 px).
    """
    shown, note = _drawn(values, labels, names, max_points)
    use_size = size if size in shown.columns and size not in (x, y) else None
    fig = px.scatter(
        shown, x=x, y=y, color="segment", size=use_size, size_max=14 if use_size else None,
        color_discrete_map=segment_colors(names), category_orders={"segment": _order(names)},
        labels={x: _axis(x, spec), y: _axis(y, spec),
                **({use_size: _axis(use_size, spec)} if use_size else {})},
        render_mode="webgl", opacity=0.75,
    )
    if not use_size:
        fig.update_traces(marker=dict(size=6))
    bubble = f", bubble size: {plot_text(_lower(use_size))}" if use_size else ""
    fig = _finish(fig, f"{plot_text(label_of(y))} against {plot_text(_lower(x))}"
                       f"{bubble}{note}", 520)
    return _legend_below(fig, len(names), always=legend_below)


#: From this many segments a chart's legend goes below the plot, in rows, so a long list
#: of names never squeezes the plot into a strip beside it.
LEGEND_BELOW = 12


def _legend_below(fig: go.Figure, segments: int, always: bool = False) -> go.Figure:
    if segments < LEGEND_BELOW and not always:
        return fig
    rows = -(-segments // 3)  # about three names a row
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.15, x=0),
                      height=(fig.layout.height or 520) + 22 * rows)
    return fig


def scatter_3d(
    values: pd.DataFrame, labels: np.ndarray, names: Mapping[int, str], x: str, y: str, z: str,
    max_points: int = MAX_POINTS, spec: InputSpec | None = None,
) -> go.Figure:
    """Customers on three features. The legend sits under the scene (beside it, it took
    a third of a 1,024 px page and the scene was cut on the right), in a band of the
    figure kept for it (as many lines as its names take at 1,024 px, entries of one
    width, see :func:`legend_entries`), so a long legend neither covers the scene nor
    scrolls inside the plot; the scene fills the
    figure's width, and the camera stands back far enough for the cube's corners and
    axis titles to stay inside."""
    shown, note = _drawn(values, labels, names, max_points)
    fig = px.scatter_3d(
        shown, x=x, y=y, z=z, color="segment", color_discrete_map=segment_colors(names),
        category_orders={"segment": _order(names)}, opacity=0.8,
        labels={x: _axis(x, spec), y: _axis(y, spec), z: _axis(z, spec)},
    )
    fig.update_traces(marker=dict(size=3))
    entry_px, per_row = legend_entries([segment_label(i, n) for i, n in names.items()])
    rows = -(-len(names) // per_row)  # ceil: the legend's lines on the narrowest page
    legend_px = LEGEND_ROW * rows + 30  # and its title
    plot_px = SCENE_HEIGHT + legend_px
    under = legend_px / plot_px  # the bottom share of the plot area, kept for the legend
    fig = _finish(fig, f"Three features at once{note}", plot_px + 50)
    fig.update_layout(
        margin=dict(l=0, r=0, t=50, b=0),
        scene=dict(aspectmode="cube", camera=dict(eye=SCENE_EYE, center=SCENE_CENTER),
                   domain=dict(x=[0, 1], y=[under, 1])),
        # inside the plot area, under the scene's own domain: drawn over nothing; its
        # entries of one width, so that ``per_row`` of them fill a line at 1,024 px
        legend=dict(orientation="h", yanchor="top", y=under, x=0, itemsizing="constant",
                    entrywidth=entry_px, entrywidthmode="pixels",
                    font=dict(size=LEGEND_FONT), maxheight=legend_px),
    )
    return fig


#: The 3D scene's own height (px), and each legend line under it (px, at LEGEND_FONT).
SCENE_HEIGHT = 600
LEGEND_ROW, LEGEND_FONT = 19, 11
#: The legend's line on the narrowest page (the plot's width at 1,024 px, measured: one
#: entry a line when two needed 564 px) and an
#: entry's symbol and gap; about 6 px a character of an 11 px name; at most this many
#: entries a line.
LEGEND_WIDTH, LEGEND_SYMBOL_PX, LEGEND_CHAR_PX, LEGEND_MAX_PER_ROW = 500, 44, 6.0, 4


def legend_entries(labels: Sequence[str], width: int = LEGEND_WIDTH) -> tuple[int, int]:
    """The 3D legend's entry width (px: the longest name whole, at :data:`LEGEND_FONT`)
    and how many entries a line of ``width`` px holds (one at least)."""
    longest = max((len(text) for text in labels), default=0)
    entry = math.ceil(longest * LEGEND_CHAR_PX)  # Plotly adds the symbol and its gap
    return entry, max(1, min(LEGEND_MAX_PER_ROW, width // (entry + LEGEND_SYMBOL_PX)))


#: Where the 3D camera stands: further out than Plotly's (1.25, 1.25, 1.25), lower.
SCENE_EYE = dict(x=1.7, y=1.7, z=1.0)
#: What it looks at: a little below the cube's middle, so the cube sits higher and its
#: lowest axis ticks clear the legend under it.
SCENE_CENTER = dict(x=0, y=0, z=-0.12)


def _segment_ids(labels: np.ndarray, names: Mapping[int, str]) -> list[int]:
    present = set(np.unique(labels).tolist())
    return [i for i in sorted(names, key=outliers_last) if i in present]


def histogram_edges(data: np.ndarray, bins: int = 40) -> tuple[np.ndarray, bool]:
    """A histogram's bin edges, and whether they are on whole numbers.

    Values that are all whole numbers (ages, scores, counts) get bins that each hold the
    same count of whole numbers, edges halfway between them (17.5, 19.5, ...): ``bins``
    equal bins over 18-70 would hold one age or two by turns, and at 200,000 customers
    every second bar would stand twice as high as its neighbours. At most ``bins`` bins,
    fewer when the range is short (one bar per value); when the range does not divide
    evenly, the last bin holds fewer values and is drawn narrower. Other values get ``bins`` equal
    bins over their range.
    """
    data = np.asarray(data, dtype="float64")
    data = data[np.isfinite(data)]
    if not len(data):
        return np.array([-0.5, 0.5]), True
    low, high = float(data.min()), float(data.max())
    if high / 2 - low / 2 > 8e307:  # -1e308 to 1e308: the range itself overflows
        return 2 * np.linspace(low / 2, high / 2, bins + 1), False
    if _whole(data) and high - low < 2**53:
        span = high - low + 1  # whole numbers in the range
        width = max(1.0, float(np.ceil(span / bins)))
        count = int(np.ceil(span / width))
        edges = low - 0.5 + width * np.arange(count + 1)
        edges[-1] = high + 0.5  # a last bin holding fewer values is drawn narrower
        return edges, True
    try:
        return np.histogram_bin_edges(data, bins=bins), False
    except ValueError:  # 1.0 to 1.0000000000000004: no 40 bins fit between them
        return np.array([low, high]), False


def bin_labels(edges: np.ndarray, whole: bool) -> list[str]:
    """What each bin holds, for the hover: "18", "18–19" on whole numbers, else its
    range ("12.5–15.0")."""
    out = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        if whole:
            first, last = lo + 0.5, hi - 0.5
            out.append(f"{first:,.0f}" if first == last else f"{first:,.0f}–{last:,.0f}")
        else:
            out.append(f"{lo:,.4g}–{hi:,.4g}")
    return out


def distribution(
    values: pd.DataFrame, labels: np.ndarray, names: Mapping[int, str], feature: str,
    bins: int = 40, spec: InputSpec | None = None,
) -> go.Figure:
    """Histogram of one feature per segment, with each segment's box plot above it.

    Both are computed here from every customer (counts per bin, quartiles and whiskers),
    so the browser receives a few hundred numbers whatever the size of the table. Whole
    numbers are binned on whole numbers (:func:`histogram_edges`).
    """
    from plotly.subplots import make_subplots

    data = values[feature].to_numpy(dtype="float64")
    labels = np.asarray(labels)
    finite = np.isfinite(data)
    edges, whole = histogram_edges(data[finite], bins)
    centres, widths = edges[:-1] / 2 + edges[1:] / 2, np.diff(edges)  # finite at ±1e308
    where = bin_labels(edges, whole)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.3, 0.7],
                        vertical_spacing=0.03)
    unit = unit_of(feature, spec)
    unit = f" {plot_text(unit)}" if unit else ""
    for sid in _segment_ids(labels, names):
        own = data[(labels == sid) & finite]
        if not len(own):
            continue
        label, color = segment_label(sid, names[sid]), segment_color(sid)
        counts, _ = np.histogram(own, bins=edges)
        fig.add_trace(go.Bar(x=centres, y=counts, width=widths, name=label, legendgroup=label,
                             marker_color=color, opacity=0.6, customdata=where,
                             hovertemplate=f"{label}<br>%{{customdata}}{unit}: %{{y:,}} "
                                           "customers<extra></extra>"),
                      row=2, col=1)
        # quartiles and whiskers taken over half the values: -1e308 to 1e308 overflowed
        # to NaN, and no customer was within the whiskers
        half = own / 2
        q1h, median_h, q3h = np.percentile(half, [25, 50, 75])
        with np.errstate(over="ignore"):
            reach = 1.5 * (q3h - q1h)
        low, high = own[half >= q1h - reach].min(), own[half <= q3h + reach].max()
        q1, median, q3 = 2 * q1h, 2 * median_h, 2 * q3h
        fig.add_trace(go.Box(y=[label], q1=[q1], median=[median], q3=[q3], lowerfence=[low],
                             upperfence=[high], orientation="h", name=label, legendgroup=label,
                             showlegend=False, marker_color=color, boxpoints=False),
                      row=1, col=1)
    fig.update_layout(barmode="overlay")
    fig.update_yaxes(showticklabels=False, row=1, col=1)
    fig.update_yaxes(title_text="Customers", row=2, col=1)
    fig.update_xaxes(title_text=_axis(feature, spec), row=2, col=1)
    fig = _finish(fig, f"{plot_text(label_of(feature))} by segment", 480)
    return _legend_below(fig, len(names))


#: The "other" slice of a share chart: the small segments folded together, pale and
#: hatched, so it never reads as the outliers' mid grey (:data:`OUTLIER_COLOR`).
OTHER_COLOR = "#ececec"
OTHER_HATCH = dict(shape="/", fgcolor="#a6a6a6", size=8, solidity=0.25)
#: A share chart shows at most this many slices of their own; below this share a
#: segment goes into "other" (unless only one would: then it keeps its slice).
MAX_SLICES, MIN_SLICE_SHARE = 10, 0.02


def colours_repeat(segment_ids: Sequence[int]) -> bool:
    """True when some of these segments share a colour (more than :data:`PALETTE` holds):
    the page then says so, and the names tell them apart."""
    return len({i for i in segment_ids if i >= 0}) > len(PALETTE)


#: Segments a share chart always draws on their own (the largest), however small.
LEAST_SLICES = 5


def share_slices(
    segments: Sequence[SegmentProfile], max_slices: int = MAX_SLICES,
    min_share: float = MIN_SLICE_SHARE,
) -> tuple[list[SegmentProfile], list[SegmentProfile]]:
    """The segments a share chart draws on their own (at most ``max_slices``, each at
    least ``min_share`` of the customers; the :data:`LEAST_SLICES` largest when fewer
    than two are, in the segments' order) and those folded into
    one "other" slice; folding a single segment would hide it for nothing, so it stays.
    The outliers are no segment: they keep a slice of their own, however small."""
    total = sum(s.size for s in segments) or 1
    ranked = sorted((s for s in segments if not s.is_outliers), key=lambda s: -s.size)
    kept = {s.id for s in ranked[:max_slices] if s.size / total >= min_share}
    if len(kept) < 2:  # 556 segments of under 2% each all went to "other": the chart
        # said nothing of any segment; the largest few keep a slice however small
        kept |= {s.id for s in ranked[:min(LEAST_SLICES, max_slices)]}
    kept |= {s.id for s in segments if s.is_outliers}
    folded = [s for s in segments if s.id not in kept]
    if len(folded) <= 1:
        return list(segments), []
    return [s for s in segments if s.id in kept], folded


def shares_donut(segments: Sequence[SegmentProfile], max_slices: int = MAX_SLICES,
                 min_share: float = MIN_SLICE_SHARE) -> go.Figure:
    """Customers per segment as a donut; past ``max_slices`` slices, or below
    ``min_share``, the small segments are one "other" slice (its hover names how many),
    so labels never pile up."""
    shown, folded = share_slices(segments, max_slices, min_share)
    labels = [segment_label(s.id, s.name) for s in shown]
    sizes = [s.size for s in shown]
    colors = [segment_color(s.id) for s in shown]
    hatches = [""] * len(shown)
    if folded:
        labels.append(f"Other ({len(folded)} smaller segments)")
        sizes.append(sum(s.size for s in folded))
        colors.append(OTHER_COLOR)
        hatches.append(OTHER_HATCH["shape"])
    hatch = {k: v for k, v in OTHER_HATCH.items() if k != "shape"}
    fig = go.Figure(
        go.Pie(
            labels=labels, values=sizes, hole=0.55, sort=False,
            marker=dict(colors=colors, pattern=dict(shape=hatches, **hatch),
                        line=dict(color="#ffffff", width=1)),
            textinfo="percent", textposition="inside", insidetextorientation="horizontal",
            hovertemplate="%{label}<br>%{value:,} customers (%{percent})<extra></extra>",
        )
    )
    fig.update_layout(uniformtext=dict(minsize=10, mode="hide"))  # no label piled on another
    total = sum(s.size for s in segments)
    fig.add_annotation(text=f"{total:,}<br>customers", showarrow=False, font=dict(size=16))
    return _finish(fig, "Share of customers per segment", 420)


#: The gender chart's categories, in order: the two the parser knows, then every other
#: answer together, then no answer.
GENDER_GROUPS = ("Female", "Male", "other", "missing")


def gender_groups(gender: pd.Series) -> pd.Series:
    """Each customer's gender as the chart counts it (:data:`GENDER_GROUPS`): Female and
    Male as parsed, any other answer "other", no answer "missing" (counted, not dropped)."""
    text = gender.astype("object")
    out = np.where(text.isna(), "missing",
                   np.where(text.isin(GENDER_GROUPS[:2]), text.astype(str), "other"))
    return pd.Series(out, index=gender.index, name=gender.name)


def gender_counts(values: pd.DataFrame, labels: np.ndarray,
                  names: Mapping[int, str]) -> pd.DataFrame:
    """Customers per segment (rows, labelled as the charts label them) and gender group
    (columns: those of :data:`GENDER_GROUPS` that occur)."""
    groups = gender_groups(values["gender"])
    labels = np.asarray(labels)
    ids = _segment_ids(labels, names)
    order = [segment_label(i, names[i]) for i in ids]
    counts = pd.crosstab(pd.Categorical(labels, categories=ids),
                         pd.Categorical(groups, categories=GENDER_GROUPS), dropna=False)
    counts = counts.loc[:, counts.sum() > 0]
    counts.index = order
    counts.columns = [str(c) for c in counts.columns]
    return counts


def gender_by_segment(
    values: pd.DataFrame, labels: np.ndarray, names: Mapping[int, str]
) -> go.Figure:
    """Customers per segment and gender: colour is the segment, pattern the gender
    (other answers and missing ones each a category of their own, see
    :func:`gender_groups`)."""
    counts = gender_counts(values, labels, names)
    order = counts.index.tolist()
    colors = segment_colors(names)
    shapes = ["", "/", ".", "x", "-", "+"]
    fig = go.Figure()
    for gender in counts.columns:
        i = GENDER_GROUPS.index(gender)  # one pattern per group, whichever occur
        fig.add_trace(
            go.Bar(
                x=order, y=counts[gender].tolist(), name=plot_text(gender),
                marker=dict(color=[colors[label] for label in order],
                            pattern_shape=shapes[i % len(shapes)],
                            line=dict(color="#555", width=0.5)),
                hovertemplate="%{x}<br>" + plot_text(gender) + ": %{y:,}<extra></extra>",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text=None)
    fig.update_yaxes(title_text="Customers")
    return _finish(fig, "Gender by segment (colour = segment, pattern = gender)", 440,
                   legend="Gender")


def profile_bars(segment: SegmentProfile, threshold: float = 0.5,
                 spec: InputSpec | None = None) -> go.Figure:
    """A segment's averages against the base, in standard deviations (its levels), one
    bar per feature of the model, in its order."""
    fields = [f for f in segment.z if segment.z[f] is not None and np.isfinite(segment.z[f])]
    z = [segment.z[f] for f in fields]
    fig = go.Figure(
        go.Bar(
            x=z, y=[plot_text(short_label(label_of(f))) for f in fields], orientation="h",
            marker_color=segment_color(segment.id),
            text=[segment.levels.get(f, "") for f in fields], textposition="outside",
            customdata=[plot_text(with_unit(f, spec)) for f in fields],
            hovertemplate="%{customdata}: %{x:+.2f} SD vs all customers<extra></extra>",
        )
    )
    fig.add_vrect(x0=-threshold, x1=threshold, fillcolor="gray", opacity=0.12, line_width=0)
    span = max(2.0, max((abs(v) for v in z), default=0) + 0.6)
    fig.update_xaxes(range=[-span, span], zeroline=True, title_text="SD from the average customer")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=110 + 26 * len(fields), margin=dict(l=10, r=10, t=10, b=10),
                      showlegend=False)
    return fig


def _gauge_formats(value: float, mean: float | None) -> tuple[str, str]:
    """The d3 formats of a gauge's number and of its difference from the average: whole
    with separators from 10,000 (9.174e+6 and -885877.3 read badly), three significant
    digits below 0.01 (a difference of 1e-07 was "0.0"), a difference under 0.05 in two,
    else one decimal."""
    size = max(abs(value), abs(mean) if mean is not None else 0.0)
    if 1e4 <= size < 1e15:
        return ",.0f", ",.0f"
    if size < 0.01:
        return ".3~g", ".3~g"
    apart = abs(value - mean) if mean is not None else 0.0
    # a difference of 0.01 (none teenagers at home against 0.01) was "▼0.0"
    return ",.4~g", (".2~g" if 0 < apart < 0.05 else ".1f")


def _average_text(mean: float) -> str:
    """A segment's average in a gauge's title: 10.1M, 61.5, 0.03, 1e-06 (not "0.0")."""
    return fmt_number(mean) if abs(mean) < 0.05 else compact_number(mean, 1)


def gauge(
    field: str, value: float, segment: SegmentProfile, base: BaseStats, color: str,
    spec: InputSpec | None = None,
) -> go.Figure:
    """One input against its segment's average, on the data's own range."""
    low, high = base.mins[field], base.maxs[field]
    low, high = min(low, value), max(high, value)
    mean = segment.means.get(field)
    shown, moved = _gauge_formats(value, mean)
    fig = go.Figure(
        go.Indicator(
            mode="gauge+number+delta",
            value=value,
            number={"valueformat": shown, "suffix": f" {plot_text(unit_of(field, spec))}"
                    if field != "spending_score" and unit_of(field, spec) else ""},
            # Above or below the segment average is neither good nor bad: one neutral colour.
            delta={"reference": mean, "relative": False, "valueformat": moved,
                   "increasing": {"color": "#6b7280"}, "decreasing": {"color": "#6b7280"}}
            if mean is not None else None,
            title={"text": f"{plot_text(short_label(label_of(field), 20))}<br><sup>segment "
                   f"average {_average_text(mean)}"
                   f"{' ' + plot_text(unit_of(field, spec)) if unit_of(field, spec) else ''}"
                   "</sup>" if mean is not None
                   else plot_text(short_label(label_of(field), 20))},
            gauge={
                "axis": {"range": [low, high]},
                "bar": {"color": color},
                "steps": [{"range": [base.means[field] - base.stds[field],
                                     base.means[field] + base.stds[field]],
                           "color": "rgba(128,128,128,0.18)"}],
                "threshold": {"line": {"color": "#444", "width": 3}, "value": mean}
                if mean is not None else None,
            },
        )
    )
    fig.update_layout(height=270, margin=dict(l=30, r=30, t=90, b=10))
    return fig


#: Steps the silhouette axis is ticked at (the coarsest giving at least three ticks):
#: two decimals, never the 0.002 steps Plotly picks on a flat curve, whose labels ("0.402,
#: 0.404") read as more precise than a silhouette on a sample is.
SCORE_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)


def score_axis(values: Sequence[float | None]) -> dict:
    """The silhouette axis's layout (range, ticks, two-decimal labels) for ``values``:
    the range rounded out to whole ticks, a step from :data:`SCORE_STEPS`."""
    known = [float(v) for v in values if v is not None and np.isfinite(v)]
    if not known:
        return {"tickformat": ".2f", "hoverformat": ".3f"}
    lo, hi = min(known), max(known)
    step = next((s for s in reversed(SCORE_STEPS) if (hi - lo) / s >= 2), SCORE_STEPS[0])
    # in whole steps (rounded first: 0.4 / 0.01 is 40.000000000000001)
    first, last = math.floor(round(lo / step, 6)), math.ceil(round(hi / step, 6))
    if last - first < 2:  # a flat curve: a tick either side of it
        first, last = first - 1, max(last, first + 1) + 1
    return {"range": [round((first - 0.25) * step, 6), round((last + 0.25) * step, 6)],
            "tickmode": "linear", "tick0": round(first * step, 6), "dtick": step,
            "tickformat": ".2f", "hoverformat": ".3f"}


def k_curve_figure(curve: KCurve, current: int | None = None) -> go.Figure:
    """Elbow (inertia or BIC) and silhouette against the number of segments: a tick at
    each number of segments tried (and the current one), never between two."""
    from plotly.subplots import make_subplots

    fig = make_subplots(specs=[[{"secondary_y": True}]])
    ks = list(curve.ks)
    left = None
    if any(v is not None for v in curve.inertia):
        left = "Inertia (elbow)"
        fig.add_trace(go.Scatter(x=ks, y=curve.inertia, name=left, mode="lines+markers",
                                 line=dict(color=PALETTE[0])))
    if any(v is not None for v in curve.bic):
        left = "BIC (lower is better)"
        fig.add_trace(go.Scatter(x=ks, y=curve.bic, name=left, mode="lines+markers",
                                 line=dict(color=PALETTE[0])))
    fig.add_trace(
        go.Scatter(x=ks, y=curve.silhouette, name="Silhouette (higher is better)",
                   mode="lines+markers", line=dict(dash="dot", color=PALETTE[1])),
        secondary_y=True,
    )
    if left:  # sums of squares, thousands and more: whole numbers on hover
        fig.update_yaxes(title_text=left, hoverformat=",.0f", secondary_y=False)
    if current is not None:
        fig.add_vline(x=current, line_dash="dash", line_color="gray",
                      annotation_text=f"current: {current}")
    shown = sorted({*ks, *([current] if current is not None else [])})
    fig.update_xaxes(title_text="Number of segments", tickmode="array", tickvals=shown,
                     ticktext=[str(k) for k in shown], tickformat="d", hoverformat="d")
    fig.update_yaxes(title_text="Silhouette", secondary_y=True, **score_axis(curve.silhouette))
    return _finish(fig, f"Choosing the number of segments ({curve.rows:,} customers sampled)", 420,
                   legend=None)


def k_distance_figure(distances: np.ndarray, k: int, eps: float | None = None) -> go.Figure:
    """Sorted k-th-neighbour distances; DBSCAN's eps is usually chosen at the knee."""
    fig = go.Figure(go.Scattergl(y=distances, mode="lines", name=f"distance to neighbour {k}"))
    if eps is not None:
        fig.add_hline(y=eps, line_dash="dash", line_color="gray", annotation_text=f"eps = {eps:g}")
    fig.update_xaxes(title_text="Customers, sorted by distance")
    fig.update_yaxes(title_text=f"Distance to neighbour {k} (scaled units)")
    fig.update_layout(showlegend=False)
    return _finish(fig, f"k-distance curve (k = {k}): pick eps at the knee", 420, legend=None)


def dendrogram_figure(
    X: np.ndarray, method: str = "ward", n_clusters: int | None = None, leaves: int = 40
) -> go.Figure:
    """The top of the merge tree (last ``leaves`` merges) of a sample of customers."""
    Z = linkage(X, method=method)
    tree = dendrogram(Z, truncate_mode="lastp", p=leaves, no_plot=True)
    fig = go.Figure()
    for xs, ys in zip(tree["icoord"], tree["dcoord"], strict=True):
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="#4e79a7", width=1.5),
                                 hoverinfo="skip", showlegend=False))
    if n_clusters and 1 < n_clusters <= len(Z):
        cut = (Z[-n_clusters, 2] + Z[-n_clusters + 1, 2]) / 2
        fig.add_hline(y=cut, line_dash="dash", line_color="#e15759",
                      annotation_text=f"cut for {n_clusters} segments")
    fig.update_xaxes(showticklabels=False, title_text="Groups of customers")
    fig.update_yaxes(title_text=f"Merge distance ({method})")
    return _finish(fig, f"Dendrogram of {len(X):,} sampled customers (top {leaves} merges)", 440,
                   legend=None)


def batch_distribution(counts: Mapping[int, int], names: Mapping[int, str]) -> go.Figure:
    ids = sorted(counts, key=outliers_last)
    fig = go.Figure(
        go.Bar(
            y=[segment_label(i, names.get(i, str(i))) for i in ids],
            x=[counts[i] for i in ids],
            orientation="h",
            marker_color=[segment_color(i) for i in ids],
            text=[f"{counts[i]:,}" for i in ids], textposition="auto",
            hovertemplate="%{y}: %{x:,} customers<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="Customers")
    fig.update_yaxes(autorange="reversed")
    return _finish(fig, "Segments of the scored rows", 80 + 45 * len(ids), legend=None)


class Flows(Protocol):
    """Customers counted by old and new segment (a :class:`custseg.model.identity.Migration`)."""

    old_ids: Sequence[int]
    new_ids: Sequence[int]
    old_names: Sequence[str]
    new_names: Sequence[str]
    counts: Sequence[Sequence[int]]
    stayed_share: float


def migration_sankey(migration: Flows) -> go.Figure:
    """Customers flowing from an earlier model's segments (left) to a newer one's (right)."""
    old_ids, new_ids = list(migration.old_ids), list(migration.new_ids)
    old_names, new_names = list(migration.old_names), list(migration.new_names)
    counts = np.asarray(migration.counts)
    labels = [f"before: {segment_label(i, n)}" for i, n in zip(old_ids, old_names, strict=True)]
    labels += [f"now: {segment_label(i, n)}" for i, n in zip(new_ids, new_names, strict=True)]
    colors = [segment_color(i) for i in old_ids] + [segment_color(i) for i in new_ids]
    sources, targets, values, link_colors = [], [], [], []
    for a in range(len(old_ids)):
        for b in range(len(new_ids)):
            if counts[a, b] > 0:
                sources.append(a)
                targets.append(len(old_ids) + b)
                values.append(int(counts[a, b]))
                link_colors.append(_fade(segment_color(old_ids[a])))
    fig = go.Figure(go.Sankey(
        node=dict(label=labels, color=colors, pad=14, thickness=16),
        link=dict(source=sources, target=targets, value=values, color=link_colors,
                  hovertemplate="%{value:,} customers<extra></extra>"),
    ))
    title = f"Where customers moved: {migration.stayed_share:.0%} stay in the matching segment"
    return _finish(fig, title, 120 + 40 * max(len(old_ids), len(new_ids)),
                   legend=None)


def _fade(color: str, alpha: float = 0.35) -> str:
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


# ------------------------------------------------------------ recency x frequency grid

#: The grid's colours: greys, light to dark, so that the segments' colours framing the
#: cells stay distinct on every cell.
GRID_COLORS = [[0.0, "#f4f5f7"], [1.0, "#3b4552"]]
#: Lower edges of the recency bins, in days: weeks, then months, then years; a last bin
#: is open-ended (``1095+``, three years and more, where every customer is lapsed).
RECENCY_DAYS = (0, 7, 14, 30, 60, 90, 180, 365, 730, 1095)
#: Lower edges of the frequency bins: each of one to five orders, then wider bins as the
#: tail thins (a few customers order hundreds of times), the last open-ended.
FREQUENCY_COUNTS = (1, 2, 3, 4, 5, 6, 8, 11, 16, 21, 31, 51, 101, 201, 501, 1001)


@dataclass(frozen=True)
class RfmGrid:
    """Customers counted in recency x frequency cells, with each cell's average monetary
    value and the segment most of its customers are in.

    ``recency_edges`` and ``frequency_edges`` are the bins' lower edges (a bin runs to
    the next edge, the last one has no upper end); ``cells`` has one row per non-empty
    cell: ``r_bin``, ``f_bin`` (bin positions), ``customers``, ``monetary`` (the average,
    NaN without a monetary column), ``segment`` (the id most of the cell's customers are
    in, the lowest id on a tie) and ``segment_share``. ``left_out`` counts customers with
    no recency or frequency (returns only), who are on no cell.
    """

    recency_edges: tuple[float, ...]
    frequency_edges: tuple[float, ...]
    cells: pd.DataFrame
    left_out: int
    whole_recency: bool = True
    whole_frequency: bool = True

    @property
    def recency_labels(self) -> list[str]:
        return _bin_labels(self.recency_edges, self.whole_recency)

    @property
    def frequency_labels(self) -> list[str]:
        return _bin_labels(self.frequency_edges, self.whole_frequency)


def _whole(values: np.ndarray) -> bool:
    return bool(len(values)) and bool(np.all(values == np.round(values)))


def _quantile_edges(values: np.ndarray, bins: int) -> tuple[float, ...]:
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[:-1]))
    return tuple(float(e) for e in edges)


def recency_edges(recency: np.ndarray, max_bins: int = 10) -> tuple[float, ...]:
    """Lower bin edges for days since the last purchase: :data:`RECENCY_DAYS` up to the
    largest recency, or, for a short log (fewer than four of those bins), about
    ``max_bins`` equal whole-day bins; quantiles for values that are not whole days."""
    if not len(recency):
        return (0.0,)
    if not _whole(recency):
        return _quantile_edges(recency, max_bins)
    low, high = int(recency.min()), int(recency.max())
    below = [e for e in RECENCY_DAYS if e <= low]
    edges = [below[-1] if below else low] + [e for e in RECENCY_DAYS if low < e <= high]
    if len(edges) < 4:
        width = max(1, -(-(high - low + 1) // max_bins))  # ceil
        edges = list(range(low, high + 1, width))
    return tuple(float(e) for e in edges)


def frequency_edges(frequency: np.ndarray, max_bins: int = 12) -> tuple[float, ...]:
    """Lower bin edges for order counts: one bin per count up to five, then
    :data:`FREQUENCY_COUNTS`' widening bins up to the largest count, at most ``max_bins``
    (the top ones merged into the last, open-ended one); quantiles for values that are
    not whole numbers."""
    if not len(frequency):
        return (1.0,)
    if not _whole(frequency):
        return _quantile_edges(frequency, max_bins)
    low, high = int(frequency.min()), int(frequency.max())
    edges = [e for e in FREQUENCY_COUNTS if low <= e <= high]
    if not edges or edges[0] > low:
        edges.insert(0, low)
    return tuple(float(e) for e in edges[:max_bins])


def _bin_labels(edges: Sequence[float], whole: bool) -> list[str]:
    out = []
    for i, lo in enumerate(edges):
        if i + 1 == len(edges):
            out.append(f"{lo:,.0f}+" if whole else f"≥ {lo:,.3g}")
        elif whole:
            hi = edges[i + 1] - 1
            out.append(f"{lo:,.0f}" if hi == lo else f"{lo:,.0f}–{hi:,.0f}")
        else:
            out.append(f"{lo:,.3g}–{edges[i + 1]:,.3g}")
    return out


def rfm_grid_data(
    recency: np.ndarray, frequency: np.ndarray, monetary: np.ndarray | None,
    labels: np.ndarray, set_apart: int = 0,
) -> RfmGrid:
    """Customers binned by recency (days) and frequency (orders), each cell with its
    average monetary value and main segment. Vectorised (one pass of ``bincount``), so
    a million customers take milliseconds; customers without a recency or frequency
    (returns only) are counted in ``left_out``, not binned, with ``set_apart`` more:
    those already set apart and not among the values given."""
    r = np.asarray(recency, dtype="float64")
    f = np.asarray(frequency, dtype="float64")
    labels = np.asarray(labels)
    on = np.isfinite(r) & np.isfinite(f)
    left_out = int((~on).sum()) + int(set_apart)
    r, f, seg = r[on], f[on], labels[on]
    m = None if monetary is None else np.asarray(monetary, dtype="float64")[on]
    r_edges, f_edges = recency_edges(r), frequency_edges(f)
    nr, nf = len(r_edges), len(f_edges)
    ri = np.clip(np.searchsorted(r_edges, r, side="right") - 1, 0, nr - 1)
    fi = np.clip(np.searchsorted(f_edges, f, side="right") - 1, 0, nf - 1)
    cell = fi * nr + ri
    size = nr * nf
    customers = np.bincount(cell, minlength=size)
    if m is not None:
        known = np.isfinite(m)
        sums = np.bincount(cell[known], weights=m[known], minlength=size)
        counted = np.bincount(cell[known], minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(counted > 0, sums / np.maximum(counted, 1), np.nan)
    else:
        mean = np.full(size, np.nan)
    ids, codes = np.unique(seg, return_inverse=True)
    per = np.bincount(cell * max(len(ids), 1) + codes,
                      minlength=size * max(len(ids), 1)).reshape(size, max(len(ids), 1))
    full = np.flatnonzero(customers)
    main = per[full].argmax(axis=1) if len(ids) else np.zeros(len(full), dtype=int)
    cells = pd.DataFrame({
        "r_bin": full % nr, "f_bin": full // nr, "customers": customers[full],
        "monetary": mean[full],
        "segment": ids[main] if len(ids) else np.zeros(len(full), dtype=int),
        "segment_share": per[full, main] / customers[full] if len(full) else [],
    })
    return RfmGrid(r_edges, f_edges, cells, left_out, _whole(r) or not len(r),
                   _whole(f) or not len(f))


def rfm_grid(grid: RfmGrid, names: Mapping[int, str], spec: InputSpec | None = None,
             monetary: str | None = "monetary") -> go.Figure:
    """The recency x frequency grid: a heat map of each cell's average monetary value
    (customers per cell written in it), each cell framed in the colour of the segment
    most of its customers are in, one legend entry per segment."""
    nr, nf = len(grid.recency_edges), len(grid.frequency_edges)
    cells = grid.cells
    z = np.full((nf, nr), np.nan)
    count = np.zeros((nf, nr), dtype=int)
    z[cells["f_bin"], cells["r_bin"]] = cells["monetary"]
    count[cells["f_bin"], cells["r_bin"]] = cells["customers"]
    has_money = monetary is not None and bool(np.isfinite(z).any())
    segment_text = np.full((nf, nr), "", dtype=object)
    for row in cells.itertuples(index=False):
        segment_text[row.f_bin, row.r_bin] = (
            f"{segment_label(int(row.segment), names.get(int(row.segment), str(row.segment)))}"
            f" ({row.segment_share:.0%})")
    x, y = grid.recency_labels, grid.frequency_labels
    money_label = plot_text(label_of(monetary)) if monetary else "customers"
    shown = z if has_money else np.where(count > 0, count, np.nan)
    text = np.where(count > 0, np.vectorize(lambda c: f"{c:,}")(count), "")
    fig = go.Figure(go.Heatmap(
        z=shown, x=x, y=y, text=text, texttemplate="%{text}", textfont=dict(size=11),
        customdata=np.dstack([count, segment_text]),
        colorscale=GRID_COLORS, xgap=3, ygap=3,
        colorbar=dict(title=dict(text=f"Average<br>{money_label}" if has_money
                                 else "Customers"), thickness=14),
        hovertemplate=("Recency %{x} days<br>Frequency %{y}<br>%{customdata[0]:,} customers"
                       + (f"<br>average {money_label} %{{z:,.1f}}" if has_money else "")
                       + "<br>mostly %{customdata[1]}<extra></extra>"),
        hoverongaps=False,
    ))
    shapes = []
    for row in cells.itertuples(index=False):
        shapes.append(dict(
            type="rect", xref="x", yref="y", x0=row.r_bin - 0.46, x1=row.r_bin + 0.46,
            y0=row.f_bin - 0.46, y1=row.f_bin + 0.46,
            line=dict(color=segment_color(int(row.segment)), width=3), layer="above"))
    fig.update_layout(shapes=shapes)
    for sid in sorted(set(cells["segment"].tolist()), key=outliers_last):
        label = segment_label(int(sid), names.get(int(sid), str(sid)))
        fig.add_trace(go.Scatter(
            x=[None], y=[None], mode="markers", name=label, showlegend=True,
            marker=dict(symbol="square-open", size=14, color=segment_color(int(sid)),
                        line=dict(width=3))))
    fig.update_xaxes(title_text="Days since the last purchase (recency)", type="category",
                     showgrid=False)
    fig.update_yaxes(title_text="Orders (frequency)", type="category", showgrid=False)
    fig.update_layout(plot_bgcolor="rgba(0,0,0,0)",
                      legend=dict(orientation="h", yanchor="top", y=-0.12, x=0))
    n = grid.left_out
    # on a line of its own (Plotly's <br>): one line would run past a dashboard's width
    note = (f"<br><sup>{n:,} customer{'s' if n != 1 else ''} without a recency (returns "
            f"only) {'are' if n != 1 else 'is'} not on it</sup>" if n else "")
    title = ("Recency × frequency: colour = average " + money_label if has_money
             else "Recency × frequency: customers per cell")
    return _finish(fig, f"{title}, frame = main segment{note}", 200 + 44 * nf,
                   legend="Main segment", top=70 if n else 50)


def rfm_columns(features: Sequence[str], spec: InputSpec | None = None
                ) -> tuple[str, str, str | None] | None:
    """The features a model reads recency, frequency and monetary value from (the first of
    each role; monetary None when it has none), or None without recency and frequency:
    then it has no recency x frequency grid."""
    by_role: dict[str, str] = {}
    for name in features:
        by_role.setdefault(role_of(name, spec), name)
    if "recency" not in by_role or "frequency" not in by_role:
        return None
    return by_role["recency"], by_role["frequency"], by_role.get("monetary")
