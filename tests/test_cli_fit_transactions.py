"""``fit LOG --transactions``, ``score MODEL LOG`` and the "Returns only" segment, from the
command line (the log fixtures are tests/log_tables.py's)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from cli_helpers import one_error_line, run
from log_tables import RETURNS_ONLY_IDS, write_log

from custseg.cluster.algorithms import ALGORITHMS
from custseg.io.rulebooks import default_rulebook
from custseg.table.transactions import OUTPUT_COLUMNS

RETURNS_ONLY = default_rulebook().returns_only


@pytest.fixture()
def log_csv(tmp_path):
    path = tmp_path / "log.csv"
    write_log(path)
    return path


@pytest.fixture()
def fitted(capsys, tmp_path, log_csv):
    """A model fitted on the log (k=3), and fit's JSON."""
    model = tmp_path / "m.custseg"
    code, stdout, err = run(capsys, "fit", log_csv, "--transactions", "-o", model,
                            "-p", "n_clusters=3", "--json")
    assert code == 0, err
    return model, json.loads(stdout)


def read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_fit_transactions_puts_every_customer_in_one_segment(fitted):
    _, summary = fitted
    assert summary["lines"] == {"read": 583, "used": 583, "excluded": {}}
    assert summary["customers"] == 63
    assert summary["columns"] == {"customer": "CustomerID", "date": "InvoiceDate",
                                  "invoice": "InvoiceNo", "value": "Quantity × UnitPrice"}
    assert summary["features"] == ["recency_days", "frequency", "monetary"]
    assert [f["transform"] for f in summary["features_spec"]] == ["signed_log1p"] * 3
    segments = {s["id"]: s for s in summary["segments"]}
    assert sum(s["size"] for s in segments.values()) == summary["n_rows"] == 63
    assert summary["data_quality"]["n_returns_only"] == 3
    assert summary["data_quality"]["n_invalid"] == 0
    apart = segments[-2]
    assert apart["name"] == "Returns only" and apart["strategy"] == RETURNS_ONLY["strategy"]
    assert apart["size"] == 3 and apart["share"] == pytest.approx(3 / 63)
    # frequency 0, monetary the amount returned (-12.50, -2 x 13.50, -3 x 14.50), no recency
    assert apart["means"] == {"recency_days": None, "frequency": 0.0,
                              "monetary": pytest.approx(-(12.5 + 27.0 + 43.5) / 3)}
    assert apart["levels"] == {"frequency": "low", "monetary": "low"}
    assert sum(s["share"] for s in segments.values()) == pytest.approx(1.0)
    assert summary["segments"][-1]["id"] == -2  # listed last
    clustered = [s for s in summary["segments"] if s["id"] >= 0]
    assert sum(s["size"] for s in clustered) == 60
    assert all(s["name"] != "Returns only" for s in clustered)


def test_fit_transactions_text_output_says_the_lines_and_the_set_apart(capsys, tmp_path,
                                                                      log_csv):
    code, stdout, err = run(capsys, "fit", log_csv, "--transactions", "-o",
                            tmp_path / "m.custseg", "-p", "n_clusters=3")
    assert code == 0, err
    lines = stdout.splitlines()
    assert lines[0] == "lines: 583 read, 583 used, 0 excluded"
    assert "customers: 63" in lines
    assert "rows used: 60 of 63; 3 with returns only set apart (segment -2)" in stdout
    assert re.search(r"^ -2  Returns only\s+3\s+4\.8%\s+-\s+0 low", stdout, re.M)


def test_score_a_log_with_json_prints_the_json_alone(capsys, tmp_path, fitted):
    """The log's summary lines went to stdout before the JSON document, which then did
    not parse; with --json they go to stderr."""
    model, _ = fitted
    new_log = tmp_path / "new.csv"
    write_log(new_log, seed=1, returns_only=2)
    code, stdout, err = run(capsys, "score", model, new_log, "-o", tmp_path / "s.csv", "--json")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["rows"] == 62 and summary["invalid"] == 0
    assert sum(s["count"] for s in summary["segments"]) == 62
    assert err.splitlines()[0] == "lines: 582 read, 582 used, 0 excluded"


def test_score_a_new_log_places_its_customers(capsys, tmp_path, fitted):
    model, _ = fitted
    new_log, out = tmp_path / "new.csv", tmp_path / "scored.csv"
    write_log(new_log, seed=1, returns_only=2)
    code, stdout, err = run(capsys, "score", model, new_log, "-o", out, "-q")
    assert code == 0, err
    assert "input read as a transaction log: 62 customers from 582 lines" in err
    assert stdout.splitlines()[0] == "lines: 582 read, 582 used, 0 excluded"
    scored = read(out)
    assert len(scored) == 62 and scored["customer_id"].is_unique
    assert list(scored.columns[:9]) == ["customer_id", "recency_days", "frequency", "monetary",
                                        "tenure_days", "first_purchase", "last_purchase",
                                        "avg_order_value", "returns_value"]
    apart = scored[scored["customer_id"].isin(RETURNS_ONLY_IDS)]
    assert apart["customer_id"].tolist() == ["90001", "90002"]
    assert apart[["segment_id", "segment_name", "confidence", "atypical", "row_status"]
                 ].drop_duplicates().values.tolist() == [["-2", "Returns only", "1",
                                                          "false", "ok"]]
    others = scored[~scored["customer_id"].isin(RETURNS_ONLY_IDS)]
    assert (others["segment_id"].astype(int) >= 0).all()
    assert (scored["row_status"] == "ok").all()


def test_score_log_equals_score_of_its_rfm_table(capsys, tmp_path, fitted):
    model, _ = fitted
    new_log = tmp_path / "new.csv"
    write_log(new_log, seed=2)
    direct, customers, via = (tmp_path / n for n in ("direct.csv", "c.csv", "via.csv"))
    assert run(capsys, "score", model, new_log, "-o", direct, "-q")[0] == 0
    assert run(capsys, "rfm", new_log, "-o", customers)[0] == 0
    code, _, err = run(capsys, "score", model, customers, "-o", via, "-q")
    assert code == 0 and "input read as a customer table" in err
    pd.testing.assert_frame_equal(read(direct), read(via))
    assert (read(via)["segment_id"] == "-2").sum() == 3


def test_fit_on_rfm_table_then_score_a_log(capsys, tmp_path, log_csv):
    """A model fitted on ``custseg rfm``'s table scores a log too (columns found by their
    headers), and its new customers with returns only go to -2 even though the fit had
    none."""
    customers, model = tmp_path / "c.csv", tmp_path / "m.custseg"
    plain = tmp_path / "plain.csv"
    write_log(plain, returns_only=0)
    assert run(capsys, "rfm", plain, "-o", customers)[0] == 0
    code, stdout, err = run(capsys, "fit", customers, "-o", model, "-p", "n_clusters=3",
                            "--json")
    assert code == 0, err
    assert all(s["id"] >= 0 for s in json.loads(stdout)["segments"])
    out = tmp_path / "s.csv"
    code, _, err = run(capsys, "score", model, log_csv, "-o", out, "-q")
    assert code == 0, err
    scored = read(out)
    assert scored.loc[scored["customer_id"].isin(RETURNS_ONLY_IDS), "segment_name"
                      ].tolist() == ["Returns only"] * 3


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_every_algorithm_sets_the_returns_only_apart(capsys, tmp_path, log_csv, algorithm):
    code, stdout, err = run(capsys, "fit", log_csv, "--transactions", "-o",
                            tmp_path / "m.custseg", "-a", algorithm, "--json")
    assert code == 0, err
    summary = json.loads(stdout)
    apart = [s for s in summary["segments"] if s["id"] == -2]
    assert [(s["name"], s["size"]) for s in apart] == [("Returns only", 3)]
    assert sum(s["size"] for s in summary["segments"]) == 63


def test_demo_log_behaviours_come_back_as_distinct_rfm_segments(capsys, tmp_path):
    from custseg.table.sample_log import make_transactions

    log, model = tmp_path / "log.csv", tmp_path / "m.custseg"
    assert run(capsys, "demo-data", "--transactions", "-n", 20_000, "-o", log)[0] == 0
    code, _, err = run(capsys, "fit", log, "--transactions", "-o", model)
    assert code == 0, err
    out = tmp_path / "s.csv"
    assert run(capsys, "score", model, log, "-o", out, "-q")[0] == 0
    scored = read(out).set_index("customer_id")
    truth = make_transactions(20_000, 0)[1]
    assert set(scored.index) == set(truth.index)  # every customer of the log, once
    mostly = {b: scored.loc[truth.index[truth == b], "segment_name"].value_counts()
              for b in ("loyal", "new", "lapsing", "one_off")}
    top = {b: counts.index[0] for b, counts in mostly.items()}
    assert top["loyal"] == "Champions" and top["new"] == "New Customers"
    assert top["one_off"] in ("Lost", "Hibernating")
    assert top["lapsing"] in ("Need Attention", "About to Sleep", "At Risk", "Hibernating")
    assert len(set(top.values())) == 4
    for b, counts in mostly.items():
        assert counts.iloc[0] / counts.sum() > 0.8, (b, counts.to_dict())


def test_transaction_options_are_checked(capsys, tmp_path, log_csv):
    model = tmp_path / "m.custseg"
    line = one_error_line(*run(capsys, "fit", log_csv, "-o", model, "--customer",
                               "CustomerID")[::2])
    assert "--customer is an option of a transaction log; add --transactions" in line
    line = one_error_line(*run(capsys, "fit", log_csv, "--transactions", "-o", model,
                               "--map", "customer_id=CustomerID")[::2])
    assert "--map reads a customer table" in line
    line = one_error_line(*run(capsys, "fit", log_csv, "--transactions", "-o", model,
                               "--customer", "Client")[::2])
    assert "'Client' is not a column of the log" in line
    assert not model.exists()
    code, _, err = run(capsys, "fit", log_csv, "--transactions", "-o", model, "--date-format",
                       "InvoiceDate=%m/%d/%Y %H:%M", "-p", "n_clusters=3")
    assert code == 0, err
    line = one_error_line(*run(capsys, "score", model, log_csv, "-o", tmp_path / "s",
                               "--engine", "dask")[::2])
    assert "--engine dask scores customer tables" in line


def test_predict_a_customer_with_returns_only(capsys, fitted):
    model, _ = fitted
    code, stdout, err = run(capsys, "predict", model, "--value", "frequency=0", "--value",
                            "monetary=-12", "--json")
    assert code == 0, err
    assert json.loads(stdout) == {"segment_id": -2, "segment_name": "Returns only",
                                  "confidence": 1.0, "atypical": False}
    code, stdout, _ = run(capsys, "predict", model, "--value", "frequency=0", "--value",
                          "monetary=-12")
    assert stdout.splitlines()[:2] == ["Segment -2: Returns only", "Placed by rule: no "
                                       "purchase, returns only (no recency to compare with "
                                       "other customers)"]
    line = one_error_line(*run(capsys, "predict", model, "--value", "frequency=2",
                               "--value", "monetary=12")[::2])
    assert "missing recency_days" in line


def test_score_a_log_to_parquet_keeps_the_table_types(capsys, tmp_path, fitted, log_csv):
    import pyarrow.parquet as pq

    model, _ = fitted
    out = tmp_path / "scored.parquet"
    assert run(capsys, "score", model, log_csv, "-o", out, "-q")[0] == 0
    table = pq.read_table(out)
    assert str(table.schema.field("frequency").type) == "int64"
    assert str(table.schema.field("last_purchase").type) == "date32[day]"
    frame = table.to_pandas()
    assert len(frame) == 63 and (frame["segment_id"] == -2).sum() == 3
    assert frame.loc[frame["segment_id"] == -2, "recency_days"].isna().all()


def test_a_net_negative_buyer_is_placed_when_the_fit_had_none(capsys, tmp_path):
    """The fitted customers all spent more than 0 and monetary is skewed, so ``auto``
    finds a log for it; being net value, it is the signed log, and a buyer who returned
    more than they bought (monetary -5) is placed, not refused as below 0."""
    rng = np.random.default_rng(0)
    n = 300
    monetary = np.round(np.exp(rng.normal(5, 1.2, n)), 2)
    frequency = rng.integers(1, 9, n)
    table = pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(n)], "recency_days": rng.integers(1, 400, n),
        "frequency": frequency, "monetary": monetary, "tenure_days": 400,
        "first_purchase": "2024-01-01", "last_purchase": "2024-06-01",
        "avg_order_value": np.round(monetary / frequency, 2), "returns_value": 0})
    assert list(table.columns) == list(OUTPUT_COLUMNS)
    customers, model = tmp_path / "c.csv", tmp_path / "m.custseg"
    table.to_csv(customers, index=False)
    code, stdout, err = run(capsys, "fit", customers, "-o", model, "-p", "n_clusters=3",
                            "--json")
    assert code == 0, err
    spec = {f["name"]: f for f in json.loads(stdout)["features_spec"]}
    assert spec["monetary"]["transform"] == "signed_log1p"
    code, stdout, err = run(capsys, "predict", model, "--value", "recency_days=10",
                            "--value", "frequency=2", "--value", "monetary=-5", "--json")
    assert code == 0, err
    assert json.loads(stdout)["segment_id"] >= 0
