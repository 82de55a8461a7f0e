"""A transaction log in the dashboard (issue 17): recognised by its header, aggregated
with its lines read/used/excluded shown, segmented like any customer table, then
Predict and Batch on the model fitted from it."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from streamlit_text import unescape

from custseg import api
from custseg.table.sample_log import make_transactions

LINES = 1_200


@pytest.fixture(scope="module")
def log_bytes() -> bytes:
    """The demo log with three kinds of excluded lines and a customer who only returned."""
    log, _ = make_transactions(LINES, seed=3)
    bad = pd.DataFrame({
        "InvoiceNo": ["599001", "599002", "599003", "C599004"],
        "InvoiceDate": ["2011-11-01 10:00", "not a date", "2011-11-02 10:00",
                        "2011-11-03 10:00"],
        "CustomerID": ["", "12346", "12347", "99999"],
        "Quantity": [1, 1, "two", -2],
        "UnitPrice": [2.5, 2.5, 2.5, 4.0],
    })
    frame = pd.concat([log.astype(str), bad.astype(str)], ignore_index=True)
    return frame.to_csv(index=False).encode()


@pytest.fixture(scope="module")
def aggregated(log_bytes):
    return api.rfm(log_bytes, name="orders.csv")


def upload(at, name: str, data: bytes):
    at.radio(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="data_upload").upload(name, data, "text/csv").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_a_log_upload_is_aggregated_and_segmented(app, go, metrics, log_bytes, aggregated):
    upload(app, "orders.csv", log_bytes)
    assert not app.error, [e.value for e in app.error]
    said = " ".join(i.value for i in app.sidebar.info)
    assert "A transaction log" in said and "CustomerID" in said and "InvoiceDate" in said
    view = app.session_state["_view"]
    summary = view.data.log
    assert summary.read == LINES + 4
    assert dict(summary.excluded) == {"no customer id": 1, "unreadable date": 1,
                                      "unreadable quantity": 1}
    assert summary.used == LINES + 1
    assert summary.columns == {"customer": "CustomerID", "date": "InvoiceDate",
                               "invoice": "InvoiceNo", "value": "Quantity × UnitPrice"}
    # one row per customer, fitted on the RFM columns as custseg fit would
    assert view.table.n_rows == summary.customers == aggregated.summary.customers
    model = view.model
    assert model.config.features == ("recency_days", "frequency", "monetary")
    # the model keeps how the log was aggregated, as fit --transactions does
    assert dict(model.log.columns) == {"customer": "CustomerID", "date": "InvoiceDate",
                                       "invoice": "InvoiceNo", "quantity": "Quantity",
                                       "price": "UnitPrice"}
    roles = {f.name: f.role for f in model.config.spec.extra}
    assert roles == {"recency_days": "recency", "frequency": "frequency",
                     "monetary": "monetary"}
    # the same segments as the library's fit of the same customers with the same config
    table = api.log_customers(aggregated)
    expected = api.fit_table(table, model.config)
    assert np.array_equal(view.labels, expected.labels)
    assert [s.name for s in model.segments] == [s.name for s in expected.segments]
    # every customer is in a segment: the returns-only one (no recency) in "Returns only"
    assert len(view.labels) + view.validated.n_apart == summary.customers
    assert view.validated.n_invalid == 0 and view.validated.n_apart == 1
    assert model.segments[-1].name == "Returns only" and model.segments[-1].size == 1
    returns_only = table.data.column(0).to_pylist().index("99999")
    assert view.validated.apart[returns_only]

    go(app, "dashboard")
    m = metrics(app)
    assert m["Lines read"] == f"{LINES + 4:,}"
    assert m["Lines used"] == f"{LINES + 1:,}"
    assert m["Lines excluded"] == "3"
    excluded = next(d.value for d in app.main.dataframe if "reason" in d.value.columns)
    assert dict(zip(excluded["reason"], excluded["lines"], strict=True)) == dict(
        summary.excluded)
    assert any("recency" in str(c.proto.spec) and "frame = main segment" in str(c.proto.spec)
               for c in app.get("plotly_chart"))

    for page in ("explore", "model_lab"):
        go(app, page)


def test_the_analyst_can_treat_a_log_as_a_customer_table(app, log_bytes):
    upload(app, "orders.csv", log_bytes)
    app.toggle(key="log_as_table").set_value(True).run()
    assert not app.exception
    view = app.session_state["_view"]
    assert view.data.log is None
    assert view.table.n_rows == LINES + 4  # the lines, as rows
    assert "recency_days" not in view.model.config.features
    # another file starts as a log again
    other = log_bytes.replace(b"12346", b"22346")
    app.file_uploader(key="data_upload").upload("orders-2.csv", other, "text/csv").run()
    assert not app.exception
    assert app.toggle(key="log_as_table").value is False
    assert app.session_state["_view"].data.log.read == LINES + 4


def test_predict_and_batch_on_a_model_fitted_from_a_log(app, go, log_bytes, aggregated):
    upload(app, "orders.csv", log_bytes)
    model = app.session_state["_view"].model
    go(app, "predict")
    keys = {n.key for n in app.main.number_input}
    assert keys == {"predict_recency_days", "predict_frequency", "predict_monetary"}
    app.number_input(key="predict_recency_days").set_value(3.0)
    app.number_input(key="predict_frequency").set_value(40.0)
    app.number_input(key="predict_monetary").set_value(9_000.0)
    app.main.button[0].click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    expected = api.predict_one(model, values={"recency_days": 3.0, "frequency": 40.0,
                                              "monetary": 9_000.0})
    shown = next(h.value for h in app.subheader if h.value.startswith("Segment: "))
    assert shown.endswith(expected["segment_name"].replace("'", "\\'")) or \
        expected["segment_name"] in shown

    # Batch: the aggregated customer table, as custseg rfm writes it, scored row by row
    customers = io.BytesIO()
    aggregated.table.to_pandas().to_csv(customers, index=False)
    go(app, "batch")
    app.file_uploader(key="batch_upload").upload("customers.csv", customers.getvalue(),
                                                 "text/csv").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    scored = app.session_state["_batch_result"].scored
    assert len(scored) == aggregated.summary.customers
    view = app.session_state["_view"]
    assert scored["row_status"].tolist() == ["ok"] * len(scored)
    # a returns-only customer has no recency: placed in "Returns only" by the rule
    apart = scored[scored["customer_id"] == "99999"]
    assert apart["segment_id"].astype(int).tolist() == [-2]
    assert apart["segment_name"].tolist() == ["Returns only"]
    # the fitted customers scored again land in their own segments
    ok = scored[scored["customer_id"] != "99999"]
    assert len(ok) == len(view.labels)
    assert (ok["segment_id"].astype(int).to_numpy() == view.labels).mean() > 0.95

    # Batch: the raw log, aggregated the same way, then its customers scored
    app.file_uploader(key="batch_upload").upload("orders.csv", log_bytes, "text/csv").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    again = app.session_state["_batch_result"].scored
    assert len(again) == aggregated.summary.customers
    # (the passed-through cells are as each file writes them: -8 in the log's table,
    # -8.0 in pandas' CSV; the scoring is the same)
    contract = ["customer_id", "segment_id", "segment_name", "confidence", "atypical",
                "row_status", "row_issues"]
    pd.testing.assert_frame_equal(again[contract].reset_index(drop=True),
                                  scored[contract].reset_index(drop=True))


def test_a_start_up_log(fresh_app, tmp_path, log_bytes):
    path = tmp_path / "orders.csv"
    path.write_bytes(log_bytes)
    at = fresh_app(path)
    assert not at.exception and not at.error, [e.value for e in at.error]
    view = at.session_state["_view"]
    assert view.data.log.read == LINES + 4
    assert view.model.config.features == ("recency_days", "frequency", "monetary")


def test_a_log_whose_date_order_cannot_be_told_asks_for_its_format(app, errors):
    lines = ["Order ID,Order Date,Customer ID,Sales"]
    lines += [f"A{i},0{1 + i % 9}/0{1 + (i * 7) % 9}/2014,C{i % 7},{10 + i}.5" for i in range(60)]
    data = "\n".join(lines).encode()
    upload(app, "sales.csv", data)
    said = " ".join(errors(app))
    assert "Order Date" in said and "Date formats" in said
    app.text_area(key="date_formats").set_value("Order Date=%d/%m/%Y").run()
    assert not app.exception and not app.error, errors(app)
    view = app.session_state["_view"]
    assert view.data.log.customers == 7 and view.data.log.used == 60


def test_the_dashboard_counts_every_customer_and_shows_no_empty_cells(app, go, metrics,
                                                                      log_bytes, aggregated):
    """Customers = the log's customers (the one with returns only too, as the log panel
    says); the headline's averages on a row of their own, whole; the Returns only card
    leaves out recency (it has none) rather than showing None."""
    upload(app, "orders.csv", log_bytes)
    go(app, "dashboard")
    m = metrics(app)
    customers = aggregated.summary.customers
    assert "Customers" in m and m["Customers"] == f"{customers:,}"
    model = app.session_state["_view"].model
    assert model.base.n == customers - 1
    assert m["recency_days (average)"] == f"{model.base.means['recency_days']:,.1f} days"
    captions = " ".join(unescape(c.value) for c in app.caption)
    assert "1 customer with returns only set apart in their own segment" in captions
    tables = [d.value for d in app.main.dataframe if "gap (SD)" in d.value.columns]
    assert len(tables) == len(model.segments)
    apart = tables[-1]  # the Returns only card, listed last
    assert apart["feature"].tolist() == ["frequency", "monetary"]
    assert apart["segment"].tolist() == [0.0, -8.0]
    assert all(t["segment"].notna().all() for t in tables)
    # the grid's title says the customer with returns only is not on it
    grid = next(c for c in app.get("plotly_chart") if "frame = main segment" in str(c.proto.spec))
    assert "1 customer without a recency (returns only) is not on it" in str(grid.proto.spec)


def test_predict_on_rfm_scoring_shows_the_scores_and_cell(app, go, metrics, log_bytes):
    upload(app, "orders.csv", log_bytes)
    app.selectbox(key="algorithm").set_value("rfm").run()
    model = app.session_state["_view"].model
    assert model.rfm is not None
    go(app, "dashboard")  # each map segment's card says its cells
    captions = [unescape(c.value) for c in app.caption]
    assert any(c.startswith("RFM cells (") for c in captions), captions
    assert not any("assigner agrees" in c for c in captions)
    go(app, "predict")
    assert "the segment is the score map" in " ".join(unescape(c.value) for c in app.caption)
    app.number_input(key="predict_recency_days").set_value(2.0)
    app.number_input(key="predict_frequency").set_value(40.0)
    app.number_input(key="predict_monetary").set_value(9_000.0)
    app.main.button[0].click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    expected = api.predict_one(model, values={"recency_days": 2.0, "frequency": 40.0,
                                              "monetary": 9_000.0})
    assert expected["rfm_cell"] == "555"
    m = metrics(app)
    assert (m["Recency score"], m["Frequency score"], m["Monetary score"], m["RFM cell"]) == (
        "5 of 5", "5 of 5", "5 of 5", "555")
