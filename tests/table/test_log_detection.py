"""Which tables the dashboard treats as transaction logs: by the header alone."""

from __future__ import annotations

import pytest
from inspect_tables import bank, credit_card, marketing, rfm

from custseg.table.headers import match_headers
from custseg.table.transactions import OUTPUT_COLUMNS, log_columns_in


@pytest.mark.parametrize(("header", "taken"), [
    (["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
      "CustomerID", "Country"],
     {"customer": "CustomerID", "date": "InvoiceDate", "invoice": "InvoiceNo",
      "value": "Quantity × UnitPrice"}),
    (["Row ID", "Order ID", "Order Date", "Ship Date", "Customer ID", "Customer Name",
      "Sales", "Profit"],
     {"customer": "Customer ID", "date": "Order Date", "invoice": "Order ID",
      "value": "Sales"}),
    (["client", "date", "amount"],
     {"customer": "client", "date": "date", "invoice": None, "value": "amount"}),
])
def test_logs_are_recognised(header, taken):
    found = log_columns_in(header, tuple(match_headers(header).fields))
    assert found is not None and found.taken() == taken


@pytest.mark.parametrize("frame", [marketing, credit_card, bank, rfm])
def test_customer_tables_are_not_logs(frame):
    header = list(frame(60).columns)
    assert log_columns_in(header, tuple(match_headers(header).fields)) is None


def test_an_aggregated_table_or_a_customer_table_with_a_date_is_no_log():
    assert log_columns_in(list(OUTPUT_COLUMNS)) is None
    # a customer id, a date and a total, but also age and income: a customer table
    header = ["CustomerID", "Date", "Total", "Age", "Annual Income (k$)"]
    assert log_columns_in(header, tuple(match_headers(header).fields)) is None
    header = ["Customer ID", "Order Date", "Sales", "Frequency"]
    assert log_columns_in(header) is None


def test_an_ambiguous_log_is_read_as_a_table():
    # two headers that read as the order date: find_columns asks which; no guess here
    assert log_columns_in(["Customer ID", "Order Date", "order_date", "Sales"]) is None
