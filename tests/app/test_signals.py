"""Honest signals on Predict and Batch: confidence beside typicality, and drift."""

from __future__ import annotations

import pandas as pd
from streamlit_text import unescape

import custseg
from custseg.model.drift import drift_message, measure
from custseg.table.validate import validate


def _predict(app, age, income, score):
    app.number_input(key="predict_age").set_value(age)
    app.number_input(key="predict_annual_income").set_value(income)
    app.number_input(key="predict_spending_score").set_value(score)
    app.button(key="FormSubmitter:predict_form-Predict").click().run()
    assert not app.exception, [e.message for e in app.exception]


def _badges(app) -> list[str]:
    return [unescape(m.value) for m in app.markdown if "-badge[" in m.value]


def test_an_atypical_customer_gets_no_high_confidence_badge_and_its_distance(
        app, go, metrics, segment_shown):
    go(app, "predict")
    _predict(app, 95, 500, 100)
    m = metrics(app)
    assert segment_shown(app) == {"Nearest segment": "2 · Cautious Affluent"}
    assert m["Confidence"] == "Low"  # not the unanimous vote's 100%
    assert m["Typicality"] == "Atypical"
    ratio = float(m["Nearest customer"].split("×")[0].replace(",", ""))
    assert ratio > 20
    assert _badges(app) == [":red-badge[:material/report: Low confidence: atypical customer]"]
    assert not any("High confidence" in b for b in _badges(app))
    text = " ".join(unescape(x.value) for x in app.markdown)
    assert "Age (years) 95 is above every customer of this segment" in text
    warning = [unescape(w.value) for w in app.warning]
    assert warning == [
        "This customer is unlike any known customer. Its nearest known customer is "
        f"{m['Nearest customer'].removesuffix(' typical')} as far as is typical between "
        "neighbouring known customers: further than any known customer is from its nearest "
        "neighbour, beyond the 99% the model calls atypical. Treat the assignment with care."]
    vote = [unescape(c.value) for c in app.caption if "nearest known customers are in" in
            c.value]
    assert vote == ["100% of the 3 nearest known customers are in this segment. They are "
                    "far from this customer: see below."]


def test_a_typical_customer_shows_its_vote_as_a_percent_and_a_high_badge(
        app, go, metrics, segment_shown):
    go(app, "predict")
    _predict(app, 30, 90, 85)
    m = metrics(app)
    assert segment_shown(app) == {"Segment": "1 · Affluent Spenders"}
    assert m["Confidence"] == "100%"
    assert m["Typicality"] == "Typical"
    assert m["Nearest customer"].endswith("× typical")
    assert any(unescape(c.value).startswith("Distance to the nearest known customers: Its "
                                            "nearest known customer is") for c in app.caption)
    assert _badges(app) == [":green-badge[:material/verified: High confidence]"]
    assert not app.warning


def test_invalid_inputs_clear_the_result_with_the_message_in_the_main_area(
        app, go, metrics, errors, segment_shown):
    go(app, "predict")
    _predict(app, 30, 90, 85)
    assert "Segment" in segment_shown(app) and "Confidence" in metrics(app)
    assert "Against the segment's averages" in [h.value for h in app.subheader]
    _predict(app, -5, 90, 85)  # below the valid range: refused, not silently clamped
    assert metrics(app) == {} and segment_shown(app) == {}  # no old result beside them
    assert errors(app) == ["cannot place this customer: age: -5 years is outside 16–100 "
                           "years."]
    assert not app.sidebar.error
    assert "Against the segment's averages" not in [h.value for h in app.subheader]
    _predict(app, 31, 90, 85)
    assert segment_shown(app) == {"Segment": "1 · Affluent Spenders"}


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def test_a_shifted_batch_says_it_differs_from_the_customers_fitted(app, go):
    go(app, "batch")
    model = app.session_state["_view"].model
    batch = custseg.make_customers(600, seed=8)
    batch["age"] = batch["age"].clip(upper=60) + 35  # all older than nearly every one fitted
    app.file_uploader(key="batch_upload").upload("older.csv", _csv(batch), "text/csv").run()
    assert not app.exception, [e.message for e in app.exception]
    expected = measure(model, validate(batch, required=model.encoding.needs).valid_values())
    message = drift_message(expected, {"age": "Age (years)"}.get)
    assert message is not None and "Age (years) (PSI" in message
    warnings = [unescape(w.value) for w in app.warning]
    assert message[:1].upper() + message[1:] + "." in warnings
    table = next(d.value for d in app.dataframe if "PSI" in d.value.columns)
    shown = dict(zip(table["feature"], table["PSI"], strict=True))
    psi = {f.feature: f.psi for f in expected.features()}
    assert shown["Age (years)"] == psi["age"] > 0.25
    assert table.set_index("feature").loc["Age (years)", "flagged"]
    assert not table.set_index("feature").loc["Annual income (k$)", "flagged"]
    # an atypical row's vote is not shown as a confidence, as on Predict
    scored = next(d.value for d in app.dataframe if "confidence" in d.value.columns)
    odd = scored["atypical"].astype(bool)
    assert odd.any() and (scored.loc[odd, "confidence"] == "low (atypical)").all()
    assert scored.loc[~odd, "confidence"].str.fullmatch(r"\d+%").all()


def test_a_batch_like_the_fitted_customers_says_so_and_shows_confidence_as_percent(app, go):
    go(app, "batch")
    app.file_uploader(key="batch_upload").upload(
        "same.csv", _csv(custseg.make_customers(2_000, seed=0)), "text/csv").run()
    assert not app.exception
    assert not [w for w in app.warning if "differ from" in w.value]
    assert any("Every feature is distributed as among the customers" in c.value
               for c in app.caption)
    scored = next(d for d in app.dataframe if "confidence" in d.value.columns)
    assert scored.proto.columns  # the column config travels with the element
    assert '"confidence"' in scored.proto.columns and '"percent"' in scored.proto.columns


def test_the_batch_drift_is_measured_once_per_file_and_model(app, go, monkeypatch):
    from custseg.model import drift

    calls = []
    real = drift.measure

    def counted(model, values):
        calls.append((model.config.params["n_clusters"], len(values)))
        return real(model, values)

    monkeypatch.setattr(drift, "measure", counted)
    go(app, "batch")
    app.file_uploader(key="batch_upload").upload(
        "first.csv", _csv(custseg.make_customers(300, seed=4)), "text/csv").run()
    assert not app.exception, [e.message for e in app.exception]
    assert calls == [(5, 300)]
    app.run()  # a rerun, as any click on the page makes
    go(app, "dashboard")
    go(app, "batch")  # back to the page: the file is kept for the session
    assert calls == [(5, 300)]
    assert any("PSI" in d.value.columns for d in app.dataframe)  # still shown
    app.file_uploader(key="batch_upload").upload(
        "second.csv", _csv(custseg.make_customers(400, seed=5)), "text/csv").run()
    assert calls == [(5, 300), (5, 400)]  # another file
    app.slider(key="param_kmeans_n_clusters").set_value(3).run()
    assert not app.exception, [e.message for e in app.exception]
    assert calls == [(5, 300), (5, 400), (3, 400)]  # another model
    app.run()
    assert len(calls) == 3


def test_an_outlier_gets_no_high_confidence_badge_beside_no_segment_fits(
        app, go, metrics, segment_shown):
    """HDBSCAN's noise: the vote was unanimous (100%) for the outliers, and a green
    "High confidence" badge stood beside "no segment fits"."""
    app.selectbox(key="algorithm").set_value("hdbscan").run()
    go(app, "predict")
    _predict(app, 50, 106, 5)  # a demo customer (C000001) HDBSCAN leaves in its noise
    m = metrics(app)
    assert segment_shown(app) == {"Segment": "Outliers"} and m["Confidence"] == "100%", m
    assert _badges(app) == [":gray-badge[:material/scatter_plot: No segment fits: an outlier]"]
    assert "The nearest known customers are outliers: no segment fits." in [
        unescape(w.value) for w in app.warning]
