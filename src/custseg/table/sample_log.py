"""A synthetic transaction log whose customers are drawn from known behaviours, so that the
aggregation (``custseg rfm``) and the segments found on it can be checked against them.

Behaviours (share of customers; how many lines each tends to have; when they bought,
in days before the log's last day; what they pay per unit):

- ``loyal``: loyal big spenders, buying all year round up to the last weeks, at high prices;
- ``regular``: buying all year, at ordinary prices;
- ``new``: a first few lines in the last month;
- ``lapsing``: bought steadily until six months to a year ago, then stopped;
- ``one_off``: a single visit, long ago.

Lines are UCI Online Retail-style: ``InvoiceNo`` (digits; a cancellation is "C" +
digits with a negative quantity, about 2% of lines), ``InvoiceDate`` (ISO with a time),
``CustomerID``, ``Quantity``, ``UnitPrice``. Vectorised: 10 million lines take seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from custseg.errors import ParameterError

#: Most lines a demo log may have.
LOG_MAX_LINES = 100_000_000
#: Behaviour -> (share of customers, relative lines per customer, first and last day
#: bought, in days before the log's end, typical unit price).
BEHAVIOURS: dict[str, tuple[float, float, int, int, float]] = {
    "loyal": (0.15, 40.0, 0, 365, 12.0),
    "regular": (0.25, 12.0, 0, 365, 3.5),
    "new": (0.15, 3.0, 0, 30, 3.5),
    "lapsing": (0.20, 8.0, 180, 365, 3.5),
    "one_off": (0.25, 2.0, 365, 700, 3.5),
}
_END = np.datetime64("2011-12-09T00:00", "m")
_FIRST_INVOICE = 536_365
_FIRST_CUSTOMER = 12_346


def make_transactions(n_lines: int = 10_000, seed: int = 0,
                      lines_per_customer: int = 12) -> tuple[pd.DataFrame, pd.Series]:
    """A log of ``n_lines`` lines, and each customer's behaviour (a Series indexed by
    customer id, as written in the log). Same arguments, same log."""
    if not 1 <= n_lines <= LOG_MAX_LINES:
        raise ParameterError(f"the demo log takes 1 to {LOG_MAX_LINES:,} lines, got "
                             f"{n_lines:,}", parameter="n")
    rng = np.random.default_rng(seed)
    names = list(BEHAVIOURS)
    shares = np.array([BEHAVIOURS[b][0] for b in names])
    n_customers = max(1, min(n_lines, n_lines // lines_per_customer))
    behaviour = rng.choice(len(names), size=n_customers, p=shares)
    weight = np.array([BEHAVIOURS[b][1] for b in names])[behaviour]
    # every customer has a line; the rest go to customers in proportion to their weight
    rest = rng.choice(n_customers, size=n_lines - n_customers, p=weight / weight.sum())
    customer = np.concatenate([np.arange(n_customers), rest])
    kind = behaviour[customer]
    lo = np.array([BEHAVIOURS[b][2] for b in names])[kind]
    hi = np.array([BEHAVIOURS[b][3] for b in names])[kind]
    day = lo + (rng.random(n_lines) * (hi - lo + 1)).astype(np.int64)
    # an order is a customer's day: its lines share an invoice
    order = np.unique(customer.astype(np.int64) * 1_000 + day, return_inverse=True)[1]
    invoice = (order + _FIRST_INVOICE).astype(str).astype(object)
    price = np.array([BEHAVIOURS[b][4] for b in names])[kind] * rng.lognormal(0, 0.4, n_lines)
    quantity = rng.integers(1, 13, size=n_lines)
    cancel = rng.random(n_lines) < 0.02
    quantity = np.where(cancel, -quantity, quantity)
    invoice[cancel] = "C" + (np.flatnonzero(cancel) + _FIRST_INVOICE + n_lines).astype(str)
    minute = rng.integers(8 * 60, 18 * 60, size=n_lines)
    stamp = _END - day.astype("timedelta64[D]") + minute.astype("timedelta64[m]")
    ids = (customer + _FIRST_CUSTOMER).astype(str)
    log = pd.DataFrame({
        "InvoiceNo": invoice,
        "InvoiceDate": np.datetime_as_string(stamp, unit="m"),
        "CustomerID": ids,
        "Quantity": quantity,
        "UnitPrice": np.round(price, 2),
    })
    log["InvoiceDate"] = log["InvoiceDate"].str.replace("T", " ", regex=False)
    truth = pd.Series(np.array(names)[behaviour],
                      index=(np.arange(n_customers) + _FIRST_CUSTOMER).astype(str),
                      name="behaviour")
    return log, truth
