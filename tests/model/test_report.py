from __future__ import annotations

import re
from dataclasses import replace

import pytest

import custseg
from custseg.cli import main
from custseg.model.report import build_report


@pytest.fixture(scope="module")
def model():
    return custseg.fit(custseg.make_customers(500, seed=4))


def test_report_is_self_contained_and_shows_every_segment(model):
    page = build_report(model, generated="2026-11-26")
    for s in model.segments:
        assert f"{s.id} · {s.name}" in page
        assert s.strategy.replace("'", "&#x27;") in page
        for rule in s.rules:
            assert rule["text"].replace("<", "&lt;").replace(">", "&gt;") in page
    assert "Stability (ARI)" in page and "Silhouette" in page
    assert not re.search(r"<script[^>]+src=", page)  # nothing fetched from the network
    assert page.count("Plotly.newPlot") >= 1 + len(model.segments)
    assert not re.search(r"<link[^>]+href=|<img[^>]+src=[\"']http", page)


def test_user_text_is_escaped(model):
    edited = model.with_edits({0: {"name": "<script>alert(1)</script>", "strategy": "a & b"}})
    page = build_report(edited)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a &amp; b" in page


def test_cli_report(tmp_path, capsys, model):
    model_path = tmp_path / "m.custseg"
    custseg.save_model(model, model_path)
    data = tmp_path / "d.csv"
    custseg.make_customers(500, seed=4).to_csv(data, index=False)
    out = tmp_path / "report.html"
    assert main(["report", str(model_path), "--data", str(data), "-o", str(out)]) == 0
    page = out.read_text()
    assert "Distributions" in page and "d.csv" in page
    assert main(["report", str(model_path), "-o", str(tmp_path / "nope" / "r.html")]) == 2


def _stability_metric(page: str) -> str:
    return re.search(r"Stability \(ARI\)<b>([^<]*)</b>", page).group(1)


def test_stability_is_filled_in_from_a_measurement_and_never_made_up():
    fitted = custseg.fit(custseg.make_customers(400, seed=2))
    measured = fitted.metrics.stability
    # as the dashboard fits: no stability in the model, measured on demand
    unmeasured = replace(fitted, metrics=replace(fitted.metrics, stability=None))
    page = build_report(unmeasured)
    assert _stability_metric(page) == "–"
    assert "Stability was not measured for this model." in page
    assert "Jaccard" not in page
    page = build_report(unmeasured, stability=measured)
    assert _stability_metric(page) == f"{measured.overall:.2f}"
    assert measured.reading in page
    for sid, jaccard in measured.per_segment.items():
        assert f"Stability: Jaccard {jaccard:.2f}" in page, sid
    assert "not measured" not in page


def test_the_models_own_stability_comes_first(model):
    other = custseg.fit(custseg.make_customers(300, seed=9)).metrics.stability
    page = build_report(model, stability=other)
    assert _stability_metric(page) == f"{model.metrics.stability.overall:.2f}"


def test_report_charts_take_their_containers_width_with_titles_wrapped(model):
    data = custseg.make_customers(500, seed=4)
    values = data[["age", "annual_income", "spending_score"]].astype(float)
    page = build_report(model, values=values, labels=model.labels)
    assert '"width":700' not in page.replace(" ", "")
    titles = re.findall(r'"title":\{"text":"([^"]*)"', page)
    assert titles, "no chart title found"
    for title in titles:
        assert all(len(line) <= 60 for line in title.split("\\u003cbr\\u003e")), title
    assert '<div class="grid">' + "\n" not in page.split("<h2>Each segment</h2>")[0]


def test_a_long_chart_title_is_broken_over_lines_with_room_above():
    import plotly.graph_objects as go

    from custseg.model.report import wrap_title

    fig = go.Figure(layout=dict(title_text="Purchases installments frequency against "
                                "cash advance transactions, bubble size: tenure — 5,000 of "
                                "200,000 customers drawn", height=500, margin=dict(t=50)))
    wrap_title(fig)
    lines = fig.layout.title.text.split("<br>")
    assert len(lines) == 3 and all(len(line) <= 60 for line in lines)
    assert fig.layout.margin.t == 50 + 2 * 22 and fig.layout.height == 500 + 2 * 22


def test_the_report_draws_with_plotlys_own_template_whatever_the_default(model, monkeypatch):
    """Importing streamlit makes its theme Plotly's default (no room for axis labels): a
    report downloaded from the dashboard had its scatter's ticks cut off."""
    import plotly.io as pio

    data = custseg.make_customers(500, seed=4)
    values = data[["age", "annual_income", "spending_score"]].astype(float)
    monkeypatch.setattr(pio.templates, "default", "plotly_dark")
    page = build_report(model, values=values, labels=model.labels)
    assert "rgb(17,17,17)" not in page.replace(" ", "")  # plotly_dark's background
    assert page.count('"paper_bgcolor":"white"') >= 2 + len(model.segments)  # plotly's
