"""The dashboard's share of the speed items (issue 10): the demo table is capped where the
command line caps it, from the same constant, and a fit estimated to take too long shows
custseg's own message naming the control that shortens it."""

from __future__ import annotations

import pytest

from custseg.cluster import algorithms
from custseg.errors import ParameterError
from custseg.table.sample import DEMO_MAX_ROWS, make_customers


def test_the_demo_size_is_capped_as_on_the_command_line(app):
    widget = app.number_input(key="demo_n")
    assert widget.max == DEMO_MAX_ROWS == 1_000_000
    assert widget.value == 2_000


def test_the_library_refuses_a_demo_table_over_the_cap():
    with pytest.raises(ParameterError, match="1 to 1,000,000 customers, got 2,000,000") as caught:
        make_customers(2_000_000)
    assert caught.value.parameter == "n"
    assert len(make_customers(1)) == 1


def test_a_fit_over_the_time_budget_shows_the_control_that_shortens_it(app, errors,
                                                                       monkeypatch):
    monkeypatch.setattr(algorithms, "FIT_TIME_BUDGET", 1e-6)
    app.selectbox(key="algorithm").set_value("hdbscan").run()
    app.number_input(key="sample_hdbscan").set_value(2_000).run()
    assert not app.exception, [e.message for e in app.exception]
    banner, *shown = errors(app)  # above the page: the previous segmentation is shown
    assert banner.startswith("The segmentation with the sidebar's current settings failed")
    assert len(shown) == 1
    assert shown[0].startswith("hdbscan on 2,000 customers would take about")
    assert "a fit may take; fit on a sample of at most" in shown[0]
    assert "Rows the clusterer sees" in shown[0]
