from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from inspect_tables import bank, columns_of, credit_card, marketing

from custseg.errors import SchemaError
from custseg.table.inspect import KINDS, TRANSFORMS, ColumnInfo, Inspection, inspect_columns
from custseg.table.sample import make_customers


def inspect_frame(frame: pd.DataFrame, **options) -> Inspection:
    return inspect_columns(columns_of(frame), list(frame.columns), **options)


def by(inspection: Inspection, attribute: str) -> dict[str, object]:
    return {c.name: getattr(c, attribute) for c in inspection.columns}


def text(values) -> pa.Array:
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


# ------------------------------------------------------------ realistic tables


@pytest.fixture(scope="module")
def campaign() -> Inspection:
    return inspect_frame(marketing())


def test_marketing_kinds(campaign):
    mnt = ["MntWines", "MntFruits", "MntMeatProducts", "MntFishProducts", "MntSweetProducts",
           "MntGoldProds"]
    num = ["NumDealsPurchases", "NumWebPurchases", "NumCatalogPurchases", "NumStorePurchases"]
    flags = ["AcceptedCmp3", "AcceptedCmp4", "AcceptedCmp5", "AcceptedCmp1", "AcceptedCmp2",
             "Complain", "Response"]
    assert by(campaign, "kind") == {
        "ID": "id", "Year_Birth": "numeric", "Education": "categorical",
        "Marital_Status": "categorical", "Income": "numeric", "Kidhome": "numeric",
        "Teenhome": "numeric", "Dt_Customer": "date", "Recency": "numeric",
        **dict.fromkeys(mnt, "numeric"), **dict.fromkeys(num, "numeric"),
        "NumWebVisitsMonth": "numeric", **dict.fromkeys(flags, "flag"),
        "Z_CostContact": "constant", "Z_Revenue": "constant",
    }
    assert by(campaign, "role") == {
        **dict.fromkeys(campaign_names(campaign), "other"),
        "Income": "income", "Kidhome": "count", "Teenhome": "count", "Dt_Customer": "tenure",
        "Recency": "recency", **dict.fromkeys(mnt, "monetary"),
        **dict.fromkeys(num, "frequency"), "NumWebVisitsMonth": "count",
    }
    assert by(campaign, "transform") == {
        **dict.fromkeys(campaign_names(campaign), "none"),
        "Income": "log1p", **dict.fromkeys(mnt, "log1p"), "NumDealsPurchases": "log1p",
        "NumCatalogPurchases": "log1p",
    }
    assert campaign.n_rows == 2_240
    assert campaign.column("Year_Birth").year
    assert [c.name for c in campaign.columns if c.year] == ["Year_Birth"]


def campaign_names(inspection: Inspection) -> list[str]:
    return [c.name for c in inspection.columns]


def test_marketing_details(campaign):
    income = campaign.column("Income")
    assert (income.missing, income.unit, income.invalid) == (24 / 2_240, None, 0)
    assert income.skew == pytest.approx(7.11, abs=0.01)
    education = campaign.column("Education")
    assert education.distinct == 7
    assert ("Absurd", 2) in education.top and ("YOLO", 2) in education.top
    assert education.top[0] == ("Graduation", 1_079)
    joined = campaign.column("Dt_Customer")
    assert joined.date_format.pattern == "%d-%m-%Y"
    assert (joined.invalid, joined.skew, joined.distinct) == (0, None, 670)
    assert campaign.column("Response").top == (("0", 1_898), ("1", 342))
    constant = campaign.column("Z_CostContact")
    assert (constant.distinct, constant.skew, constant.transform) == (1, None, "none")
    assert campaign.column("Kidhome").distinct == 3
    assert campaign.column("ID").distinct == 2_240


def test_marketing_suggestions(campaign):
    assert campaign.suggested_derivations == (
        "age = years_since(Year_Birth)",
        "tenure_days = days_since(Dt_Customer)",
        "total_spend = sum(`Mnt*`)",
    )
    assert campaign.suggested_features == (
        "age", "Income", "Kidhome", "Teenhome", "tenure_days", "Recency", "total_spend",
        "NumDealsPurchases", "NumWebPurchases", "NumCatalogPurchases", "NumStorePurchases",
        "NumWebVisitsMonth",
    )
    assert campaign.profile_by == (
        "Education", "Marital_Status", "AcceptedCmp3", "AcceptedCmp4", "AcceptedCmp5",
        "AcceptedCmp1", "AcceptedCmp2", "Complain", "Response",
    )


def test_credit_card_table():
    result = inspect_frame(credit_card())
    numeric = [c for c in credit_card().columns if c != "CUST_ID"]
    assert len(numeric) == 17
    assert by(result, "kind") == {"CUST_ID": "id", **dict.fromkeys(numeric, "numeric")}
    assert by(result, "role") == {
        **dict.fromkeys(["CUST_ID", *numeric], "other"), "BALANCE": "balance",
        "PURCHASES": "monetary", "PURCHASES_TRX": "frequency", "TENURE": "tenure",
    }
    unskewed = ["BALANCE_FREQUENCY", "PURCHASES_FREQUENCY", "PURCHASES_INSTALLMENTS_FREQUENCY",
                "TENURE"]
    assert by(result, "transform") == {
        "CUST_ID": "none", **dict.fromkeys(numeric, "log1p"), **dict.fromkeys(unskewed, "none"),
    }
    tenure = result.column("TENURE")
    assert tenure.distinct == 7 and tenure.skew < -1  # most share 12: skewed left, no log
    assert result.column("MINIMUM_PAYMENTS").missing == pytest.approx(0.036, abs=0.01)
    assert result.column("CREDIT_LIMIT").missing == 1 / 2_000
    assert result.suggested_features == tuple(numeric)
    assert result.suggested_derivations == () and result.profile_by == ()


def test_bank_table():
    result = inspect_frame(bank())
    assert by(result, "kind") == {
        "RowNumber": "id", "CustomerId": "id", "Surname": "free_text", "CreditScore": "numeric",
        "Geography": "categorical", "Gender": "flag", "Age": "numeric", "Tenure": "numeric",
        "Balance": "numeric", "NumOfProducts": "numeric", "HasCrCard": "flag",
        "IsActiveMember": "flag", "EstimatedSalary": "numeric", "Exited": "flag",
    }
    assert {k: v for k, v in by(result, "role").items() if v != "other"} == {
        "Age": "age", "Tenure": "tenure", "Balance": "balance", "NumOfProducts": "count",
        "EstimatedSalary": "income",
    }
    assert set(by(result, "transform").values()) == {"none"}
    assert result.suggested_features == ("CreditScore", "Age", "Tenure", "Balance",
                                         "NumOfProducts", "EstimatedSalary")
    assert result.profile_by == ("Geography", "Gender", "HasCrCard", "IsActiveMember",
                                 "Exited")
    assert result.column("Geography").top[0] == ("France", 983)
    assert result.column("Gender").top == (("Male", 1_085), ("Female", 915))


def test_demo_data():
    """Gender, with two values, is a flag: profiled as a share, never given a level."""
    result = inspect_frame(make_customers(300).astype(str))
    assert [(c.name, c.kind, c.role) for c in result.columns] == [
        ("customer_id", "id", "other"), ("gender", "flag", "other"),
        ("age", "numeric", "age"), ("annual_income", "numeric", "income"),
        ("spending_score", "numeric", "spending_score"),
    ]
    assert result.suggested_features == ("age", "annual_income", "spending_score")
    assert result.profile_by == ("gender",)
    assert result.suggested_derivations == ()


def test_mall_table(mall_path):
    result = inspect_frame(pd.read_csv(mall_path, dtype=str, keep_default_na=False))
    assert [(c.kind, c.role, c.unit) for c in result.columns] == [
        ("id", "other", None), ("flag", "other", None), ("numeric", "age", None),
        ("numeric", "income", "k$"), ("numeric", "spending_score", None),
    ]
    assert result.suggested_features == ("Age", "Annual Income (k$)", "Spending Score (1-100)")


# --------------------------------------------------------------------- JSON


def test_json_contract(campaign):
    data = campaign.to_json_dict()
    assert list(data)[:4] == ["n_rows", "columns", "suggested_features",
                              "suggested_derivations"]
    for column in data["columns"]:
        assert list(column)[:7] == ["name", "kind", "role", "missing", "distinct", "skew",
                                    "transform"]
    income = data["columns"][4]
    assert income["name"] == "Income" and income["missing"] == 24 / 2_240
    assert data["columns"][0]["skew"] is None
    assert data["columns"][7]["date_format"] == "%d-%m-%Y"
    assert data["profile_by"][0] == "Education"
    text = json.dumps(data, allow_nan=False)  # raises on a NaN or an infinity
    assert json.loads(text) == data


def test_json_never_holds_nan_or_infinity():
    info = ColumnInfo(name="x", position=0, kind="numeric", role="other", unit=None,
                      missing=float("nan"), distinct=3, skew=float("inf"), transform="none")
    assert (info.to_json_dict()["missing"], info.to_json_dict()["skew"]) == (None, None)
    huge = inspect_columns([text(["1e308", "-1e308", "1e308", "0"])], ["x"])
    json.dumps(huge.to_json_dict(), allow_nan=False)


# --------------------------------------------------------------------- kinds


def test_numbers_need_95_percent_of_the_given_cells():
    mostly = inspect_columns([text([str(i) for i in range(96)] + ["x"] * 4 + [""] * 50)],
                             ["Score"])
    info = mostly.columns[0]
    assert (info.kind, info.invalid, info.missing) == ("numeric", 4, 50 / 150)
    not_enough = inspect_columns([text([str(i) for i in range(90)] + ["x"] * 10)], ["Score"])
    assert not_enough.columns[0].kind == "free_text"


def test_money_and_decimal_commas():
    money = inspect_columns([text(["$1,234.50", "$20k", "$15,000", "99", "$3"])], ["Spent"])
    assert (money.columns[0].kind, money.columns[0].invalid) == ("numeric", 0)
    plain = inspect_columns([text(["$1,234.50", "$20k", "15", "99", "3"])], ["Score"])
    assert plain.columns[0].kind == "categorical"  # not money: the $ cells do not parse
    comma = inspect_columns([text(["30,5", "1.200,25", "7", "8,5"])], ["Balance"], decimal=",")
    assert comma.columns[0].kind == "numeric"


def one(values, name: str = "x") -> ColumnInfo:
    return inspect_columns([text(values)], [name]).columns[0]


def test_constants_and_flags():
    cases = {
        "Z_CostContact": ["3"] * 10, "Response": ["0", "1", "0.0", "1", None],
        "Churned": ["yes", "no", "yes", ""], "Empty": [None, "", "NA", "?"],
        "Same": ["x", "x", "NA", " x "],
    }
    infos = {name: one(values, name) for name, values in cases.items()}
    assert {n: i.kind for n, i in infos.items()} == {
        "Z_CostContact": "constant", "Response": "flag", "Churned": "flag",
        "Empty": "constant", "Same": "constant"}
    assert infos["Response"].top == (("0", 2), ("1", 2))
    assert infos["Churned"].top == (("yes", 2), ("no", 1))
    assert (infos["Empty"].missing, infos["Empty"].distinct) == (1.0, 0)
    assert {i.transform for i in infos.values()} == {"none"}
    assert {i.skew for i in infos.values()} == {None}
    flags = inspect_columns([text(cases["Response"][:4]), text(cases["Churned"])],
                            ["Response", "Churned"])
    assert flags.suggested_features == ()
    assert flags.profile_by == ("Response", "Churned")


def test_transforms():
    rng = np.random.default_rng(3)
    spend = rng.lognormal(3, 1, 1_000).round(2)
    profit = np.concatenate([rng.normal(0, 1, 990), [-400] * 10]).round(3)
    loyal = np.where(rng.random(1_000) < 0.9, 12, rng.integers(1, 12, 1_000))
    even = rng.normal(50, 10, 1_000).round(1)
    result = inspect_columns([text(spend), text(profit), text(loyal), text(even)],
                             ["Spend", "Profit", "Months", "Score"])
    assert by(result, "transform") == {"Spend": "log1p", "Profit": "signed_log1p",
                                       "Months": "none", "Score": "none"}
    for column, values in zip(result.columns, [spend, profit, loyal, even], strict=True):
        assert column.skew == pytest.approx(scipy.stats.skew(values))


def test_skew_needs_three_values():
    result = inspect_columns([text(["1", "2", "5", None])], ["x"])
    assert result.columns[0].skew == pytest.approx(scipy.stats.skew([1, 2, 5]))
    two = inspect_columns([text(["1", "5", ""])], ["x"])
    assert two.columns[0].kind == "flag" and two.columns[0].skew is None


def test_year_columns_stay_numeric_and_are_never_features():
    rng = np.random.default_rng(4)
    years = rng.integers(1990, 2021, 500)
    result = inspect_columns(
        [text(years), text(years - 40), text(rng.integers(0, 40, 500)), text(years * 10)],
        ["Model Year", "YOB", "Years_Employed", "Year Code"],
    )
    assert by(result, "year") == {"Model Year": True, "YOB": True, "Years_Employed": False,
                                  "Year Code": False}
    assert set(by(result, "kind").values()) == {"numeric"}
    assert result.columns[0].transform == "none"
    assert result.suggested_features == ("age", "Years_Employed", "Year Code")
    assert result.suggested_derivations == ("age = years_since(YOB)",)
    assert [c["year"] for c in json.loads(json.dumps(result.to_json_dict()))["columns"]] == [
        True, True, False, False]


def test_ids_by_header_and_by_values():
    n = 1_000
    rng = np.random.default_rng(5)
    result = inspect_columns(
        [text(range(1, n + 1)), text(rng.permutation(n) + 500), text(rng.choice(10**9, n)),
         text([f"{i:06d}" for i in rng.choice(10**6, n, replace=False)]),
         text([f"C{10_001 + i}" for i in range(n)]),
         text([f"a note about customer {i}" for i in range(n)]),
         text(rng.integers(0, 5, n))],
        ["Key", "Code", "Revenue", "Account", "Ref", "Notes", "ID"],
    )
    assert by(result, "kind") == {"Key": "id", "Code": "id", "Revenue": "numeric",
                                  "Account": "id", "Ref": "id", "Notes": "free_text",
                                  "ID": "id"}
    assert result.suggested_features == ("Revenue",)
    # a small table's distinct values are no evidence: 10 rows
    small = inspect_columns([text(range(10)), text([f"A{i}" for i in range(10)])],
                            ["Kids", "Ref"])
    assert by(small, "kind") == {"Kids": "numeric", "Ref": "categorical"}
    # a column with a role is not an id however distinct its values
    recency = inspect_columns([text(range(1, 101))], ["Recency"])
    assert recency.columns[0].kind == "numeric"


def test_categorical_or_free_text():
    rng = np.random.default_rng(6)
    cities = [f"City {i}" for i in range(60)]
    a = one(rng.choice(cities, 2_000))  # 60 values: at most 5% of the rows
    assert (a.kind, len(a.top)) == ("categorical", 20)
    assert one(rng.choice(cities, 500)).kind == "free_text"
    assert one(rng.choice(cities[:50], 500)).kind == "categorical"
    assert inspect_columns([text(rng.choice(cities, 2_000))], ["A"]).profile_by == ()


def test_dates_in_a_table():
    signup = one(["31/02/2020", "15/01/2020", "01/12/2019", "NA"] * 30, "Signup_Date")
    assert (signup.kind, signup.invalid, signup.missing) == ("date", 30, 0.25)
    assert signup.role == "tenure"
    seen = one(["2020-01-15"] * 57 + ["15/01/2020"] * 3, "Seen")
    assert (seen.kind, seen.invalid, seen.date_format.kind) == ("date", 3, "iso")
    mixed = one(["2020-01-15"] * 50 + ["hello"] * 10, "Mixed")
    assert mixed.kind == "flag"  # 83% dates: not a date column; two values
    result = inspect_columns([text(["15/01/2020", "01/12/2019"] * 30), text([1, 5, 9] * 20)],
                             ["Signup_Date", "Score"])
    assert result.suggested_derivations == ("tenure_days = days_since(Signup_Date)",)
    assert result.suggested_features == ("tenure_days", "Score")
    with_tenure = inspect_columns([text(["15/01/2020", "01/12/2019", "15/01/2020"]),
                                   text([1, 5, 9])],
                                  ["Signup_Date", "Tenure"])
    assert with_tenure.columns[0].kind == "date"
    assert with_tenure.suggested_derivations == ()


def test_an_undecidable_date_column_is_refused_until_its_format_is_given():
    column = text(["04/05/2014", "01/02/2013", "03/03/2015"] * 10)
    with pytest.raises(SchemaError, match="'Joined': dates such as '04/05/2014' can be read "
                       "day-first or month-first") as caught:
        inspect_columns([column], ["Joined"])
    assert caught.value.key == "Joined"
    given = inspect_columns([column], ["Joined"], date_formats={"Joined": "%m/%d/%Y"})
    assert given.columns[0].date_format.pattern == "%m/%d/%Y"
    assert given.columns[0].invalid == 0
    # a given format makes a column a date, whatever it looks like
    compact = inspect_columns([text(["20140304", "20151231", "2016"])], ["d"],
                              date_formats={"d": "%Y%m%d"})
    assert (compact.columns[0].kind, compact.columns[0].invalid) == ("date", 1)


def test_settings_are_checked():
    with pytest.raises(SchemaError, match="there is no column 'Joined' to give a setting for; "
                       "the columns are 'a'") as caught:
        inspect_columns([text(["1"])], ["a"], date_formats={"Joined": "%Y"})
    assert caught.value.parameter == "date_formats"
    with pytest.raises(SchemaError, match="'wealth' for column 'a' is not one of age, income"):
        inspect_columns([text(["1"])], ["a"], roles={"a": "wealth"})
    with pytest.raises(SchemaError, match="'furlongs' for column 'a' is not one of years"):
        inspect_columns([text(["1"])], ["a"], units={"a": "furlongs"})
    with pytest.raises(ValueError, match="columns of different lengths"):
        inspect_columns([text(["1"]), text(["1", "2"])], ["a", "b"])
    with pytest.raises(ValueError, match="2 columns for a header of 1"):
        inspect_columns([text(["1"]), text(["2"])], ["a"])


def test_roles_units_and_ids_can_be_set():
    values = text(range(100))
    result = inspect_columns([values, values, values], ["Months", "Spend", "Key"],
                             roles={"Months": "tenure"}, units={"Months": "months"},
                             id_columns=["Spend"])
    months, spend, key = result.columns
    assert (months.role, months.unit, months.role_source) == ("tenure", "months", "given")
    assert spend.kind == "id" and key.kind == "id"


def test_derivations_are_not_suggested_where_their_result_exists():
    years = text(np.arange(1950, 2000))
    with_age = inspect_columns([years, text(np.arange(50) + 20)], ["Year_Birth", "Age"])
    assert with_age.suggested_derivations == ()
    spend = [text(np.arange(50) * k) for k in (1, 2)]
    totals = inspect_columns([*spend, text(np.arange(50) * 3)],
                             ["MntWines", "MntFruits", "Total_Spend"])
    assert totals.suggested_derivations == ()
    assert totals.suggested_features == ("MntWines", "MntFruits", "Total_Spend")
    one = inspect_columns([spend[0]], ["MntWines"])
    assert one.suggested_derivations == () and one.suggested_features == ("MntWines",)


def test_the_sum_is_written_over_the_headers_as_written():
    spend = [text(np.arange(50) * k) for k in (1, 2, 3)]
    snake = inspect_columns(spend, ["mnt_wines", "mnt_fruits", "mnt_meat"])
    assert snake.suggested_derivations == ("total_spend = sum(`mnt*`)",)
    assert snake.suggested_features == ("total_spend",)
    # another header the glob would match: the columns are listed instead
    listed = inspect_columns([*spend[:2], text(["a", "b"] * 25)],
                             ["MntWines", "MntFruits", "Mntr Notes"])
    assert listed.suggested_derivations == ("total_spend = sum(`MntWines`, `MntFruits`)",)
    spaced = inspect_columns([text(np.arange(1950, 2000))], ["Birth Year"])
    assert spaced.suggested_derivations == ("age = years_since(`Birth Year`)",)


def test_features_are_capped_and_need_valid_rows():
    rng = np.random.default_rng(7)
    columns = [text(rng.normal(0, 1, 100).round(3)) for _ in range(25)]
    columns[3] = text(list(rng.normal(0, 1, 40).round(3)) + [""] * 60)
    names = [f"X{i}" for i in range(25)]
    result = inspect_columns(columns, names)
    assert result.suggested_features == tuple(n for n in names if n != "X3")[:20]


# -------------------------------------------------------------------- hostile


def test_empty_tables():
    assert inspect_columns([], []).to_json_dict() == {
        "n_rows": 0, "columns": [], "suggested_features": [], "suggested_derivations": [],
        "profile_by": [], "warnings": []}
    header_only = inspect_columns([pa.array([], pa.string())] * 2, ["ID", "Age"])
    assert [(c.kind, c.missing, c.distinct) for c in header_only.columns] == [
        ("id", 0.0, 0), ("constant", 0.0, 0)]
    nulls = inspect_columns([pa.nulls(5), pa.array([None] * 5, pa.large_string())], ["a", "b"])
    assert [(c.kind, c.missing) for c in nulls.columns] == [("constant", 1.0)] * 2


def test_any_column_type():
    result = inspect_columns(
        [pa.chunked_array([["1", "2"], ["3", None]]), pa.array([1.5, 2.5, 9.0, None]),
         pa.array(["a", "b", "a", "c"]).dictionary_encode(),
         pa.array(["x", None, "y", "z"], type=pa.large_string())],
        ["n", "f", "cat", "big"],
    )
    assert by(result, "kind") == {"n": "numeric", "f": "numeric", "cat": "categorical",
                                  "big": "categorical"}


def test_a_million_distinct_ids():
    n = 1_000_000
    ids = pc.binary_join_element_wise("C", pc.cast(pa.array(np.arange(n)), pa.string()), "")
    numbers = pc.cast(pa.array(np.arange(n) * 7 % n), pa.string())
    result = inspect_columns([ids, numbers], ["Ref", "Key"])
    assert [(c.kind, c.distinct) for c in result.columns] == [("id", n), ("id", n)]


def test_hostile_cells():
    result = inspect_columns(
        [text(["\x1b[2J", "=cmd|' /C calc'!A0", "\u202e", "nan", "inf", "-inf"] * 10),
         text(["inf", "1e400", "-1e400"] + [str(i) for i in range(57)]),
         text(["1e308", "-1e308"] * 30)],
        ["a", "b", "c"],
    )
    a, b, c = result.columns
    assert (a.kind, a.distinct, a.missing) == ("categorical", 5, 1 / 6)
    assert a.top[0] == ("\x1b[2J", 10)  # kept as written: the faces make text safe
    assert (b.kind, b.invalid, b.distinct) == ("numeric", 3, 57)  # infinities: not numbers
    assert (c.kind, c.skew) == ("flag", None)
    json.dumps(result.to_json_dict(), allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=3,
                max_size=60))
def test_skew_is_fisher_pearson(values):
    result = inspect_columns([text([repr(v) for v in values])], ["Amount"])
    info = result.columns[0]
    distinct = len(set(values))
    if distinct < 3 or np.std(values) < 1e-6 * max(1.0, float(np.max(np.abs(values)))):
        return
    assert info.kind == "numeric"
    assert info.skew == pytest.approx(scipy.stats.skew(values), rel=1e-6, abs=1e-6)


def test_money_values_are_kept_as_written():
    flag = one(["$1,000", "1000", "250", "$250"], "Spent")
    assert (flag.kind, flag.top) == ("flag", (("250", 2), ("1000", 2)))  # ties: smaller first
    plain = one(["0", "1", "0", "1"], "Balance")
    assert plain.top == (("0", 2), ("1", 2))


_CELLS = st.one_of(
    st.sampled_from(["", " ", "NA", "?", "1", "2.5", "-3", "$4", "1,000", "x", "yes", "no",
                     "04/05/2014", "13/05/2014", "05/13/2014", "2014-03-04", "31/02/2020",
                     "1957", "1957.0", "inf", "1e400", "\x00", "é", "C10001"]),
    st.text(max_size=8),
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 40).flatmap(
    lambda n: st.lists(st.lists(_CELLS, min_size=n, max_size=n), min_size=1, max_size=4)),
    st.lists(st.sampled_from(["ID", "Age", "Income", "MntWines", "MntFruits", "Year_Birth",
                              "Dt_Customer", "Notes", "Year", "Tenure"]), min_size=4,
             max_size=4))
def test_any_cells_give_a_sound_inspection(columns, names):
    header = names[:len(columns)]
    try:
        result = inspect_columns([text(c) for c in columns], header)
    except SchemaError as error:  # a date column whose day/month order cannot be told
        assert error.parameter == "date_formats"
        return
    n = len(columns[0])
    assert result.n_rows == n
    derived = {"age", "tenure_days", "total_spend"}
    assert set(result.suggested_features) <= set(header) | derived
    for info in result.columns:
        assert info.kind in KINDS and info.transform in TRANSFORMS
        assert 0.0 <= info.missing <= 1.0 and 0 <= info.distinct <= n
        assert 0 <= info.invalid <= n
        assert info.skew is None or np.isfinite(info.skew)
        if info.kind != "numeric":
            assert info.skew is None and info.transform == "none"
    json.dumps(result.to_json_dict(), allow_nan=False)
