"""``custseg rfm``: a log to a customer table from the command line, and ``fit`` on it."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys

import log_tables
import pytest
from cli_helpers import one_error_line, run

#: The RFM names of the default rulebook (src/custseg/rules.toml).
RFM_NAMES = {"Champions", "Loyal Customers", "Potential Loyalists", "Recent Occasional Buyers",
             "New Customers", "Need Attention", "About to Sleep", "Can't Lose Them", "At Risk",
             "Lost", "Hibernating"}


def write_log(path, seed: int = 0) -> None:
    """60 customers of three known behaviours, UCI-style (month-first dates, float ids):
    loyal buyers through the year who bought in the last ten days, one-off buyers of
    the last ten days, and lapsed buyers of a year ago (tests/log_tables.py's log, with
    no customer who only returned)."""
    log_tables.write_log(path, seed, returns_only=0)


@pytest.fixture()
def log_csv(tmp_path):
    path = tmp_path / "log.csv"
    write_log(path)
    return path


def test_rfm_json_and_output(capsys, tmp_path, log_csv):
    out = tmp_path / "customers.csv"
    code, stdout, err = run(capsys, "rfm", log_csv, "-o", out, "--json")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["lines"] == {"read": 20 * 25 + 20 * 3 + 20, "used": 580, "excluded": {}}
    assert summary["customers"] == 60 and summary["as_of"] == "2012-01-01"
    assert summary["columns"] == {"customer": "CustomerID", "date": "InvoiceDate",
                                  "invoice": "InvoiceNo", "value": "Quantity × UnitPrice"}
    with open(out, newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["customer_id"] for r in table[:2]] == ["10001", "10002"]  # 10001.0 written 10001
    assert sorted({int(r["frequency"]) for r in table[40:]}) == [1]
    assert all(1 <= int(r["recency_days"]) <= 10 for r in table[40:])
    assert "wrote 60 customers" in err


def test_rfm_text_summary_and_refusals(capsys, tmp_path, log_csv):
    code, stdout, _ = run(capsys, "rfm", log_csv, "-o", tmp_path / "c.parquet")
    assert code == 0
    assert stdout.splitlines()[0] == "lines: 580 read, 580 used, 0 excluded"
    assert "columns: customer 'CustomerID', date 'InvoiceDate'" in stdout
    line = one_error_line(*run(capsys, "rfm", log_csv, "-o", log_csv)[::2])
    assert "is the input file" in line
    line = one_error_line(*run(capsys, "rfm", log_csv, "-o", tmp_path / "x.csv",
                               "--customer", "Client")[::2])
    assert "'Client' is not a column of the log" in line and "(--customer)" in line
    line = one_error_line(*run(capsys, "rfm", log_csv, "-o", tmp_path / "x.csv",
                               "--as-of", "2011-06-01")[::2])
    assert "before the log's latest purchase (2011-12-31)" in line
    assert not (tmp_path / "x.csv").exists()


def test_rfm_undecidable_dates_hint_the_option(capsys, tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("CustomerID,InvoiceDate,Amount\nx,02/01/2020,1\nx,03/01/2020,1\n")
    line = one_error_line(*run(capsys, "rfm", path, "-o", tmp_path / "c.csv")[::2])
    assert "day-first or month-first" in line and "--date-format" in line
    code, _, err = run(capsys, "rfm", path, "-o", tmp_path / "c.csv", "--date-format",
                       "InvoiceDate=%m/%d/%Y")
    assert code == 0, err


def test_fit_on_rfm_output_names_segments_in_rfm_vocabulary(capsys, tmp_path, log_csv):
    customers = tmp_path / "customers.csv"
    assert run(capsys, "rfm", log_csv, "-o", customers)[0] == 0
    code, stdout, err = run(capsys, "fit", customers, "-o", tmp_path / "m.model", "--json")
    assert code == 0, err
    fitted = json.loads(stdout)
    assert {"recency_days", "frequency", "monetary"} <= set(fitted["features"])
    # the rule's name, before what tells apart segments that share it (" · Recency
    # 280 days", or a number as the last resort)
    names = {re.split(r" · | \(\d+\)$", s["name"])[0] for s in fitted["segments"]}
    assert names <= RFM_NAMES
    assert names & {"Champions", "Loyal Customers"}  # the loyal, recent big spenders
    assert "New Customers" in names  # the one-off buyers of the last ten days


def test_help_loads_no_duckdb():
    code = ("import sys; from custseg.cli import main; main(['rfm', '--help']); "
            "print([m for m in ('duckdb', 'pandas', 'sklearn') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.splitlines()[-1] == "[]"


def test_rfm_loads_no_scikit_learn(tmp_path, log_csv):
    """The aggregation needs DuckDB and the reader, not the estimators (seconds of
    start-up), nor Dask unless asked."""
    args = ["rfm", str(log_csv), "-o", str(tmp_path / "c.csv")]
    code = (f"import sys; from custseg.cli import main; code = main({args!r}); "
            "print(code, [m for m in ('sklearn', 'scipy', 'plotly', 'distributed') "
            "if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.splitlines()[-1] == "0 []"
    assert "wrote 60 customers" in result.stderr


def test_demo_log_behaviours_are_recovered(capsys, tmp_path):
    """The demo log's one-off buyers of long ago and recent new customers come back as
    such, through rfm and fit (returns in the log do not stop the RFM names)."""
    import pandas as pd

    from custseg.table.sample_log import make_transactions

    log = tmp_path / "log.csv"
    code, _, err = run(capsys, "demo-data", "--transactions", "-n", 20_000, "-o", log)
    assert code == 0 and "20,000 lines" in err
    customers = tmp_path / "customers.csv"
    code, stdout, err = run(capsys, "rfm", log, "-o", customers, "--json")
    assert code == 0, err
    assert json.loads(stdout)["lines"]["used"] == 20_000
    table = pd.read_csv(customers, dtype={"customer_id": str}).set_index("customer_id")
    truth = make_transactions(20_000, 0)[1]
    assert (table["returns_value"] > 0).any()
    one_off = table.loc[truth.index[truth == "one_off"]]
    assert one_off["recency_days"].dropna().min() > 365  # bought 365-700 days before the end
    new = table.loc[truth.index[truth == "new"]]
    assert new["tenure_days"].dropna().max() <= 32
    code, stdout, err = run(capsys, "fit", customers, "-o", tmp_path / "m.model", "--json")
    assert code == 0, err
    fitted = json.loads(stdout)
    assert fitted["features"] == ["recency_days", "frequency", "monetary"]
    names = {re.sub(r" \(\d+\)$", "", s["name"]) for s in fitted["segments"]}
    assert names <= RFM_NAMES | {"Returns only"} and "Returns only" in names


def test_a_purchase_on_9999_12_31_says_to_give_the_as_of_date(capsys, tmp_path, log_csv):
    """rfm, fit --transactions and score MODEL LOG: one clear error, not an internal one;
    with --as-of the log is read."""
    late = tmp_path / "late.csv"
    late.write_text("InvoiceNo,InvoiceDate,CustomerID,Quantity,UnitPrice\n"
                    "1,9999-12-31,A,1,1\n2,2020-01-01,A,1,1\n3,2020-01-02,B,1,1\n")
    model = tmp_path / "m.model"
    assert run(capsys, "fit", log_csv, "--transactions", "-o", model)[0] == 0
    for args in (("rfm", late, "-o", tmp_path / "c.csv"),
                 ("fit", late, "--transactions", "-o", tmp_path / "late.model"),
                 ("score", model, late, "-o", tmp_path / "s.csv")):
        line = one_error_line(*run(capsys, *args)[::2])
        assert "latest purchase is on 9999-12-31" in line and "(--as-of 9999-12-31)" in line
    code, _, err = run(capsys, "rfm", late, "-o", tmp_path / "c.csv", "--as-of", "9999-12-31")
    assert code == 0, err
    with open(tmp_path / "c.csv", newline="") as fh:
        table = {r["customer_id"]: r for r in csv.DictReader(fh)}
    assert (table["A"]["recency_days"], table["B"]["last_purchase"]) == ("0", "2020-01-02")
    code, _, err = run(capsys, "score", model, late, "-o", tmp_path / "s.csv",
                       "--as-of", "9999-12-31")
    assert code == 0, err


def test_a_log_without_lines_and_a_date_format_that_reads_nothing(capsys, tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("InvoiceNo,InvoiceDate,CustomerID,Quantity,UnitPrice\n")
    line = one_error_line(*run(capsys, "rfm", path, "-o", tmp_path / "c.csv")[::2])
    assert line == "error: the log has a header but no lines; there is nothing to aggregate"
    path.write_text("InvoiceNo,InvoiceDate,CustomerID,Quantity,UnitPrice\n"
                    "1,25/03/2014,A,1,1\n2,26/03/2014,A,1,1\n")
    line = one_error_line(*run(capsys, "rfm", path, "-o", tmp_path / "c.csv",
                               "--date-format", "%Y-%m-%d")[::2])
    assert "'%Y-%m-%d' reads none of the column's dates (such as '25/03/2014')" in line
    assert line.endswith("(--date-format InvoiceDate=FORMAT)")
    assert not (tmp_path / "c.csv").exists()
