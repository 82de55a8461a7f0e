"""Issue 14's adversarial pass: failures found by attacking the new features by class
(links, member downloads, drift, Predict), each kept as a regression test."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest
from streamlit_text import unescape

ENTRY = Path(__file__).resolve().parents[2] / "src" / "custseg" / "app" / "streamlit_app.py"


def _fresh(query: dict) -> AppTest:
    st.cache_data.clear()
    at = AppTest.from_file(str(ENTRY), default_timeout=120)
    at.query_params = query
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_a_links_date_formats_never_break_the_demo():
    # the demo shows no "Reading the file" options, so a date format there (from a link,
    # or left by an upload) could neither be seen nor fixed: it blanked every page
    at = _fresh({"source": "demo", "date_formats": "a=%Y"})
    assert not at.error, [unescape(e.value) for e in at.error]
    view = at.session_state["_view"]
    assert view is not None and len(view.labels) == 2_000
