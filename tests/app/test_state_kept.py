"""Work is not lost (issue 14): settings in the URL, edits and loaded models kept on the
server across a refresh, long fits behind an Apply button that can be cancelled, and
"Fit from the controls instead" on the Model Lab itself."""

from __future__ import annotations

import pytest
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


def test_small_fits_follow_the_controls_at_once(app, metrics):
    assert not [b for b in app.button if b.key == "apply_fit"]
    app.slider(key="param_kmeans_n_clusters").set_value(4).run()
    assert metrics(app)["Segments"] == "4"
    assert "_fit_job" not in app.session_state
