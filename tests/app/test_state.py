"""The dashboard's caches key every argument by content, so none can answer stale."""

from __future__ import annotations

import inspect

import custseg
from custseg.app import cached, state


def cached_functions():
    return {name: f for name, f in vars(cached).items() if type(f).__name__ == "CachedFunc"}


def test_no_cached_argument_is_left_out_of_the_key():
    functions = cached_functions()
    assert {"uploaded_table", "prepared", "fitted", "curve"} <= set(functions)
    for name, function in functions.items():
        hidden = [p for p in inspect.signature(function).parameters if p.startswith("_")]
        assert hidden == [], name  # an underscore argument would not be hashed


def test_model_keys_tell_the_edits_apart():
    key = state.ModelKey("demo:10:0", '{"algorithm": "kmeans"}')
    edited = state.ModelKey("demo:10:0", '{"algorithm": "kmeans"}', edits="abc")
    assert edited != key and edited.unedited() == key
    assert {key: 1}[edited.unedited()] == 1  # the analyst's edits are kept per fit


def test_same_name_new_content_is_a_new_table(app, metrics):
    app.radio(key="data_source").set_value("Upload a file").run()
    for n in (300, 200):
        data = custseg.make_customers(n, seed=n).to_csv(index=False).encode()
        app.file_uploader(key="data_upload").upload("customers.csv", data).run()
        assert metrics(app)["Customers"] == f"{n:,}"
