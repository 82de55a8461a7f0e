"""The Model Lab draws the diagnostics the registry lists for the current algorithm."""

from __future__ import annotations

import pytest
from streamlit_text import unescape

from custseg.cluster.algorithms import ALGORITHMS

NOT_DRAWN = {
    "k_curve": "Curves over the number of segments are for ",
    "k_distance": "The k-distance curve helps choose ",
    "dendrogram": "The dendrogram shows how customers merge",
}


# RFM scoring cannot fit the default (Mall) data: it needs recency, frequency and monetary
@pytest.mark.parametrize("name", [n for n, s in ALGORITHMS.items() if not s.scored])
def test_model_lab_draws_the_registry_s_diagnostics(app, go, name):
    app.selectbox(key="algorithm").set_value(name).run()
    go(app, "model_lab")
    charts = {c.proto.id.rsplit("-", 1)[-1] for c in app.get("plotly_chart")}
    assert charts & set(NOT_DRAWN) == set(ALGORITHMS[name].diagnostics)
    notes = [unescape(i.value) for i in app.info]
    said = {d for d, note in NOT_DRAWN.items() if any(n.startswith(note) for n in notes)}
    assert said == set(NOT_DRAWN) - set(ALGORITHMS[name].diagnostics)


def test_rfm_scoring_on_a_table_without_the_roles_says_what_is_missing(app):
    app.selectbox(key="algorithm").set_value("rfm").run()
    errors = [unescape(e.value) for e in app.error]
    assert any("no feature has the role recency or frequency or monetary" in e
               and "age, annual_income, spending_score" in e for e in errors), errors
