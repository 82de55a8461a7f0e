"""The dashboard on a customer table from a log, segmented with RFM scoring: every page
runs, and the segments are the score map's."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from streamlit_text import unescape

from custseg.cli import main
from custseg.io.rulebooks import default_rulebook

MAP_NAMES = {s.name for s in default_rulebook().score_map}
ENTRY = Path(__file__).resolve().parents[2] / "src" / "custseg" / "app" / "streamlit_app.py"
PAGES = ("app_pages/dashboard.py", "app_pages/explore.py", "app_pages/predict.py",
         "app_pages/batch.py", "app_pages/model_lab.py")


@pytest.fixture(scope="module")
def customers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rfm_app")
    log, table = folder / "log.csv", folder / "customers.csv"
    assert main(["demo-data", "--transactions", "-n", "3000", "-o", str(log)]) == 0
    assert main(["rfm", str(log), "-o", str(table)]) == 0
    return table


def test_every_page_runs_with_rfm_scoring(monkeypatch, customers):
    monkeypatch.setenv("CUSTSEG_DATA", str(customers))
    st.cache_data.clear()
    at = AppTest.from_file(str(ENTRY), default_timeout=120)
    at.run()
    at.selectbox(key="algorithm").set_value("rfm").run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.message for e in at.exception])
        assert not at.error, (page, [e.value for e in at.error])
    at.switch_page(PAGES[-1]).run()  # Model Lab says what was fitted
    captions = [unescape(c.value) for c in at.caption]
    assert "RFM scores (quintiles) on recency_days, frequency and monetary" in captions
    at.switch_page(PAGES[0]).run()
    shown = " ".join(unescape(str(e.value)) for kind in ("markdown", "metric", "subheader", "caption")
                     for e in at.get(kind))
    shown += " ".join(unescape(e.label) for e in at.expander)  # the cards' titles
    found = {name for name in MAP_NAMES if name in shown}
    assert len(found) >= 4, shown[:500]
