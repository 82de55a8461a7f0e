"""What a column measures (its role) and in what unit, from its header: explicit tables,
matched on the whole normalised header, never by substring.

A header is read as a *stem* and an optional *unit suffix*: ``"Tenure (months)"``
normalises to ``tenure_months``, the stem ``tenure`` is in the alias table (role tenure)
and the suffix ``months`` in the unit table. Both are whole-word lookups: "Discount
Percentage" is not age, "Management" is not a spending column, "Tenure_Bucket" is not
tenure (``bucket`` is no unit, and a bucket is a category, not a duration). Two families
of headers are recognised by an explicit pattern on the normalised header, each listed in
:data:`FAMILIES`: ``mnt_*`` (amounts spent per product line, ``MntWines``) and
``num_*_purchases`` (purchases per channel, ``NumWebPurchases``).

A unit belongs to the column, from its header or from the user, not to the role: one
table's tenure is in months, another's in years. The user can set any role.

Also here: the id headers (for kind detection), the birth-year headers and the
customer-since date headers (for the derivations suggested from them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from custseg.table.fields import AGE, ID, INCOME, SCORE
from custseg.table.headers import ALIASES, normalise_header

ROLES: tuple[str, ...] = (
    "age", "income", "spending_score", "recency", "frequency", "monetary", "tenure",
    "count", "balance", "other",
)

#: The well-known fields' roles (the header alias table of custseg.table.headers).
FIELD_ROLES: Mapping[str, str] = {AGE: "age", INCOME: "income", SCORE: "spending_score"}

# Normalised header -> (role, unit the header itself implies, or None).
_ALIASES: dict[str, tuple[str, str | None]] = {
    name: (FIELD_ROLES[field], unit)
    for name, (field, unit) in ALIASES.items() if field in FIELD_ROLES
}
_ALIASES["age_years"] = ("age", "years")
_ALIASES["age_yrs"] = ("age", "years")
_ALIASES["age_in_years"] = ("age", "years")
_ALIASES["age_y"] = ("age", "years")


def _alias(role: str, unit: str | None, *names: str) -> None:
    for name in names:
        if name in _ALIASES and _ALIASES[name] != (role, unit):
            raise ValueError(f"header alias {name!r} given two roles")  # a table typo
        _ALIASES[name] = (role, unit)


_alias("income", None, "salary", "annual_salary", "estimated_salary", "household_income")
_alias("recency", None, "recency", "customer_recency")
_alias("recency", "days", "days_since_last_purchase", "days_since_last_order",
       "days_since_last_transaction", "days_since_purchase")
_alias("frequency", None,
       "frequency", "num_purchases", "number_of_purchases", "n_purchases", "purchase_count",
       "purchases_count", "num_orders", "number_of_orders", "n_orders", "order_count",
       "orders_count", "num_transactions", "number_of_transactions", "transaction_count",
       "purchases_trx")
_alias("monetary", None,
       "monetary", "monetary_value", "spent", "total_spend", "total_spent", "total_spending",
       "amount_spent", "purchases", "avg_order_value", "average_order_value")
_alias("tenure", None, "tenure", "customer_tenure", "customer_since")
_alias("tenure", "months", "months_on_book", "months_as_customer")
_alias("tenure", "days", "days_as_customer")
_alias("tenure", "years", "years_as_customer")
_alias("count", None,
       "kidhome", "teenhome", "children", "num_children", "number_of_children",
       "dependents", "num_dependents", "dependent_count", "household_size", "family_size",
       "num_of_products", "number_of_products", "num_web_visits_month")
_alias("balance", None, "balance", "account_balance", "current_balance", "avg_balance",
       "average_balance")

#: Birth-year headers (normalised): a year column from which age is derived.
BIRTH_YEAR_HEADERS: frozenset[str] = frozenset({
    "year_birth", "birth_year", "year_of_birth", "yob", "birthyear",
})
#: Customer-since date headers (normalised): a date from which tenure is derived.
CUSTOMER_SINCE_HEADERS: frozenset[str] = frozenset({
    "dt_customer", "customer_since", "signup_date", "sign_up_date", "join_date",
    "joined_date", "date_joined", "registration_date", "date_registered", "member_since",
    "enrollment_date", "enrolment_date", "customer_since_date",
})
_alias("tenure", None, *CUSTOMER_SINCE_HEADERS)

#: Header alias table (normalised header -> role, unit), read-only, for docs and tests.
ALIASES_BY_ROLE: Mapping[str, tuple[str, str | None]] = _ALIASES

#: Id headers (normalised): custseg.table.headers' customer-id aliases, plus the row
#: numbers and index columns that exports and pandas write.
ID_HEADERS: frozenset[str] = frozenset(
    {name for name, (field, _) in ALIASES.items() if field == ID}
    | {
        "client", "client_no", "client_number", "user_id", "account_id", "account_no",
        "account_number", "household_id", "row_number", "row_num", "row_no", "row_id",
        "row", "index", "idx", "unnamed_0", "no", "s_no", "sl_no", "sr_no", "serial_no",
        "serial_number", "record_id", "record_number",
    }
)

#: Unit suffixes of a normalised header (its last words) -> the unit they name.
UNIT_SUFFIXES: Mapping[str, str] = {
    "in_years": "years", "years": "years", "yrs": "years",
    "in_months": "months", "months": "months", "mths": "months",
    "in_weeks": "weeks", "weeks": "weeks",
    "in_days": "days", "days": "days",
    "kusd": "k$", "k_usd": "k$", "usd_k": "k$", "in_kusd": "k$",
    "usd": "$", "in_usd": "$", "dollars": "$", "in_dollars": "$",
    "pct": "%", "percent": "%", "in_percent": "%",
}
_TIME_UNITS = frozenset({"years", "months", "weeks", "days"})
_MONEY_UNITS = frozenset({"k$", "$"})
#: Which units a role's values may be in (a suffix outside them is not read as that role).
ROLE_UNITS: Mapping[str, frozenset[str]] = {
    "age": frozenset({"years", "months"}),
    "income": _MONEY_UNITS, "monetary": _MONEY_UNITS, "balance": _MONEY_UNITS,
    "recency": _TIME_UNITS, "tenure": _TIME_UNITS,
    "spending_score": frozenset(), "frequency": frozenset(), "count": frozenset(),
    "other": frozenset(UNIT_SUFFIXES.values()),
}
#: Every unit a column may be said to be in.
UNITS: tuple[str, ...] = ("years", "months", "weeks", "days", "k$", "$", "%")


@dataclass(frozen=True)
class Family:
    """Headers recognised by a pattern on the normalised header, not one by one."""

    glob: str  # as documented: ``mnt_*``
    regex: re.Pattern[str]
    role: str
    example: str


#: The header families (each documented and tested).
FAMILIES: tuple[Family, ...] = (
    Family("mnt_*", re.compile(r"mnt_[a-z0-9_]+"), "monetary", "MntWines"),
    Family("num_*_purchases", re.compile(r"num_[a-z0-9_]+_purchases"), "frequency",
           "NumWebPurchases"),
)


@dataclass(frozen=True)
class RoleGuess:
    """A header's role and unit, and how it was found: ``"alias"`` (the alias table,
    with or without a unit suffix), ``"family"`` (a :data:`FAMILIES` pattern) or
    ``"none"`` (role ``other``; a unit suffix may still give the unit)."""

    role: str
    unit: str | None
    source: str


def _split_unit(name: str) -> tuple[str, str | None]:
    """``(stem, unit)`` for a normalised header ending in a unit suffix (the longest)."""
    for suffix in sorted(UNIT_SUFFIXES, key=len, reverse=True):
        if name.endswith("_" + suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix) - 1], UNIT_SUFFIXES[suffix]
    return name, None


def detect_role(header: object) -> RoleGuess:
    """The role and unit a header names (see the module's docstring)."""
    name = normalise_header(header)
    hit = _ALIASES.get(name)
    if hit is not None:
        return RoleGuess(hit[0], hit[1], "alias")
    stem, unit = _split_unit(name)
    hit = _ALIASES.get(stem)
    if unit is not None and hit is not None and hit[1] is None \
            and unit in ROLE_UNITS[hit[0]]:
        return RoleGuess(hit[0], unit, "alias")
    for family in FAMILIES:
        if family.regex.fullmatch(name):
            return RoleGuess(family.role, None, "family")
    return RoleGuess("other", unit, "none")


def family_of(header: object) -> Family | None:
    """The header family a header belongs to, if any."""
    name = normalise_header(header)
    return next((f for f in FAMILIES if f.regex.fullmatch(name)), None)


def is_id_header(header: object) -> bool:
    return normalise_header(header) in ID_HEADERS


def is_birth_year_header(header: object) -> bool:
    return normalise_header(header) in BIRTH_YEAR_HEADERS


def is_customer_since_header(header: object) -> bool:
    return normalise_header(header) in CUSTOMER_SINCE_HEADERS


def names_year(header: object) -> bool:
    """Whether the normalised header has "year" as one of its words ("Model Year",
    "year_joined"; not "Years_Employed", a duration)."""
    return "year" in normalise_header(header).split("_")
