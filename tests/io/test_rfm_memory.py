"""The aggregation's memory limit and DuckDB's own errors: a limit that is not a size is
refused before any work, running out of memory (or of room to spill) is one clear error
saying what to do, and DuckDB prints no progress bar."""

from __future__ import annotations

import pytest
from cli_helpers import one_error_line, run
from log_parts import HEADER, PREFIXED_PARTS

import custseg.io.rfm as rfm
from custseg.errors import InputFileError, ParameterError
from custseg.io.rfm import aggregate_log, memory_bytes


@pytest.fixture()
def log_csv(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text(HEADER + "".join(PREFIXED_PARTS.values()), encoding="utf-8")
    return path


def test_memory_limits_read_as_duckdb_reads_them():
    assert memory_bytes("350MB") == 350 * 10**6
    assert memory_bytes(" 1.5 gb ") == 1_500_000_000
    assert memory_bytes("512MiB") == 512 * 2**20
    for bad in ("abc", "350", "350 MBs", "1,5GB", ""):
        with pytest.raises(ParameterError, match="is not a size; give a number and a unit"):
            memory_bytes(bad)
    with pytest.raises(ParameterError, match="under 32MB"):
        memory_bytes("10MB")


def _out_of_memory(con, *args, **kwargs):
    """A real DuckDB out-of-memory error: a list no limit under 150 MB holds (a list
    aggregate does not spill)."""
    con.execute("SELECT list(i) FROM range(20000000) t(i)").fetchall()


def test_out_of_memory_is_one_error_saying_to_raise_the_limit(log_csv, monkeypatch):
    monkeypatch.setattr(rfm, "_lines", _out_of_memory)
    with pytest.raises(InputFileError) as caught:
        aggregate_log(log_csv, memory_limit="40MB")
    message = str(caught.value)
    assert message.startswith("the log's aggregation ran out of memory within its limit "
                              "of 40MB (DuckDB: 'Out of Memory Error: ")
    assert message.endswith("give it more memory (memory_limit='80MB')")
    assert "Possible solutions" not in message  # DuckDB's advice on its own settings


def test_a_spill_folder_that_cannot_be_written_is_said(log_csv, monkeypatch):
    def cannot_write(con, *args, **kwargs):
        con.execute("COPY (SELECT 1) TO '/nonexistent-folder/x.csv'")

    monkeypatch.setattr(rfm, "_lines", cannot_write)
    with pytest.raises(InputFileError, match="could not write to its temporary folder .*"
                                             "IO Error.*free disk space there, or set TMPDIR"):
        aggregate_log(log_csv)


def test_no_progress_bar():
    con, spill = rfm._connect("64MB")
    try:
        assert con.execute("SELECT current_setting('enable_progress_bar')").fetchall() == [
            (False,)]
        assert con.execute("SELECT current_setting('preserve_insertion_order')"
                           ).fetchall() == [(False,)]
    finally:
        con.close()
        rfm.shutil.rmtree(spill)


def test_cli_memory_limit(tmp_path, capsys, log_csv, monkeypatch):
    out = tmp_path / "customers.csv"
    code, _, err = run(capsys, "rfm", log_csv, "-o", out, "--memory-limit", "1GB")
    assert code == 0, err
    assert "wrote 2 customers" in err
    code, _, err = run(capsys, "rfm", log_csv, "-o", out, "--memory-limit", "lots")
    assert one_error_line(code, err) == (
        "error: the memory limit 'lots' is not a size; give a number and a unit, such as "
        "350MB, 2GB or 512MiB (--memory-limit 2GB)")
    code, _, err = run(capsys, "fit", log_csv, "-o", tmp_path / "m.custseg",
                       "--memory-limit", "1GB")
    assert "--memory-limit is an option of a transaction log" in one_error_line(code, err)
    monkeypatch.setattr(rfm, "_lines", _out_of_memory)
    for args in (("rfm", log_csv, "-o", out), ("fit", log_csv, "--transactions", "-o",
                                                tmp_path / "m.custseg")):
        code, _, err = run(capsys, *args, "--memory-limit", "40MB")
        line = one_error_line(code, err)
        assert "ran out of memory within its limit of 40MB" in line
        assert line.endswith("give it more memory (--memory-limit 80MB)")
