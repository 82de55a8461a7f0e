"""A self-contained HTML report of a segmentation, to share or archive.

One file that works offline: Plotly's JavaScript is embedded once, nothing is loaded from
the network, and every piece of user text (names, strategies, file names) is escaped.
It holds the segments with their names, sizes, profiles, rules and strategies, the main
charts, the quality metrics and the stability.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd

from custseg.cluster.labels import segment_label
from custseg.cluster.stability import Stability, reading
from custseg.model.segmentation import SegmentationModel
from custseg.model.summaries import describe_model, fit_note, gender_mix_text
from custseg.segments import charts
from custseg.segments.categories import CategoryProfiles
from custseg.segments.explain import drivers, lift_text
from custseg.segments.profile import numeric_columns
from custseg.table.spec import with_unit
from custseg.table.text import terminal_safe

_STYLE = """
body { font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;
       color: #1f2933; margin: 0 auto; max-width: 1100px; padding: 24px; line-height: 1.45; }
h1 { margin-bottom: 0; } .muted { color: #6b7280; font-size: 0.92em; }
.metrics { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.metric { border: 1px solid #d9dee5; border-radius: 8px; padding: 10px 14px; min-width: 140px; }
.metric b { display: block; font-size: 1.5em; }
.segment { border: 1px solid #d9dee5; border-left: 8px solid var(--c); border-radius: 8px;
           padding: 12px 18px; margin: 18px 0; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.93em; }
th, td { border-bottom: 1px solid #e5e7eb; padding: 4px 10px; text-align: left; }
td.n { text-align: right; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.grid > div:first-child { flex: 0 1 auto; max-width: 100%; }
.grid > div:last-child { flex: 1 1 360px; min-width: 360px; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _data(value: object) -> str:
    """A value from the data (a category, a column's header): control characters as
    visible escapes (``\\x1b``, ``\\u202e``), as the terminal shows them, then escaped."""
    return _e(terminal_safe(str(value)))


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _metric(label: str, value: str) -> str:
    return f'<div class="metric">{_e(label)}<b>{_e(value)}</b></div>'


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


#: A chart title longer than this (characters) is broken over lines: Plotly never wraps
#: one, and cuts it at the figure's edge.
TITLE_CHARS = 60


def wrap_title(fig) -> None:
    """Break a long title over lines (Plotly's ``<br>``), with room for them above the plot."""
    title = fig.layout.title.text
    if not title or len(title) <= TITLE_CHARS or "<br>" in title:
        return
    lines = textwrap.wrap(title, TITLE_CHARS, break_long_words=False, break_on_hyphens=False)
    fig.update_layout(title_text="<br>".join(lines))
    top = fig.layout.margin.t if fig.layout.margin.t is not None else 80
    fig.update_layout(margin_t=top + 22 * (len(lines) - 1))
    if fig.layout.height:
        fig.update_layout(height=fig.layout.height + 22 * (len(lines) - 1))


class _Figures:
    """Figures as HTML fragments; Plotly's script goes into the first one only. Each
    takes its container's width (never a fixed 700 px), its title wrapped to fit."""

    def __init__(self) -> None:
        self.first = True

    def __call__(self, fig) -> str:
        wrap_title(fig)
        # Plotly's own template, named: importing streamlit makes its theme the default,
        # without room for the axes' labels (the dashboard's report had its scatter's
        # ticks cut off where the command line's did not)
        fig.update_layout(autosize=True, width=None, template="plotly")
        out = fig.to_html(full_html=False, include_plotlyjs=self.first,
                          default_width="100%",
                          config={"displaylogo": False, "responsive": True})
        self.first = False
        return out


def build_report(
    model: SegmentationModel,
    *,
    values: pd.DataFrame | None = None,
    labels: np.ndarray | None = None,
    title: str = "Customer segments",
    generated: str = "",
    source: str = "",
    categories: CategoryProfiles | None = None,
    notes: Sequence[str] = (),
    stability: Stability | None = None,
) -> str:
    """The whole report as one HTML string. With ``values`` and ``labels`` (customers and
    their segments) it adds the scatter and distribution charts; with ``categories``
    (those customers profiled by the model's columns) their category shares replace the
    fit's. ``notes`` (what the reader should know of the data: columns it could not be
    profiled by) follow the metrics, one paragraph each. ``stability`` is a measurement
    of this model made apart from its fit (the dashboard fits without one and measures
    it in the Model Lab); the model's own measurement, when it has one, comes first.
    Without either the report says stability was not measured."""
    figure = _Figures()
    m = model.metrics
    fid = model.segmenter.fidelity_
    stab = m.stability if m.stability is not None else stability
    head = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="muted">{_e(describe_model(model))}'
        + (f" · data: {_e(source)}" if source else "")
        + (f" · generated {_e(generated)}" if generated else "") + "</p>",
        f"<p>{_e(fit_note(model))}</p>",
        '<div class="metrics">',
        _metric("Customers", f"{model.base.n:,}"),
        _metric("Segments", str(sum(1 for s in model.segments if not s.is_outliers))),
        _metric("Silhouette", _num(m.quality.silhouette)),
        _metric("Davies–Bouldin", _num(m.quality.davies_bouldin)),
        _metric("Calinski–Harabasz", _num(m.quality.calinski_harabasz, 1)),
        _metric("Assigner agreement", "–" if fid.cv_agreement is None
                else f"{fid.cv_agreement:.1%}"),
        _metric("Stability (ARI)", "–" if stab is None or stab.overall is None
                else f"{stab.overall:.2f}"),
        "</div>",
    ]
    if stab is not None:
        head.append(f"<p>{_e(stab.reading)}</p>")
    else:
        head.append('<p class="muted">Stability was not measured for this model.</p>')
    quality = model.quality
    if quality.n_invalid:
        reasons = ", ".join(f"{k}: {v:,}" for k, v in quality.reasons.items())
        head.append(f'<p class="muted">{quality.n_invalid:,} of {quality.n_input:,} rows were '
                    f"invalid and left out ({_e(reasons)}).</p>")
    head += [f'<p class="muted">{_data(note)}</p>' for note in notes]

    # one chart a row: side by side, the scatter's legend left its plot a third of a column
    overview = ["<h2>Segments at a glance</h2><div>",
                figure(charts.shares_donut(model.segments))]
    if values is not None and labels is not None:
        fields = numeric_columns(values)
        if len(fields) >= 2:
            overview.append(figure(charts.scatter_2d(values, labels, model.names, fields[-2],
                                                     fields[-1], max_points=5_000,
                                                     spec=model.config.spec)))
    overview.append("</div>")

    sections = ["<h2>Each segment</h2>"]
    per_segment = {} if stab is None else stab.per_segment
    for s in model.segments:
        color = charts.segment_color(s.id)
        title_text = segment_label(s.id, s.name)
        rows = "".join(
            f"<tr><td>{_e(with_unit(f, model.config.spec))}</td><td class='n'>{s.means[f]:.1f}</td>"
            f"<td class='n'>{_num(s.medians.get(f), 1)}</td>"
            f"<td class='n'>{model.base.means[f]:.1f}</td><td class='n'>{s.z[f]:+.2f}</td>"
            f"<td>{_e(s.levels[f])}</td></tr>"
            for f in s.means if s.means[f] is not None and f in s.levels
        )
        own = s.categories if categories is None else categories.segments.get(s.id, {})
        everyone = model.base.categories if categories is None else categories.base
        category_rows = "".join(
            f"<tr><td>{_data(column)}</td><td>{_data(e['value'])}</td>"
            f"<td class='n'>{_share(e['share'])}</td>"
            f"<td class='n'>{_share(everyone.get(column, {}).get(e['value']))}</td>"
            f"<td class='n'>{_num(e['lift'])}</td></tr>"
            for column, entries in own.items() for e in entries if e.get("count"))
        rules = "".join(
            f"<li>{_e(r['text'])} — precision {r['precision']:.0%}, coverage "
            f"{r['coverage']:.0%}</li>" for r in s.rules
        )
        lifts = "".join(f"<li>{_e(lift_text(d, model.config.spec))}</li>"
                        for d in drivers(s, model.base))
        stable = per_segment.get(s.id)
        stable_text = ("" if stable is None else
                       f"<p>Stability: Jaccard {stable:.2f} ({_e(reading(stable))}).</p>")
        sections.append(
            f'<div class="segment" style="--c: {color}">'
            f"<h3>{_e(title_text)}</h3>"
            f'<p class="muted">{s.size:,} customers · {s.share:.1%} of the base'
            + (f" · {_e(gender_mix_text(s.gender_mix))}" if s.gender_mix else "") + "</p>"
            f"<p>{_e(s.description)}</p>"
            f"<p><b>Strategy.</b> {_e(s.strategy)}</p>"
            '<div class="grid"><div>'
            "<table><tr><th>feature</th><th>segment mean</th><th>segment median</th>"
            f"<th>everyone</th><th>gap (SD)</th><th>level</th></tr>{rows}</table>"
            + ("<p><b>Categories</b> (share of the segment, of everyone, lift)</p><table>"
               "<tr><th>column</th><th>value</th><th>segment</th><th>everyone</th>"
               f"<th>lift</th></tr>{category_rows}</table>" if category_rows else "")
            + (f"<p><b>Rules</b></p><ul>{rules}</ul>" if rules else "")
            + f"<p><b>Drivers</b></p><ul>{lifts}</ul>{stable_text}</div><div>"
            + (figure(charts.profile_bars(s, model.rulebook.threshold)) if not s.is_outliers else "")
            + "</div></div></div>"
        )

    extra = []
    if values is not None and labels is not None:
        extra.append("<h2>Distributions</h2>")
        for f in numeric_columns(values):
            extra.append(figure(charts.distribution(values, labels, model.names, f,
                                                    spec=model.config.spec)))
    body = "\n".join(head + overview + sections + extra)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )
