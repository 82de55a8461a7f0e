from __future__ import annotations

import re

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
