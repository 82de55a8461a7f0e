"""Outputs, library side (issue 10, classes 1, 17, 18): an output never replaces an input
or a file of another kind, never a special file; temporary names are short; a
decompressed copy never outlives the run, however it ends."""

from __future__ import annotations

import gzip
import io
import os
import socket
import stat
import tempfile
from pathlib import Path

import pandas as pd
import pytest

import custseg
from custseg.errors import CustsegError, InputFileError
from custseg.io.decompress import decompress
from custseg.io.model_files import load_model, model_bytes
from custseg.io.outputs import atomic_path, check_output_path, existing_kind
from custseg.io.source import TableSource
from custseg.io.writers import write_table, write_text


@pytest.fixture
def files(tmp_path, demo_model):
    """A customer table, a model file, a report, a rulebook, in tmp_path."""
    table = tmp_path / "base.csv"
    custseg.make_customers(120, seed=2).to_csv(table, index=False)
    model = tmp_path / "model.custseg"
    model.write_bytes(model_bytes(demo_model))
    report = tmp_path / "r.html"
    report.write_text("<!DOCTYPE html>\n<html><body>report</body></html>")
    rules = tmp_path / "rules.toml"
    rules.write_text(demo_model.rulebook.to_toml())
    return {"table": table, "model": model, "report": report, "rules": rules}


# ------------------------------------------------------------ class 1: onto an input


def test_score_file_refuses_its_input_by_any_name(files, demo_model, tmp_path):
    table = files["table"]
    (tmp_path / "link.csv").symlink_to(table)
    os.link(table, tmp_path / "hard.csv")
    (tmp_path / "sub").mkdir()
    before = table.read_bytes()
    for name in (table, tmp_path / "link.csv", tmp_path / "hard.csv",
                 tmp_path / "sub" / ".." / "base.csv"):
        for force in (False, True):
            with pytest.raises(InputFileError, match="is the input file"):
                custseg.score_file(demo_model, table, name, force=force)
    assert table.read_bytes() == before
    assert (tmp_path / "link.csv").is_symlink()


def test_save_model_refuses_an_input_even_with_force(files, demo_model):
    before = files["table"].read_bytes()
    for force in (False, True):
        with pytest.raises(InputFileError, match="is the input file"):
            custseg.save_model(demo_model, files["table"], inputs=[files["table"]], force=force)
    assert files["table"].read_bytes() == before


@pytest.mark.parametrize("held", ["table", "report", "rules"])
def test_save_model_over_another_kind_needs_force(files, demo_model, held):
    target = files[held]
    before = target.read_bytes()
    with pytest.raises(InputFileError, match="already exists and holds") as caught:
        custseg.save_model(demo_model, target)
    assert caught.value.parameter == "force"
    assert "(force)" in str(caught.value)
    assert target.read_bytes() == before
    custseg.save_model(demo_model, target, force=True)
    assert load_model(target).summary() == demo_model.summary()


def test_score_file_over_a_model_or_report_needs_force(files, demo_model, tmp_path):
    for held in ("model", "report"):
        target = tmp_path / f"{held}.csv"
        target.write_bytes(files[held].read_bytes())
        with pytest.raises(InputFileError, match="already exists and holds"):
            custseg.score_file(demo_model, files["table"], target)
        assert target.read_bytes() == files[held].read_bytes()
        custseg.score_file(demo_model, files["table"], target, force=True)
        assert len(pd.read_csv(target)) == 120


def test_same_kind_and_empty_files_are_replaced(files, demo_model, tmp_path):
    custseg.save_model(demo_model, files["model"])  # a model over a model
    out = tmp_path / "scored.csv"
    for _ in range(2):  # a table over a table
        custseg.score_file(demo_model, files["table"], out)
    empty = tmp_path / "empty.custseg"
    empty.touch()
    custseg.save_model(demo_model, empty)
    write_text("<!DOCTYPE html><p>new", files["report"], kind="report")
    write_text(demo_model.rulebook.to_toml(), files["rules"], kind="rulebook")
    assert load_model(empty).summary() == demo_model.summary()


def test_text_writers_refuse_their_inputs_and_other_kinds(files, tmp_path):
    with pytest.raises(InputFileError, match="is the input file"):
        write_text("x", files["model"], files["model"], kind="rulebook", force=True)
    for held in ("table", "model", "report"):
        with pytest.raises(InputFileError, match="already exists and holds"):
            write_text("version = 1\n", files[held], kind="rulebook")
    model_named_csv = _copy(files["model"], tmp_path / "m.csv")
    with pytest.raises(InputFileError, match="already exists and holds a custseg model"):
        write_table(_arrow(pd.DataFrame({"a": [1]})), model_named_csv)
    assert model_named_csv.read_bytes() == files["model"].read_bytes()


def _arrow(frame):
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False)


def _copy(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes())
    return target


def test_existing_kinds_are_told_by_content(files, tmp_path, demo_model):
    assert existing_kind(files["table"]) == "table"
    assert existing_kind(files["model"]) == "model"
    assert existing_kind(files["report"]) == "report"
    assert existing_kind(files["rules"]) == "rulebook"
    renamed = _copy(files["model"], tmp_path / "looks_like.csv")
    assert existing_kind(renamed) == "model"  # the content decides, not the name
    parquet = tmp_path / "t.parquet"
    custseg.make_customers(10).to_parquet(parquet)
    assert existing_kind(parquet) == "table"
    xlsx = tmp_path / "t.xlsx"
    custseg.make_customers(10).to_excel(xlsx, index=False)
    assert existing_kind(xlsx) == "table"
    gz = tmp_path / "t.csv.gz"
    gz.write_bytes(gzip.compress(files["table"].read_bytes()))
    assert existing_kind(gz) == "compressed"
    toml_no_suffix = _copy(files["rules"], tmp_path / "my_rules")
    assert existing_kind(toml_no_suffix) == "rulebook"
    notes = tmp_path / "notes.md"
    notes.write_text("# my notes\n")
    assert existing_kind(notes) == "text"
    (tmp_path / "empty").touch()
    assert existing_kind(tmp_path / "empty") is None
    with pytest.raises(InputFileError, match="holds a text file"):
        custseg.save_model(demo_model, notes)


# -------------------------------------------- class 18: long names and special files


def test_a_250_character_name_is_written(demo_model, files, tmp_path):
    name = "n" * 246
    model = custseg.save_model(demo_model, tmp_path / f"{name}.mdl")
    assert model.name == f"{name}.mdl" and load_model(model)
    scored = tmp_path / f"{'s' * 251}.csv"  # 255 bytes, the limit
    custseg.score_file(demo_model, files["table"], scored)
    assert len(pd.read_csv(scored)) == 120
    multibyte = tmp_path / ("é" * 125 + ".csv")  # 254 bytes in UTF-8
    custseg.score_file(demo_model, files["table"], multibyte)
    assert multibyte.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_name_over_the_limit_is_refused_clearly(demo_model, tmp_path):
    with pytest.raises(InputFileError, match="256 bytes long; this file system allows at most 255"):
        custseg.save_model(demo_model, tmp_path / ("b" * 256))
    with pytest.raises(InputFileError, match="bytes long"):
        custseg.save_model(demo_model, tmp_path / ("é" * 128))


def test_temporary_names_are_short_and_removed(tmp_path):
    target = tmp_path / ("t" * 255)
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".custseg-") and len(tmp.name) <= 20
        tmp.write_text("done")
    assert target.read_text() == "done"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "x") as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_special_files_are_refused_and_left_alone(demo_model, files, tmp_path, monkeypatch):
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputFileError, match=r"named pipe \(FIFO\), not a regular file"):
        custseg.save_model(demo_model, fifo, force=True)
    with pytest.raises(InputFileError, match="named pipe"):
        custseg.score_file(demo_model, files["table"], fifo, force=True)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    link = tmp_path / "to_fifo.csv"
    link.symlink_to(fifo)
    with pytest.raises(InputFileError, match="named pipe"):
        custseg.score_file(demo_model, files["table"], link)
    monkeypatch.chdir(tmp_path)  # a Unix socket's path must be short
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("s.sock")
        with pytest.raises(InputFileError, match="is a socket"):
            custseg.save_model(demo_model, "s.sock")
        assert stat.S_ISSOCK(os.stat("s.sock").st_mode)
    # /dev/null is only checked here, never written to, whatever happens
    with pytest.raises(InputFileError, match="character device"):
        check_output_path("/dev/null", kind="model", force=True)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_device_node_is_refused(demo_model, tmp_path):
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError):
        pytest.skip("creating a device node needs root")
    with pytest.raises(InputFileError, match="character device"):
        custseg.save_model(demo_model, node, force=True)
    assert stat.S_ISCHR(os.stat(node).st_mode)


def test_a_symlinked_output_is_written_through(demo_model, files, tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old,table\n1,2\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    custseg.score_file(demo_model, files["table"], link)
    assert link.is_symlink() and len(pd.read_csv(real)) == 120


def test_a_file_as_folder_is_refused(demo_model, files):
    with pytest.raises(InputFileError, match="is a file, not a folder"):
        custseg.save_model(demo_model, files["table"] / "m.custseg")


# --------------------------------------------- class 17: the decompressed copy goes


@pytest.fixture
def tmpdir_folder(tmp_path, monkeypatch):
    """A private $TMPDIR, to see what custseg leaves there."""
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


class _Interrupting(io.RawIOBase):
    """A stream that raises KeyboardInterrupt after ``after`` bytes."""

    def __init__(self, data: bytes, after: int) -> None:
        self._data, self._at, self._after = data, 0, after

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._at >= self._after:
            raise KeyboardInterrupt
        chunk = self._data[self._at:self._at + min(len(buffer), 1 << 16)]
        buffer[:len(chunk)] = chunk
        self._at += len(chunk)
        return len(chunk)


def test_an_interrupted_decompression_leaves_nothing(tmpdir_folder):
    payload = gzip.compress(os.urandom(1 << 21))  # incompressible: the stream is long
    with pytest.raises(KeyboardInterrupt):
        decompress(io.BufferedReader(_Interrupting(payload, len(payload) // 2)), "gzip",
                   "x.csv.gz", 1 << 30, in_memory=False)
    assert list(tmpdir_folder.iterdir()) == []


def _gz_table(tmp_path: Path, rows: int = 3_000) -> Path:
    path = tmp_path / "customers.csv.gz"
    path.write_bytes(gzip.compress(custseg.make_customers(rows, seed=4).to_csv(index=False).encode()))
    return path


def test_score_file_removes_the_copy_on_success_and_failure(demo_model, tmp_path, tmpdir_folder):
    source = _gz_table(tmp_path)
    out = tmp_path / "out.csv"
    custseg.score_file(demo_model, source, out, batch_rows=1_000)
    assert list(tmpdir_folder.iterdir()) == []

    def stop(done: int, total: int) -> None:
        assert any(tmpdir_folder.iterdir())  # the copy exists while scoring
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        custseg.score_file(demo_model, source, tmp_path / "b.csv", batch_rows=1_000,
                           progress=stop)
    assert list(tmpdir_folder.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["customers.csv.gz", "out.csv", "tmpdir"]

    missing = tmp_path / "no_spend.csv.gz"
    frame = custseg.make_customers(50).drop(columns=["spending_score"])
    missing.write_bytes(gzip.compress(frame.to_csv(index=False).encode()))
    with pytest.raises(CustsegError):
        custseg.score_file(demo_model, missing, tmp_path / "c.csv")
    assert list(tmpdir_folder.iterdir()) == []


def test_table_source_close_removes_the_copy_at_once(tmp_path, tmpdir_folder):
    source = TableSource(_gz_table(tmp_path, 100))
    assert len(list(tmpdir_folder.iterdir())) == 1
    source.close()
    source.close()  # twice is harmless
    assert list(tmpdir_folder.iterdir()) == []


def test_a_compressed_input_refused_after_expanding_leaves_no_copy(tmp_path, tmpdir_folder):
    twice = tmp_path / "twice.csv.gz.gz"
    twice.write_bytes(gzip.compress(gzip.compress(b"age,annual_income\n30,50\n")))
    headerless = tmp_path / "empty.csv.gz"
    headerless.write_bytes(gzip.compress(b"\n\n"))
    for path, words in ((twice, "compressed twice"), (headerless, "header")):
        with pytest.raises(CustsegError, match=words) as caught:
            TableSource(path)
        assert caught.value is not None  # the error (and its traceback) is still held
        assert list(tmpdir_folder.iterdir()) == []


def test_score_dask_refuses_an_existing_output_before_starting(files, demo_model):
    pytest.importorskip("distributed")
    from custseg.io.dask_engine import score_dask

    before = files["table"].read_bytes()
    for output in (files["table"], files["model"]):
        with pytest.raises(InputFileError, match="already exists"):
            score_dask(demo_model, files["table"], output)
    assert files["table"].read_bytes() == before
