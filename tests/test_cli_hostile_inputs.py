"""Inputs through the command line (issue 10, class 13): long CSV fields, ZIP archives
and workbooks that cannot be decompressed, damaged Excel cells, and standard input,
pipes and FIFOs (real ``custseg`` processes, fed by real pipes).

Every case exits 0 with every row back (flagged where damaged), or 2 with one
``error:`` line; never 1.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from custseg.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_sizes import workbook  # noqa: E402

SCRIPT = shutil.which("custseg") or str(Path(sys.executable).with_name("custseg"))
SRC = str(Path(__file__).resolve().parents[1] / "src")
ENV = dict(os.environ, PYTHONPATH=SRC)
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo") or not shutil.which("bash"),
                                reason="no named pipes or bash here")
pytestmark = pytest.mark.filterwarnings("ignore:Workbook contains no default style")


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *args, words: str) -> str:
    code, _, err = run(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert words in lines[0], lines[0]
    return lines[0]


def shell(command: str, cwd: Path, stdin=None, tmpdir: Path | None = None,
          timeout: float = 60) -> subprocess.CompletedProcess:
    """``command`` run by bash (for ``<(…)`` and ``|``), custseg being ``$CS``."""
    env = dict(ENV, CS=SCRIPT, **({"TMPDIR": str(tmpdir)} if tmpdir else {}))
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, stdin=stdin,
                          capture_output=True, text=True, timeout=timeout)


def scored(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    folder = tmp_path_factory.mktemp("made")
    base, model = folder / "base.csv", folder / "model.custseg"
    assert main(["demo-data", "-n", "200", "-o", str(base)]) == 0
    assert main(["fit", str(base), "-o", str(model), "-p", "n_clusters=4"]) == 0
    return folder


@pytest.fixture
def work(made, tmp_path):
    for name in ("base.csv", "model.custseg"):
        shutil.copy(made / name, tmp_path / name)
    (tmp_path / "tmp").mkdir()
    return tmp_path


# --------------------------------------------------------------- long CSV fields


@pytest.mark.parametrize("size", [131_073, 3_000_000])
def test_fit_and_score_read_a_field_past_pythons_csv_limit(work, capsys, size):
    lines = (work / "base.csv").read_text().splitlines()
    lines[0] += ",notes"
    lines[1:] = [line + ",n" for line in lines[1:]]
    lines[5] = lines[5][:-1] + '"' + "y" * size + '"'
    lines[9] = lines[9].rsplit(",", 2)[0]  # a short row: the exact reader
    path = work / "long.csv"
    path.write_text("\n".join(lines) + "\n")
    code, _, err = run(capsys, "score", work / "model.custseg", path, "-o", work / "s.csv")
    assert code == 0, err
    out = scored(work / "s.csv")
    assert len(out) == 200 and len(out[4]["notes"]) == size
    assert [r["row_status"] for r in out].count("invalid") == 1
    assert out[8]["row_status"] == "invalid" and "line 10 has" in out[8]["row_issues"]
    code, _, err = run(capsys, "fit", path, "-o", work / "m.custseg", "--json")
    assert code == 0, err


def test_a_row_past_the_cap_comes_back_flagged(work, capsys, monkeypatch):
    from custseg.io import formats

    monkeypatch.setattr(formats, "MAX_RECORD_CHARS", 5_000)
    lines = (work / "base.csv").read_text().splitlines()
    lines[3] = lines[3] + ',"' + "q" * 6_000 + '"'  # too long, and one field too many
    (work / "cap.csv").write_text("\n".join(lines) + "\n")
    code, _, err = run(capsys, "score", work / "model.custseg", work / "cap.csv", "-o", work / "s.csv")
    assert code == 0, err
    out = scored(work / "s.csv")
    assert len(out) == 200 and out[2]["row_status"] == "invalid"
    assert "line 4 is longer than 5,000 characters" in out[2]["row_issues"]
    assert out[3]["customer_id"] == lines[4].split(",")[0].strip('"')


# ----------------------------------------------------------- ZIPs and workbooks


def _set_method(data: bytes, method: int, flags: int) -> bytes:
    out = bytearray(data)
    for signature, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = out.find(signature)
        while at >= 0:
            out[at + method_at:at + method_at + 2] = method.to_bytes(2, "little")
            out[at + flag_at:at + flag_at + 2] = flags.to_bytes(2, "little")
            at = out.find(signature, at + 4)
    return bytes(out)


@pytest.mark.parametrize("method, flags, words", [
    (9, 0, "'base.csv' is compressed with deflate64 (ZIP method 9)"),
    (8, 1, "'base.csv' is encrypted (password-protected)"),
])
def test_a_zip_that_cannot_be_decompressed_is_refused(work, capsys, method, flags, words):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.write(work / "base.csv", "base.csv")
    (work / "in.zip").write_bytes(_set_method(buffer.getvalue(), method, flags))
    for args in (["fit", work / "in.zip", "-o", work / "m.custseg"],
                 ["score", work / "model.custseg", work / "in.zip", "-o", work / "s.csv"]):
        line = refused(capsys, *args, words=words)
        assert "Extract it yourself" in line
    assert not (work / "m.custseg").exists() and not (work / "s.csv").exists()


def test_a_workbook_with_a_deflate64_part_is_refused(work, capsys):
    xml = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Age</t></is></c></row>'
           '<row r="2"><c r="A2"><v>3</v></c></row></sheetData></worksheet>')
    (work / "b.xlsx").write_bytes(_set_method(workbook(xml), 9, 0))
    refused(capsys, "score", work / "model.custseg", work / "b.xlsx", "-o", work / "s.csv",
            words="is compressed with deflate64")


def test_a_password_protected_workbook_is_refused(work, capsys):
    fake = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
            + "EncryptedPackage".encode("utf-16-le") + bytes(3000))
    (work / "secret.xlsx").write_bytes(fake)
    refused(capsys, "fit", work / "secret.xlsx", "-o", work / "m.custseg",
            words="is a password-protected (encrypted) Excel workbook")


def test_damaged_and_unusual_excel_cells_come_back_flagged(work, capsys):
    styles = ('<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
              '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/>'
              '</cellXfs></styleSheet>')
    strings = ('<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
               'count="1" uniqueCount="1"><si><t>Female</t></si></sst>')
    header = ["CustomerID", "Gender", "Age", "Annual Income (k$)", "Spending Score (1-100)",
              "Joined"]
    specials = {  # row -> the cell (its column from its address)
        3: '<c r="C3"><v>abc</v></c>',  # text in a number cell
        4: '<c r="B4" t="s"><v>7</v></c>',  # a shared string the workbook lacks
        5: '<c r="F5" t="d"><v>someday</v></c>',  # an unreadable date
        6: '<c r="F6" s="1"><v>99999999999</v></c>',  # a date serial no calendar has
        7: '<c r="C7" t="e"><v>#DIV/0!</v></c>',  # an error value
        8: '<c r="C8" t="b"><v>1</v></c>',  # a boolean
    }
    body = ['<row r="1">' + "".join(f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{h}</t></is></c>'
                                    for i, h in enumerate(header)) + "</row>"]
    for r in range(2, 12):
        cells = {"A": f'<c r="A{r}" t="inlineStr"><is><t>C{r}</t></is></c>',
                 "B": f'<c r="B{r}" t="s"><v>0</v></c>', "C": f'<c r="C{r}"><v>{20 + r}</v></c>',
                 "D": f'<c r="D{r}"><v>{30 + r}</v></c>', "E": f'<c r="E{r}"><v>{40 + r}</v></c>',
                 "F": f'<c r="F{r}" s="1"><v>45000</v></c>'}
        if r in specials:
            cells[specials[r][6]] = specials[r]
        body.append(f'<row r="{r}">' + "".join(cells[c] for c in "ABCDEF") + "</row>")
    xml = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           f'<sheetData>{"".join(body)}</sheetData></worksheet>')
    (work / "cells.xlsx").write_bytes(
        workbook(xml, {"xl/styles.xml": styles, "xl/sharedStrings.xml": strings}))
    code, _, err = run(capsys, "score", work / "model.custseg", work / "cells.xlsx",
                       "-o", work / "s.csv")
    assert code == 0, err
    out = scored(work / "s.csv")
    assert [r["CustomerID"] for r in out] == [f"C{r}" for r in range(2, 12)]
    status = {int(r["CustomerID"][1:]): r["row_status"] for r in out}
    assert [r for r, s in status.items() if s == "invalid"] == [3, 4, 5, 6, 7, 8]
    issues = {int(r["CustomerID"][1:]): r["row_issues"] for r in out}
    assert "cell C3 is stored as a number but holds 'abc'" in issues[3]
    assert "cell B4 refers to shared text number '7'" in issues[4]
    assert "cell F5 is stored as a date but holds 'someday'" in issues[5]
    assert "cell F6 is formatted as a date but holds '99999999999'" in issues[6]
    assert "#DIV/0!" in issues[7] and "TRUE" in issues[8]  # not numbers: the age check says so
    assert out[4]["Joined"] == "99999999999" and out[1]["Joined"] == "2023-03-15T00:00:00"
    assert out[1]["Age"] == "abc" and out[2]["Gender"] == ""


# -------------------------------------------------------- stdin, pipes and FIFOs


def test_stdin_redirected_from_a_file_is_scored(work):
    with open(work / "base.csv", "rb") as stdin:
        done = subprocess.run([SCRIPT, "score", "model.custseg", "/dev/stdin", "-o", "a.csv"],
                              cwd=work, stdin=stdin, env=ENV, capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(scored(work / "a.csv")) == 200


@needs_fifo
@pytest.mark.parametrize("command", [
    "cat base.csv | $CS score model.custseg /dev/stdin -o out.csv",
    "cat base.csv | $CS score model.custseg - -o out.csv",
    "$CS score model.custseg <(cat base.csv) -o out.csv",
    "gzip -c base.csv | $CS score model.custseg - -o out.csv",
    "cat base.csv | $CS score model.custseg - -o out.parquet && "
    "$CS score model.custseg out.parquet -o out.csv --force",
])
def test_a_pipe_is_scored_like_the_file(work, command):
    expected = work / "expected.csv"
    assert main(["score", str(work / "model.custseg"), str(work / "base.csv"), "-o",
                 str(expected), "-q"]) == 0
    done = shell(command, work, tmpdir=work / "tmp")
    assert done.returncode == 0, done.stderr
    got, want = scored(work / "out.csv"), scored(expected)
    if "parquet" in command:  # scored twice: compare the input columns and the segments
        got = [{k: r[k] for k in ("customer_id", "segment_id")} for r in got]
        want = [{k: r[k] for k in ("customer_id", "segment_id")} for r in want]
    assert got == want
    assert list((work / "tmp").iterdir()) == []  # the spooled copy is gone


@needs_fifo
@pytest.mark.parametrize("command", [
    "$CS fit <(cat base.csv) -o m2.custseg --json",
    "cat base.csv | $CS fit - -o m2.custseg --json",
    "$CS compare model.custseg model.custseg --data - --json < base.csv",
])
def test_commands_that_read_a_whole_table_read_a_pipe(work, command):
    """fit, and the commands reading --data (suggest, report and compare share its reader)."""
    done = shell(command, work, tmpdir=work / "tmp")
    assert done.returncode == 0, done.stderr
    if "fit" in command:
        assert '"n_rows": 200' in done.stdout or '"n_input": 200' in done.stdout
    assert list((work / "tmp").iterdir()) == []


@needs_fifo
def test_a_fifo_is_read_once(work):
    os.mkfifo(work / "fifo.csv")
    done = shell("cat base.csv > fifo.csv & $CS score model.custseg fifo.csv -o out.csv; "
                 "s=$?; wait; exit $s", work, tmpdir=work / "tmp")
    assert done.returncode == 0, done.stderr
    assert len(scored(work / "out.csv")) == 200


@needs_fifo
@pytest.mark.parametrize("command, words", [
    ("$CS profile <(cat model.custseg) --json", None),
    ("$CS score <(cat model.custseg) base.csv -o out.csv", None),
    ("$CS profile <(cat base.csv)", "is not a custseg model file: it does not start like one"),
    ("$CS profile /dev/null", "'/dev/null' is a character device; give a model file."),
])
def test_a_model_from_a_pipe(work, command, words):
    done = shell(command, work)
    if words is None:
        assert done.returncode == 0, done.stderr
        assert "does not exist" not in done.stderr
    else:
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert words in done.stderr


@needs_fifo
@pytest.mark.parametrize("command, words", [
    ("cat base.csv | $CS score model.custseg - -o out.csv --max-decompressed-mb 1",
     None),  # 200 rows: well under 1 MB
    ("head -c 3000000 /dev/zero | tr '\\0' 'a' | $CS score model.custseg - -o out.csv "
     "--max-decompressed-mb 1",
     "'/dev/stdin' is a pipe or device bringing more than 1 MB, the limit for input that "
     "custseg copies"),
    ("$CS score model.custseg /dev/zero -o out.csv", "'/dev/zero' is binary data"),
    ("$CS fit /dev/null -o m2.custseg", "'/dev/null' is empty (0 bytes)"),
    (": | $CS fit - -o m2.custseg", "'/dev/stdin' is empty (0 bytes)"),
    ("cat base.csv | $CS score model.custseg - -o out --engine dask",
     "'-' (standard input) cannot be scored with --engine dask"),
    ("$CS score model.custseg - -o out --engine dask < base.csv",
     "'-' (standard input) cannot be scored with --engine dask"),
    ("$CS score model.custseg <(cat base.csv) -o out --engine dask",
     "is a named pipe (FIFO); the Dask engine reads its input by name"),
    ("$CS app --data <(cat base.csv)", "the dashboard reads its --data file again"),
])
def test_pipes_that_cannot_be_read_are_refused(work, command, words):
    done = shell(command, work, tmpdir=work / "tmp")
    if words is None:
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
        assert words in done.stderr
        assert "--max-decompressed-mb" in done.stderr or "more than" not in words
    assert list((work / "tmp").iterdir()) == []


@needs_fifo
def test_a_signal_while_a_pipe_is_copied_leaves_nothing(work):
    """SIGTERM while custseg copies a slow pipe: exit 143, no copy left in $TMPDIR."""
    proc = subprocess.Popen([SCRIPT, "score", "model.custseg", "-", "-o", "out.csv"], cwd=work,
                            env=dict(ENV, TMPDIR=str(work / "tmp")), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    data = (work / "base.csv").read_bytes()
    proc.stdin.write(data * 400)  # past the first 64 KB: the copy is being written
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    while not list((work / "tmp").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list((work / "tmp").iterdir()), "the copy never appeared"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert b"stopped by SIGTERM" in err
    assert list((work / "tmp").iterdir()) == []
    assert not (work / "out.csv").exists()


def test_a_terminal_is_refused(work, capsys):
    if not hasattr(os, "openpty"):
        pytest.skip("no pseudo-terminals here")
    leader, follower = os.openpty()
    try:
        refused(capsys, "fit", os.ttyname(follower), "-o", work / "m.custseg",
                words="is a terminal: custseg reads a table from a file or a pipe")
    finally:
        os.close(leader)
        os.close(follower)


@needs_fifo
def test_a_fifo_in_process_is_read_and_a_writer_thread_finishes(work, capsys):
    os.mkfifo(work / "p.csv")
    content = (work / "base.csv").read_bytes()

    def feed() -> None:
        with open(work / "p.csv", "wb") as pipe:
            pipe.write(content)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    code, _, err = run(capsys, "score", work / "model.custseg", work / "p.csv", "-o", work / "s.csv")
    writer.join(10)
    assert code == 0, err
    assert not writer.is_alive()
    assert len(scored(work / "s.csv")) == 200
