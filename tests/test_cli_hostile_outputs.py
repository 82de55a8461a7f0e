"""Outputs and processes through the command line (issue 10, classes 1, 16, 17, 18).

Every refusal is exit 2 with one ``error:`` line, and the file that was protected is
byte for byte what it was. Signals are sent to real ``custseg`` processes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run

from custseg.cli import main

SCRIPT = shutil.which("custseg") or str(Path(sys.executable).with_name("custseg"))
SRC = str(Path(__file__).resolve().parents[1] / "src")


def refused(capsys, *args, words: str) -> str:
    """Run a command that must be refused: exit 2, one ``error:`` line holding ``words``."""
    code, _, err = run(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert words in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A customer table, a model fitted on it, a rulebook and a report, made once by the
    command line (a fit costs seconds)."""
    folder = tmp_path_factory.mktemp("made")
    base, model = folder / "base.csv", folder / "model.custseg"
    for args in (["demo-data", "-n", 300, "-o", base], ["fit", base, "-o", model],
                 ["rules", "-o", folder / "rules.toml"], ["report", model, "-o", folder / "r.html"]):
        assert main([str(a) for a in args]) == 0
    return folder


@pytest.fixture
def work(made, tmp_path):
    """The files of ``made``, copied into this test's own folder."""
    names = {"base": "base.csv", "model": "model.custseg", "rules": "rules.toml",
             "report": "r.html"}
    files = {key: Path(shutil.copy(made / name, tmp_path / name)) for key, name in names.items()}
    return {**files, "dir": tmp_path}


def snapshot(work) -> dict[str, bytes]:
    """The bytes of every file of ``work``."""
    return {k: v.read_bytes() for k, v in work.items() if k != "dir"}


# ------------------------------------------------------------ class 1: onto an input


def test_every_writer_refuses_its_own_input(work, capsys):
    base, model, rules = work["base"], work["model"], work["rules"]
    before = snapshot(work)
    cases = [
        ["fit", base, "-o", base],
        ["fit", base, "-o", base, "--force"],
        ["fit", base, "--rules", rules, "-o", rules],
        ["fit", base, "--reference", model, "-o", model],
        ["report", model, "--data", base, "-o", base],
        ["report", model, "-o", model],
        ["report", model, "-o", model, "--force"],
        ["rules", model, "-o", model],
        ["score", model, base, "-o", base],
        ["score", model, base, "-o", base, "--force"],
    ]
    for args in cases:
        refused(capsys, *args, words="is the input file")
    assert snapshot(work) == before


def test_an_input_is_recognised_by_any_name(work, capsys):
    base, model, folder = work["base"], work["model"], work["dir"]
    (folder / "link.csv").symlink_to(base)
    os.link(base, folder / "hard.csv")
    (folder / "sub").mkdir()
    (folder / "m.csv").symlink_to(model)
    before = snapshot(work)
    for name in ("link.csv", "hard.csv", "sub/../base.csv", "./base.csv"):
        refused(capsys, "score", model, base, "-o", folder / name, "--force",
                words="is the input file")
        refused(capsys, "fit", base, "-o", folder / name, "--force", words="is the input file")
    refused(capsys, "score", model, base, "-o", folder / "m.csv", words="is the input file")
    assert snapshot(work) == before
    assert (folder / "link.csv").is_symlink()


def test_the_dask_engine_refuses_an_existing_output(work, capsys):
    base, model = work["base"], work["model"]
    before = snapshot(work)
    for output in (base, model):
        refused(capsys, "score", model, base, "-o", output, "--engine", "dask",
                words="already exists")
    assert snapshot(work) == before


def test_another_kind_of_file_needs_force(work, capsys):
    base, model, report, rules, folder = (work[k] for k in ("base", "model", "report", "rules", "dir"))
    other = folder / "other.csv"
    shutil.copy(base, other)
    model_csv = folder / "model_copy.csv"
    shutil.copy(model, model_csv)
    before = {p: p.read_bytes() for p in (other, model_csv, report, rules, model)}
    cases = [
        (["fit", base, "-o", other], "holds a customer table"),
        (["fit", base, "-o", report], "holds an HTML report"),
        (["fit", base, "-o", rules], "holds a rulebook"),
        (["report", model, "-o", other], "holds a customer table"),
        (["report", model, "-o", rules], "holds a rulebook"),
        (["rules", "-o", model], "holds a custseg model file"),
        (["rules", "-o", other], "holds a customer table"),
        (["rules", "-o", report], "holds an HTML report"),
        (["score", model, base, "-o", model_csv], "holds a custseg model file"),
        (["demo-data", "-o", model_csv], "holds a custseg model file"),
    ]
    for args, words in cases:
        line = refused(capsys, *args, words=words)
        assert "allow replacing it (--force)" in line
    assert {p: p.read_bytes() for p in before} == before
    assert run(capsys, "fit", base, "-o", other, "--force")[0] == 0
    assert other.read_bytes()[:4] == b"PK\x03\x04"
    assert run(capsys, "score", model, base, "-o", model_csv, "--force")[0] == 0
    assert model_csv.read_text().startswith("\"customer_id\"")


def test_the_same_kind_or_an_empty_file_is_replaced(work, capsys):
    base, model, report, rules, folder = (work[k] for k in ("base", "model", "report", "rules", "dir"))
    scored = folder / "scored.csv"
    empty = folder / "empty.html"
    empty.touch()
    for args in (["fit", base, "-o", model], ["report", model, "-o", report],
                 ["rules", model, "-o", rules], ["score", model, base, "-o", scored],
                 ["score", model, base, "-o", scored], ["report", model, "-o", empty],
                 ["demo-data", "-o", folder / "demo.csv"], ["demo-data", "-o", folder / "demo.csv"]):
        code, _, err = run(capsys, *args)
        assert code == 0, (args, err)
    assert empty.read_text().startswith("<!DOCTYPE html>")


def test_the_output_is_checked_before_the_work(work, capsys, monkeypatch):
    """A refused output costs nothing: fit does not run at all."""
    import custseg.api

    def no_fit(*args, **kwargs):
        raise AssertionError("fit ran before the output was checked")

    monkeypatch.setattr(custseg.api, "fit", no_fit)
    refused(capsys, "fit", work["base"], "-o", work["report"], words="already exists")


# -------------------------------------------- class 18: long names and special files


def test_250_character_names_are_written_by_every_command(work, capsys):
    base, model, folder = work["base"], work["model"], work["dir"]
    stem = "x" * 246
    outputs = {
        "demo": folder / f"{stem}.csv",
        "fit": folder / f"{stem}.mdl",
        "score": folder / f"{'s' * 246}.csv",
        "report": folder / f"{stem}.htm",
        "rules": folder / f"{stem}.tml",
    }
    commands = [
        ["demo-data", "-o", outputs["demo"]],
        ["fit", base, "-o", outputs["fit"]],
        ["score", model, base, "-o", outputs["score"]],
        ["report", model, "-o", outputs["report"]],
        ["rules", "-o", outputs["rules"]],
    ]
    for args in commands:
        code, _, err = run(capsys, *args)
        assert code == 0, (args[0], err)
    assert all(p.is_file() and len(p.name) == 250 for p in outputs.values())
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_a_name_over_255_bytes_is_refused(work, capsys):
    for args in (["rules", "-o"], ["fit", work["base"], "-o"], ["demo-data", "-o"]):
        name = work["dir"] / ("é" * 126 + ".csv")  # 256 bytes
        refused(capsys, *args, name, words="is 256 bytes long; this file system allows at most 255")


def test_special_files_are_refused_and_kept(work, capsys, monkeypatch):
    base, model, folder = work["base"], work["model"], work["dir"]
    fifo = folder / "pipe.csv"
    os.mkfifo(fifo)
    to_fifo = folder / "to_pipe.csv"
    to_fifo.symlink_to(fifo)
    for output in (fifo, to_fifo):
        for args in (["fit", base, "-o", output], ["score", model, base, "-o", output],
                     ["report", model, "-o", output], ["rules", "-o", output],
                     ["demo-data", "-o", output], ["fit", base, "-o", output, "--force"]):
            refused(capsys, *args, words="is a named pipe (FIFO), not a regular file")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    monkeypatch.chdir(folder)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("s.csv")
        refused(capsys, "score", model, base, "-o", "s.csv", words="is a socket")
        refused(capsys, "rules", "-o", "s.csv", words="is a socket")
    refused(capsys, "rules", "-o", folder, words="is a folder")
    refused(capsys, "rules", "-o", base / "r.toml", words="is a file, not a folder")


def test_a_character_device_is_refused(work, capsys):
    node = work["dir"] / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except OSError:
        pytest.skip("creating a device node needs root")
    for args in (["rules", "-o", node], ["fit", work["base"], "-o", node, "--force"],
                 ["report", work["model"], "-o", node]):
        refused(capsys, *args, words="is a character device")
    assert stat.S_ISCHR(os.stat(node).st_mode)


# ----------------------------------------------- class 17: signals during score


@pytest.fixture(scope="module")
def big_gz(tmp_path_factory, demo_model):
    """A gzip of 2,000,000 customers (about 13 MB, 60 MB decompressed: seconds to score),
    a model, and the environment that runs the installed script from this tree."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from custseg.io.model_files import model_bytes

    folder = tmp_path_factory.mktemp("big")
    rng = np.random.default_rng(0)
    n = 2_000_000
    table = pa.table({"CustomerID": np.arange(n), "Age": rng.integers(18, 70, n),
                      "Annual Income (k$)": rng.integers(15, 140, n),
                      "Spending Score (1-100)": rng.integers(1, 100, n)})
    path = folder / "big.csv.gz"
    with pa.CompressedOutputStream(str(path), "gzip") as sink:
        pacsv.write_csv(table, sink, pacsv.WriteOptions(quoting_style="none"))
    model = folder / "m.custseg"
    model.write_bytes(model_bytes(demo_model))
    return path, model, dict(os.environ, PYTHONPATH=SRC)


def _wait_for(predicate, proc, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"custseg ended (exit {proc.returncode}) before the signal could be sent")
        if time.monotonic() > deadline:
            pytest.fail("custseg never reached the point where the signal is sent")
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "when"),
    [(signal.SIGTERM, "decompressing"), (signal.SIGTERM, "scoring"),
     (signal.SIGINT, "decompressing"), (signal.SIGINT, "scoring"), (signal.SIGHUP, "scoring")],
    ids=lambda value: getattr(value, "name", value),
)
def test_a_signal_during_score_leaves_nothing_behind(big_gz, tmp_path, signum, when):
    source, model, env = big_gz
    tmpdir, out = tmp_path / "tmpdir", tmp_path / "out"
    tmpdir.mkdir()
    out.mkdir()
    proc = subprocess.Popen([SCRIPT, "score", str(model), str(source), "-o", str(out / "s.csv")],
                            env=dict(env, TMPDIR=str(tmpdir)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        if when == "decompressing":  # the copy has just appeared in $TMPDIR
            _wait_for(lambda: any(tmpdir.iterdir()), proc)
        else:  # the scored output's temporary file is being written
            _wait_for(lambda: any(out.iterdir()), proc)
            assert any(tmpdir.iterdir())
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, err
    assert err.strip().splitlines() == [
        f"error: stopped by {name}; nothing half-written was left behind."]
    assert list(tmpdir.iterdir()) == []
    assert list(out.iterdir()) == []


def _catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler of its own for ``signum`` (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=lambda value: value.name)
def test_a_signal_while_the_command_line_loads_is_one_line(tmp_path, signum):
    """Found by the adversary: a Ctrl+C in the first second, while Python imports the
    command line, printed a KeyboardInterrupt traceback. The signal is sent as soon as the
    entry point has its handlers (SIGHUP, the last it sets), during the imports."""
    out = tmp_path / "d.csv"
    proc = subprocess.Popen([SCRIPT, "demo-data", "-n", "100", "-o", str(out)],
                            env=dict(os.environ, PYTHONPATH=SRC), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for(lambda: _catches(proc.pid, signal.SIGHUP), proc)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signum, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: stopped by {signum.name}")
    assert not out.exists()


# ------------------------------------------------------------ class 16: the dashboard


def _listening_socket(host: str = "127.0.0.1") -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind((host, 0))
    sock.listen()
    return sock, sock.getsockname()[1]


def _app(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([SCRIPT, "app", *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, PYTHONPATH=SRC))


@pytest.mark.slow
@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0", "localhost"])
def test_a_busy_port_exits_2_with_one_line(address):
    pytest.importorskip("streamlit")
    sock, port = _listening_socket()
    with sock:
        result = _app("--port", str(port), "--address", address)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: port {port} is in use; choose another with --port."]


@pytest.mark.slow
def test_an_address_that_cannot_be_served_exits_2():
    pytest.importorskip("streamlit")
    for address in ("no-such-host.invalid", "10.255.255.254"):
        result = _app("--port", "8599", "--address", address)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"error: --address '{address}' is not an address this "
                                   "machine can serve on ("), result.stderr


def _health(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as resp:
            return resp.read() == b"ok"
    except OSError:
        return False


@pytest.mark.slow
def test_sigterm_to_custseg_app_stops_the_server():
    """``custseg app`` becomes the server: SIGTERM to its pid leaves nothing answering."""
    pytest.importorskip("streamlit")
    sock, port = _listening_socket()
    sock.close()
    proc = subprocess.Popen([SCRIPT, "app", "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            env=dict(os.environ, PYTHONPATH=SRC))
    try:
        deadline = time.monotonic() + 60
        while not _health(port):
            assert proc.poll() is None, "custseg app ended before serving"
            assert time.monotonic() < deadline, "custseg app did not start in 60 s"
            time.sleep(0.3)
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"custseg.app.launch" in cmdline  # the same process is the server: none orphaned
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        time.sleep(0.5)
        assert not _health(port)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["starting", "serving"])
def test_ctrl_c_to_custseg_app_stops_it_without_a_traceback(moment):
    """Found by the adversary: a Ctrl+C while Streamlit's server was still starting (its
    port already open) printed starlette's startup traceback."""
    pytest.importorskip("streamlit")
    sock, port = _listening_socket()
    sock.close()
    proc = subprocess.Popen([SCRIPT, "app", "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=dict(os.environ, PYTHONPATH=SRC))

    def up() -> bool:
        if moment == "serving":
            return _health(port)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    try:
        _wait_for(up, proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert "Traceback" not in err, err
    assert not _health(port)


@pytest.mark.slow
def test_the_dask_engine_writes_a_250_character_folder(work, capsys):
    pytest.importorskip("distributed")
    folder = work["dir"] / ("d" * 250)
    code, _, err = run(capsys, "score", work["model"], work["base"], "-o", folder, "--engine", "dask")
    assert code == 0, err
    assert [p.name for p in folder.iterdir()] == ["part-00000.csv"]
    assert not [p for p in work["dir"].iterdir() if p.name.startswith(".")]
    refused(capsys, "score", work["model"], work["base"], "-o", work["dir"] / ("d" * 256),
            "--engine", "dask", words="is 256 bytes long")
