"""Issue 10, classes 5, 8, 10 and 11 in the dashboard: a forged model file or a hostile
rulebook uploaded in the Model Lab shows custseg's own message (never Streamlit's
exception box) and the current segmentation stays."""

from __future__ import annotations

import pytest
from hostile_models import forge, forge_meta, huge_reference, set_field

from custseg.io.model_files import model_bytes

FORGED = {
    "million.custseg": (huge_reference, "declares 1,000,000 rows"),
    "nan.custseg": (lambda d: forge(d, meta=forge_meta(
        d, "segmenter", "atypical_threshold", "NaN")), "NaN"),
    "osc52.custseg": (lambda d: forge(d, set_field(["segments", 0, "name"], "X\x1b]52;c;aGk=\x07")),
                      "control character U+001B"),
    "types.custseg": (lambda d: forge(d, set_field(["config", "n_neighbors"], "3")),
                      "config.n_neighbors"),
}


@pytest.mark.parametrize("name", list(FORGED))
def test_forged_model_upload_shows_custseg_message(app, go, errors, demo_model, name):
    make, words = FORGED[name]
    go(app, "model_lab")
    app.file_uploader(key="model_upload").upload(name, make(model_bytes(demo_model))).run()
    assert not app.exception, [e.message for e in app.exception]
    shown = errors(app)
    assert len(shown) == 1 and words in shown[0], shown
    assert app.session_state["_view"].loaded_name is None


@pytest.mark.parametrize(("text", "words"), [
    ("a = " + "[" * 5_000 + "]" * 5_000, "nests tables or arrays too deeply"),
    ('[[rules]]\nname = "A"\nwhen = { age = "low" }\nstrategy = 5\n', "rules[0].strategy"),
    ('colour = "red"\n', "colour is not a field"),
])
def test_hostile_rulebook_upload_shows_custseg_message(app, go, errors, text, words):
    go(app, "model_lab")
    app.file_uploader(key="rules_upload").upload("rules.toml", text.encode()).run()
    assert not app.exception, [e.message for e in app.exception]
    shown = errors(app)
    assert len(shown) == 1 and words in shown[0], shown
    assert app.session_state.get("_rules_toml") is None
