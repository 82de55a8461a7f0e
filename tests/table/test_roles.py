from __future__ import annotations

import pytest

from custseg.table.fields import AGE, ID, INCOME, SCORE
from custseg.table.headers import ALIASES, normalise_header
from custseg.table.roles import (
    ALIASES_BY_ROLE,
    BIRTH_YEAR_HEADERS,
    CUSTOMER_SINCE_HEADERS,
    FAMILIES,
    ID_HEADERS,
    ROLES,
    UNIT_SUFFIXES,
    UNITS,
    RoleGuess,
    detect_role,
    family_of,
    is_birth_year_header,
    is_customer_since_header,
    is_id_header,
    names_year,
)


def test_the_roles():
    assert ROLES == ("age", "income", "spending_score", "recency", "frequency", "monetary",
                     "tenure", "count", "balance", "other")


@pytest.mark.parametrize(
    ("header", "role", "unit"),
    [
        # the well-known fields, through custseg.table.headers' table
        ("Age", "age", None), ("Age (years)", "age", "years"), ("Customer Age", "age", None),
        ("Annual Income (k$)", "income", "k$"), ("Income", "income", None),
        ("Annual Income ($)", "income", "$"), ("income_usd", "income", "$"),
        ("Spending Score (1-100)", "spending_score", None),
        ("EstimatedSalary", "income", None),
        # recency, frequency, monetary, tenure
        ("Recency", "recency", None), ("Days_Since_Last_Purchase", "recency", "days"),
        ("Recency (days)", "recency", "days"), ("Recency in days", "recency", "days"),
        ("Frequency", "frequency", None), ("NumPurchases", "frequency", None),
        ("PURCHASES_TRX", "frequency", None), ("Number of Orders", "frequency", None),
        ("Spent", "monetary", None), ("Total_Spend", "monetary", None),
        ("PURCHASES", "monetary", None), ("Monetary", "monetary", None),
        ("Tenure", "tenure", None), ("Tenure (months)", "tenure", "months"),
        ("tenure_years", "tenure", "years"), ("Months_on_book", "tenure", "months"),
        ("Customer_Since", "tenure", None), ("Dt_Customer", "tenure", None),
        # the columns custseg rfm writes
        ("recency_days", "recency", "days"), ("frequency", "frequency", None),
        ("monetary", "monetary", None), ("tenure_days", "tenure", "days"),
        ("avg_order_value", "monetary", None),
        # counts and balances
        ("Kidhome", "count", None), ("NumOfProducts", "count", None),
        ("NumWebVisitsMonth", "count", None), ("Balance", "balance", None),
        ("BALANCE", "balance", None), ("Balance ($)", "balance", "$"),
    ],
)
def test_aliases_with_and_without_a_unit(header, role, unit):
    assert detect_role(header) == RoleGuess(role, unit, "alias")


@pytest.mark.parametrize(
    ("header", "role"),
    [("MntWines", "monetary"), ("MntGoldProds", "monetary"), ("mnt_fish_products", "monetary"),
     ("NumWebPurchases", "frequency"), ("NumDealsPurchases", "frequency"),
     ("Num Catalog Purchases", "frequency")],
)
def test_header_families(header, role):
    assert detect_role(header) == RoleGuess(role, None, "family")


@pytest.mark.parametrize(
    ("header", "unit"),
    [
        ("Discount Percentage", None), ("Average Age", None), ("Income Tax Band", None),
        ("Management", None), ("Mnt", None), ("Amount", None), ("Mint Flavour", None),
        ("NumWebVisits", None), ("Num_Purchases_Web", None), ("Purchases_Numbers", None),
        ("Tenure_Bucket", None), ("BALANCE_FREQUENCY", None), ("PURCHASES_FREQUENCY", None),
        ("ONEOFF_PURCHASES", None), ("Years_Employed", None), ("CreditScore", None),
        ("Frequent Flyer", None), ("Recently Moved", None),
        # a unit the role cannot be in: no role, the unit as the header says
        ("Age (k$)", "k$"), ("Frequency (days)", "days"), ("Session length (days)", "days"),
        ("Credit Limit ($)", "$"),
    ],
)
def test_no_substring_guesses(header, unit):
    assert detect_role(header) == RoleGuess("other", unit, "none")


def test_every_well_known_alias_gives_its_role_and_income_unit():
    roles = {AGE: "age", INCOME: "income", SCORE: "spending_score"}
    for name, (field, unit) in ALIASES.items():
        if field in roles:
            guess = detect_role(name)
            assert guess.role == roles[field], name
            if field == INCOME:
                assert guess.unit == unit, name


def test_the_tables_are_consistent():
    assert {role for role, _ in ALIASES_BY_ROLE.values()} <= set(ROLES)
    assert set(UNIT_SUFFIXES.values()) <= set(UNITS)
    assert {unit for _, unit in ALIASES_BY_ROLE.values()} - {None} <= set(UNITS)
    for name in [*ALIASES_BY_ROLE, *ID_HEADERS, *BIRTH_YEAR_HEADERS, *CUSTOMER_SINCE_HEADERS]:
        assert normalise_header(name) == name  # every entry is a normalised header
    for family in FAMILIES:
        assert family_of(family.example) is family
        assert detect_role(family.example).source == "family"
    assert not set(ALIASES_BY_ROLE) & ID_HEADERS
    assert not set(ALIASES_BY_ROLE) & BIRTH_YEAR_HEADERS


@pytest.mark.parametrize(
    "header",
    ["CustomerID", "Customer ID", "CUST_ID", "ID", "Client", "RowNumber", "Row ID",
     "row_number", "index", "Unnamed: 0", "Client ID", "Member ID"],
)
def test_id_headers(header):
    assert is_id_header(header)
    assert detect_role(header).role == "other"


def test_id_headers_come_from_the_field_table_and_are_matched_whole():
    assert {name for name, (field, _) in ALIASES.items() if field == ID} <= ID_HEADERS
    for header in ["Identity", "Idea", "Customer Name", "Index Fund", "Rowing", "Clientele"]:
        assert not is_id_header(header), header


def test_birth_year_and_customer_since_headers():
    for header in ["Year_Birth", "Birth_Year", "YearOfBirth", "YOB", "birth_year", "BirthYear"]:
        assert is_birth_year_header(header), header
        assert detect_role(header).role == "other"
    assert not is_birth_year_header("Year")
    for header in ["Dt_Customer", "Customer_Since", "Signup_Date", "Join_Date",
                   "Registration_Date", "Date_Joined", "Member_Since", "Enrollment_Date"]:
        assert is_customer_since_header(header), header
        assert detect_role(header).role == "tenure"
    assert not is_customer_since_header("Date")


def test_year_as_a_whole_word():
    assert names_year("Year") and names_year("Model Year") and names_year("year_joined")
    assert names_year("YearOfBirth")
    assert not names_year("Years_Employed")
    assert not names_year("Yearly Income")
    assert not names_year("Yeary")
