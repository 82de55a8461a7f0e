"""Above every page, in the main area: the data and model shown, what failed, and the
warnings an analyst must see (rows left out, outliers, fragile segments)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from streamlit_text import unescape

import custseg
from custseg.app import ui
from custseg.app.ui import context
from custseg.cluster.stability import Stability


def main_captions(at) -> list[str]:
    return [unescape(c.value) for c in at.main.caption]


def main_warnings(at) -> list[str]:
    return [unescape(w.value) for w in at.main.warning]


def main_errors(at) -> list[str]:
    return [unescape(e.value) for e in at.main.error]


PAGES = ["dashboard", "explore", "predict", "batch", "model_lab"]
DEMO_LINE = "Data: demo data (2,000 customers) · Model: K-Means, 5 segments"


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_names_the_data_and_the_model(app, go, page):
    go(app, page)
    assert main_captions(app)[0] == DEMO_LINE
    assert main_warnings(app) == [] and main_errors(app) == []


def upload(at, name: str, data: bytes):
    at.radio(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="data_upload").upload(name, data).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_a_refused_upload_is_said_in_the_main_area_with_the_data_still_shown(app, go):
    upload(app, "bad.csv", b"\x00\x01\x02" * 50)
    errors = main_errors(app)
    assert errors == ["The uploaded file bad.csv could not be used (the sidebar says why); "
                      "still showing demo data (2,000 customers) · K-Means, 5 segments."]
    assert main_captions(app)[0] == DEMO_LINE
    go(app, "explore")  # every page, not only the one open at the upload
    assert main_errors(app) == errors


def test_a_table_with_nothing_to_segment_on_is_said_in_the_main_area(app, go):
    """Only text columns: the sidebar had a warning, and the main area went on showing the
    demo data as if the upload had been used."""
    upload(app, "text.csv", b"a,b\nx,y\nz,w\n")
    assert main_errors(app) == [
        "text.csv has no numeric column to segment on (the sidebar says more); still "
        "showing demo data (2,000 customers) · K-Means, 5 segments."]
    assert any(unescape(w.value).startswith("text.csv has no numeric column")
               for w in app.sidebar.warning)
    go(app, "predict")
    assert len(main_errors(app)) == 1


def test_no_feature_chosen_is_said_in_the_main_area(app, go):
    app.multiselect(key="features").set_value([]).run()
    assert main_errors(app) == [
        "No feature is chosen to segment demo data (2,000 customers) on: choose at least one "
        "in the sidebar's Features; still showing demo data (2,000 customers) · K-Means, "
        "5 segments."]


def test_rows_left_out_are_a_warning_with_the_reasons(app, go, tmp_path):
    data = custseg.make_customers(400, seed=5).astype(str)
    data.loc[:59, "age"] = "?"  # 15% of the rows
    upload(app, "shop.csv", data.to_csv(index=False).encode())
    assert main_captions(app)[0] == "Data: shop.csv (400 rows) · Model: K-Means, 5 segments"
    (warning,) = main_warnings(app)
    assert warning.startswith("60 of 400 rows (15.0%) are invalid and left out: the segments "
                              "describe the other 340. Most common reasons: age")
    go(app, "batch")
    assert warning in main_warnings(app)


def test_a_few_rows_left_out_are_said_in_the_context_line(app):
    data = custseg.make_customers(2_000, seed=5).astype(str)
    data.loc[:2, "age"] = "?"
    upload(app, "shop.csv", data.to_csv(index=False).encode())
    assert main_captions(app)[0] == ("Data: shop.csv (2,000 rows) · Model: K-Means, 5 segments"
                                     " · 3 of 2,000 rows (0.1%) are invalid and left out")
    assert main_warnings(app) == []


def test_fragile_segments_only_when_stability_is_known(app, monkeypatch):
    view = app.session_state["_view"]
    assert view.model.metrics.stability is None  # the dashboard fits without measuring
    assert context(view).warnings == ()  # unknown: nothing said, nothing guessed
    ids = [s.id for s in view.model.segments]
    measured = Stability(overall=0.7, per_segment={i: 0.9 for i in ids} | {ids[1]: 0.41},
                         resamples=10, rows=1_600, reading="…")
    (warning,) = context(view, stability=measured).warnings
    name = view.model.segment(ids[1]).name
    assert warning == ("Fragile segment (they change shape when customers are resampled; "
                       f"Model Lab › Stability): {ids[1]} · {name}.")
    shaky = replace(measured, per_segment={i: 0.3 for i in ids})  # all five: three named
    (warning,) = context(view, stability=shaky).warnings
    assert warning.startswith("5 of 5 segments are fragile (they change shape")
    named = ", ".join(f"{i} · {view.model.segment(i).name}" for i in ids[:3])
    with monkeypatch.context() as m:
        m.setattr(ui, "FRAGILE_NAMED", 3)
        (warning,) = context(view, stability=shaky).warnings
    assert warning.endswith(f"Model Lab › Stability): {named} and 2 more.")
    stable = replace(measured, per_segment={i: 0.9 for i in ids})
    assert context(view, stability=stable).warnings == ()


def test_the_model_lab_measurement_reaches_the_banner(app, go):
    go(app, "model_lab")
    measured = app.session_state["_measured_stability"][app.session_state["_view"].model_key]
    assert measured.overall is not None and measured.resamples > 0


def test_a_noisy_segmentation_warns_of_its_outliers(app):
    app.selectbox(key="algorithm").set_value("hdbscan").run()
    view = app.session_state["_view"]
    noise = sum(s.size for s in view.model.segments if s.id == -1)
    assert noise / view.model.base.n >= 0.10  # about a fifth of the demo customers
    assert main_warnings(app)[0] == (  # first: above the page
        f"{noise / view.model.base.n:.1%} of the customers ({noise:,}) are outliers: they fit "
        "no segment, and the segments describe the rest.")
    assert main_captions(app)[0].startswith("Data: demo data (2,000 customers) · Model: HDBSCAN, ")
    app.selectbox(key="algorithm").set_value("dbscan").run()  # under 1% noise: no warning
    assert not any("outliers" in w for w in main_warnings(app))


def test_a_loaded_model_is_named(app, go, tmp_path):
    model = custseg.fit(custseg.make_customers(500, seed=3), params={"n_clusters": 4})
    path = tmp_path / "last month.custseg"
    custseg.save_model(model, path)
    go(app, "model_lab")
    app.file_uploader(key="model_upload").upload(path.name, path.read_bytes()).run()
    assert main_captions(app)[0] == ("Data: demo data (2,000 customers) · Model: loaded "
                                     "last month.custseg (K-Means, 4 segments)")


def test_the_fits_own_warnings_are_said_in_the_main_area(app):
    """A fit's warnings (here: segments holding under 1% of the customers) are said above
    the page, not only in the sidebar."""
    app.selectbox(key="algorithm").set_value("hdbscan").run()
    model = app.session_state["_view"].model
    fit = replace(model, warnings=("three segments hold under 1% of the customers",))
    said = context(replace(app.session_state["_view"], model=fit))
    assert said.warnings[-1] == "Three segments hold under 1% of the customers."
    for message in model.warnings:  # the real fit's, on the page
        assert any(message[1:] in w for w in main_warnings(app))


def test_everyone_an_outlier_is_said_so(app):
    app.selectbox(key="algorithm").set_value("hdbscan").run()
    view = app.session_state["_view"]
    n = view.model.base.n
    noise = replace(view.model.segment(-1), size=n, share=1.0)
    model = replace(view.model, segments=(noise,))
    said = context(replace(view, model=model))
    assert f"Every customer ({n:,}) is an outlier: no segment was found." in said.warnings[0]
    assert not any("describe the rest" in w for w in said.warnings)
