"""Issue 14 in a real Chromium: the banner above every page, typed text never a link
(pages and the downloaded report), the report's charts whole and its stability filled
in, whole-number histograms, the 3D scene uncut, and no "None" cell."""

from __future__ import annotations

import pytest
from browser_pages import WIDTHS, download, open_batch, shown_in_tab, wait_ready

import custseg

pytestmark = pytest.mark.browser

NAME = "[a](http://x) www.x.com"
STRATEGY = "http://evil.example a@b.com <b>x</b>"
LINKY = ("evil.example", "x.com", "b.com", "http://x")
BANNER = "Data: demo data (2,000 customers) · Model: K-Means, 5 segments"


def links(page) -> list[list[str]]:
    """Every <a> element: its text and target."""
    return page.locator("a").evaluate_all(
        "els => els.map(e => [e.textContent || '', e.getAttribute('href') || ''])")


def no_typed_link(page, where: str) -> None:
    for text, href in links(page):
        assert not any(s in text or s in href for s in LINKY), (where, text, href)
    bold = page.locator("[data-testid='stMain'] b, [data-testid='stMain'] strong")
    assert "x" not in bold.all_inner_texts(), where  # <b>x</b> never became bold


def shows(page, text: str) -> None:
    """Wait until the main area shows ``text`` as a reader sees it (the invisible word
    joiners that keep links out dropped)."""
    page.wait_for_function(
        """t => document.querySelector("[data-testid='stMain']").innerText
                 .replaceAll('\u2060', '').includes(t)""", arg=text)


def go(page, name: str, heading: str) -> None:
    """Another page of the same session (a reload would start a new one)."""
    page.get_by_role("link", name=name, exact=True).click()
    page.get_by_role("heading", name=heading).wait_for()
    wait_ready(page)


def at_widths(page, shots, stem: str) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1400})
        page.wait_for_timeout(600)
        page.screenshot(path=shots / f"{stem}-{width}.png", full_page=True)


def test_banner_and_typed_text_on_every_page_and_in_the_report(server, page, shots, tmp_path):
    page.goto(server)
    page.get_by_role("heading", name="Customer segments").wait_for()
    wait_ready(page)
    main = page.get_by_test_id("stMain")
    assert main.get_by_text(BANNER, exact=True).is_visible()
    page.get_by_text("Edit name and strategy").first.click()
    main.get_by_label("Name", exact=True).first.fill(NAME)
    main.get_by_label("Strategy", exact=True).first.fill(STRATEGY)
    main.get_by_role("button", name="Save").first.click()
    shows(page, f"0 · {NAME}")
    wait_ready(page)
    shows(page, STRATEGY)  # shown as typed
    no_typed_link(page, "dashboard")
    at_widths(page, shots, "i14-dashboard-typed")
    for name, heading in [("Explore", "Explore"), ("Predict", "Predict a customer"),
                          ("Batch", "Score a batch"), ("Model Lab", "Model Lab")]:
        go(page, name, heading)
        assert main.get_by_text(BANNER, exact=True).is_visible(), name
        no_typed_link(page, name)
        at_widths(page, shots, f"i14-{name.replace(' ', '-').lower()}")
    shown_in_tab(page, "Stability", page.get_by_text("refits on subsamples"))
    button = page.get_by_role("button", name="Download report (HTML)")
    shown_in_tab(page, "Save / load", button)
    report = tmp_path / "report.html"
    download(page, button).save_as(report)
    text = report.read_text()
    assert "Stability (ARI)<b>0.99</b>" in text  # measured in the Model Lab, not "–"

    page.set_viewport_size({"width": 1024, "height": 1400})
    page.goto(report.as_uri())
    page.locator(".js-plotly-plot").first.wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=shots / "i14-report-1024.png", full_page=True)
    assert page.locator("a").count() == 0  # nothing became a link, nothing auto-linked
    assert page.get_by_role("heading", name=f"0 · {NAME}").is_visible()
    assert page.get_by_text(STRATEGY).first.is_visible()
    cut = page.locator(".js-plotly-plot").evaluate_all("""plots => plots.flatMap(p => {
        const svg = p.querySelector('.main-svg').getBoundingClientRect();
        const box = p.parentElement.getBoundingClientRect();
        const out = [];
        if (svg.right > box.right + 1) out.push(['wider than its container', svg.right, box.right]);
        // titles, legends, the profile bars' feature names and their axis title
        for (const t of p.querySelectorAll('.gtitle, .legend, .ytick text, .g-xtitle')) {
            const r = t.getBoundingClientRect();
            if (r.right > svg.right + 1 || r.left < svg.left - 1) out.push(['cut', t.textContent]);
        }
        return out;
    })""")
    assert cut == []


def test_charts_whole_numbers_and_an_uncut_3d_scene(server, page, shots):
    page.set_viewport_size({"width": 1024, "height": 1400})
    page.goto(f"{server}/explore")
    page.locator(".js-plotly-plot").first.wait_for()
    wait_ready(page)
    page.get_by_role("tab", name="3D scatter").click()
    panel = page.get_by_role("tabpanel")
    panel.locator(".js-plotly-plot").first.wait_for()
    page.wait_for_timeout(2000)
    page.screenshot(path=shots / "i14-explore-3d-1024.png", full_page=True)
    geometry = panel.locator(".js-plotly-plot").first.evaluate("""p => {
        const r = e => e.getBoundingClientRect();
        const scene = r(p.querySelector('.gl-container > div'));
        const legend = r(p.querySelector('.legend'));
        return {plot: [r(p).left, r(p).right], scene: [scene.left, scene.right, scene.bottom],
                legend: [legend.top, legend.right]};
    }""")
    plot, scene, legend = geometry["plot"], geometry["scene"], geometry["legend"]
    assert scene[1] - scene[0] >= 0.95 * (plot[1] - plot[0])  # the scene's full width
    assert legend[0] >= scene[2] - 2  # the legend under the scene, not over it
    assert legend[1] <= plot[1] + 1
    page.get_by_role("tab", name="Distributions").click()
    panel = page.get_by_role("tabpanel")
    panel.locator(".js-plotly-plot").first.wait_for()
    wait_ready(page)
    bars = panel.locator(".js-plotly-plot").first.evaluate(
        "p => p.data.filter(t => t.type === 'bar').map(t => [Array.from(t.x), t.customdata])")
    for x, held in bars:
        assert all(float(e - x[0]).is_integer() for e in x)  # ages: bars on whole numbers
        assert all("–" in h or h.isdigit() for h in held)


def test_no_none_cell_and_a_refused_upload_said_in_the_main_area(server, page, shots,
                                                                 tmp_path):
    data = custseg.make_customers(300, seed=2).astype(str)
    data.loc[:4, "age"] = "?"
    batch = tmp_path / "batch.csv"
    data.to_csv(batch, index=False)
    open_batch(page, server, batch)
    scored = page.get_by_test_id("stDataFrame").last
    scored.locator("td").first.wait_for(state="attached")  # the grid draws after the run
    cells = scored.locator("td").all_inner_texts()
    assert "invalid" in cells and "ok" in cells  # the grid's own cell texts
    assert not {"None", "nan", "NaN", "<NA>"} & set(cells)
    page.screenshot(path=shots / "i14-batch-invalid-rows.png", full_page=True)

    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01\x02" * 50)
    page.get_by_test_id("stSidebar").get_by_text("Upload a file").click()
    page.get_by_test_id("stSidebar").locator('input[type="file"]').set_input_files(str(bad))
    main = page.get_by_test_id("stMain")
    main.get_by_text("The uploaded file bad.csv could not be used").wait_for()
    wait_ready(page)
    assert main.get_by_text("still showing demo data (2,000 customers)").is_visible()
    page.screenshot(path=shots / "i14-refused-upload.png", full_page=True)
