"""``custseg inspect`` and ``custseg.inspect``: what each column is, what to segment on."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from cli_helpers import one_error_line, run
from inspect_tables import bank, marketing

import custseg
from custseg.errors import SchemaError
from custseg.io.source import ReadLimits, read_table


@pytest.fixture(scope="module")
def campaign_tsv(tmp_path_factory):
    path = tmp_path_factory.mktemp("inspect") / "marketing_campaign.tsv"
    marketing().to_csv(path, sep="\t", index=False)
    return path


def test_json(campaign_tsv, capsys):
    code, out, err = run(capsys, "inspect", campaign_tsv, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert list(data)[:4] == ["n_rows", "columns", "suggested_features",
                              "suggested_derivations"]
    assert data["n_rows"] == 2_240
    assert [c["name"] for c in data["columns"]] == list(marketing().columns)
    income = next(c for c in data["columns"] if c["name"] == "Income")
    assert {k: income[k] for k in ("kind", "role", "missing", "transform", "unit")} == {
        "kind": "numeric", "role": "income", "missing": 24 / 2_240, "transform": "log1p",
        "unit": "$"}
    assert data["suggested_derivations"] == [
        "age = years_since(Year_Birth)", "tenure_days = days_since(Dt_Customer)",
        "total_spend = sum(`Mnt*`)"]
    assert data["suggested_features"][:3] == ["age", "Income", "Kidhome"]
    assert "NaN" not in out and "Infinity" not in out
    # an income in dollars under a header with no unit is read in dollars, and said
    assert err.strip().splitlines() == [
        "warning: the income column 'Income' has no unit in its header and most of its "
        "values are above 1,000: read as dollars and converted to k$. If they are thousands "
        "of dollars, state the unit 'k$'"]


def test_the_income_unit_given_is_the_columns(campaign_tsv, capsys):
    code, out, err = run(capsys, "inspect", campaign_tsv, "--json", "--income-unit", "$")
    assert code == 0 and err == ""
    income = next(c for c in json.loads(out)["columns"] if c["name"] == "Income")
    assert income["unit"] == "$"


def test_readable_table(campaign_tsv, capsys):
    code, out, _ = run(capsys, "inspect", campaign_tsv)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "2,240 rows, 29 columns"
    assert lines[1].split() == ["column", "kind", "role", "unit", "missing", "distinct", "skew",
                                "transform"]
    assert lines[6].split() == ["Income", "numeric", "income", "$", "1.1%", "2,168", "7.11",
                                "log1p"]
    assert lines[9].split() == ["Dt_Customer", "date", "tenure", "-", "0.0%", "670", "-",
                                "none", "(%d-%m-%Y)"]
    assert "suggested features: age, Income, Kidhome, Teenhome, tenure_days, Recency, " \
        "total_spend, NumDealsPurchases" in out
    assert "  total_spend = sum(`Mnt*`)" in lines
    assert lines[-1].startswith("profile by: Education, Marital_Status, AcceptedCmp3")


def test_demo_data(tmp_path, capsys):
    path = tmp_path / "demo.csv"
    assert run(capsys, "demo-data", "-n", 200, "-o", path)[0] == 0
    code, out, err = run(capsys, "inspect", path, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert [(c["name"], c["kind"], c["role"]) for c in data["columns"]] == [
        ("customer_id", "id", "other"), ("gender", "flag", "other"), ("age", "numeric", "age"),
        ("annual_income", "numeric", "income"), ("spending_score", "numeric", "spending_score")]
    assert data["suggested_features"] == ["age", "annual_income", "spending_score"]
    assert data["profile_by"] == ["gender"]


AMBIGUOUS = "ID,Joined,Score\n1,04/05/2014,3\n2,01/02/2013,5\n3,03/03/2015,9\n"


def test_an_undecidable_date_column_is_one_error_line_naming_the_option(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text(AMBIGUOUS)
    line = one_error_line(*run(capsys, "inspect", path)[::2])
    assert line == (
        "error: 'Joined': dates such as '04/05/2014' can be read day-first or month-first "
        "and no cell tells which; give the column's format: '%d/%m/%Y' (day first) or "
        "'%m/%d/%Y' (month first) (--date-format Joined=FORMAT)")
    code, out, err = run(capsys, "inspect", path, "--json", "--date-format", "Joined=%d/%m/%Y")
    assert code == 0, err
    joined = json.loads(out)["columns"][1]
    assert (joined["kind"], joined["date_format"], joined["invalid"]) == ("date", "%d/%m/%Y", 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date-format", "Joined"], "--date-format 'Joined' should look like COLUMN=FORMAT"),
        (["--date-format", "Joined=dd/mm"], "should look like COLUMN=FORMAT"),
        (["--date-format", "Joined=%d/%m/%Y", "--date-format", "Joined=%m/%d/%Y"],
         "--date-format 'Joined' is given twice"),
        (["--date-format", "Signup=%d/%m/%Y"],
         "there is no column 'Signup' to give a setting for; the columns are 'ID', 'Joined', "
         "'Score' (--date-format Signup=FORMAT)"),
        (["--date-format", "Joined=%d/%m"], r"'Joined': the date format '%d/%m' has no year"),
        (["--map", "age=Alter"], "the mapping names column 'Alter' for age"),
        (["--max-rows", "2"], "has more than 2 rows"),
    ],
)
def test_refusals(tmp_path, capsys, args, message):
    path = tmp_path / "t.csv"
    path.write_text(AMBIGUOUS)
    line = one_error_line(*run(capsys, "inspect", path, *args)[::2])
    assert message in line


def test_files_that_cannot_be_inspected(tmp_path, capsys):
    header_only = tmp_path / "h.csv"
    header_only.write_text("ID,Age\n")
    assert "has a header but no data rows" in one_error_line(
        *run(capsys, "inspect", header_only)[::2])
    assert "error: " in one_error_line(*run(capsys, "inspect", tmp_path / "missing.csv")[::2])


def test_a_mapping_gives_its_role(tmp_path, capsys):
    path = tmp_path / "t.csv"
    pd.DataFrame({"Kunde": [f"K{i}" for i in range(30)], "Alter": range(20, 50)}).to_csv(
        path, index=False)
    code, out, err = run(capsys, "inspect", path, "--json", "--map", "age=Alter",
                         "--map", "customer_id=Kunde")
    assert code == 0, err
    columns = json.loads(out)["columns"]
    assert [(c["kind"], c["role"], c["role_source"]) for c in columns] == [
        ("id", "other", "none"), ("numeric", "age", "given")]


# ----------------------------------------------------------------- the library


def test_library_inspects_frames_tables_and_files(campaign_tsv):
    frame = bank()
    from_frame = custseg.inspect(frame)
    assert from_frame.suggested_features == ("CreditScore", "Age", "Tenure", "Balance",
                                             "NumOfProducts", "EstimatedSalary")
    table = read_table(campaign_tsv, check_income=False)
    from_table = custseg.inspect(table)
    from_file = custseg.inspect(campaign_tsv, income_unit="$")
    assert from_table.columns == from_file.columns[:4] + from_table.columns[4:5] + \
        from_file.columns[5:]
    assert from_file.column("Income").unit == "$" and from_file.warnings == ()
    assert len(from_table.warnings) == 1
    with pytest.raises(SchemaError, match="there is no column 'Nope'"):
        custseg.inspect(frame, date_formats={"Nope": "%Y"})
    with pytest.raises(custseg.CustsegError, match="more than 100 rows"):
        custseg.inspect(campaign_tsv, limits=ReadLimits(max_rows=100))


def test_an_income_in_another_currency_is_described_with_a_warning():
    frame = pd.DataFrame({"ID": range(60), "Income": [f"€{40 + i},000" for i in range(60)]})
    result = custseg.inspect(frame)
    assert result.column("Income").kind == "free_text"
    assert result.warnings == (
        "fitting will refuse this table as it is: the income column 'Income' is in euros on "
        "every row (such as '€40,000'); custseg reads incomes in US dollars. Convert the "
        "column to thousands of US dollars (k$) and remove the currency from its cells, then "
        "read the file again",)


def test_rows_that_are_not_customers_are_left_out(tmp_path):
    path = tmp_path / "t.csv"
    rows = "\n".join(f"{i},{20 + i % 40},{i % 3}" for i in range(1, 61))
    path.write_text(f"CustomerID,Age,Kids\n{rows}\nTotal,1830,60\n61,30,1,extra\n")
    result = custseg.inspect(path)
    assert result.n_rows == 60
    assert result.column("Age").distinct == 40
    assert result.warnings == (
        "2 of 62 rows are not single customers (summary rows such as 'Total', or rows with "
        "more or fewer fields than the header): they are left out here, as fitting leaves "
        "them out",)
