from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from custseg.cluster.evaluate import k_curve, k_distance
from custseg.segments import charts


@pytest.fixture(scope="module")
def frame(demo, demo_model):
    """(values, labels, names) as the Explore page passes them."""
    values = demo.astype({"age": float, "annual_income": float, "spending_score": float})
    return values, demo_model.labels, demo_model.names


def test_one_segment_one_colour(demo_model):
    assert charts.segment_color(0) == charts.PALETTE[0]
    assert charts.segment_color(-1) == charts.OUTLIER_COLOR
    assert charts.OUTLIER_COLOR not in charts.PALETTE
    colors = charts.segment_colors(demo_model.names)
    assert len(set(colors.values())) == len(demo_model.names)


def test_scatter_colours_match_across_charts(frame, demo_model):
    scatter = charts.scatter_2d(*frame, "annual_income", "spending_score")
    hist = charts.distribution(*frame, "age")
    donut = charts.shares_donut(demo_model.segments)
    gender = charts.gender_by_segment(*frame)
    by_name = {t.name: t.marker.color for t in scatter.data}
    for trace in hist.data:
        assert trace.marker.color == by_name[trace.name]
    for label, color in zip(gender.data[0].x, gender.data[0].marker.color, strict=True):
        assert by_name[label] == color
    for label, color in zip(donut.data[0].labels, donut.data[0].marker.colors, strict=True):
        assert by_name[label] == color
    assert all(t.type == "scattergl" for t in scatter.data)  # WebGL


def test_scatter_draws_a_bounded_sample(frame):
    fig = charts.scatter_2d(*frame, "age", "annual_income", max_points=100)
    assert sum(len(t.x) for t in fig.data) == 100
    assert "100 of 600 customers drawn" in fig.layout.title.text
    fig3 = charts.scatter_3d(*frame, "age", "annual_income", "spending_score", max_points=50)
    assert sum(len(t.x) for t in fig3.data) == 50


def test_distribution_sends_aggregates_from_every_customer(frame):
    values, labels, _ = frame
    fig = charts.distribution(*frame, "annual_income", bins=40)
    bars = [t for t in fig.data if t.type == "bar"]
    boxes = [t for t in fig.data if t.type == "box"]
    assert sum(sum(t.y) for t in bars) == len(values)  # every customer counted
    low, high = values["annual_income"].min(), values["annual_income"].max()
    width = np.ceil((high - low + 1) / 40)  # whole k$: whole-number bins
    assert all(len(t.y) == np.ceil((high - low + 1) / width) for t in bars)
    seg0 = values["annual_income"].to_numpy()[labels == 0]
    assert boxes[0].median[0] == pytest.approx(np.median(seg0))
    assert boxes[0].q1[0] == pytest.approx(np.percentile(seg0, 25))


def test_user_text_is_inert_in_plots():
    assert charts.plot_text('<a href="javascript:x">hi</a>') == '&lt;a href="javascript:x"&gt;hi&lt;/a&gt;'
    assert charts.segment_label(3, "<b>x</b>") == "3 · &lt;b&gt;x&lt;/b&gt;"
    assert charts.segment_label(-1, "Outliers") == "Outliers"


def test_gauge_range_comes_from_the_data(demo_model):
    seg = demo_model.segments[0]
    fig = charts.gauge("annual_income", 70.0, seg, demo_model.base, "#000")
    indicator = fig.data[0]
    assert list(indicator.gauge.axis.range) == [demo_model.base.mins["annual_income"],
                                                demo_model.base.maxs["annual_income"]]
    assert indicator.gauge.threshold.value == pytest.approx(seg.means["annual_income"])
    wide = charts.gauge("annual_income", 5_000.0, seg, demo_model.base, "#000")
    assert wide.data[0].gauge.axis.range[1] == 5_000.0


@pytest.mark.parametrize(("value", "mean", "number", "delta", "average"), [
    (9_173_710.02, 10_059_587.3, ",.0f", ",.0f", "10.1M"),  # was 9.174e+6, -885877.3
    (9.1e-7, 1.02e-6, ".3~g", ".3~g", "1.02e-06"),  # was a difference of "0.0"
    (61.5, 55.25, ",.4~g", ".1f", "55.2"),  # Mall incomes stay as they were
    (0.0, 0.012, ",.4~g", ".2~g", "0.01"),  # a difference of 0.012 was "▼0.0"
])
def test_gauges_show_wide_and_tiny_figures_readably(demo_model, value, mean, number, delta,
                                                    average):
    from dataclasses import replace

    seg = replace(demo_model.segments[0],
                  means={**demo_model.segments[0].means, "annual_income": mean})
    indicator = charts.gauge("annual_income", value, seg, demo_model.base, "#000").data[0]
    assert indicator.number.valueformat == number and indicator.delta.valueformat == delta
    assert f"segment average {average} k$" in indicator.title.text


def test_gender_bars_and_profile(frame, demo_model):
    fig = charts.gender_by_segment(*frame)
    assert [t.name for t in fig.data] == ["Female", "Male"]
    assert sum(sum(t.y) for t in fig.data) == 600
    bars = charts.profile_bars(demo_model.segments[0])
    assert list(bars.data[0].text) == [demo_model.segments[0].levels[f]
                                       for f in ("age", "annual_income", "spending_score")]


def test_model_lab_figures(demo_model, demo):
    X = demo_model.encoding.transform(demo.astype({"age": float, "annual_income": float,
                                                   "spending_score": float}))
    curve = k_curve(X, "kmeans", ks=range(2, 6))
    assert curve.ks == (2, 3, 4, 5)
    assert all(a > b for a, b in zip(curve.inertia, curve.inertia[1:], strict=False))
    fig = charts.k_curve_figure(curve, current=5)
    assert isinstance(fig, go.Figure) and len(fig.data) == 2
    gmm = k_curve(X, "gmm", ks=range(2, 4))
    assert gmm.bic[0] is not None and gmm.inertia[0] is None
    dist = k_distance(X, 5)
    assert np.all(np.diff(dist) >= 0) and len(dist) == 600
    assert len(charts.k_distance_figure(dist, 5, eps=0.5).data) == 1
    dendro = charts.dendrogram_figure(X[:300], "ward", n_clusters=5, leaves=20)
    assert len(dendro.data) == 19  # 20 leaves, 19 merges


def test_batch_distribution(demo_model):
    fig = charts.batch_distribution({0: 10, -1: 2, 1: 5}, {**demo_model.names, -1: "Outliers"})
    assert list(fig.data[0].x) == [10, 5, 2]
    assert fig.data[0].marker.color[-1] == charts.OUTLIER_COLOR


def test_labelled_keeps_rows(demo_model, demo):
    out = charts.labelled(demo, demo_model.labels, demo_model.names)
    assert len(out) == len(demo)
    assert out["segment"].str.contains(" · ").all()
    assert isinstance(out, pd.DataFrame)


def test_gender_bars_with_outliers_count_every_customer():
    values = pd.DataFrame({"gender": ["Male", "Female", "Male", "Female", None, "Other"]})
    labels = np.array([-1, 0, 1, 1, 0, -1])
    names = {0: "A", 1: "B", -1: "Outliers"}
    fig = charts.gender_by_segment(values, labels, names)
    by_gender = {t.name: dict(zip(t.x, t.y, strict=True)) for t in fig.data}
    assert list(fig.data[0].x) == ["0 · A", "1 · B", "Outliers"]
    assert by_gender["Male"] == {"0 · A": 0, "1 · B": 1, "Outliers": 1}
    assert by_gender["Female"] == {"0 · A": 1, "1 · B": 1, "Outliers": 0}
    assert by_gender["other"] == {"0 · A": 0, "1 · B": 0, "Outliers": 1}
    assert by_gender["missing"] == {"0 · A": 1, "1 · B": 0, "Outliers": 0}  # not dropped
    assert sum(sum(t.y) for t in fig.data) == len(values)


def test_gender_answers_beyond_two_are_other_and_blanks_missing():
    values = pd.DataFrame({"gender": ["Female", "Male", "Non-binary", "prefer not to say",
                                      None, "X", "Female", None]})
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    counts = charts.gender_counts(values, labels, {0: "A", 1: "B"})
    assert counts.columns.tolist() == ["Female", "Male", "other", "missing"]
    assert counts.to_dict("index") == {
        "0 · A": {"Female": 1, "Male": 1, "other": 1, "missing": 1},
        "1 · B": {"Female": 1, "Male": 0, "other": 2, "missing": 1}}
    fig = charts.gender_by_segment(values, labels, {0: "A", 1: "B"})
    assert [t.name for t in fig.data] == ["Female", "Male", "other", "missing"]
    assert len({t.marker.pattern.shape for t in fig.data}) == 4  # each its own pattern
    only_two = charts.gender_counts(values.iloc[[0, 1]], labels[[0, 1]], {0: "A"})
    assert only_two.columns.tolist() == ["Female", "Male"]  # no empty categories


def _profiles(sizes):
    from custseg.segments.profile import SegmentProfile

    return [SegmentProfile(id=i, name=f"S{i}", size=n, share=n / sum(sizes), means={},
                           mins={}, maxs={}, z={}, levels={}, gender_mix={}, description="",
                           strategy="", facts=()) for i, n in enumerate(sizes)]


def test_donut_folds_small_segments_into_other():
    segments = _profiles([400, 300, *([10] * 38)])
    fig = charts.shares_donut(segments)
    labels, values = list(fig.data[0].labels), list(fig.data[0].values)
    assert labels == ["0 · S0", "1 · S1", "Other (38 smaller segments)"]
    assert values == [400, 300, 380]
    assert fig.data[0].marker.colors[-1] == charts.OTHER_COLOR
    assert list(fig.data[0].marker.pattern.shape) == ["", "", "/"]  # Other alone hatched
    many = charts.shares_donut(_profiles([100] * 41))  # none small, but only ten slices
    assert len(many.data[0].labels) == 11 and sum(many.data[0].values) == 4_100
    assert many.data[0].labels[-1] == "Other (31 smaller segments)"


def _luminance(colour: str) -> float:
    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_donut_outliers_and_other_clearly_apart():
    from dataclasses import replace

    segments = _profiles([400, 300, *([10] * 38), 30])
    segments[-1] = replace(segments[-1], id=-1, name="Outliers")  # 30 of 1,030: under 3%
    fig = charts.shares_donut(segments)
    slices = dict(zip(fig.data[0].labels, fig.data[0].marker.colors, strict=True))
    assert list(slices) == ["0 · S0", "1 · S1", "Outliers", "Other (38 smaller segments)"]
    outliers, other = slices["Outliers"], slices["Other (38 smaller segments)"]
    assert (outliers, other) == (charts.OUTLIER_COLOR, charts.OTHER_COLOR)
    assert _luminance(other) - _luminance(outliers) > 0.3  # pale against mid grey
    assert list(fig.data[0].marker.pattern.shape) == ["", "", "", "/"]


def test_donut_keeps_a_single_small_segment():
    segments = _profiles([500, 490, 10])
    assert list(charts.shares_donut(segments).data[0].labels) == ["0 · S0", "1 · S1", "2 · S2"]


def test_colours_repeat_past_the_palette():
    assert not charts.colours_repeat(list(range(len(charts.PALETTE))) + [-1])
    assert charts.colours_repeat(list(range(len(charts.PALETTE) + 1)))


def test_many_segments_put_the_legend_below_the_plot(frame):
    values, labels, names = frame
    few = charts.scatter_2d(values, labels, names, "annual_income", "spending_score")
    assert few.layout.legend.orientation is None
    asked = charts.scatter_2d(values, labels, names, "annual_income", "spending_score",
                              legend_below=True)
    assert asked.layout.legend.orientation == "h"
    assert asked.layout.height > few.layout.height  # its rows below the plot
    many_names = {**names, **{i: f"Extra {i}" for i in range(20, 40)}}
    many = charts.scatter_2d(values, labels, many_names, "annual_income", "spending_score")
    assert many.layout.legend.orientation == "h"
    assert many.layout.height > few.layout.height
    hist = charts.distribution(values, labels, many_names, "age")
    assert hist.layout.legend.orientation == "h"


def test_whole_numbers_are_binned_on_whole_numbers():
    """200,000 uniform ages 18-70 in 40 equal bins held one age or two by turns (false
    spikes twice as high); on whole numbers every full bin holds two ages, and the
    counts are even."""
    ages = np.random.default_rng(0).integers(18, 71, 200_000).astype(float)
    edges, whole = charts.histogram_edges(ages, 40)
    assert whole
    assert edges[0] == 17.5 and edges[-1] == 70.5
    assert np.all(np.diff(edges)[:-1] == 2.0) and np.diff(edges)[-1] == 1.0  # 70 alone
    counts, _ = np.histogram(ages, edges)
    assert counts[:-1].max() / counts[:-1].min() < 1.1  # no bin twice its neighbour
    labels = charts.bin_labels(edges, whole)
    assert labels[0] == "18–19" and labels[-1] == "70"
    spiky, _ = np.histogram(ages, np.histogram_bin_edges(ages, 40))
    assert spiky.max() / spiky.min() > 1.8  # what the old bins did


def test_short_whole_ranges_get_a_bar_per_value_and_fractions_equal_bins():
    edges, whole = charts.histogram_edges(np.array([1.0, 2.0, 2.0, 5.0]), 40)
    assert whole and edges.tolist() == [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]
    assert charts.bin_labels(edges, whole) == ["1", "2", "3", "4", "5"]
    edges, whole = charts.histogram_edges(np.array([0.5, 1.0, 2.5, np.nan]), 4)
    assert not whole and edges.tolist() == [0.5, 1.0, 1.5, 2.0, 2.5]
    assert charts.bin_labels(edges, whole)[0] == "0.5–1"


def test_distribution_hover_names_the_values_of_each_bar(frame):
    fig = charts.distribution(*frame, "age", bins=40)
    bar = next(t for t in fig.data if t.type == "bar")
    assert "%{customdata}" in bar.hovertemplate and " years" in bar.hovertemplate
    assert all("–" in c or float(c).is_integer() for c in bar.customdata)
    assert np.all(np.diff(bar.x)[:-1] >= 1)  # whole ages: bars a whole number apart


def test_scatter_3d_keeps_the_scene_whole(frame, demo_model):
    fig = charts.scatter_3d(*frame, "age", "annual_income", "spending_score")
    assert fig.layout.legend.orientation == "h"  # under the scene, not beside it
    assert tuple(fig.layout.scene.domain.x) == (0, 1)
    assert fig.layout.legend.y == fig.layout.scene.domain.y[0] > 0  # its own band, under
    eye = fig.layout.scene.camera.eye
    assert (eye.x ** 2 + eye.y ** 2 + eye.z ** 2) ** 0.5 > 3 ** 0.5 * 1.25  # stands back
    many = {i: f"Segment {i}" for i in range(40)}
    labels = np.arange(len(frame[0])) % 40
    tall = charts.scatter_3d(frame[0], labels, many, "age", "annual_income", "spending_score")
    # room for the legend: "39 · Segment 39" three a line, 14 lines; five demo names two
    # a line, 3 lines
    assert tall.layout.height == fig.layout.height + 11 * charts.LEGEND_ROW


def test_scatter_3d_legend_of_forty_long_names_has_a_line_each_it_needs(frame):
    long = {i: f"Mature Trend-Driven Budget Spenders ({i})" for i in range(40)}
    short = {i: f"S{i}" for i in range(40)}
    labels = np.arange(len(frame[0])) % 40
    axes = ("age", "annual_income", "spending_score")
    wide = charts.scatter_3d(frame[0], labels, long, *axes)
    narrow = charts.scatter_3d(frame[0], labels, short, *axes)
    entry, per_row = charts.legend_entries([f"{i} · {n}" for i, n in long.items()])
    assert per_row == 1 and entry > 200  # "39 · Mature Trend-…" whole: one a line at 1,024 px
    assert charts.legend_entries(["0 · S0"] * 40) == (36, 4)
    legend = wide.layout.legend
    assert (legend.entrywidth, legend.entrywidthmode) == (entry, "pixels")
    # the band under the scene holds every line: nothing scrolls inside the plot
    assert legend.maxheight >= 40 * charts.LEGEND_ROW
    assert narrow.layout.legend.maxheight >= 10 * charts.LEGEND_ROW
    assert narrow.layout.height < wide.layout.height


def _k_curve(ks, silhouette, inertia=None, bic=None):
    from custseg.cluster.evaluate import KCurve

    none = (None,) * len(ks)
    return KCurve(tuple(ks), tuple(silhouette), tuple(inertia or none), tuple(bic or none), 500)


def test_k_curve_ticks_are_whole_numbers_of_segments():
    curve = _k_curve(range(2, 8), [0.41, 0.43, 0.40, 0.38, 0.37, 0.36],
                     inertia=[900.0, 610.5, 480.25, 400.0, 350.0, 320.0])
    fig = charts.k_curve_figure(curve, current=12)  # a current k beyond the curve's
    x = fig.layout.xaxis
    assert x.tickmode == "array"
    assert list(x.tickvals) == [2, 3, 4, 5, 6, 7, 12]
    assert list(x.ticktext) == ["2", "3", "4", "5", "6", "7", "12"]
    assert x.tickformat == "d" and x.hoverformat == "d"
    assert fig.layout.yaxis.hoverformat == ",.0f"  # inertia: no decimals on hover


def test_k_curve_silhouette_axis_has_two_decimals_at_whole_steps():
    flat = charts.k_curve_figure(_k_curve(range(2, 6), [0.401, 0.405, 0.417, 0.409]))
    y2 = flat.layout.yaxis2
    assert y2.title.text == "Silhouette"
    # Plotly ticks such a curve every 0.002 ("0.402, 0.404"); here every 0.01
    assert (y2.tickmode, y2.tick0, y2.dtick, y2.tickformat) == ("linear", 0.4, 0.01, ".2f")
    assert list(y2.range) == [0.3975, 0.4225]
    assert y2.hoverformat == ".3f"
    wide = charts.k_curve_figure(_k_curve(range(2, 6), [-0.1, 0.35, 0.2, 0.1])).layout.yaxis2
    assert (wide.tick0, wide.dtick, list(wide.range)) == (-0.2, 0.2, [-0.25, 0.45])
    same = charts.score_axis([0.5, 0.5])  # one value: a tick either side of it
    assert (same["tick0"], same["dtick"], same["range"]) == (0.49, 0.01, [0.4875, 0.5225])
    assert charts.score_axis([None, None]) == {"tickformat": ".2f", "hoverformat": ".3f"}


def test_donut_of_only_small_segments_still_draws_the_largest():
    """556 HDBSCAN segments, each under 2%: the donut was "Outliers" and "Other (556
    smaller segments)", and said nothing of any segment."""
    from dataclasses import replace

    segments = _profiles([30, 25, 20, *([8] * 553), 400])
    segments[-1] = replace(segments[-1], id=-1, name="Outliers")
    labels = list(charts.shares_donut(segments).data[0].labels)
    assert labels == ["0 · S0", "1 · S1", "2 · S2", "3 · S3", "4 · S4", "Outliers",
                      "Other (551 smaller segments)"]


@pytest.mark.parametrize("data", [[-1e308, 0.0, 1e308, 5.5], [0.0, 1e300, 3.0],
                                  [-1.7976931348623157e308, 1.7976931348623157e308]])
def test_histograms_span_the_whole_float64_range(data):
    """report --data and Explore exited 1 on a column from -1e308 to 1e308: numpy
    "cannot create 40 finite-sized bins" (the range overflows)."""
    edges, whole = charts.histogram_edges(np.array(data))
    assert not whole and len(edges) == 41
    assert np.isfinite(edges).all() and (np.diff(edges) > 0).all()
    assert edges[0] == min(data) and edges[-1] == max(data)
    frame = pd.DataFrame({"balance": data})
    fig = charts.distribution(frame, np.zeros(len(data), dtype=int), {0: "All"}, "balance")
    bars = [t for t in fig.data if t.type == "bar"]
    assert sum(sum(t.y) for t in bars) == len(data)  # every customer in a bin
    assert all(np.isfinite(t.x).all() for t in bars)


def test_a_range_too_narrow_for_40_bins_is_one_bin():
    """1.0 and 1.0000000000000002: numpy cannot make 40 bins between them; report --data
    exited 1 and Explore showed the exception."""
    data = np.array([1.0, 1.0000000000000002, 1.0000000000000004, 1.0])
    edges, whole = charts.histogram_edges(data)
    assert edges.tolist() == [1.0, 1.0000000000000004] and not whole
    fig = charts.distribution(pd.DataFrame({"x": data}), np.zeros(4, dtype=int), {0: "All"}, "x")
    assert sum(sum(t.y) for t in fig.data if t.type == "bar") == 4
