"""Errors in the dashboard's own terms: its controls where it has one, nothing where not."""

from __future__ import annotations

import pytest

import custseg
from custseg.app.ui import CONTROLS, app_spelling
from custseg.errors import InputFileError, ParameterError
from custseg.io import uploads


def test_a_setting_with_a_control_is_spelled_as_its_place():
    assert app_spelling("features", None) == "sidebar › Features"
    assert app_spelling("params", "eps=0.8") == "sidebar › Segmentation: eps=0.8"
    error = ParameterError("gender is not a distance feature by itself; switch it on",
                           parameter="use_gender")
    assert error.render(app_spelling) == (
        "gender is not a distance feature by itself; switch it on (sidebar › Use gender)")


@pytest.mark.parametrize("parameter", ["mapping", "ranges", "max_decompressed_mb"])
def test_a_setting_without_a_control_is_not_mentioned(parameter):
    assert app_spelling(parameter, "2048") is None
    error = InputFileError("the file is too large; raise the limit.", parameter=parameter,
                           key="2048")
    assert error.render(app_spelling) == "the file is too large; raise the limit."


def test_the_places_name_the_dashboards_controls(app, go):
    """Each spelling ends in the label of the control it points to."""
    sidebar = app.sidebar
    shown = {
        "features": sidebar.multiselect(key="features").label,
        "use_gender": sidebar.toggle(key="use_gender").label,
        "params": next(h.value for h in sidebar.subheader if h.value == "Segmentation"),
        "sample_size": sidebar.number_input(key="sample_kmeans").label,
        "derivations": sidebar.text_area(key="derivations").label,
        "transforms": sidebar.selectbox(key="transform|age").label,
        "roles": sidebar.selectbox(key="role|age").label,
        "units": sidebar.selectbox(key="unit|age").label,
    }
    # the reading options are a file's: shown once one is uploaded
    app.radio(key="data_source").set_value("Upload a file").run()
    app.file_uploader(key="data_upload").upload(
        "mall.csv", custseg.make_customers(150).to_csv(index=False).encode()).run()
    shown["income_unit"] = app.sidebar.selectbox(key="income_unit").label
    shown["date_formats"] = app.sidebar.text_area(key="date_formats").label
    go(app, "model_lab")
    shown["rules"] = app.file_uploader(key="rules_upload").label
    assert set(shown) == set(CONTROLS)
    for parameter, label in shown.items():
        assert label.startswith(CONTROLS[parameter].split(" › ")[-1]), parameter


def test_errors_on_screen_use_the_dashboards_terms(app, monkeypatch, errors):
    from custseg.app import cached

    def refuse(*args, **kwargs):
        raise InputFileError("'big.csv.gz' decompresses to more than 1 MB; raise the limit.",
                             parameter="max_decompressed_mb", key="2048")

    monkeypatch.setattr(uploads, "table", refuse)
    app.radio(key="data_source").set_value("Upload a file").run()
    app.file_uploader(key="data_upload").upload("big.csv.gz", b"x").run()
    banner, said = errors(app)  # the main area's banner, then the sidebar's reason
    assert said == "'big.csv.gz' decompresses to more than 1 MB; raise the limit."
    assert banner.startswith("The uploaded file big.csv.gz could not be used")

    def too_few(*args, **kwargs):
        raise ParameterError("these settings find no segment", parameter="params",
                             key="eps=0.8")

    monkeypatch.setattr(cached, "fit_model", too_few)
    app.radio(key="data_source").set_value("Demo data").run()
    app.slider(key="param_kmeans_n_clusters").set_value(3).run()
    banner, said = errors(app)
    assert said == "these settings find no segment (sidebar › Segmentation: eps=0.8)"
    assert banner.startswith("The segmentation with the sidebar's current settings failed")
