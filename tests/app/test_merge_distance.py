"""HDBSCAN's "Merge distance" slider (issue 14: 0.55 replaced the page with an exception)."""

from __future__ import annotations


def test_the_merge_distance_at_0_55_renders_a_merged_segmentation(app, metrics, go):
    app.number_input(key="demo_n").set_value(2_000).run()
    app.selectbox(key="algorithm").set_value("hdbscan").run()
    assert not app.exception
    apart = app.session_state["_view"].model
    app.slider(key="param_hdbscan_cluster_selection_epsilon").set_value(0.55).run()
    assert not app.exception, [e.message for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    merged = app.session_state["_view"].model
    assert merged.config.params["cluster_selection_epsilon"] == 0.55
    assert len(merged.segments) < len(apart.segments)
    assert sum(s.size for s in merged.segments) == 2_000
    assert metrics(app)["Segments"] == str(sum(1 for s in merged.segments if s.id != -1))
    for page in ("explore", "model_lab", "predict", "batch"):
        go(app, page)  # every page renders the merged model
        assert not app.error, (page, [e.value for e in app.error])
