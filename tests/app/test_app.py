"""The dashboard through Streamlit's AppTest: every page, the controls, predict, batch."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from streamlit_text import unescape

import custseg
from custseg.io.model_files import model_bytes, model_from_bytes
from custseg.segments.charts import segment_label

PAGES = ["dashboard", "explore", "predict", "batch", "model_lab"]


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_on_demo_data(app, go, page):
    go(app, page)
    assert not app.error
    assert app.title[0].value


def test_dashboard_headline_and_cards(app, metrics):
    m = metrics(app)
    assert m["Customers"] == "2,000"
    assert m["Segments"] == "5"
    assert m["Outliers"] == "none"  # K-Means places every customer
    cards = [e.label for e in app.main.expander if e.label[:1].isdigit()]
    assert len(cards) == 5
    assert len(app.get("plotly_chart")) == 5  # one profile chart per segment card


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_on_the_real_data(mall_path, fresh_app, go, metrics, page):
    at = fresh_app(mall_path)
    assert at.radio(key="data_source").value == "Start-up file"
    go(at, page)
    assert not at.error
    if page == "dashboard":
        assert metrics(at)["Customers"] == "200"


def test_changing_algorithm_and_parameters_changes_segments(app, metrics):
    assert metrics(app)["Segments"] == "5"
    app.slider(key="param_kmeans_n_clusters").set_value(3).run()
    assert metrics(app)["Segments"] == "3"
    app.selectbox(key="algorithm").set_value("dbscan").run()
    assert not app.exception
    app.slider(key="param_dbscan_eps").set_value(0.25).run()
    m = metrics(app)
    assert m["Outliers"] not in ("none", "0.0%")
    assert any(h.value == "Outliers" for h in app.subheader)
    app.selectbox(key="algorithm").set_value("agglomerative").run()
    app.selectbox(key="param_agglomerative_linkage").set_value("average").run()
    assert app.session_state["_view"].model.config.params == {"n_clusters": 5, "linkage": "average"}


def test_page_switch_and_unrelated_widgets_never_refit(app, go, monkeypatch):
    from custseg.app import cached

    calls = []
    real = cached.fit_model
    monkeypatch.setattr(cached, "fit_model", lambda *a, **k: calls.append(1) or real(*a, **k))
    for page in ("explore", "predict", "model_lab", "dashboard", "explore"):
        go(app, page)
    go(app, "explore")
    app.selectbox(key="explore_x").set_value("age").run()
    assert calls == []
    app.slider(key="param_kmeans_n_clusters").set_value(4).run()
    assert calls == [1]
    app.slider(key="param_kmeans_n_clusters").set_value(5).run()  # cached from before
    assert calls == [1]


def test_predict_shows_a_result_that_stays(app, go, metrics, segment_shown):
    go(app, "predict")
    assert app.info[0].value.startswith("Enter a customer")
    app.number_input(key="predict_age").set_value(30)
    app.number_input(key="predict_annual_income").set_value(90)
    app.number_input(key="predict_spending_score").set_value(85)
    app.button[0].click().run()
    m = metrics(app)
    assert "Affluent Spenders" in segment_shown(app)["Segment"]
    assert m["Confidence"] == "100%"
    assert len(app.get("plotly_chart")) == 3  # gauges
    assert not app.warning
    go(app, "dashboard")
    go(app, "predict")
    assert "Affluent Spenders" in segment_shown(app)["Segment"]  # still there


def test_predict_flags_an_atypical_customer(app, go):
    go(app, "predict")
    app.number_input(key="predict_age").set_value(99)
    app.number_input(key="predict_annual_income").set_value(9_000)
    app.number_input(key="predict_spending_score").set_value(2)
    app.button[0].click().run()
    assert any("unlike any known customer" in w.value for w in app.warning)


def scored_upload() -> bytes:
    df = custseg.make_customers(300, seed=5).astype(str)
    df.loc[3, "age"] = "NA"
    df.loc[7, "spending_score"] = "150"
    df["notes"] = "=cmd"
    return df.to_csv(index=False).encode()


def test_batch_upload_and_download(app, go, metrics, downloads):
    go(app, "batch")
    app.file_uploader(key="batch_upload").upload("new.csv", scored_upload(), "text/csv").run()
    assert not app.exception
    m = metrics(app)
    assert m["Rows"] == "300"
    assert m["Invalid"] == "2"
    assert m["Scored"] == "298"
    assert len(app.get("download_button")) == 1
    scored = pd.read_csv(io.BytesIO(downloads["new_scored.csv"]), dtype=str, keep_default_na=False)
    assert len(scored) == 300
    assert scored.columns[-6:].tolist() == ["segment_id", "segment_name", "confidence",
                                            "atypical", "row_status", "row_issues"]
    assert scored.loc[3, "row_status"] == "invalid"
    assert scored.loc[3, "row_issues"] == "age: missing"
    assert scored.loc[0, "notes"] == "'=cmd"


def test_model_lab_save_and_load(app, go, metrics, downloads):
    go(app, "model_lab")
    saved = downloads["segments.custseg"]
    model = model_from_bytes(saved)
    assert model.config.algorithm == "kmeans"
    app.slider(key="param_kmeans_n_clusters").set_value(3).run()
    app.file_uploader(key="model_upload").upload("five.custseg", saved, "application/octet-stream")
    app.run()
    assert not app.exception
    assert app.session_state["_view"].loaded_name == "five.custseg"
    go(app, "dashboard")
    assert metrics(app)["Segments"] == "5"


def test_model_lab_refuses_a_pickle(app, go):
    import pickle

    go(app, "model_lab")
    app.file_uploader(key="model_upload").upload("evil.custseg", pickle.dumps({"x": 1}))
    app.run()
    assert any("Python pickle" in e.value for e in app.error)
    assert app.session_state["_view"].loaded_name is None


def test_a_failing_upload_keeps_the_segmentation(app, metrics):
    before = metrics(app)
    app.radio(key="data_source").set_value("Upload a file").run()
    app.file_uploader(key="data_upload").upload("bad.csv", b"\x00\x01\x02" * 50).run()
    assert any("not text" in e.value or "binary" in e.value for e in app.error)
    assert metrics(app) == before


def test_user_text_in_errors_is_shown_as_text(app, go):
    go(app, "batch")
    app.file_uploader(key="batch_upload").upload("x.csv", b"**Bold** [link](http://x),Age\n1,2\n")
    app.run()
    message = app.error[0].value
    assert message.startswith("no column for annual\\_income")
    assert r"\*\*Bold\*\*" in message
    assert r"\[link\]\(http" in message


def shown_segments(at) -> set[str]:
    """The segment labels ("id · name", or "Outliers") the current page shows: card
    headings (Predict's "Segment: …" read as its label), chart traces and axes, table
    cells, metrics."""
    texts = [unescape(e.value).removeprefix("Segment: ").removeprefix("Nearest segment: ")
             for e in at.subheader] + [unescape(m.value) for m in at.metric]
    for c in at.get("plotly_chart"):
        for trace in json.loads(c.proto.spec)["data"]:
            texts.append(str(trace.get("name", "")))
            for axis in ("x", "y", "labels"):  # category axes and pie labels are lists
                if isinstance(trace.get(axis), list):
                    texts += [str(v) for v in trace[axis]]
    for frame in at.dataframe:
        texts += [str(v) for v in frame.value.to_numpy().ravel()]
    return {t for t in texts if " · " in t or t == "Outliers"}


def test_many_segment_algorithms_and_loaded_views_render(app, go, metrics, downloads):
    app.selectbox(key="algorithm").set_value("hdbscan").run()
    fitted = app.session_state["_view"].model
    assert fitted.config.algorithm == "hdbscan"
    fitted_labels = {segment_label(s.id, s.name) for s in fitted.segments}
    for page in PAGES:
        go(app, page)
        assert not app.error
    go(app, "explore")
    assert shown_segments(app) == fitted_labels  # every segment, outliers included

    # a model file whose names no fit here would give: every view must show them
    model = custseg.fit(custseg.make_customers(500, seed=3), params={"n_clusters": 4})
    model = model.with_edits({s.id: {"name": f"Loaded {s.id}"} for s in model.segments})
    labels = {segment_label(s.id, s.name) for s in model.segments}
    go(app, "model_lab")
    app.file_uploader(key="model_upload").upload("four.custseg", model_bytes(model)).run()
    assert app.session_state["_view"].loaded_name == "four.custseg"

    go(app, "dashboard")
    assert metrics(app)["Segments"] == "4"
    assert shown_segments(app) == labels  # one card per segment
    go(app, "explore")
    assert shown_segments(app) == labels
    go(app, "model_lab")
    assert shown_segments(app) == labels  # rules and stability tables
    go(app, "predict")
    app.button[0].click().run()
    assert shown_segments(app) <= labels and len(shown_segments(app)) == 1
    go(app, "batch")
    app.file_uploader(key="batch_upload").upload("new.csv", scored_upload(), "text/csv").run()
    assert shown_segments(app) == labels  # the scored rows' distribution
    scored = pd.read_csv(io.BytesIO(downloads["new_scored.csv"]), dtype=str, keep_default_na=False)
    assert set(scored["segment_name"]) - {""} == {s.name for s in model.segments}
