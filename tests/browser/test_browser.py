"""The dashboard in a real headless Chromium: every page, Predict, upload, download."""

from __future__ import annotations

import pandas as pd
import pytest
from browser_pages import score_and_download, shown_in_tab, wait_ready

import custseg
from custseg.segments.charts import segment_label

pytestmark = pytest.mark.browser

PAGES = [("", "Customer segments"), ("explore", "Explore"), ("predict", "Predict a customer"),
         ("batch", "Score a batch"), ("model-lab", "Model Lab")]


def upload_and_download(page, server, path, shot) -> tuple[pd.DataFrame, str]:
    """Upload ``path`` on the Batch page, then download the scored CSV it offers."""
    page.goto(f"{server}/batch")
    return score_and_download(page, page.locator('input[type="file"]').last, path, shot)


@pytest.mark.parametrize(("path", "title"), PAGES)
def test_every_page_renders(server, page, shots, path, title):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/{path}")
    page.get_by_role("heading", name=title).wait_for()
    if path in ("", "explore", "model-lab"):
        page.locator(".js-plotly-plot").first.wait_for()
    wait_ready(page)
    page.screenshot(path=shots / f"page-{path or 'dashboard'}.png", full_page=True)
    assert page.get_by_text("Traceback").count() == 0
    assert errors == []


def test_predict_in_the_browser(server, page, shots):
    page.goto(f"{server}/predict")
    page.get_by_role("heading", name="Predict a customer").wait_for()
    main = page.get_by_test_id("stMain")  # the sidebar's feature chips share the labels
    main.get_by_label("Annual income (k$)", exact=True).fill("90")
    main.get_by_label("Spending score (points)", exact=True).fill("85")
    main.get_by_label("Age (years)", exact=True).fill("31")
    page.get_by_role("button", name="Predict").click()
    page.locator(".js-plotly-plot").nth(2).wait_for()
    wait_ready(page)
    assert page.get_by_text("Affluent Spenders").count() >= 1
    page.screenshot(path=shots / "predict-result.png", full_page=True)


def test_upload_and_download_in_the_browser(server, page, shots, tmp_path):
    data = custseg.make_customers(500, seed=11).astype(str)
    data.loc[4, "age"] = "?"
    data.loc[9, "annual_income"] = "$85,000"
    data["comment"] = "=HYPERLINK(\"http://example.invalid\")"
    upload = tmp_path / "batch customers.csv"
    data.to_csv(upload, index=False)
    scored, name = upload_and_download(page, server, upload, shots / "batch-scored.png")
    assert name == "batch customers_scored.csv"
    assert len(scored) == 500
    assert scored["customer_id"].tolist() == data["customer_id"].tolist()
    assert scored.loc[4, "row_status"] == "invalid"
    assert scored.loc[9, "row_status"] == "ok"  # $85,000 read as 85 k$
    assert scored.loc[0, "comment"].startswith("'=")


@pytest.fixture(scope="module")
def segments() -> list[str]:
    """Legend labels of the dashboard's first segmentation: the library's default fit of
    the demo data the dashboard starts on."""
    model = custseg.fit(custseg.make_customers(2_000, seed=0))
    return [segment_label(s.id, s.name) for s in model.segments]


def open_tab(page, name: str, shows=None):
    """Click a tab, wait until its panel shows ``shows`` (a chart when None), return the
    panel (only the open tab is drawn)."""
    page.get_by_role("tab", name=name).click()
    panel = page.get_by_role("tabpanel")
    ready = panel.locator(".js-plotly-plot") if shows is None else panel.get_by_text(shows)
    ready.first.wait_for()
    wait_ready(page)
    return panel


def drawn(panel) -> list[dict]:
    """Each chart in ``panel`` as Plotly holds it: trace types and names, the categories it
    shows (pie labels, category axes) and its annotations."""
    return panel.locator(".js-plotly-plot").evaluate_all("""charts => charts.map(el => ({
        types: el.data.map(t => t.type),
        names: el.data.map(t => t.name ?? null),
        categories: el.data.flatMap(t => [t.labels, t.x].filter(Array.isArray).flat()),
        notes: (el.layout.annotations || []).map(a => a.text),
    }))""")


def test_explore_tabs_draw_every_segment(server, page, shots, segments):
    page.goto(f"{server}/explore")
    page.locator(".js-plotly-plot").first.wait_for()
    wait_ready(page)
    n = len(segments)
    twice = [label for label in segments for _ in range(2)]  # a histogram and a box each
    expected = {
        "2D scatter": {"types": ["scattergl"] * n, "names": segments},
        "3D scatter": {"types": ["scatter3d"] * n, "names": segments},
        "Distributions": {"types": ["bar", "box"] * n, "names": twice},
        "Shares": {"types": ["pie"], "categories": segments},
        "Gender": {"types": ["bar", "bar"], "names": ["Female", "Male"],
                   "categories": segments * 2},
    }
    for name, want in expected.items():
        charts = drawn(open_tab(page, name))
        page.screenshot(path=shots / f"explore-{name.replace(' ', '-').lower()}.png")
        assert len(charts) == 1, name
        assert {k: charts[0][k] for k in want} == want, name
    first, second = (label.split(" · ")[1] for label in segments[:2])
    panel = open_tab(page, "Compare", shows=f"{first} against {second}:")
    page.screenshot(path=shots / "explore-compare-segments.png")
    assert drawn(panel) == []


def test_model_lab_tabs_draw(server, page, shots):
    page.goto(f"{server}/model-lab")
    page.locator(".js-plotly-plot").first.wait_for()
    wait_ready(page)
    (curve,) = drawn(page.get_by_role("tabpanel"))
    assert curve["types"] == ["scatter", "scatter"]
    assert curve["names"] == ["Inertia (elbow)", "Silhouette (higher is better)"]
    assert curve["categories"] == list(range(2, 11)) * 2
    assert curve["notes"] == ["current: 5"]
    page.screenshot(path=shots / "model-lab-number-of-segments.png")
    open_tab(page, "Rules", shows="Readable rules from a shallow decision tree")
    panel = open_tab(page, "Stability", shows="10 refits on subsamples of 1,600 customers")
    page.screenshot(path=shots / "model-lab-stability.png")
    assert panel.get_by_text("adjusted Rand index of 0.99 (stable)").is_visible()
    panel = open_tab(page, "Save / load", shows="Load a saved model")
    for button in ("Download model file", "Download report (HTML)", "Download rulebook (TOML)"):
        panel.get_by_role("button", name=button).wait_for()
    page.screenshot(path=shots / "model-lab-save-load.png")


@pytest.mark.parametrize("name", ["rows.csv", "excel_unicode.txt", "customers.csv.gz"])
def test_nasty_uploads_in_the_browser(server, page, shots, tmp_path, name):
    from hostile_cases import cases

    case = {c.name: c for c in cases()}[name]
    path = tmp_path / name
    path.write_bytes(case.content)
    scored, _ = upload_and_download(page, server, path,
                                    shots / f"hostile-{name.replace('.', '-')}.png")
    assert len(scored) == case.rows


def test_pickle_model_refused_in_the_browser(server, page, shots, tmp_path):
    import pickle

    evil = tmp_path / "evil.custseg"
    evil.write_bytes(pickle.dumps({"x": 1}))
    page.goto(f"{server}/model-lab")
    page.get_by_role("heading", name="Model Lab").wait_for()
    wait_ready(page)  # the page's first run drawn: a click during it can land on old tabs
    page.get_by_role("tab", name="Save / load").click()
    page.locator('input[type="file"]').last.set_input_files(str(evil))
    wait_ready(page)
    shown_in_tab(page, "Save / load", page.get_by_text("Python pickle"))
    page.screenshot(path=shots / "hostile-pickle-model.png")


def test_report_opens_offline_and_shows_every_segment(page, shots, tmp_path):
    model = custseg.fit(custseg.make_customers(800, seed=2))
    data = tmp_path / "customers.csv"
    custseg.make_customers(800, seed=2).to_csv(data, index=False)
    path = tmp_path / "report.html"
    path.write_text(custseg.api.report_html(model, data, source="customers.csv"))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.locator(".js-plotly-plot").first.wait_for()
    for s in model.segments:
        assert page.get_by_role("heading", name=f"{s.id} · {s.name}").is_visible()
    assert page.locator(".js-plotly-plot").count() >= 2 + len(model.segments)
    assert all(url.startswith(("file:", "data:", "blob:")) for url in requests), requests
    page.screenshot(path=shots / "report.png", full_page=True)
