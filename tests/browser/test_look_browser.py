"""Found by looking at every page at 1024, 1280 and 1440 px (issue 14): the Model Lab's
headline figures are whole (five in one row cut "1,476.6" to "1,47…" at 1024 px), checked
on each element inside the metric, which is the one Streamlit cuts with an ellipsis; and
every tab of the Model Lab and of Explore shows in its tab bar (at 1024 px "Save / load"
and "Customers" were behind the bar's scroll arrow)."""

from __future__ import annotations

import pytest
from browser_pages import WIDTHS, cut, open_at, wait_ready

pytestmark = pytest.mark.browser


def _every_tab_shown(page, last: str, width: int) -> None:
    """The page's tab bar holds its 7 tabs with no sideways scroll, ``last`` inside it."""
    bar = page.get_by_role("tablist").first
    assert bar.get_by_role("tab").count() == 7
    assert bar.evaluate("e => e.scrollWidth - e.clientWidth") <= 0, f"tabs at {width} px"
    tab, whole = bar.get_by_role("tab", name=last).bounding_box(), bar.bounding_box()
    assert tab["x"] + tab["width"] <= whole["x"] + whole["width"], f"{last} at {width} px"


def test_explore_tabs_whole_at_every_width(server, browser):
    for width in WIDTHS:
        context, page = open_at(browser, server.rstrip("/") + "/explore", width, "Explore")
        try:
            page.locator(".js-plotly-plot").first.wait_for()
            wait_ready(page)
            _every_tab_shown(page, "Customers", width)
        finally:
            context.close()


def test_model_lab_figures_whole_at_every_width(server, browser, shots):
    for width in WIDTHS:
        context, page = open_at(browser, server.rstrip("/") + "/model-lab", width, "Model Lab")
        try:
            values = page.get_by_test_id("stMetricValue")
            values.nth(4).wait_for()
            wait_ready(page)
            assert values.count() == 5
            assert cut(values) == [], f"cut at {width} px"
            calinski = page.get_by_test_id("stMetric").filter(has_text="Calinski")
            assert "…" not in calinski.inner_text()
            assert cut(page.get_by_test_id("stMetricLabel")) == [], f"label cut at {width} px"
            _every_tab_shown(page, "Save / load", width)
            page.screenshot(path=shots / f"look-model-lab-{width}.png", full_page=True)
        finally:
            context.close()
