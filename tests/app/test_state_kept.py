"""Work is not lost (issue 14): settings in the URL, edits and loaded models kept on the
server across a refresh, long fits behind an Apply button that can be cancelled, and
"Fit from the controls instead" on the Model Lab itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit_text import unescape

from custseg.io.model_files import model_bytes, model_from_bytes


def _model(at):
    return at.session_state["_view"].model


def test_fit_from_the_controls_on_the_model_lab_starts_from_the_model(app, go, downloads):
    app.slider(key="param_kmeans_n_clusters").set_value(4).run()
    app.multiselect(key="features").set_value(["annual_income", "spending_score"]).run()
    go(app, "model_lab")
    saved = model_from_bytes(downloads["segments.custseg"])
    app.slider(key="param_kmeans_n_clusters").set_value(6).run()  # the controls move on
    app.multiselect(key="features").set_value(["age", "annual_income"]).run()
    app.file_uploader(key="model_upload").upload("four.custseg", model_bytes(saved)).run()
    assert app.session_state["_view"].loaded_name == "four.custseg"
    app.button(key="unload_model").click().run()  # on the Model Lab page itself
    assert not app.exception and not app.error, [e.value for e in app.error]
    view = app.session_state["_view"]
    assert view.loaded_name is None
    assert app.slider(key="param_kmeans_n_clusters").value == 4
    assert tuple(app.multiselect(key="features").value) == ("annual_income", "spending_score")
    assert view.model.config.params["n_clusters"] == 4
    assert view.model.config.features == ("annual_income", "spending_score")
    assert app.title[0].value == "Model Lab"
    assert any("set aside for a fit from the controls" in unescape(c.value) for c in app.caption)


def test_loading_the_model_of_the_current_fit_draws_no_curve_again(app, go, downloads,
                                                                    monkeypatch):
    from custseg.app import cached

    drawn = []
    real = cached.k_curve
    monkeypatch.setattr(cached, "k_curve", lambda *a, **k: drawn.append(1) or real(*a, **k))
    go(app, "model_lab")
    assert drawn == [1]
    app.file_uploader(key="model_upload").upload(
        "same.custseg", downloads["segments.custseg"]).run()
    assert app.session_state["_view"].loaded_name == "same.custseg"
    assert any(c.proto.id.endswith("k_curve") for c in app.get("plotly_chart"))
    assert drawn == [1]  # the same customers, encoded the same way: the curve is kept


@pytest.fixture
def slow_fits(monkeypatch):
    """Every fit waits for Apply (a live budget of 0 s); fits of ``n_clusters=3`` wait
    for ``release`` too, so that a test can cancel one while it runs."""
    import threading

    from custseg.app import cached

    monkeypatch.setenv("CUSTSEG_LIVE_FIT_SECONDS", "0")
    release = threading.Event()
    real = cached.fitted

    def fitted(data, config, rules_toml):
        if config.params.get("n_clusters") == 3:
            assert release.wait(60)
        return real(data, config, rules_toml)

    monkeypatch.setattr(cached, "fitted", fitted)
    yield release
    release.set()


def _finish(at):
    """Wait for the running fit, then run as the progress's poll would. (A fit found in
    the cache may have ended within the run that started it, which then ran again.)"""
    if "_fit_job" in at.session_state:
        assert at.session_state["_fit_job"].wait(60)
        at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert "_fit_job" not in at.session_state


def _segments(at) -> int:
    return len([s for s in _model(at).segments if not s.is_outliers])


def test_a_long_fit_waits_for_apply_and_cancel_keeps_the_previous_segments(
        slow_fits, fresh_app, metrics, errors):
    at = fresh_app()
    assert "_view" not in at.session_state  # a new session starts its fit at once
    assert at.get("progress") and at.button(key="cancel_fit")
    _finish(at)
    assert _segments(at) == 5 and metrics(at)["Segments"] == "5"
    assert not at.get("progress")

    at.slider(key="param_kmeans_n_clusters").set_value(3).run()  # waits for Apply
    assert _segments(at) == 5
    apply = at.button(key="apply_fit")
    assert unescape(apply.label).startswith("Apply (about ")
    assert any("waits for Apply" in unescape(i.value) for i in at.info)

    apply.click().run()  # the fit runs in a worker thread: progress and Cancel show
    job = at.session_state["_fit_job"]
    assert not job.done and job.ident[1] != at.session_state["_applied_fit"][1]
    assert at.get("progress") and metrics(at)["Segments"] == "5"
    assert not [b for b in at.button if b.key == "apply_fit"]  # not offered twice

    at.button(key="cancel_fit").click().run()
    assert job.cancelled and "_fit_job" not in at.session_state
    assert any("Fit cancelled" in unescape(i.value) for i in at.info)
    assert _segments(at) == 5 and metrics(at)["Segments"] == "5"
    slow_fits.set()  # the abandoned fit ends: its result is never shown
    assert job.wait(60) and job.result is not None
    at.run()
    assert _segments(at) == 5 and not errors(at)
    assert at.slider(key="param_kmeans_n_clusters").value == 3  # still the new setting

    at.button(key="apply_fit").click().run()  # applied after all
    _finish(at)
    assert _segments(at) == 3 and metrics(at)["Segments"] == "3"


def test_the_url_keeps_the_segmentation_shown_until_a_fit_is_applied(
        slow_fits, fresh_app, metrics):
    """The URL took the sidebar's settings while their fit waited for Apply, or after it
    was cancelled: a refresh, or a colleague's link, showed 3 segments for a page that
    showed 5."""
    at = fresh_app()
    _finish(at)
    shown = dict(at.query_params)
    assert at.query_params.get("param_kmeans_n_clusters", "5") == "5"
    at.slider(key="param_kmeans_n_clusters").set_value(3).run()  # waits for Apply
    assert dict(at.query_params) == shown
    at.button(key="apply_fit").click().run()
    assert dict(at.query_params) == shown  # running
    at.button(key="cancel_fit").click().run()
    assert dict(at.query_params) == shown and metrics(at)["Segments"] == "5"
    slow_fits.set()
    again = _reload(at)  # this page's link opens on the 5 segments it shows
    _finish(again)
    assert metrics(again)["Segments"] == "5"
    at.button(key="apply_fit").click().run()
    _finish(at)
    assert metrics(at)["Segments"] == "3"
    assert at.query_params["param_kmeans_n_clusters"] == "3"  # applied: the URL follows


def test_small_fits_follow_the_controls_at_once(app, metrics):
    assert not [b for b in app.button if b.key == "apply_fit"]
    app.slider(key="param_kmeans_n_clusters").set_value(4).run()
    assert metrics(app)["Segments"] == "4"
    assert "_fit_job" not in app.session_state


# ---------------------------------------------------------------- the URL

ENTRY = Path(__file__).resolve().parents[2] / "src" / "custseg" / "app" / "streamlit_app.py"


def _reload(at, **changed):
    """A new session opened on ``at``'s URL (with ``changed`` keys), as a browser refresh
    or a shared link is: the process, its caches and its server-side stores stay."""
    fresh = AppTest.from_file(str(ENTRY), default_timeout=120)
    fresh.query_params = {**dict(at.query_params), **changed}
    fresh.run()
    assert not fresh.exception, [e.message for e in fresh.exception]
    return fresh


def _open(query):
    fresh = AppTest.from_file(str(ENTRY), default_timeout=120)
    fresh.query_params = dict(query)
    fresh.run()
    assert not fresh.exception, [e.message for e in fresh.exception]
    return fresh


def _warnings(at) -> list[str]:
    return [unescape(w.value) for w in at.warning]


def test_the_settings_survive_a_reload(app, metrics):
    app.number_input(key="demo_n").set_value(600).run()
    app.multiselect(key="features").set_value(["annual_income", "spending_score"]).run()
    app.selectbox(key="algorithm").set_value("agglomerative").run()
    app.slider(key="param_agglomerative_n_clusters").set_value(4).run()
    app.selectbox(key="param_agglomerative_linkage").set_value("average").run()
    app.number_input(key="n_neighbors").set_value(5).run()
    query = dict(app.query_params)
    assert query["demo_n"] == "600" and query["algorithm"] == "agglomerative"
    assert query["features"] == ["annual_income", "spending_score"]
    assert query["param_agglomerative_linkage"] == "average"
    before = _model(app)

    again = _reload(app)
    after = _model(again)
    assert after.config == before.config
    assert [s.size for s in after.segments] == [s.size for s in before.segments]
    assert metrics(again)["Customers"] == "600"
    assert again.slider(key="param_agglomerative_n_clusters").value == 4
    assert dict(again.query_params) == query  # written back unchanged
    assert not again.warning


def test_an_automatic_parameter_set_to_a_value_survives_a_reload():
    """HDBSCAN's min_samples is automatic by default; the URL carries ``=1`` without an
    ``_auto`` key, and the reload must not turn "automatic" back on (it did: a 39-segment
    model came back as 8 segments)."""
    at = _open({"source": "demo", "demo_n": "2000", "algorithm": "hdbscan",
                "param_hdbscan_min_cluster_size": "5", "param_hdbscan_min_samples": "1"})
    model = _model(at)
    assert model.config.params["min_samples"] == 1
    assert at.checkbox(key="param_hdbscan_min_samples_auto").value is False
    assert at.query_params["param_hdbscan_min_samples"] == "1"
    assert "param_hdbscan_min_samples_auto" not in at.query_params
    again = _reload(at)
    assert _model(again).config.params["min_samples"] == 1
    assert len(_model(again).segments) == len(model.segments)
    auto = _reload(at, param_hdbscan_min_samples_auto="true")  # both given: automatic wins
    assert _model(auto).config.params["min_samples"] is None


def test_edits_survive_a_reload_in_the_same_workspace_only(app):
    app.text_input[0].set_value("Our regulars")
    app.button(key="FormSubmitter:edit_0-Save").click().run()
    assert _model(app).names[0] == "Our regulars"

    again = _reload(app)
    assert _model(again).names[0] == "Our regulars"
    assert any(s.edited for s in _model(again).segments)
    other = _reload(app, ws="anotherworkspace1")  # another analyst's link: not theirs
    assert _model(other).names[0] != "Our regulars"
    assert again.query_params["ws"] == app.query_params["ws"]


def test_a_loaded_model_survives_a_reload_while_the_server_holds_it(app, go, downloads):
    from custseg.app import links

    app.slider(key="param_kmeans_n_clusters").set_value(4).run()
    go(app, "model_lab")
    saved = downloads["segments.custseg"]
    app.slider(key="param_kmeans_n_clusters").set_value(6).run()
    app.file_uploader(key="model_upload").upload("four.custseg", saved).run()
    assert app.session_state["_view"].loaded_name == "four.custseg"
    assert len(app.query_params["model"]) == 64 and "features" not in app.query_params

    again = _reload(app)
    view = again.session_state["_view"]
    assert view.loaded_name == "four.custseg" and len(view.model.segments) == 4
    assert any("Using the model file four.custseg" in unescape(i.value) for i in again.info)
    again.button(key="unload_model").click().run()  # and back to the controls: not said
    assert again.session_state["_view"].loaded_name is None
    assert not any("Using the model file" in unescape(i.value) for i in again.info)
    assert "model" not in again.query_params

    links.forget_all()  # a restarted server holds no model: said, and fitted instead
    gone = _reload(app)
    assert gone.session_state["_view"].loaded_name is None
    assert any("no longer holds" in w and "cannot travel in a link" in w
               for w in _warnings(gone))


HOSTILE = [
    ({"demo_n": "abc"}, "demo_n='abc' was refused (not a whole number"),
    ({"demo_n": "99999999999"}, "demo_n='99999999999' was refused (out of range"),
    ({"demo_n": ["300", "400"]}, "was refused (give it once, not 2 times)"),
    ({"param_kmeans_n_clusters": "1"}, "param_kmeans_n_clusters='1' was refused"),
    ({"param_kmeans_n_clusters": "nan"}, "param_kmeans_n_clusters='nan' was refused "
     "(n_clusters='nan' is not a number; n_clusters takes 2 to 30); keeping its default."),
    ({"param_kmeans_n_clusters": "inf"}, "param_kmeans_n_clusters='inf' was refused "
     "(n_clusters='inf' is not finite; n_clusters takes 2 to 30)"),
    ({"algorithm": "__import__('os')"}, "algorithm="),
    ({"source": "file"}, "this app was started with no file"),
    ({"use_gender": "yes please"}, "give true or false"),
    ({"derivations": "x = age\n" * 1_000}, "longer than 4,000 characters"),
    ({"role|age": "<script>"}, "role|age='<script>' was refused"),
    ({"ws": "../../etc"}, "not a workspace id"),
    ({"model": "not-a-digest"}, "not a model file's SHA-256"),
    ({"features": ["no_such_column", "spending_score"]}, "no_such_column are not columns"),
    ({"features": "<b>x</b>"}, "using the table's default features"),
]


@pytest.mark.parametrize(("query", "said"), HOSTILE)
def test_a_hostile_link_is_refused_with_a_message_and_defaults(query, said):
    at = _open({"ignored_key": "1", "__proto__": "x", **query})
    shown = _warnings(at)
    assert any(said in w for w in shown), shown
    model = _model(at)
    assert len([s for s in model.segments if not s.is_outliers]) >= 2  # still segments
    assert "ignored_key" not in at.query_params and "__proto__" not in at.query_params
    if "features" in query:  # said beside the features, once
        assert any(said in unescape(w.value) for w in at.sidebar.warning)
        at.run()
    else:  # said above the page until dismissed
        at.button(key="dismiss_link").click().run()
    assert not any(said in w for w in _warnings(at))


@pytest.mark.parametrize(("value", "said"), [
    ("nan", "is not a number"), ("NaN", "is not a number"), ("inf", "is not finite"),
    ("-Infinity", "is not finite"), ("1e999", "is out of range"), ("31", "is out of range"),
])
def test_a_links_parameter_says_why_it_is_refused(value, said):
    """'nan' is no number and 'inf' none of a range; 1e999 is a number, far beyond it."""
    from custseg.app.links import Refused, _parsers

    with pytest.raises(Refused) as caught:
        _parsers()["param_kmeans_n_clusters"]([value])
    assert str(caught.value) == f"n_clusters={value!r} {said}; n_clusters takes 2 to 30"


def test_an_uploaded_source_asks_for_its_file_again():
    at = _open({"source": "upload"})
    assert at.radio(key="data_source").value == "Upload a file"
    assert any("upload it again" in unescape(i.value) for i in at.info)


@pytest.mark.parametrize(("query", "said"), [
    ({"derivations": "x = __import__('os').system('id')", "features": ["age", "x"]},
     "__import__"),
    ({"source": "upload", "date_formats": "no equals sign"}, None),
    ({"algorithm": "dbscan", "param_dbscan_eps": "0.001"}, "param_dbscan_eps='0.001'"),
])
def test_text_a_link_sets_is_parsed_as_the_controls_parse_it(query, said, errors):
    at = _open(query)
    shown = errors(at) + _warnings(at)
    if said is not None:
        assert any(said in line for line in shown), shown
    assert not at.exception


def test_names_edited_on_an_upload_come_back_with_the_same_file(app):
    import custseg

    data = custseg.make_customers(300, seed=3).to_csv(index=False).encode()
    app.radio(key="data_source").set_value("Upload a file").run()
    app.file_uploader(key="data_upload").upload("shop.csv", data).run()
    app.text_input[0].set_value("Weekend crowd")
    app.button(key="FormSubmitter:edit_0-Save").click().run()
    assert _model(app).names[0] == "Weekend crowd"

    again = _reload(app)  # the file is not in the link: asked for again
    assert any("upload it again" in unescape(i.value) for i in again.info)
    again.file_uploader(key="data_upload").upload("shop.csv", data).run()
    assert _model(again).names[0] == "Weekend crowd"
