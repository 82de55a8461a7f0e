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
