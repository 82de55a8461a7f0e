"""Transaction logs: which columns a log's lines keep their customer, date, invoice and
value in, and the per-line rules of the aggregation to one row per customer (RFM).

Pure rules on headers and arrow columns; reading the log and the group-by are
:mod:`custseg.io.rfm`'s.

- Columns are found through an alias table on the whole normalised header
  (:func:`~custseg.table.headers.normalise_header`), never by substring: "Ship Date" is no
  order date, "Customer Name" no customer id, "Profit" or "Discount" never a value. Each
  role's aliases are in order of preference, so a log with ``Order Date`` and ``Date``
  takes the order date; two headers that normalise to the same alias are refused.
- A line's value is its amount column when the log has one, never amount × quantity;
  else quantity × price.
- Customer ids are text, kept exactly but for surrounding spaces; an id written as a
  float with a zero fraction (``12923.0``, as a spreadsheet or pandas writes an integer
  column with blanks) is the integer ``12923``.
- A line is a return when its value is negative, or when its invoice is a UCI-style
  cancellation, "C" followed by digits, in a log whose other invoices are all digits
  alone (and some are: a log of ``C0001``, ``C0002``… has no ordinary invoice for a "C"
  to differ from). The rule is decided over the invoices of lines with a customer id
  (the UCI log's adjustment invoices ``A563185`` are on lines without one). A prefix
  that ordinary orders share (``CA-7731-0041``, ``COM-88123``) never makes a return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custseg.errors import CustsegError, SchemaError, shown
from custseg.table.headers import normalise_header
from custseg.table.roles import detect_role
from custseg.table.spec import InputSpec, ReturnsOnly

#: The columns of a log, in the order they are reported.
COLUMN_ROLES: tuple[str, ...] = ("customer", "date", "invoice", "amount", "quantity", "price")

#: Normalised header aliases per column role, most preferred first.
COLUMN_ALIASES: Mapping[str, tuple[str, ...]] = {
    "customer": ("customer_id", "customer_no", "customer_number", "cust_id", "customer_code",
                 "client_id", "client", "customer", "member_id", "shopper_id"),
    "date": ("invoice_date", "order_date", "purchase_date", "transaction_date", "sale_date",
             "sales_date", "order_datetime", "invoice_datetime", "transaction_datetime",
             "date"),
    "invoice": ("invoice_no", "invoice", "invoice_id", "invoice_number", "order_id",
                "order_no", "order_number", "transaction_id", "transaction_no", "receipt_id",
                "receipt_no", "basket_id"),
    "amount": ("amount", "line_amount", "total_amount", "sales_amount", "line_total",
               "total", "total_price", "revenue", "sales", "value", "order_value"),
    "quantity": ("quantity", "qty", "quantity_ordered", "units"),
    "price": ("unit_price", "price", "price_each", "price_per_unit", "item_price"),
}

#: Why a line is not used, in the order the reasons are checked (a line counts once,
#: under the first that applies).
MALFORMED = "malformed row"
NO_CUSTOMER = "no customer id"
BAD_DATE = "unreadable date"
BAD_AMOUNT = "unreadable amount"
BAD_QUANTITY = "unreadable quantity"
BAD_PRICE = "unreadable price"
TOO_LARGE = "value too large to represent"
REASONS: tuple[str, ...] = (MALFORMED, NO_CUSTOMER, BAD_DATE, BAD_AMOUNT, BAD_QUANTITY,
                            BAD_PRICE, TOO_LARGE)

#: The customer table written from a log, in column order.
OUTPUT_COLUMNS: tuple[str, ...] = (
    "customer_id", "recency_days", "frequency", "monetary", "tenure_days", "first_purchase",
    "last_purchase", "avg_order_value", "returns_value",
)

#: What a table of :data:`OUTPUT_COLUMNS` is segmented on by default (``custseg fit``).
RFM_FEATURES: tuple[str, ...] = ("recency_days", "frequency", "monetary")

#: The columns of that table a purchase defines: blank for a customer with returns only.
PURCHASE_DEFINED: tuple[str, ...] = ("recency_days", "tenure_days", "avg_order_value")


def returns_only_rule(header: Sequence[str], spec: InputSpec) -> ReturnsOnly | None:
    """For a customer table written from a log (every column of :data:`OUTPUT_COLUMNS`)
    clustered on its ``frequency``: the rule that sets its customers with returns only
    apart (frequency 0; those of :data:`PURCHASE_DEFINED` clustered on, blank). None for
    any other table: a frequency of 0 in a table custseg did not make is a value like
    any other."""
    if not set(OUTPUT_COLUMNS) <= set(header):
        return None
    by_column = {f.column: f.name for f in spec.extra
                 if f.source == "column" and not f.categorical and f.column is not None}
    if "frequency" not in by_column:
        return None
    return ReturnsOnly(frequency=by_column["frequency"],
                       absent=tuple(by_column[c] for c in PURCHASE_DEFINED if c in by_column))


#: The rules' patterns (RE2, as pyarrow and DuckDB both use them): an id written as a
#: float with a zero fraction, its zero fraction, a UCI cancellation, an ordinary UCI
#: invoice.
FLOAT_INTEGER = r"^[+-]?\d+\.0+$"
ZERO_FRACTION = r"\.0+$"
CANCELLATION = r"^C\d+$"
DIGITS = r"^\d+$"
#: Either: an invoice of the UCI kinds, C + digits or digits alone (a whole match).
UCI_SHAPE = r"C?\d+"


@dataclass(frozen=True)
class LogColumns:
    """Where a log keeps each role: the column's position in the header, None when the log
    has none (``invoice``; ``amount``, or ``quantity`` and ``price``)."""

    header: tuple[str, ...]
    customer: int
    date: int
    invoice: int | None = None
    amount: int | None = None
    quantity: int | None = None
    price: int | None = None

    def name(self, role: str) -> str | None:
        pos = getattr(self, role)
        return None if pos is None else self.header[pos]

    @property
    def value(self) -> str:
        """How a line's value is found, in words (``Amount``; ``Quantity × UnitPrice``)."""
        if self.amount is not None:
            return self.header[self.amount]
        return f"{self.header[self.quantity]} × {self.header[self.price]}"

    def numbers(self) -> tuple[int | None, int | None, int | None]:
        """The positions of the columns numbers are read from: amount, quantity, price."""
        return (self.amount, self.quantity, self.price)

    def taken(self) -> dict[str, str | None]:
        """The columns taken, for the summary: customer, date, invoice and value."""
        return {"customer": self.name("customer"), "date": self.name("date"),
                "invoice": self.name("invoice"), "value": self.value}


@dataclass(frozen=True)
class LogSpec:
    """How a model's customers were aggregated from a transaction log, so that a new log
    is aggregated the same way (``custseg score MODEL NEW_LOG``): the log's columns by
    role (headers as the log wrote them, given or found; the value is the amount column,
    or quantity × price), the date format given by the user (strftime), and the date
    format the fit read (``kind|separator|pattern|time``, see
    :func:`custseg.table.spec.date_format_text`), used for a new log whose own dates
    cannot tell their order."""

    columns: Mapping[str, str]
    date_format: str | None = None
    date_read: str | None = None

    @classmethod
    def of(cls, cols: LogColumns, date_format: str | None, date_read: str | None) -> LogSpec:
        return cls({r: cols.name(r) for r in COLUMN_ROLES if cols.name(r) is not None},
                   date_format, date_read)

    @property
    def value(self) -> str:
        """How a line's value is made: ``amount``, or ``quantity_price``."""
        return "amount" if "amount" in self.columns else "quantity_price"

    def to_dict(self) -> dict[str, Any]:
        return {"columns": dict(self.columns), "value": self.value,
                "date_format": self.date_format, "date_read": self.date_read}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> LogSpec | None:
        if data is None:
            return None
        return cls({str(k): str(v) for k, v in data["columns"].items()},
                   data.get("date_format"), data.get("date_read"))


def log_spec_problem(spec: LogSpec) -> str | None:
    """Why ``spec`` (read from a model file) cannot be how a log was aggregated, or None:
    the roles custseg knows, a customer and a date column, a value from an amount or
    from a quantity and a price (never both), one column per role, formats custseg reads."""
    from custseg.table.spec import date_format_from_text

    columns = spec.columns
    unknown = sorted(set(columns) - set(COLUMN_ROLES))
    if unknown:
        return f"names the log column role {unknown[0]!r:.40}, which custseg does not know"
    for role in ("customer", "date"):
        if role not in columns:
            return f"has no {role} column"
    if "amount" in columns and ({"quantity", "price"} & set(columns)):
        return "takes a line's value from an amount and from a quantity or price"
    if "amount" not in columns and not {"quantity", "price"} <= set(columns):
        return "has no amount column, nor a quantity and a price"
    if len(set(columns.values())) != len(columns):
        return "takes one column for two roles"
    if spec.date_format is not None and "%" not in spec.date_format:
        return f"date_format {spec.date_format!r:.40} has no strftime code"
    if spec.date_read is not None:
        try:
            date_format_from_text(spec.date_read)
        except CustsegError as exc:
            return f"date_read: {exc.message}"
    return None


def _given(header: Sequence[str], role: str, name: str) -> int:
    if name in header:
        return header.index(name)
    stripped = [h.strip() for h in header]
    if name.strip() in stripped:
        return stripped.index(name.strip())
    raise SchemaError(
        f"the {role} column {shown(name)} is not a column of the log; its columns are "
        f"{', '.join(shown(h, 30) for h in header[:12])}{'…' if len(header) > 12 else ''}; "
        "give a header as written", parameter=role,
    )


def _found(header: Sequence[str], role: str) -> int | None:
    normal = [normalise_header(h) for h in header]
    for alias in COLUMN_ALIASES[role]:
        hits = [i for i, n in enumerate(normal) if n == alias]
        if len(hits) > 1:
            raise SchemaError(
                f"the log has {len(hits)} columns that could be its {role} "
                f"({', '.join(shown(header[i], 30) for i in hits)}); say which",
                parameter=role,
            )
        if hits:
            return hits[0]
    return None


def given_columns(customer: str | None = None, date: str | None = None,
                  invoice: str | None = None, amount: str | None = None,
                  quantity: str | None = None, price: str | None = None
                  ) -> dict[str, str | None]:
    """The log's columns a user named, by role (None: find it by its header), as
    :func:`find_columns` takes them: the one place the command line's and the library's
    ``customer`` … ``price`` arguments become that mapping."""
    return {"customer": customer, "date": date, "invoice": invoice, "amount": amount,
            "quantity": quantity, "price": price}


def find_columns(header: Sequence[str], given: Mapping[str, str | None] | None = None
                 ) -> LogColumns:
    """The log's columns: those ``given`` (role -> header as written), else found by the
    alias table. Raises :class:`SchemaError` naming what is missing and the option that
    says it.

    With ``quantity`` or ``price`` given but no ``amount``, no amount column is looked
    for: the user said how a line's value is made.
    """
    header = tuple(header)
    given = {k: v for k, v in (given or {}).items() if v is not None}
    unknown = set(given) - set(COLUMN_ROLES)
    if unknown:
        raise ValueError(f"unknown log column roles {sorted(unknown)}")
    pos: dict[str, int | None] = {}
    for role in COLUMN_ROLES:
        if role in given:
            pos[role] = _given(header, role, given[role])
        elif role == "amount" and ({"quantity", "price"} & set(given)):
            pos[role] = None
        else:
            pos[role] = _found(header, role)
    for role in ("customer", "date"):
        if pos[role] is None:
            raise SchemaError(
                f"no column of the log reads as its {role} "
                f"({'customer id' if role == 'customer' else 'order date'}); say which "
                "column holds it", parameter=role)
    if pos["amount"] is None and (pos["quantity"] is None or pos["price"] is None):
        missing = [r for r in ("quantity", "price") if pos[r] is None]
        raise SchemaError(
            "no column of the log gives a line's value: no amount column (Amount, Total, "
            f"Revenue, Sales, Value) and no {' or '.join(missing)} column; say which column "
            "holds a line's amount, or its quantity and its price", parameter="amount")
    taken = [p for p in pos.values() if p is not None]
    if len(taken) != len(set(taken)):
        raise SchemaError("one column of the log is taken for two roles (customer, date, "
                          "invoice, amount, quantity, price); say which column holds each")
    if pos["amount"] is not None:  # never amount x quantity
        pos["quantity"] = pos["price"] = None
    return LogColumns(header, **pos)


def customer_ids(values: pa.Array) -> pa.Array:
    """Customer ids as text: trimmed, ``12923.0`` written ``12923``, null where blank.
    Case and everything else kept (``ab-100`` and ``AB-100`` are two customers)."""
    text = pc.utf8_trim_whitespace(values.cast(pa.string()))
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    floaty = pc.fill_null(pc.match_substring_regex(text, FLOAT_INTEGER), False)
    whole = pc.replace_substring_regex(text, ZERO_FRACTION, "")
    return pc.if_else(floaty, whole, text)


def uci_parts(invoices: pa.Array) -> tuple[bool, bool, bool]:
    """Of some of a log's distinct invoices (trimmed, no nulls): whether any is "C" +
    digits, whether any is digits alone, and whether every one is "C" + digits or
    digits alone. Parts of the log combine: any of the first two, all of the third (see
    :func:`uci_cancellations`)."""
    if len(invoices) == 0:
        return False, False, True
    cancelled = pc.fill_null(pc.match_substring_regex(invoices, CANCELLATION), False)
    digits = pc.fill_null(pc.match_substring_regex(invoices, DIGITS), False)
    return (bool(pc.any(cancelled).as_py()), bool(pc.any(digits).as_py()),
            bool(pc.all(pc.or_(cancelled, digits)).as_py()))


def uci_cancellations(invoices: pa.Array) -> bool:
    """Whether a log's distinct invoices (trimmed, no nulls; those of its lines with a
    customer id) are UCI-style: some are "C" + digits, some are ordinary invoices of
    digits alone, and there is no other kind. Only then does "C" mark a cancellation: a
    log whose every invoice is "C" + digits (``C0001``) has no ordinary invoice of
    digits for a "C" to differ from, and its invoices are orders."""
    some, digits, every = uci_parts(invoices)
    return some and digits and every


def cancelled(invoices: pa.Array, uci: bool) -> np.ndarray:
    """Per invoice, whether it is a cancellation (only in a UCI-style log, see
    :func:`uci_cancellations`)."""
    if not uci:
        return np.zeros(len(invoices), dtype=bool)
    hits = pc.fill_null(pc.match_substring_regex(invoices, CANCELLATION), False)
    return np.asarray(hits.to_numpy(zero_copy_only=False), dtype=bool)


#: Roles of a customer table's columns that say it is aggregated already (one row per
#: customer, as ``custseg rfm`` writes), and the well-known fields of a customer table.
_CUSTOMER_ROLES = frozenset({"recency", "frequency", "monetary", "tenure"})
_CUSTOMER_FIELDS = frozenset({"age", "annual_income", "spending_score"})


def log_columns_in(header: Sequence[str], fields: Sequence[str] = ()) -> LogColumns | None:
    """The columns of a transaction log, when ``header`` is one, else None.

    A log has a customer column, a date column and a line's value (an amount, or a
    quantity and a price), found by :func:`find_columns`' alias table, and is not a
    customer table already: no column whose header names an aggregated role (recency,
    frequency, monetary, tenure: ``recency_days``, ``Frequency``…) and none of the
    well-known customer fields (age, annual income, spending score) among ``fields`` (the
    table's :class:`~custseg.table.headers.HeaderMatch` fields). A header whose columns
    are ambiguous (two order dates) is no log here: :func:`find_columns` says why when
    the columns are given.
    """
    if _CUSTOMER_FIELDS & set(fields):
        return None
    if any(detect_role(h).role in _CUSTOMER_ROLES for h in header):
        return None
    try:
        return find_columns(header)
    except SchemaError:
        return None
