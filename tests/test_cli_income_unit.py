"""An income column whose header names no unit: read in dollars when its values say so.

Issue 16: "a column with the income role whose header gives no unit and whose values are
mostly above 1,000 is read as dollars and converted to k$, said in the output;
--income-unit overrides". The unit (and any --map) travels with the model, so scoring a
file, or one customer, reads incomes the same way with no option repeated.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from cli_helpers import one_error_line, run

from custseg.io.model_files import load_model
from custseg.io.score_files import scan
from custseg.io.source import TableSource, read_table
from custseg.table.parse import NumberFormat

NOTE = ("warning: the income column 'Income' has no unit in its header and most of its "
        "values are above 1,000: read as dollars and converted to k$. If they are thousands "
        "of dollars, state the unit 'k$'")


def customers(n: int = 300, seed: int = 1, dollars: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.integers(15, 140, n) * (1_000 if dollars else 1)
    return pd.DataFrame({"Age": rng.integers(18, 70, n), "Income": income,
                         "Spending Score": rng.integers(1, 100, n)})


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A table in dollars under 'Income', and the model fitted on it with no option."""
    folder = tmp_path_factory.mktemp("income")
    data = folder / "customers.csv"
    customers().to_csv(data, index=False)
    model = folder / "model.custseg"
    return data, model


def test_fit_reads_dollars_says_so_and_keeps_the_unit(fitted, capsys):
    data, model = fitted
    code, out, err = run(capsys, "fit", data, "-o", model, "--json")
    assert code == 0, err
    assert NOTE in err.splitlines()
    summary = json.loads(out)
    assert NOTE.removeprefix("warning: ") in summary["warnings"]
    frame = customers()
    # converted to k$: the segments' mean incomes are the dollars / 1,000
    sizes = {s["id"]: s["size"] for s in summary["segments"]}
    overall = sum(s["means"]["annual_income"] * sizes[s["id"]]
                  for s in summary["segments"]) / sum(sizes.values())
    assert overall == pytest.approx(frame["Income"].mean() / 1_000, rel=1e-6)
    assert load_model(model).config.spec.income_unit == "$"


def test_score_and_predict_read_incomes_as_the_model_did(fitted, capsys, tmp_path):
    data, model = fitted
    if not model.exists():
        assert run(capsys, "fit", data, "-o", model)[0] == 0
    out = tmp_path / "scored.csv"
    code, _, err = run(capsys, "score", model, data, "-o", out)
    assert code == 0, err
    assert "warning" not in err  # read in dollars as the model says, and its values agree
    scored = pd.read_csv(out)
    assert (scored["row_status"] == "ok").all()
    # three low-income customers alone: their values are dollars too (the model's unit),
    # never 800 k$
    few = tmp_path / "few.csv"
    few.write_text("Age,Income,Spending Score\n30,800,50\n40,900,60\n50,950,70\n")
    code, _, err = run(capsys, "score", model, few, "-o", tmp_path / "few_scored.csv")
    assert code == 0, err
    assert ("warning: the income column 'Income' has no unit in its header: read in dollars, "
            "as the model's fit read its incomes, though most of its values are below 1,000. "
            "If they are thousands of dollars, state the unit 'k$'") in err.splitlines()
    one = json.loads(run(capsys, "predict", model, "--value", "Income=800", "--value", "Age=30",
                         "--value", "Spending Score=50", "--json")[1])
    by_field = json.loads(run(capsys, "predict", model, "--value", "annual_income=0.8",
                              "--value", "Age=30", "--value", "Spending Score=50",
                              "--json")[1])
    by_flag = json.loads(run(capsys, "predict", model, "--annual-income", "0.8", "--age", "30",
                             "--spending-score", "50", "--json")[1])
    # a header as in the file ($); the field by its name, or its flag, in k$
    assert one == by_field == by_flag
    few_scored = pd.read_csv(tmp_path / "few_scored.csv")
    assert few_scored["segment_id"].iloc[0] == one["segment_id"]
    # a header that names its unit wins over the model's
    named = tmp_path / "named.csv"
    named.write_text("Age,Income (k$),Spending Score\n30,0.8,50\n")
    code, _, err = run(capsys, "score", model, named, "-o", tmp_path / "named_scored.csv")
    assert code == 0, err
    assert pd.read_csv(tmp_path / "named_scored.csv")["segment_id"].iloc[0] == one["segment_id"]


def test_a_stated_unit_overrides_the_values(tmp_path, capsys):
    data = tmp_path / "customers.csv"
    customers().to_csv(data, index=False)
    code, _, err = run(capsys, "fit", data, "-o", tmp_path / "m.custseg", "--income-unit", "k$")
    line = one_error_line(code, err)
    assert line.endswith("Invalid rows: annual_income out of range: 300."), line


def test_incomes_in_thousands_are_not_converted(tmp_path, capsys):
    data = tmp_path / "customers.csv"
    customers(dollars=False).to_csv(data, index=False)
    code, out, err = run(capsys, "fit", data, "-o", tmp_path / "m.custseg", "--json")
    assert code == 0, err
    assert "warning" not in err
    assert load_model(tmp_path / "m.custseg").config.spec.income_unit is None


def test_the_unit_is_decided_over_the_whole_file_in_any_batch_size(tmp_path):
    """The first rows in the hundreds, most rows in dollars: dollars, whatever the
    batches; and the other way round: thousands."""
    rows = ["Age,Income,Spending Score"] + [f"30,{500 + i},50" for i in range(40)] + [
        f"30,{40_000 + i},50" for i in range(60)]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(rows) + "\n")
    assert read_table(path).match.income_unit == "$"
    for batch_rows in (3, 7, 1_000):
        source = TableSource(path)
        scan(source, batch_rows=batch_rows)
        assert source.match.income_unit_source == "values"
    rows = rows[:1] + [f"30,{40_000 + i},50" for i in range(40)] + [
        f"30,{50 + i % 90},50" for i in range(60)]
    path.write_text("\n".join(rows) + "\n")
    assert read_table(path).match.income_unit_source == "default"


def test_counts_merge_across_parts():
    first = NumberFormat().seen({"annual_income": pd.Series(["40000", "50000"])}, ".")
    later = NumberFormat().seen({"annual_income": pd.Series(["40", "50", "60"])}, ".")
    assert first.dollar_incomes and not later.dollar_incomes
    assert not first.merged(later).dollar_incomes  # 2 of 5 above 1,000
    assert first.merged(first).merged(later).dollar_incomes  # 4 of 7


def test_a_mapping_given_at_fit_is_kept(tmp_path, capsys):
    data = tmp_path / "c.csv"
    frame = customers(dollars=False).rename(columns={"Age": "Years"})
    frame.to_csv(data, index=False)
    model = tmp_path / "m.custseg"
    code, _, err = run(capsys, "fit", data, "-o", model, "--map", "age=Years")
    assert code == 0, err
    assert dict(load_model(model).config.spec.mapping) == {"age": "Years"}
    code, _, err = run(capsys, "score", model, data, "-o", tmp_path / "s.csv")
    assert code == 0, err
    assert (pd.read_csv(tmp_path / "s.csv")["row_status"] == "ok").all()
    code, _, err = run(capsys, "report", model, "--data", data, "-o", tmp_path / "r.html")
    assert code == 0, err


def test_a_mall_model_scoring_a_file_in_dollars_reads_dollars_and_says_so(tmp_path, capsys):
    thousands, dollars = tmp_path / "k.csv", tmp_path / "d.csv"
    customers(dollars=False).to_csv(thousands, index=False)
    customers().to_csv(dollars, index=False)
    model = tmp_path / "m.custseg"
    assert run(capsys, "fit", thousands, "-o", model)[0] == 0
    code, _, err = run(capsys, "score", model, dollars, "-o", tmp_path / "s.csv")
    assert code == 0, err
    assert NOTE in err.splitlines()
    same = run(capsys, "score", model, thousands, "-o", tmp_path / "t.csv")
    assert same[0] == 0 and "warning" not in same[2]
    a, b = pd.read_csv(tmp_path / "s.csv"), pd.read_csv(tmp_path / "t.csv")
    assert (a["segment_id"] == b["segment_id"]).all()


# ---- the adversary's findings on the income unit and the kept mapping


def test_only_the_mappings_of_fields_the_model_reads_are_kept(tmp_path, capsys):
    data = tmp_path / "c.csv"
    frame = customers(dollars=False)
    frame.insert(0, "Cust", range(len(frame)))
    frame.insert(1, "Sex", "Male")
    frame.to_csv(data, index=False)
    model = tmp_path / "m.custseg"
    code, _, err = run(capsys, "fit", data, "-o", model, "--map", "customer_id=Cust",
                       "--map", "gender=Sex")
    assert code == 0, err
    assert dict(load_model(model).config.spec.mapping) == {}  # neither is clustered on
    plain = tmp_path / "plain.csv"
    customers(dollars=False).to_csv(plain, index=False)  # no Cust, no Sex
    code, _, err = run(capsys, "score", model, plain, "-o", tmp_path / "s.csv")
    assert code == 0, err


def test_compare_refuses_two_models_reading_a_field_from_different_columns(tmp_path, capsys):
    frame = customers(dollars=False).rename(columns={"Income": "Revenue"})
    frame["Salary"] = frame["Revenue"][::-1].to_numpy()
    data = tmp_path / "c.csv"
    frame.to_csv(data, index=False)
    old, new = tmp_path / "old.custseg", tmp_path / "new.custseg"
    assert run(capsys, "fit", data, "-o", old, "--map", "annual_income=Revenue")[0] == 0
    assert run(capsys, "fit", data, "-o", new, "--map", "annual_income=Salary")[0] == 0
    code, _, err = run(capsys, "compare", old, new, "--data", data)
    assert one_error_line(code, err) == (
        "error: the two models read annual_income from different columns ('Revenue' and "
        "'Salary'); say which column this table holds it in (--map annual_income=\"COLUMN\")")
    code, _, err = run(capsys, "compare", old, new, "--data", data, "--map",
                       "annual_income=Revenue")
    assert code == 0, err


def test_a_header_a_model_cannot_keep_is_mapped_again_when_scoring(tmp_path, capsys):
    long = "Income " + "x" * 150
    frame = customers(dollars=False).rename(columns={"Income": long})
    data = tmp_path / "c.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "m.custseg"
    code, _, err = run(capsys, "fit", data, "-o", model, "--map", f"annual_income={long}")
    assert code == 0, err
    assert dict(load_model(model).config.spec.mapping) == {}
    code, _, err = run(capsys, "score", model, data, "-o", tmp_path / "s.csv", "--map",
                       f"annual_income={long}")
    assert code == 0, err


def test_a_mapping_given_when_scoring_overrides_one_field_of_the_models(tmp_path, capsys):
    frame = customers(dollars=False).rename(columns={"Income": "Revenue"})
    data = tmp_path / "c.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "m.custseg"
    assert run(capsys, "fit", data, "-o", model, "--map", "annual_income=Revenue")[0] == 0
    other = tmp_path / "o.csv"
    frame.rename(columns={"Age": "Years"}).to_csv(other, index=False)
    code, _, err = run(capsys, "score", model, other, "-o", tmp_path / "s.csv", "--map",
                       "age=Years")
    assert code == 0, err
    assert (pd.read_csv(tmp_path / "s.csv")["row_status"] == "ok").all()


def test_money_cells_leave_the_unit_to_the_bare_numbers(tmp_path, capsys):
    """60% of cells "$54,000" (dollars whatever the column's unit), 40% bare 2,000–8,000:
    the bare numbers are dollars too, never 2,000–8,000 k$."""
    rng = np.random.default_rng(3)
    n = 200
    income = [f"${v:,}" if i % 5 < 3 else str(v)
              for i, v in enumerate(rng.integers(20, 120, n) * 1_000)]
    frame = pd.DataFrame({"Age": rng.integers(18, 70, n), "Income": income,
                          "Spending Score": rng.integers(1, 100, n)})
    data = tmp_path / "c.csv"
    frame.to_csv(data, index=False)
    code, out, err = run(capsys, "fit", data, "-o", tmp_path / "m.custseg", "--json")
    assert code == 0, err
    assert NOTE in err.splitlines()
    means = [s["means"]["annual_income"] for s in json.loads(out)["segments"]]
    assert all(20 <= m <= 120 for m in means), means


def test_a_header_stating_dollars_is_kept_for_values_as_the_file_wrote_them(tmp_path, capsys):
    frame = customers().rename(columns={"Income": "Annual Income ($)"})
    data = tmp_path / "c.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "m.custseg"
    assert run(capsys, "fit", data, "-o", model)[0] == 0
    assert load_model(model).config.spec.income_unit == "$"
    as_file = json.loads(run(capsys, "predict", model, "--value", "Annual Income ($)=110000",
                             "--value", "Age=40", "--value", "Spending Score=80",
                             "--json")[1])
    by_field = json.loads(run(capsys, "predict", model, "--annual-income", "110", "--age",
                              "40", "--spending-score", "80", "--json")[1])
    assert as_file == by_field
