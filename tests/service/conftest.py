"""Shared fixtures of the scoring service's tests: one model fitted once on demo data (and
saved, for the CLI and the real process), files to score with invalid rows among them, and
TestClients with and without an API key.

Every test here also checks that nothing reached the service's catch-all: a bad input is
a 4xx or a flagged row, never an "internal error" log line.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from service_cases import BAD_ROWS, KEY

from custseg.io.model_files import save_model
from custseg.io.rulebooks import default_rulebook
from custseg.model.segmentation import ModelConfig, fit_model
from custseg.service import Settings, create_app
from custseg.table.sample import make_customers


@pytest.fixture(scope="session")
def service_model():
    """A K-Means model of the well-known fields, fitted once on 600 demo customers."""
    return fit_model(make_customers(600, seed=1), ModelConfig(params={"n_clusters": 5}),
                     default_rulebook())


@pytest.fixture(scope="session")
def model_file(service_model, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "demo.custseg"
    save_model(service_model, path)
    return path


@pytest.fixture(scope="session")
def log_files(tmp_path_factory) -> dict[str, Path]:
    """A small transaction log and a model fitted on its customers (fit --transactions,
    3 clusters), made once."""
    from cli_helpers import main
    from log_tables import write_log

    folder = tmp_path_factory.mktemp("log")
    log, model = folder / "log.csv", folder / "log.custseg"
    write_log(log)
    assert main(["fit", str(log), "--transactions", "-o", str(model), "-p",
                 "n_clusters=3"]) == 0
    return {"log": log, "model": model}


@pytest.fixture(scope="session")
def log_app(log_files):
    from custseg.io.model_files import load_model

    return create_app(load_model(log_files["model"]))


@pytest.fixture(scope="session")
def table_frame() -> pd.DataFrame:
    """200 demo customers as text with the flagged rows among them, and a duplicate id."""
    demo = make_customers(200, seed=7).astype(str)
    frame = pd.concat([demo.iloc[:60], pd.DataFrame(BAD_ROWS), demo.iloc[60:]],
                      ignore_index=True)
    frame.loc[150, "customer_id"] = frame.loc[3, "customer_id"]
    return frame


@pytest.fixture(scope="session")
def inputs(table_frame, tmp_path_factory) -> dict[str, Path]:
    """The same table as CSV, gzip CSV, Parquet and Excel."""
    folder = tmp_path_factory.mktemp("inputs")
    paths = {"csv": folder / "customers.csv", "gz": folder / "customers.csv.gz",
             "parquet": folder / "customers.parquet", "xlsx": folder / "customers.xlsx"}
    table_frame.to_csv(paths["csv"], index=False)
    paths["gz"].write_bytes(gzip.compress(paths["csv"].read_bytes(), mtime=0))
    table_frame.to_parquet(paths["parquet"], index=False)
    table_frame.to_excel(paths["xlsx"], index=False)
    return paths


@pytest.fixture(scope="session")
def app(service_model):
    return create_app(service_model, Settings(max_rows=50, max_body_bytes=256 << 10,
                                              max_json_bytes=64 << 10))


@pytest.fixture(scope="session")
def keyed_app(service_model):
    return create_app(service_model, Settings(api_key=KEY))


@pytest.fixture()
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture()
def keyed(keyed_app):
    with TestClient(keyed_app) as c:
        yield c


@pytest.fixture(autouse=True)
def no_internal_error(caplog):
    """Fail a test whose requests reached the catch-all (a 500 for bad input is a bug)."""
    caplog.set_level(logging.INFO, logger="custseg.service")
    yield
    errors = [r for r in caplog.records
              if r.name == "custseg.service" and r.levelno >= logging.ERROR]
    assert not errors, errors[0].getMessage()
