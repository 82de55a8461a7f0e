"""Issue 14's adversarial pass: failures found by attacking the new features by class
(links, member downloads, drift, Predict), each kept as a regression test."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
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


def _hostile_upload() -> bytes:
    rng = np.random.default_rng(1)
    n = 300
    frame = pd.DataFrame({
        "CustomerID": [f"C{i % 280}" for i in range(n)],  # 20 ids repeated
        "Age": rng.integers(18, 70, n).astype(str),
        "Annual Income (k$)": rng.integers(15, 140, n).astype(str),
        "Spending Score (1-100)": rng.integers(1, 100, n).astype(str),
        '=HYPERLINK("http://e")': ["=cmd|' /C calc'!A0"] * n,
        # a scored file's: segment_id becomes segment_id_input_2, as that name is taken
        "segment_id": ["x"] * n, "segment_id_input": ["y"] * n,
        "note": ["@SUM(1)", "+1+2", "-3", "\t=1", "[a](http://e.com)"] * (n // 5),
    })
    frame.loc[5, "Age"], frame.loc[6, "Age"] = "abc", "-4"
    frame.loc[7, "Annual Income (k$)"], frame.loc[8, "Age"] = "", "9999"
    return frame.to_csv(index=False).encode()


def test_member_downloads_keep_every_column_apart_and_count_as_the_picker(app, downloads):
    app.radio(key="data_source").set_value(app.radio(key="data_source").options[1]).run()
    downloads.clear()  # the demo's member downloads
    app.file_uploader(key="data_upload").upload("hostile.csv", _hostile_upload()).run()
    assert not app.exception, [e.message for e in app.exception]
    view = app.session_state["_view"]
    assert int(view.validated.valid.sum()) == 296
    total = 0
    ids = sorted(set(int(i) for i in np.unique(view.labels)))
    for segment in ids:
        picker = next(s for s in app.selectbox
                      if s.key and s.key.startswith("dashboard_members"))
        downloads.clear()
        picker.set_value(segment).run()
        name = next(n for n in downloads if n.startswith(f"segment_{segment}_"))
        rows = list(csv.reader(io.StringIO(downloads[name].decode("utf-8-sig"))))
        header, body = rows[0], rows[1:]
        assert len(header) == len(set(header)), header
        assert header[:8] == ["CustomerID", "Age", "Annual Income (k$)",
                              "Spending Score (1-100)", "'=HYPERLINK(\"http://e\")",
                              "segment_id_input_2", "segment_id_input", "note"]
        assert {r[6] for r in body} == {"y"} and {r[5] for r in body} == {"x"}
        assert {r[4] for r in body} == {"'=cmd|' /C calc'!A0"}
        assert not {r[7] for r in body} & {"@SUM(1)", "+1+2", "\t=1"}
        assert len(body) == int((view.labels == segment).sum())
        assert f"({len(body):,} customers)" in picker.format_func(segment)
        total += len(body)
    assert total == 296


def test_a_links_categorical_columns_are_never_dropped_silently():
    # the features a link names but the table lacks are said; its categorical columns
    # were dropped without a word (a numeric column, the gender column, a feature)
    at = _fresh({"features": ["age", "annual_income"], "categorical": ["age", "gender"]})
    said = [unescape(w.value) for w in at.warning]
    assert any(w.startswith("The link's categorical columns age, gender are left out")
               for w in said), said
    assert at.session_state["_view"].model.config.categorical == ()
    at.run()  # said once, when the link is read
    assert not any("categorical columns" in unescape(w.value) for w in at.warning)
