"""The Dashboard's overview in Chromium: the headline figures whole at 1024, 1280 and
1440 px, every segment at a glance, and a segment's members downloaded with the count
the page shows, on a 5-segment and a 40-segment model (issue 14)."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from browser_pages import WIDTHS, cut, download, open_at, wait_ready
from many_segments import grouped_customers

pytestmark = pytest.mark.browser

def _cut_metrics(page) -> list:
    values = page.get_by_test_id("stMetricValue")
    values.nth(5).wait_for()
    return cut(values)


def _card_count(page, segment_id: int) -> int:
    card = page.get_by_text(re.compile(rf"^{segment_id} · .+ — [\d,]+ customers")).first
    return int(re.search(r"— ([\d,]+) customers", card.inner_text()).group(1).replace(",", ""))


def _download_members(page) -> pd.DataFrame:
    button = page.get_by_role("button", name=re.compile(r"^Download its [\d,]+ customers"))
    return pd.read_csv(download(page, button).path(), dtype=str, keep_default_na=False)


def test_overview_figures_whole_and_members_download_on_five_segments(server, browser, shots):
    for width in WIDTHS:
        context, page = open_at(browser, server, width, "All segments at a glance")
        try:
            assert _cut_metrics(page) == [], f"cut at {width} px"
            main = page.get_by_test_id("stMain")
            text = main.inner_text()
            assert "−0.00" not in text and "-0.00" not in text
            assert "0.0% of the base" not in text
            assert page.get_by_test_id("stMetricValue").nth(2).inner_text() == "none"
            page.screenshot(path=shots / f"overview-5-{width}.png", full_page=True)
            if width == 1440:
                members = _download_members(page)  # the picker starts on segment 0
                assert len(members) == _card_count(page, 0) == 765
                assert set(members["segment_id"]) == {"0"}
                assert members.columns[:5].tolist() == ["customer_id", "gender", "age",
                                                        "annual_income", "spending_score"]
        finally:
            context.close()


def test_forty_segments_readable_and_members_counted(start_app, browser, shots, tmp_path):
    path = tmp_path / "grouped.csv"
    grouped_customers().to_csv(path, index=False)
    url = start_app(path)
    for width in WIDTHS:
        context, page = open_at(browser, url, width, "All segments at a glance")
        try:
            sidebar = page.get_by_test_id("stSidebar")
            sidebar.get_by_test_id("stSelectbox").filter(has_text="Algorithm").click()
            page.get_by_role("listbox").wait_for()
            page.keyboard.type("HDBSCAN")
            page.get_by_role("option").filter(has_text="HDBSCAN").first.click()
            try:
                page.get_by_test_id("stMetricValue").filter(
                    has_text=re.compile(r"^40$")).wait_for()
            except Exception:
                page.screenshot(path=shots / f"overview-40-{width}-failed.png", full_page=True)
                raise
            wait_ready(page)
            assert page.get_by_test_id("stMetricValue").nth(1).inner_text() == "40"
            assert _cut_metrics(page) == [], f"cut at {width} px"
            cards = page.get_by_text(re.compile(r"^\d+ · .+ — [\d,]+ customers"))
            assert cards.count() == 10  # a page of collapsed cards, not 40 open ones
            page.screenshot(path=shots / f"overview-40-{width}.png", full_page=True)
            if width == 1024:
                members = _download_members(page)
                assert len(members) == _card_count(page, 0)
                assert set(members["segment_id"]) == {"0"}
        finally:
            context.close()
