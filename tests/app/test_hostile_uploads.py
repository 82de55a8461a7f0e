"""The nastiest files through the dashboard: clear messages, every row back, nothing shared."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from hostile_cases import cases

import custseg
from custseg.io.model_files import model_bytes

CASES = {c.name: c for c in cases()}


def upload_batch(app, go, name):
    go(app, "batch")
    app.file_uploader(key="batch_upload").upload(name, CASES[name].content).run()
    assert not app.exception, [e.message for e in app.exception]


@pytest.mark.parametrize("name", ["rows.csv", "excel_unicode.txt", "formulas.csv",
                                  "values.csv", "customers.csv.gz", "messy_headers.csv"])
def test_batch_returns_every_row(app, go, metrics, downloads, name):
    upload_batch(app, go, name)
    assert metrics(app)["Rows"] == f"{CASES[name].rows:,}"
    stem = name.split(".")[0]
    scored = pd.read_csv(io.BytesIO(downloads[f"{stem}_scored.csv"]), dtype=str,
                         keep_default_na=False)
    assert len(scored) == CASES[name].rows
    if name == "rows.csv":
        assert scored["row_status"].tolist().count("invalid") == 5
        assert any("summary row" in e for e in scored["row_issues"])
    if name == "formulas.csv":
        assert scored["Note"].iloc[0] == "'=1+1"


@pytest.mark.parametrize("name", ["empty.csv", "random.csv", "workbook.csv", "pickle.csv",
                                  "missing_score.csv", "two_tables.zip"])
def test_batch_refuses_with_a_message(app, go, name):
    upload_batch(app, go, name)
    assert len(app.error) == 1
    assert app.get("download_button") == []


def test_a_batch_in_dollars_under_a_header_with_no_unit_is_scored(app, go, downloads):
    """Read in dollars by its values, as fit and score read it: every row back, valid."""
    upload_batch(app, go, "dollars_no_unit.csv")
    assert app.error == []
    scored = pd.read_csv(io.BytesIO(downloads["dollars_no_unit_scored.csv"]), dtype=str,
                         keep_default_na=False)
    assert len(scored) == CASES["dollars_no_unit.csv"].rows
    assert (scored["row_status"] == "ok").all()


def test_decompression_bomb_is_refused_in_the_dashboard(monkeypatch, fresh_app, go, errors):
    monkeypatch.setenv("CUSTSEG_MAX_DECOMPRESSED_MB", "1")
    app = fresh_app()
    upload_batch(app, go, "bomb.csv.gz")
    assert "decompresses to more than 1 MB" in errors(app)[0]


def test_row_cap_in_the_dashboard(monkeypatch, fresh_app, go, errors):
    monkeypatch.setenv("CUSTSEG_MAX_ROWS", "10")
    app = fresh_app()
    upload_batch(app, go, "crlf.csv")
    assert app.error == []  # 10 rows: at the cap
    upload_batch(app, go, "tabs.tsv")
    assert "has more than 10 rows, the limit here" in errors(app)[0]


def test_upload_size_limit_names_the_limit(app, go, monkeypatch, errors):
    import streamlit as st

    real = st.get_option
    monkeypatch.setattr(st, "get_option",
                        lambda key: 0 if key == "server.maxUploadSize" else real(key))
    upload_batch(app, go, "crlf.csv")
    assert "the upload limit is 0 MB (server.maxUploadSize)" in errors(app)[0]


def test_hostile_data_source_keeps_the_segmentation(monkeypatch, fresh_app, metrics):
    monkeypatch.setenv("CUSTSEG_MAX_DECOMPRESSED_MB", "1")
    app = fresh_app()
    before = metrics(app)
    app.radio(key="data_source").set_value("Upload a file").run()
    for name in ("pickle.csv", "bomb.csv.gz", "empty.csv"):
        app.file_uploader(key="data_upload").upload(name, CASES[name].content).run()
        assert app.error, name
        assert metrics(app) == before


def test_one_sessions_upload_and_model_are_not_anothers(fresh_app, new_session, go, metrics):
    alice = fresh_app()
    alice.radio(key="data_source").set_value("Upload a file").run()
    alice.file_uploader(key="data_upload").upload("mine.csv", CASES["crlf.csv"].content).run()
    assert metrics(alice)["Customers"] == "10"
    go(alice, "model_lab")
    saved = model_bytes(custseg.fit(custseg.make_customers(300, seed=1)))
    alice.file_uploader(key="model_upload").upload("alice.custseg", saved).run()
    assert alice.session_state["_view"].loaded_name == "alice.custseg"

    bob = new_session()  # same process, same caches, a different browser session
    assert bob.radio(key="data_source").value == "Demo data"
    assert metrics(bob)["Customers"] == "2,000"
    assert bob.session_state["_view"].loaded_name is None
    assert bob.session_state["_loaded_model"] is None


def test_repeated_and_blank_headers_on_the_batch_page(app, go, downloads):
    content = b"id,age,annual_income,spending_score,note,note,,\n1,30,50,60,a,b,c,d\n"
    go(app, "batch")
    app.file_uploader(key="batch_upload").upload("dup.csv", content).run()
    assert not app.exception, [e.message for e in app.exception]
    header = downloads["dup_scored.csv"].decode().splitlines()[0]
    assert header.startswith('"id","age","annual_income","spending_score","note","note","",""')


def test_renaming_a_segment_rescores_the_batch(app, go, downloads):
    go(app, "batch")
    data = custseg.make_customers(300, seed=8).to_csv(index=False).encode()
    app.file_uploader(key="batch_upload").upload("few.csv", data).run()
    go(app, "dashboard")
    app.text_input[0].set_value("Renamed core")
    app.button(key="FormSubmitter:edit_0-Save").click().run()
    go(app, "batch")
    scored = pd.read_csv(io.BytesIO(downloads["few_scored.csv"]), dtype=str,
                         keep_default_na=False)
    ids = scored["segment_id"].tolist()
    assert all(n == "Renamed core" for i, n in zip(ids, scored["segment_name"], strict=True)
               if i == "0")
    assert "0" in ids
