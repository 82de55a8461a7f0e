"""The Dashboard's overview fits the main area at 1024, 1280 and 1440 px (issue 14): no
horizontal scroll inside any of its tables, on the demo data (5 segments), on a bank's
table of 6 features, and on 40 segments.

st.dataframe draws on a canvas inside glide-data-grid's scroller div (``.dvn-scroller``):
that div is the one that scrolls sideways when the columns are wider than the element,
so its scrollWidth is compared to its clientWidth. The overview's tables are the ones
between the "All segments at a glance" and "Segment cards" headings."""

from __future__ import annotations

import re

import pytest
from browser_pages import WIDTHS, open_at, wait_ready
from inspect_tables import bank
from many_segments import grouped_customers

pytestmark = pytest.mark.browser

#: [scrollWidth, clientWidth, rows shown] of every table's scroller in the overview.
OVERVIEW_SCROLLERS = """() => {
  const heads = [...document.querySelectorAll('h2, h3')];
  const start = heads.find(h => h.textContent.includes('All segments at a glance'));
  const end = heads.find(h => h.textContent.includes('Segment cards'));
  const inside = e => start.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING
      && e.compareDocumentPosition(end) & Node.DOCUMENT_POSITION_FOLLOWING;
  return [...document.querySelectorAll('[data-testid=stDataFrame]')].filter(inside)
      .map(d => d.querySelector('.dvn-scroller')).filter(s => s)
      .map(s => [s.scrollWidth, s.clientWidth, s.scrollHeight]);
}"""


def _choose_hdbscan(page) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stSelectbox").filter(has_text="Algorithm").click()
    page.get_by_role("listbox").wait_for()
    page.keyboard.type("HDBSCAN")
    page.get_by_role("option").filter(has_text="HDBSCAN").first.click()
    page.get_by_test_id("stMetricValue").filter(has_text=re.compile(r"^40$")).wait_for()
    wait_ready(page)


def _measure(page) -> list:
    # the tables are drawn after the run's last message: wait for the first one
    page.wait_for_function(f"({OVERVIEW_SCROLLERS})().length > 0")
    return page.evaluate(OVERVIEW_SCROLLERS)


def _fits_at_every_width(browser, url: str, name: str, shots, choose=None) -> None:
    wide = {}
    for width in WIDTHS:
        context, page = open_at(browser, url, width, "Segment cards", 120_000)
        try:
            if choose is not None:
                choose(page)
            scrollers = _measure(page)
            print(f"{name} at {width} px: [scrollWidth, clientWidth, scrollHeight] {scrollers}")
            page.screenshot(path=shots / f"overview-fit-{name}-{width}.png", full_page=True)
            wide[width] = [s for s in scrollers if s[0] > s[1]]
        finally:
            context.close()
    assert wide == {width: [] for width in WIDTHS}


def test_overview_fits_on_five_segments(server, browser, shots):
    _fits_at_every_width(browser, server, "5", shots)


def test_overview_fits_on_six_features(start_app, browser, shots, tmp_path):
    path = tmp_path / "bank.csv"
    bank().to_csv(path, index=False)
    _fits_at_every_width(browser, start_app(path), "bank", shots)


def test_overview_fits_on_forty_segments(start_app, browser, shots, tmp_path):
    path = tmp_path / "grouped.csv"
    grouped_customers().to_csv(path, index=False)
    _fits_at_every_width(browser, start_app(path), "40", shots, choose=_choose_hdbscan)
