"""Hostile input to the Dask engine (issue 10, class 14): scheduler addresses that are not
a scheduler, and sets of files one of which is bad, empty of rows or of another shape.

Every case ends in one CustsegError (the command line: one ``error:`` line, exit 2), or a
result with every row. Servers that are not Dask run in this process on 127.0.0.1 and
stop with their test; the connection timeout is 1 s so that the slow cases stay fast.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

import custseg
from custseg.cli import main
from custseg.errors import CustsegError
from custseg.io.score_files import score_file

pytest.importorskip("distributed")

TIMEOUT = "1s"


@pytest.fixture(scope="module")
def cluster():
    """One in-process cluster for the whole module (a process cluster takes seconds)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A model, its file, the rows as text and a header line."""
    folder = tmp_path_factory.mktemp("dask_hostile")
    df = custseg.make_customers(240, seed=7).astype(str)
    model = custseg.fit(df, params={"n_clusters": 4})
    path = folder / "m.custseg"
    custseg.save_model(model, path)
    return folder, model, path, df


def parts(folder: Path, df: pd.DataFrame, *extra: tuple[str, bytes]) -> Path:
    """A folder of two good parts (rows 0-99 and 100-239) and the given extra files."""
    folder.mkdir()
    df.iloc[:100].to_csv(folder / "a.csv", index=False)
    df.iloc[100:].to_csv(folder / "c.csv", index=False)
    for name, content in extra:
        (folder / name).write_bytes(content)
    return folder


def header(df: pd.DataFrame) -> bytes:
    return df.head(0).to_csv(index=False).encode()


def score(model, inputs, output, cluster=None, scheduler=None, **kw):
    from custseg.io.dask_engine import score_dask

    if scheduler is None and cluster is not None:
        scheduler = cluster.scheduler_address
    return score_dask(model, inputs, output, scheduler=scheduler, connect_timeout=TIMEOUT, **kw)


def joined(folder: Path) -> bytes:
    chunks = [open(f, "rb").read() for f in sorted(glob.glob(str(folder / "part-*.csv")))]
    return chunks[0] + b"".join(c.split(b"\n", 1)[1] for c in chunks[1:])


def one_error_line(capsys) -> str:
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# ----------------------------------------------------------------- scheduler addresses


@contextlib.contextmanager
def server(behaviour: str):
    """A TCP server on 127.0.0.1 that is not a Dask scheduler; yields its address."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def answer(conn: socket.socket) -> None:
        with conn:
            try:
                if behaviour == "garbage":
                    conn.sendall(b"\xff" * 64 + b"not dask" * 32)
                elif behaviour == "http":
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                elif behaviour == "close":
                    return
                elif behaviour == "gigabyte":  # announces a 1 GB message, then nothing
                    conn.sendall(struct.pack("Q", 2**30))
                stop.wait(10)  # "silent" too: accept, say nothing
            except OSError:
                pass

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("address, says", [
    ("notaurl", "needs a port number"),
    ("", "needs a port number"),
    ("127.0.0.1", "needs a port number"),
    ("tcp://127.0.0.1:abc", "needs a port number"),
    ("tcp://127.0.0.1:99999", "port 99999 is outside 1-65535"),
    ("tcp://127.0.0.1:0", "port 0 is outside"),
    ("http://127.0.0.1:8786", "does not speak 'http://'"),
    ("file:///etc/passwd", "does not speak 'file://'"),
])
def test_an_address_that_is_not_one_is_refused_before_connecting(data, tmp_path, address, says):
    _, model, _, df = data
    inputs = parts(tmp_path / "in", df)
    with pytest.raises(CustsegError, match=says) as caught:
        score(model, inputs, tmp_path / "out", scheduler=address)
    assert "is not a Dask scheduler address" in caught.value.message
    assert caught.value.parameter == "scheduler"
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in"]  # no temporary folder left


def test_tls_without_certificates_says_how_to_configure_them(data, tmp_path):
    _, model, _, df = data
    with pytest.raises(CustsegError, match="uses TLS, and no TLS certificates are configured"
                       ) as caught:
        score(model, parts(tmp_path / "in", df), tmp_path / "out",
              scheduler=f"tls://127.0.0.1:{closed_port()}")
    assert "DASK_DISTRIBUTED__COMM__TLS__CA_FILE" in caught.value.message


@pytest.mark.parametrize("behaviour", ["garbage", "http"])
def test_a_server_that_speaks_another_protocol_is_not_a_scheduler(data, tmp_path, behaviour):
    """An HTTP server's first bytes read as a message length are 3 EiB: refused, not
    allocated, and not a MemoryError."""
    _, model, _, df = data
    with server(behaviour) as address, pytest.raises(
            CustsegError, match="does not answer as a Dask scheduler") as caught:
        score(model, parts(tmp_path / "in", df), tmp_path / "out", scheduler=address)
    assert "8787 is its dashboard" in caught.value.message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("behaviour", ["silent", "gigabyte", "close"])
def test_a_server_that_never_answers_is_given_up_on(data, tmp_path, behaviour):
    """Dask waits for a silent server's handshake without a time limit (and for a gigabyte
    it announced): custseg gives up after the connection timeout."""
    _, model, _, df = data
    with server(behaviour) as address, pytest.raises(CustsegError) as caught:
        score(model, parts(tmp_path / "in", df), tmp_path / "out", scheduler=address)
    message = caught.value.message
    assert (f"cannot reach the Dask scheduler at '{address}' within 1 s" in message
            or "does not answer as a Dask scheduler" in message), message


def test_an_unreachable_port_times_out_with_a_message(data, tmp_path):
    _, model, _, df = data
    address = f"tcp://127.0.0.1:{closed_port()}"
    with pytest.raises(CustsegError, match=r"within 1 s \(connection refused\); check the "
                       r"address \(tcp://host:8786\) and that the scheduler is running"):
        score(model, parts(tmp_path / "in", df), tmp_path / "out", scheduler=address)


def test_a_refused_port_is_said_even_when_our_own_deadline_fires_first(monkeypatch):
    """Under load the probe's deadline could fire while Dask still retried a refused
    connection, and the message said "no answer" (a flaky CI failure): the port decides."""
    import asyncio

    import distributed.core

    from custseg.io import dask_engine

    class Silent:
        def __init__(self, *args, **kwargs):
            pass

        async def identity(self):
            await asyncio.sleep(30)

        async def close_rpc(self):
            pass

    monkeypatch.setattr(distributed.core, "rpc", Silent)
    address = f"tcp://127.0.0.1:{closed_port()}"
    with pytest.raises(CustsegError, match=r"within 0.2 s \(connection refused\)"):
        dask_engine._identity(address, {}, 0.2)


def test_a_workers_address_is_not_the_schedulers(data, tmp_path, cluster):
    _, model, _, df = data
    worker = next(iter(cluster.scheduler.workers))
    with pytest.raises(CustsegError, match="is a Dask worker, not a Dask scheduler"):
        score(model, parts(tmp_path / "in", df), tmp_path / "out", scheduler=worker)


def test_a_scheduler_with_no_workers_is_refused_not_waited_on(data, tmp_path):
    from distributed import LocalCluster

    _, model, _, df = data
    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as empty, \
            pytest.raises(CustsegError, match="has no workers .none joined within 1 s.; "
                          "start some"):
        score(model, parts(tmp_path / "in", df), tmp_path / "out", empty)
    assert not (tmp_path / "out").exists()


def test_the_command_line_says_each_in_one_line(data, tmp_path, capsys):
    folder, _, model_path, df = data
    inputs = parts(tmp_path / "in", df)
    cases = {"notaurl": "error: 'notaurl' is not a Dask scheduler address: it needs a port "
                        "number after the host; give one such as tcp://host:8786 (--scheduler)",
             "tls://127.0.0.1:1": "error: the scheduler address 'tls://127.0.0.1:1' uses TLS"}
    for address, said in cases.items():
        code = main(["score", str(model_path), str(inputs), "-o", str(tmp_path / "out"),
                     "--engine", "dask", "--scheduler", address])
        assert code == 2
        assert one_error_line(capsys).startswith(said)
    with server("http") as address:
        code = main(["score", str(model_path), str(inputs), "-o", str(tmp_path / "out"),
                     "--engine", "dask", "--scheduler", address])
    assert code == 2
    assert "does not answer as a Dask scheduler" in one_error_line(capsys)
    code = main(["score", str(model_path), str(inputs), "-o", str(tmp_path / "o.csv"),
                 "--scheduler", ""])
    assert code == 2
    assert one_error_line(capsys) == "error: --scheduler only applies with --engine dask."


# ----------------------------------------------------------------------- the files


BAD_FILES = {
    "binary": (b"b.csv", bytes(range(256)) * 8, "'b.csv' is binary data"),
    "empty": (b"b.csv", b"", "'b.csv' is empty (0 bytes)"),
    "zip named csv": (b"b.csv", b"PK\x03\x04" + b"\x00" * 60, "'b.csv' is a damaged ZIP"),
    "broken gzip": (b"b.csv.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 40,
                    "'b.csv.gz' is a damaged gzip file"),
    "no header": (b"b.csv", b"\n\n\n", "'b.csv' has no header row"),
    "missing field": (b"b.csv", b"customer_id,age\n1,30\n", "no column for"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_one_bad_file_among_good_ones_is_one_error_naming_it(data, tmp_path, cluster, kind):
    """The whole run is refused (a file that cannot be read has no rows to flag), in one
    error that names the file, and nothing is written."""
    _, model, _, df = data
    name, content, says = BAD_FILES[kind]
    inputs = parts(tmp_path / "in", df, (name.decode(), content))
    with pytest.raises(CustsegError, match=says.replace("(", r"\(").replace(")", r"\)")):
        score(model, inputs, tmp_path / "out", cluster)
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_the_same_file_name_in_two_folders_is_named_by_its_path(data, tmp_path, cluster):
    _, model, _, df = data
    for sub in ("x", "y"):
        (tmp_path / sub).mkdir()
        df.to_csv(tmp_path / sub / "p.csv", index=False)
    (tmp_path / "y" / "p.csv").write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(CustsegError, match=r"^'.*y/p\.csv' is binary data"):
        score(model, str(tmp_path / "*" / "p.csv"), tmp_path / "out", cluster)


def test_the_error_is_the_first_bad_file_in_input_order(data, tmp_path, cluster):
    _, model, _, df = data
    inputs = parts(tmp_path / "in", df, ("b1.csv", b""), ("b2.csv", b"\x00" * 100))
    for _ in range(3):
        with pytest.raises(CustsegError, match="^'b1.csv' is empty"):
            score(model, inputs, tmp_path / "out", cluster)


def test_a_header_only_part_adds_no_rows(data, tmp_path, cluster):
    """It used to refuse the whole run; now it is a part with the header and no rows, and
    the parts together are what the local engine writes for the files concatenated."""
    _, model, _, df = data
    inputs = parts(tmp_path / "in", df, ("b.csv", header(df)))
    report = score(model, inputs, tmp_path / "out", cluster)
    assert report.n_rows == 240
    out = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert out == ["part-00000.csv", "part-00001.csv", "part-00002.csv"]
    empty = pd.read_csv(tmp_path / "out" / "part-00001.csv", dtype=str)
    assert len(empty) == 0
    assert list(empty.columns) == list(df.columns) + [
        "segment_id", "segment_name", "confidence", "atypical", "row_status", "row_issues"]
    df.to_csv(tmp_path / "all.csv", index=False)
    score_file(model, tmp_path / "all.csv", tmp_path / "local.csv")
    assert joined(tmp_path / "out") == (tmp_path / "local.csv").read_bytes()


def test_a_header_only_part_in_parquet_has_the_schema_of_the_others(data, tmp_path, cluster):
    import pyarrow.parquet as pq

    _, model, _, df = data
    inputs = parts(tmp_path / "in", df, ("b.csv", header(df)))
    (inputs / "d.csv.gz").write_bytes(gzip.compress(header(df)))
    report = score(model, inputs, tmp_path / "out.parquet", cluster)
    assert report.n_rows == 240
    tables = [pq.read_table(p) for p in sorted((tmp_path / "out.parquet").iterdir())]
    assert [t.num_rows for t in tables] == [100, 0, 140, 0]
    assert all(t.schema == tables[0].schema for t in tables)


def test_only_header_only_parts_is_refused(data, tmp_path, cluster):
    _, model, _, df = data
    (tmp_path / "in").mkdir()
    for name in ("a.csv", "b.csv"):
        (tmp_path / "in" / name).write_bytes(header(df))
    with pytest.raises(CustsegError, match="the input files have headers but no data rows"):
        score(model, tmp_path / "in", tmp_path / "out", cluster)


def _renamed(df):
    return df.rename(columns={"age": "Age"})


@pytest.mark.parametrize("change, says", [
    (_renamed, "column 3 of 'b.csv' is 'Age' where 'a.csv' has 'age'"),
    (lambda d: d.assign(extra="x"), "'b.csv' has 6 columns where 'a.csv' has 5"),
    (lambda d: d.drop(columns=["gender"]),
     "column 2 of 'b.csv' is 'age' where 'a.csv' has 'gender' .and 4 columns, not 5."),
    (lambda d: d[list(d.columns[::-1])], "column 1 of 'b.csv' is 'spending_score'"),
    (lambda d: d.head(0).rename(columns={"age": "Age"}), "column 3 of 'b.csv' is 'Age'"),
])
def test_parts_with_different_headers_are_refused(data, tmp_path, cluster, change, says):
    """Parts are one table: one whose columns differ (even only in case, or in order)
    would give parts that do not line up, so the run is refused, naming the file."""
    _, model, _, df = data
    (tmp_path / "in").mkdir()
    df.iloc[:100].to_csv(tmp_path / "in" / "a.csv", index=False)
    change(df.iloc[100:]).to_csv(tmp_path / "in" / "b.csv", index=False)
    with pytest.raises(CustsegError, match=says) as caught:
        score(model, tmp_path / "in", tmp_path / "out", cluster)
    assert "need the same header" in caught.value.message
    assert not (tmp_path / "out").exists()


def test_a_bad_part_on_the_command_line_is_one_line(data, tmp_path):
    """The default local cluster's workers are processes of their own: what they log
    reaches the terminal, so this runs the real command in a child."""
    _, _, model_path, df = data
    inputs = parts(tmp_path / "in", df, ("b.csv", bytes(range(256)) * 8))
    src = Path(custseg.__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from custseg.cli import main; sys.exit(main())",
         "score", str(model_path), str(inputs), "-o", str(tmp_path / "out"),
         "--engine", "dask", "-q"],
        capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(src),
                                                           "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "error: 'b.csv' is binary data, not text, not a customer table. Expected CSV or TSV "
        "text (comma, semicolon or tab separated), Excel .xlsx, or Parquet."]
    assert not (tmp_path / "out").exists()


def test_a_damaged_gzip_is_refused_by_the_local_engine_too(tmp_path):
    """zlib's own error (a deflate stream that is not one) was an internal error."""
    from custseg.io.source import TableSource

    with pytest.raises(CustsegError, match="'b.csv.gz' is a damaged gzip file"):
        TableSource(b"\x1f\x8b\x08\x00" + b"\x00" * 40, name="b.csv.gz")
