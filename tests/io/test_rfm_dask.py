"""``rfm`` on Dask: the local engine's table and summary, to the last digit, on logs of
several files whose customers' lines (and invoices) are spread across them, with the
log-wide decisions (date order, UCI cancellations, identical lines, the as-of date)
taken over every file. One in-process cluster serves the module."""

from __future__ import annotations

import json

import pytest
from cli_helpers import one_error_line, run

from custseg.errors import InputFileError
from custseg.io.rfm import aggregate_log

pytest.importorskip("distributed")

HEADER = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"

#: UCI-style, in three files and an empty one. Alone, a.csv's dates cannot tell their
#: order (every day is 12 or less): b.csv's 12/13 says month-first for the whole log.
#: Invoice 536365 of 17850 has lines in a and b (one order); 17850 is written 17850.0
#: and 17850; a line of 13047 is in the log three times (a, a, b); 99999 only returns
#: (C536380 in b, C536381 in c, written 99999.0); d.csv has a header and no line.
UCI_PARTS = {
    "a.csv": ("536365,A,6,12/01/2010 08:26,2.55,17850.0\n"
              "536365,B,6,12/01/2010 08:26,3.39,17850.0\n"
              "536370,A,3,12/02/2010 10:00,1.00, 13047 \n"
              "536370,A,3,12/02/2010 10:00,1.00, 13047 \n"
              "536371,A,1,12/03/2010 10:00,5.00,\n"
              "536372,A,abc,12/03/2010 10:00,5.00,12000\n"),
    "b.csv": ("536365,C,2,12/01/2010 08:26,1.00,17850\n"
              "536366,A,2,12/13/2010 09:00,2.55,17850\n"
              "C536379,A,-1,12/14/2010 09:00,2.55,17850.0\n"
              "536370,A,3,12/02/2010 10:00,1.00, 13047 \n"
              "C536380,A,-2,12/05/2010 10:00,4.00,99999\n"),
    "c.csv": ("C536381,A,-1,12/06/2010 10:00,4.00,99999.0\n"
              "536373,A,1,12/09/2010 10:00,7.50,13047\n"),
    "d.csv": "",
}

#: x.csv alone is UCI-style (C100 a cancellation); y.csv's letter-prefixed order ids say
#: the log's ids are not, so C100, with its positive quantity, is a purchase.
PREFIXED_PARTS = {
    "x.csv": ("100,A,1,2021-03-01,10,7\n"
              "C100,A,2,2021-03-02,10,7\n"),
    "y.csv": ("CA-7731,A,1,2021-03-05,4,7\n"
              "101,A,1,2021-03-06,4,8\n"),
}


@pytest.fixture(scope="module")
def cluster():
    """One in-process cluster for the module (a process cluster takes seconds)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster:
        yield cluster


def write_parts(folder, parts: dict[str, str], header: str = HEADER):
    """The parts in ``folder/parts`` and their concatenation, ``folder/all.csv``."""
    (folder / "parts").mkdir()
    for name, lines in parts.items():
        (folder / "parts" / name).write_text(header + lines, encoding="utf-8")
    (folder / "all.csv").write_text(header + "".join(parts.values()), encoding="utf-8")
    return folder / "parts", folder / "all.csv"


def demo_parts() -> tuple[str, dict[str, str]]:
    """The demo log's header and its 6,000 lines cut into three files by line, not by
    customer."""
    from custseg.table.sample_log import make_transactions

    log, _ = make_transactions(6_000, 4)
    header, text = log.to_csv(index=False).split("\n", 1)
    lines = text.splitlines(keepends=True)
    cuts = [0, 2_000, 4_500, 6_000]
    return header + "\n", {f"p{i}.csv": "".join(lines[a:b])
                           for i, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False))}


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
