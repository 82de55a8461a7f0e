"""The per-line rules of transaction logs: columns by alias, ids, cancellations."""

from __future__ import annotations

import pyarrow as pa
import pytest

from custseg.errors import SchemaError
from custseg.table.transactions import (
    cancelled,
    customer_ids,
    find_columns,
    uci_cancellations,
)

UCI_HEADER = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
              "UnitPrice", "CustomerID", "Country")


def test_uci_columns_found():
    cols = find_columns(UCI_HEADER)
    assert (cols.customer, cols.date, cols.invoice, cols.quantity, cols.price, cols.amount) == (
        6, 4, 0, 3, 5, None)


def test_superstore_like_columns_never_by_substring():
    header = ("Row ID", "Order ID", "Order Date", "Ship Date", "Customer ID", "Customer Name",
              "Sales", "Quantity", "Discount", "Profit")
    cols = find_columns(header)
    assert cols.taken() == {"customer": "Customer ID", "date": "Order Date",
                            "invoice": "Order ID", "value": "Sales"}
    assert cols.quantity is None  # an amount column: never amount x quantity


def test_no_value_column_refused():
    with pytest.raises(SchemaError, match="no column of the log gives a line's value"):
        find_columns(("CustomerID", "InvoiceDate", "Discount", "Profit"))


def test_two_headers_for_one_alias_refused():
    with pytest.raises(SchemaError, match="2 columns that could be its customer"):
        find_columns(("CustomerID", "customer_id", "Date", "Amount"))


def test_given_quantity_and_price_win_over_an_amount():
    cols = find_columns(("CustomerID", "Date", "Amount", "Units", "Each"),
                        {"quantity": "Units", "price": "Each"})
    assert (cols.amount, cols.quantity, cols.price) == (None, 3, 4)


def test_customer_ids():
    ids = pa.array(["12923.0", "12923", " AB-1 ", "ab-1", "", None, "12.50", "007"])
    assert customer_ids(ids).to_pylist() == ["12923", "12923", "AB-1", "ab-1", None, None,
                                             "12.50", "007"]


def test_cancellations_only_in_a_digits_log():
    uci = pa.array(["536365", "C536379", "536366"])
    assert uci_cancellations(uci)
    assert cancelled(uci, True).tolist() == [False, True, False]
    prefixed = pa.array(["CA-7731-0041", "COM-88123", "C536379"])
    assert not uci_cancellations(prefixed)
    assert cancelled(prefixed, False).tolist() == [False, False, False]
    assert not uci_cancellations(pa.array(["1", "2"]))
    # every invoice "C" + digits: no ordinary invoice of digits for a "C" to differ from
    assert not uci_cancellations(pa.array(["C0001", "C0002"]))
