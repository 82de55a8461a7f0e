"""Issue 10, classes 3 and 4: one cell, two readings; other currencies.

Class 3: a column's number format is decided once per file (in the first pass, over
every row) and applied to every batch, in `score_file`, the in-memory scorer and `fit`,
so identical rows read alike; a cell that could be read two ways in its column is flagged.
Class 4: a money cell in another currency than the US dollar is flagged naming the
currency, a column in one other currency on every row (or by its header) is refused.
"""

from __future__ import annotations

import pandas as pd
import pytest

import custseg
from custseg.cli import main
from custseg.errors import SchemaError
from custseg.io.score_files import scan
from custseg.io.source import TableSource, read_table
from custseg.table.fields import NUMERIC_FIELDS, Ranges
from custseg.table.parse import (
    AMBIGUOUS,
    OTHER_CURRENCY,
    currency_of,
    parse_numbers,
)

HEADER = "CustomerID;Gender;Age;Annual Income (k$);Spending Score (1-100)"


def semicolon(incomes: list[str]) -> str:
    lines = [HEADER] + [f"{i:05d};Male;{20 + i % 40};{v};{1 + i % 99}"
                        for i, v in enumerate(incomes, start=1)]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def model():
    return custseg.fit(custseg.make_customers(300, seed=5), params={"n_clusters": 3})


# ------------------------------------------------------------------------- class 3


def test_a_first_batch_of_grouped_points_does_not_decide_alone(tmp_path, model):
    """First batch: only '1.500'-like cells (points could group thousands); a later
    batch writes '30.5'. Every '1.500' is read the same way in every batch: flagged."""
    incomes = ["1.500"] * 40 + ["30.5", "1.500", "45,5", "2.250"] * 10
    path = tmp_path / "eu.csv"
    path.write_text(semicolon(incomes), encoding="utf-8")
    out = tmp_path / "scored.csv"
    custseg.score_file(model, path, out, batch_rows=10)
    scored = pd.read_csv(out, sep=",", dtype=str, keep_default_na=False)
    grouped = scored["Annual Income (k$)"].isin(["1.500", "2.250"])
    assert grouped.sum() == 60
    assert (scored.loc[grouped, "row_status"] == "invalid").all()
    assert scored.loc[grouped, "row_issues"].str.contains(
        r"can be read two ways: in this file the column also writes the point as a decimal "
        r"mark \('30.5'\)").all()
    assert (scored.loc[~grouped, "row_status"] == "ok").all()


def test_fit_and_every_batch_read_a_column_alike(tmp_path):
    incomes = ["1.500"] * 40 + ["30.5", "1.500", "45,5"] * 10
    path = tmp_path / "eu.csv"
    path.write_text(semicolon(incomes), encoding="utf-8")
    table = read_table(path)
    whole = table.validated(NUMERIC_FIELDS, Ranges())
    assert table.number_format.mixed == {"annual_income": "30.5"}
    source = TableSource(path)
    facts = scan(source, batch_rows=7)
    assert facts.number_format == table.number_format
    values = []
    for batch in source.batches(7):
        frame = pd.DataFrame({"annual_income": batch.data.column(3).to_pandas()})
        parsed = parse_numbers(frame["annual_income"], decimal=",", money_unit="k$",
                               mixed=facts.number_format.mixed.get("annual_income"))
        values += parsed.status.tolist()
    assert values == [AMBIGUOUS if v == "1.500" else 0 for v in incomes]
    assert (~whole.valid).sum() == 50


def test_grouped_points_everywhere_group_thousands_in_every_batch(tmp_path, model):
    """No cell writes the point as a decimal mark: '1.500' is 1,500 $ (k$ header: 1,500
    k$), in the first batch and the last, and '1.200.000' never decides otherwise."""
    incomes = ["1.500"] * 25 + ["54.000", "1.500", "120.500", "1.200.000,5"] * 5
    path = tmp_path / "eu.csv"
    path.write_text(semicolon(incomes).replace("(k$)", "($)"), encoding="utf-8")
    out = tmp_path / "scored.csv"
    custseg.score_file(model, path, out, batch_rows=6)
    scored = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert (scored["row_status"] == "ok").all(), scored["row_issues"].unique()
    values = read_table(path).validated(NUMERIC_FIELDS, Ranges()).values["annual_income"]
    assert values.tolist()[:26] == [1.5] * 25 + [54.0]
    assert values.tolist()[-1] == 1200.0005


def test_a_missing_marker_with_a_point_does_not_turn_points_into_decimals():
    parsed = parse_numbers(pd.Series(["54.000", "n.a.", "1.500"]), decimal=",")
    assert parsed.values[[0, 2]].tolist() == [54000.0, 1500.0]


def test_decimal_comma_and_point_mixed_unambiguously_still_read():
    parsed = parse_numbers(pd.Series(["30,5", "1.234,5", "12.5", "1.500"]), decimal=",")
    assert parsed.values[:3].tolist() == [30.5, 1234.5, 12.5]
    assert parsed.status.tolist() == [0, 0, 0, AMBIGUOUS]


def test_point_files_with_a_comma_decimal_flag_comma_groups_of_three():
    parsed = parse_numbers(pd.Series(["1,500", "30,5", "2,000,000", "40"]))
    assert parsed.status.tolist() == [AMBIGUOUS, 2, 0, 0]
    assert parsed.values[2] == 2_000_000
    clean = parse_numbers(pd.Series(["1,500", "40"]))
    assert clean.values.tolist() == [1500.0, 40.0]


def test_messages_show_the_cell_as_written(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text(semicolon(["54.000"] * 3 + ["abc"]), encoding="utf-8")
    issues = read_table(path).validated(NUMERIC_FIELDS, Ranges()).issues
    assert issues[0].startswith("annual_income: 54,000 k$ is outside")
    assert issues[3] == "annual_income: 'abc' is not a number"


# ------------------------------------------------------------------------- class 4


@pytest.mark.parametrize(("cell", "currency"), [
    ("€45,000", "euros"), ("45.000 €", "euros"), ("EUR 45000", "euros"), ("45k EUR", "euros"),
    ("45 k€", "euros"), ("£45,000", "pounds sterling"), ("GBP 3", "pounds sterling"),
    ("¥45,000", "yen or yuan"), ("CHF 45000", "Swiss francs"), ("C$45,000", "Canadian dollars"),
    ("A$ 45,000", "Australian dollars"), ("₹45000", "rupees"), ("45000 SEK", "Swedish kronor"),
    ("₿1", "a currency other than US dollars (₿)"),
])
def test_other_currencies_are_flagged_by_name(cell, currency):
    assert currency_of(cell) == currency
    parsed = parse_numbers(pd.Series([cell, "$45,000"]), money_unit="k$")
    assert parsed.status.tolist() == [OTHER_CURRENCY, 0]
    assert parsed.values[1] == 45.0


@pytest.mark.parametrize("cell", ["$45,000", "USD 45,000", "45,000 USD", "US$ 45k", "45k$",
                                  "45000", "45 000"])
def test_dollars_keep_working(cell):
    assert currency_of(cell) is None
    assert parse_numbers(pd.Series([cell]), money_unit="$").status.tolist() == [0]


def test_a_few_cells_in_euros_are_flagged_on_their_rows(tmp_path, model):
    path = tmp_path / "cur.csv"
    rows = [f"{i},Male,30,{v},50" for i, v in enumerate(['"$45,000"', '"€45,000"', "45", "45 €"])]
    path.write_text("CustomerID,Gender,Age,Annual Income,Spending Score\n" + "\n".join(rows)
                    + "\n", encoding="utf-8")
    scored = custseg.score(model, path)
    assert scored["row_status"].tolist() == ["ok", "invalid", "ok", "invalid"]
    assert scored["row_issues"][1] == ("annual_income: '€45,000' is in euros, not US dollars; "
                                       "convert it to k$ (thousands of US dollars)")


def test_a_column_in_euros_on_every_row_is_refused(tmp_path, capsys, model):
    path = tmp_path / "eur.csv"
    rows = [f'{i},Male,30,"€{40 + i},000",50' for i in range(20)] + ["20,Male,30,,50"]
    path.write_text("CustomerID,Gender,Age,Annual Income,Spending Score\n" + "\n".join(rows)
                    + "\n", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"is in euros on every row \(such as '€40,000'\); "
                                          r"custseg reads incomes in US dollars"):
        read_table(path)
    model_path = tmp_path / "m.custseg"
    custseg.save_model(model, model_path)
    code = main(["score", str(model_path), str(path), "-o", str(tmp_path / "o.csv")])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "Convert the column" in err


@pytest.mark.parametrize(("header", "currency"), [
    ("Annual Income (€)", "euros"), ("Income EUR", "euros"), ("Annual Income (k€)", "euros"),
    ("Income (GBP)", "pounds sterling"), ("Annual Income (C$)", "Canadian dollars"),
])
def test_an_income_header_in_another_currency_is_refused(header, currency, tmp_path, capsys):
    path = tmp_path / "h.csv"
    path.write_text(f"CustomerID,Age,{header},Spending Score\n1,30,45,50\n2,31,46,51\n",
                    encoding="utf-8")
    table = read_table(path)  # read (the column passes through) ...
    assert "annual_income" not in table.match.fields
    with pytest.raises(SchemaError, match=rf"is in {currency}, by its header; custseg reads "
                                          "incomes in US dollars"):
        table.match.require(NUMERIC_FIELDS)  # ... but never segmented on as dollars
    code = main(["fit", str(path), "-o", str(tmp_path / "m.custseg")])
    _, err = capsys.readouterr()
    assert code == 2 and "--income-unit" in err and err.count("\n") == 1
    # the user says it is k$ after all
    stated = read_table(path, income_unit="k$", mapping={"annual_income": header})
    assert stated.match.fields["annual_income"] == 2
