"""Segment intelligence in the dashboard: rules, edits, comparisons, suggestions,
stability, model comparison, rulebook import, report download."""

from __future__ import annotations

from streamlit_text import unescape

import custseg
from custseg.io.model_files import model_from_bytes
from custseg.io.rulebooks import default_rulebook


def test_cards_show_rules_and_edits_are_saved(app, go, downloads):
    texts = [m.value for m in app.markdown]
    assert any(t.startswith("\\- annual\\_income") or "precision" in t for t in texts)
    form_name = app.text_input[0]
    form_name.set_value("Our core")
    app.text_area[0].set_value("Talk to them every week.")
    app.button(key="FormSubmitter:edit_0-Save").click().run()
    assert not app.exception
    assert unescape(app.main.expander[0].label).startswith("0 · Our core — ")
    go(app, "model_lab")
    saved = model_from_bytes(downloads["segments.custseg"])
    assert saved.segment(0).name == "Our core"
    assert saved.segment(0).strategy == "Talk to them every week."
    assert saved.segment(0).edited


def test_a_blank_or_repeated_name_is_refused_in_the_form_not_kept(app, go, errors):
    """A blank name was kept as an edit: every page then said "segment 0 needs a name",
    and only the Dashboard's card could mend it."""
    before = unescape(app.main.expander[0].label)
    other = app.session_state["_view"].model.segment(1).name
    for name, said in (("   ", "segment 0 needs a name; it cannot be blank."),
                       (other, other)):
        app.text_input[0].set_value(name)
        app.button(key="FormSubmitter:edit_0-Save").click().run()
        assert not app.exception
        assert any(said in e for e in errors(app)), errors(app)
        assert unescape(app.main.expander[0].label) == before  # nothing kept
        go(app, "explore")
        assert not app.error  # the other pages are untouched
        go(app, "dashboard")


def test_compare_two_segments(app, go):
    go(app, "explore")
    sentence = next(i.value for i in app.info if " against " in i.value)
    assert sentence.startswith("Balanced Shoppers against Affluent Spenders")
    assert "earns" in sentence and "spends" in sentence


def test_suggest_and_apply(app, metrics):
    app.slider(key="param_kmeans_n_clusters").set_value(3).run()
    assert metrics(app)["Segments"] == "3"
    app.button(key="suggest_button").click().run()
    assert any(unescape(i.value).startswith("Suggested: n_clusters = 5.") for i in app.info)
    app.button(key="apply_suggestion").click().run()
    assert not app.exception
    assert metrics(app)["Segments"] == "5"
    assert app.slider(key="param_kmeans_n_clusters").value == 5


def test_stability_tab_reads_plainly(app, go):
    go(app, "model_lab")
    reading = next(i.value for i in app.info if "adjusted Rand index" in i.value)
    assert "stable" in reading


def test_compare_with_an_earlier_model_draws_a_sankey(app, go):
    earlier = custseg.fit(custseg.make_customers(2_000, seed=0), params={"n_clusters": 4})
    go(app, "model_lab")
    app.file_uploader(key="compare_upload").upload(
        "earlier.custseg", custseg.io.model_files.model_bytes(earlier)).run()
    assert not app.exception
    figures = [c.proto.spec for c in app.get("plotly_chart")]
    assert any('"sankey"' in f for f in figures)


def test_imported_rulebook_renames_segments(app, go):
    text = default_rulebook().to_toml().replace('name = "Affluent Spenders"',
                                                'name = "Golden Circle"')
    go(app, "model_lab")
    app.file_uploader(key="rules_upload").upload("mine.toml", text.encode()).run()
    assert not app.exception
    go(app, "dashboard")
    assert any(" · Golden Circle — " in unescape(e.label) for e in app.main.expander)


def test_bad_rulebook_is_refused(app, go):
    go(app, "model_lab")
    app.file_uploader(key="rules_upload").upload("bad.toml", b"[[rules]\n").run()
    assert any("not valid TOML" in e.value for e in app.error)


def test_report_download(app, go, downloads):
    go(app, "model_lab")
    page = downloads["segments-report.html"].generate()
    assert page.startswith(b"<!DOCTYPE html>")
    for name in (b"Balanced Shoppers", b"Affluent Spenders", b"Cautious Affluent"):
        assert name in page
    assert b"Distributions" in page  # the dashboard's customers are charted
