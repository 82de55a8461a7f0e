"""``rfm`` on Dask: the local engine's table and summary, to the last digit, on logs of
several files whose customers' lines (and invoices) are spread across them, with the
log-wide decisions (date order, UCI cancellations, identical lines, the as-of date)
taken over every file. One in-process cluster serves the module."""

from __future__ import annotations

import json

import pytest
from cli_helpers import one_error_line, run
from log_parts import HEADER, PREFIXED_PARTS, UCI_PARTS, demo_parts, write_parts

from custseg.errors import InputFileError
from custseg.io.rfm import aggregate_log

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    """One in-process cluster for the module (a process cluster takes seconds)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster:
        yield cluster


@pytest.mark.parametrize("parts", ["uci", "prefixed", "demo"])
def test_identical_to_the_local_engine(cluster, tmp_path, parts):
    from custseg.io.rfm_dask import aggregate_log_dask

    header, given = (demo_parts() if parts == "demo"
                     else (HEADER, {"uci": UCI_PARTS, "prefixed": PREFIXED_PARTS}[parts]))
    folder, whole = write_parts(tmp_path, given, header)
    local = aggregate_log(whole)
    dask = aggregate_log_dask(str(folder), scheduler=cluster.scheduler_address)
    assert dask.table.equals(local.table)
    assert dask.summary == local.summary
    folder_local = aggregate_log(folder)  # the local engine on the same files
    assert folder_local.table.equals(local.table)
    assert folder_local.summary == local.summary
    assert folder_local.date_format == dask.date_format == local.date_format
    got = {r["customer_id"]: r for r in dask.table.to_pylist()}
    if parts == "uci":
        c = got["17850"]  # 536365 in two files: one order; C536379 a return
        assert (c["frequency"], c["monetary"], c["returns_value"]) == (2, 40.19, 2.55)
        assert str(c["first_purchase"]) == "2010-12-01"  # month-first, from b.csv
        assert (got["13047"]["frequency"], got["13047"]["monetary"]) == (2, 16.5)
        r = got["99999"]  # returns only, across b and c
        assert (r["frequency"], r["monetary"], r["returns_value"], r["recency_days"]) == (
            0, -12.0, 12.0, None)
        s = dask.summary
        assert (s.read, s.used, s.duplicate_lines, s.as_of) == (13, 11, 2, "2010-12-14")
        assert s.excluded == {"no customer id": 1, "unreadable quantity": 1}
    elif parts == "prefixed":
        assert (got["7"]["frequency"], got["7"]["monetary"], got["7"]["returns_value"]) == (
            3, 34.0, 0.0)
    else:  # customers whose lines are in more than one file
        ids = [set(p.split(",")[2] for p in lines.splitlines()) for lines in given.values()]
        assert len((ids[0] & ids[1]) | (ids[1] & ids[2])) > 100
        assert len(got) > 400


def test_a_refused_scheduler_address(tmp_path):
    from custseg.errors import CustsegError
    from custseg.io.rfm_dask import aggregate_log_dask

    folder, _ = write_parts(tmp_path, PREFIXED_PARTS)
    with pytest.raises(CustsegError, match="cannot reach the Dask scheduler at "
                                           "'tcp://127.0.0.1:1' .*connection refused"):
        aggregate_log_dask(str(folder), scheduler="tcp://127.0.0.1:1", connect_timeout="1s")
    assert not list(tmp_path.glob("**/.custseg-rfm-*"))


def test_files_of_another_header_are_refused(cluster, tmp_path):
    from custseg.io.rfm_dask import aggregate_log_dask

    folder, _ = write_parts(tmp_path, PREFIXED_PARTS)
    (folder / "z.csv").write_text("Order ID,Date,Customer ID,Amount\n1,2021-01-01,7,3\n",
                                  encoding="utf-8")
    with pytest.raises(InputFileError, match="column 1 of 'z.csv' is 'Order ID' where "
                                             "'x.csv' has 'InvoiceNo'"):
        aggregate_log_dask(str(folder), scheduler=cluster.scheduler_address)


def test_cli(cluster, tmp_path, capsys):
    folder, whole = write_parts(tmp_path, UCI_PARTS)
    code, local_json, err = run(capsys, "rfm", whole, "-o", tmp_path / "local.csv", "--json")
    assert code == 0, err
    code, dask_json, err = run(capsys, "rfm", str(folder / "*.csv"), "-o",
                               tmp_path / "dask.csv", "--json", "--engine", "dask",
                               "--scheduler", cluster.scheduler_address)
    assert code == 0, err
    assert json.loads(dask_json) == json.loads(local_json)
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()
    assert not list(tmp_path.glob(".custseg-rfm-*"))  # the lines' folder is gone

    code, _, err = run(capsys, "rfm", folder, "-o", tmp_path / "x.csv", "--engine", "dask",
                       "--scheduler", "http://127.0.0.1:8787")
    assert "Dask does not speak 'http://'" in one_error_line(code, err)
    code, _, err = run(capsys, "rfm", whole, "-o", tmp_path / "x.csv", "--scheduler",
                       cluster.scheduler_address)
    assert "--scheduler only applies with --engine dask" in one_error_line(code, err)
    assert not (tmp_path / "x.csv").exists()


def test_engine_arguments_are_checked_before_any_work(tmp_path):
    from custseg.errors import ParameterError
    from custseg.io.rfm import rfm_file

    text = (HEADER + PREFIXED_PARTS["x.csv"]).encode()
    with pytest.raises(ParameterError, match="reads its files by name"):
        rfm_file(text, engine="dask")
    with pytest.raises(ParameterError, match="'spark' is not one of local, dask"):
        rfm_file(text, engine="spark")
    with pytest.raises(ParameterError, match="only applies with the Dask engine"):
        rfm_file(text, scheduler="tcp://127.0.0.1:8786")
    assert rfm_file(text, name="x.csv").summary.read == 2  # the local engine reads bytes
