"""Inputs that used to end in an internal error or a refusal they did not deserve
(issue 10, class 13), through the library.

Long CSV fields, ZIP archives and workbook parts that cannot be decompressed, Excel
cells whose stored value contradicts their type, and inputs that are not regular files
(named pipes, devices). Each case is read with every row back (flagged where a row is
damaged) or refused with an :class:`InputFileError` that says what and what to do.
The command line, with real pipes, is tested in ``tests/test_cli_hostile_inputs.py``.
"""

from __future__ import annotations

import csv
import io
import os
import stat
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from custseg.errors import InputFileError, ModelFileError
from custseg.io import formats
from custseg.io.model_files import load_model, model_bytes
from custseg.io.source import ReadLimits, TableSource, read_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hostile_sizes import workbook  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Workbook contains no default style")

HEADER = "CustomerID,Age,Annual Income (k$),Spending Score (1-100),Notes"


def rows(source: TableSource) -> list[dict]:
    """Every row the source gives, with its structural note (None when clean)."""
    out = []
    for batch in source.batches(1_000):
        for i, row in enumerate(batch.data.to_pylist()):
            out.append({"cells": list(row.values()), "note": batch.structural.get(i)})
    return out


def csv_file(tmp_path: Path, lines: list[str], name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------- long CSV fields


@pytest.mark.parametrize("size", [131_073, 200_000, 3_000_000])
def test_a_field_past_pythons_csv_limit_is_read_by_the_exact_reader(tmp_path, size):
    # a ragged row sends the file to the exact reader (Python's csv, 131,072 a field)
    path = csv_file(tmp_path, [f"C1,30,40,50,{'y' * size}", "C2,31,41,51,short",
                               "C3,32,42", f'C4,33,43,53,"{"q" * size}"'])
    got = rows(TableSource(path))
    assert [len(r["cells"][4] or "") for r in got] == [size, 5, 0, size]
    assert [r["note"] is None for r in got] == [True, True, False, True]
    assert "line 4 has 3 fields" in got[2]["note"]


def test_a_quoted_field_of_many_lines_past_the_limit_is_one_field(tmp_path):
    text = "\n".join(["l" * 2_500] * 90)  # 225,089 characters over 90 lines (at most 100)
    path = csv_file(tmp_path, [f'C1,30,40,50,"{text}"', "C2,31,41", "C3,32,42,52,x"])
    got = rows(TableSource(path))
    assert got[0]["cells"][4] == text and got[0]["note"] is None
    assert got[1]["note"].startswith("line 92 has 3 fields")  # numbered as lines
    assert got[2]["cells"] == ["C3", "32", "42", "52", "x"]


def test_a_header_cell_past_the_limit_is_read(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text(HEADER + "," + "h" * 200_000 + "\nC1,30,40,50,x,y\n")
    source = TableSource(path)
    assert len(source.header[5]) == 200_000 and len(rows(source)) == 1


@pytest.fixture
def short_rows(monkeypatch):
    """The longest row the exact reader takes, lowered to 1,000 characters."""
    monkeypatch.setattr(formats, "MAX_RECORD_CHARS", 1_000)


def test_rows_past_the_cap_come_back_flagged_and_the_next_rows_are_read(tmp_path, short_rows):
    """A line past the cap is skipped to its end as it is read, never held; a quoted cell
    that runs on past it is a stray quote (class 2): its first line is flagged and the
    lines after it are read again as rows of their own. Every line comes back."""
    multi = "\n".join(["z" * 50] * 30)  # a quoted field of 30 lines, 1,529 characters
    path = csv_file(tmp_path, [
        "C1,30,40,50,ok",
        f"C2,31,41,51,{'u' * 5_000}",  # unquoted, one line
        f'C3,32,42,52,"{"q" * 5_000}"',  # quoted, one line
        f'C4,33,43,53,"{multi}",tail',  # quoted over 30 lines, then another field
        'C5,34,44,54,"say ""hi"""',  # doubled quotes: read as usual
        "C6,35,45,55,last",
    ])
    got = rows(TableSource(path))
    assert len(got) == 2 + 1 + 30 + 2  # C1 to C3, C4's 30 lines, C5 and C6
    assert [r["cells"][0] for r in got[:3]] == ["C1", None, None]
    notes = [r["note"] for r in got]
    assert notes[1].startswith("line 3 is longer than 1,000 characters, more than custseg "
                               "reads as one row; not split into columns")
    assert "Its text: 'C2,31,41,51,uuu" in notes[1]
    assert notes[2].startswith("line 4 is longer than 1,000 characters")
    assert notes[3].startswith("line 5 opens a quote that runs on past 1,000 characters; "
                               "not split into columns, and lines 6–")
    assert all(n.startswith(f"line {6 + i} has ") for i, n in enumerate(notes[4:33]))
    assert got[33]["cells"][4] == 'say "hi"' and notes[33] is None
    assert got[34]["cells"] == ["C6", "35", "45", "55", "last"] and notes[34] is None
    assert notes[0] is None


def test_a_quote_never_closed_costs_a_hundred_lines_not_the_rest(tmp_path):
    # (a ragged first row sends the file to the exact reader; the fast one is class 2's)
    path = csv_file(tmp_path, ["C1,30", 'C2,31,41,51,"never closed'] +
                    [f"C{i},30,40,50,x" for i in range(3, 300)])
    got = rows(TableSource(path))
    assert len(got) == 299
    assert got[1]["note"].startswith("line 3 opens a quote that runs on over more than 100 "
                                     "lines")
    assert [r["cells"][0] for r in got[2:]] == [f"C{i}" for i in range(3, 300)]


def test_a_header_past_the_cap_is_refused_by_line(tmp_path, short_rows):
    path = tmp_path / "h.csv"
    path.write_text('"' + "h" * 2_000 + "\nC1,2\n")
    with pytest.raises(InputFileError, match=r"the header \(line 1\) is longer than 1,000 "
                                             "characters"):
        TableSource(path)


def test_pythons_own_field_limit_lowered_elsewhere_still_flags_the_row(tmp_path):
    """Another library may lower csv.field_size_limit: each line the csv reader stops on is
    flagged, and the lines after it are read."""
    path = csv_file(tmp_path, ["C1,30,40,50,ok", "C2,31,41",
                               f'C3,32,42,52,"{"a" * 500}\n{"b" * 500}"',
                               f"C4,33,43,53,{'c' * 900}", "C5,34,44,54,end"])
    old = csv.field_size_limit(300)
    try:
        got = rows(TableSource(path))
    finally:
        csv.field_size_limit(old)
    assert [r["cells"][0] for r in got] == ["C1", None, None, None, None, "C5"]
    assert got[2]["note"].startswith("line 4 cannot be read as CSV (field larger than field "
                                     "limit (300))")
    assert got[3]["note"].startswith("line 5 cannot be read as CSV")
    assert got[4]["note"].startswith("line 6 cannot be read as CSV")


def test_batches_of_long_rows_hold_bounded_text(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "MAX_BATCH_CHARS", 25_000)
    path = csv_file(tmp_path, ["C0,1,2"] + [f"C{i},30,40,50,{'n' * 10_000}" for i in range(1, 10)])
    sizes = [b.data.num_rows for b in TableSource(path).batches(1_000)]
    assert sum(sizes) == 10 and max(sizes) <= 3


# ------------------------------------------------------------------ ZIP archives


def _zip_with(tmp_path: Path, method: int, flags: int = 0, name: str = "t.zip",
              member: str = "customers.csv") -> Path:
    """A ZIP of one table whose member says it is compressed by ``method`` (and has the
    general-purpose ``flags``), as an archiver writing deflate64 or a password does."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(member, HEADER + "\nC1,30,40,50,x\n")
    data = bytearray(buffer.getvalue())
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    for offset, flag_at, method_at in ((local, 6, 8), (central, 8, 10)):
        data[offset + method_at:offset + method_at + 2] = method.to_bytes(2, "little")
        data[offset + flag_at:offset + flag_at + 2] = flags.to_bytes(2, "little")
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("method, flags, words", [
    (9, 0, "is compressed with deflate64 (ZIP method 9), which custseg cannot decompress"),
    (6, 0, "is compressed with implode (ZIP method 6)"),
    (98, 0, "is compressed with ppmd (ZIP method 98)"),
    (77, 0, "is compressed with an unknown method (ZIP method 77)"),
    (8, 1, "is encrypted (password-protected)"),
    (0, 1, "is encrypted (password-protected)"),
])
def test_a_zip_member_that_cannot_be_read_is_refused_by_what_it_is(tmp_path, method, flags, words):
    path = _zip_with(tmp_path, method, flags)
    with pytest.raises(InputFileError, match="Extract it yourself") as caught:
        TableSource(path)
    assert "'customers.csv' " + words in caught.value.message
    with pytest.raises(InputFileError, match="ZIP method|encrypted"):
        TableSource(path.read_bytes(), name="upload.zip")  # an upload too


def test_zip_members_compressed_as_python_reads_them_are_read(tmp_path):
    for method in (zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        path = tmp_path / f"m{method}.zip"
        with zipfile.ZipFile(path, "w", method) as zf:
            zf.writestr("c.csv", HEADER + "\nC1,30,40,50,x\n")
        assert read_table(path).n_rows == 1


def _sheet_xml(cells: str = "") -> str:
    return ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>CustomerID</t></is></c>'
            '<c r="B1" t="inlineStr"><is><t>Age</t></is></c></row>'
            '<row r="2"><c r="A2" t="inlineStr"><is><t>C1</t></is></c><c r="B2"><v>30</v></c>'
            f'</row>{cells}</sheetData></worksheet>')


@pytest.mark.parametrize("method, flags, words", [
    (9, 0, "is compressed with deflate64"),
    (8, 1, "is encrypted (password-protected)"),
])
def test_a_workbook_part_that_cannot_be_read_is_refused(tmp_path, method, flags, words):
    data = bytearray(workbook(_sheet_xml()))
    part = b"xl/worksheets/sheet1.xml"
    for signature, flag_at, method_at, name_at in ((b"PK\x03\x04", 6, 8, 30),
                                                   (b"PK\x01\x02", 8, 10, 46)):
        at = data.find(signature)
        while at >= 0:
            if data[at + name_at:at + name_at + len(part)] == part:
                data[at + method_at:at + method_at + 2] = method.to_bytes(2, "little")
                data[at + flag_at:at + flag_at + 2] = flags.to_bytes(2, "little")
            at = data.find(signature, at + 4)
    with pytest.raises(InputFileError, match="save it again as .xlsx without a password") as caught:
        TableSource(bytes(data), name="book.xlsx")
    assert f"its part 'xl/worksheets/sheet1.xml' {words}" in caught.value.message


def test_a_password_protected_workbook_says_so():
    # Excel keeps an encrypted .xlsx in an OLE2 container with an EncryptedPackage stream
    fake = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + "EncryptionInfo".encode("utf-16-le")
            + bytes(50) + "EncryptedPackage".encode("utf-16-le") + bytes(2000))
    with pytest.raises(InputFileError, match="password-protected .encrypted. Excel workbook; "
                       "custseg cannot read it. Open it in Excel, remove the password"):
        TableSource(fake, name="secret.xlsx")
    with pytest.raises(InputFileError, match=r"\.xls\) or other OLE2 document"):
        TableSource(fake[:512] + bytes(3000), name="old.xls")  # a plain .xls: as before


# ------------------------------------------------------------------- Excel cells

_STYLES = ('<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/>'
           '</cellXfs></styleSheet>')
_STRINGS = ('<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
            'uniqueCount="1"><si><t>Female</t></si></sst>')


def _book(third_row_cell: str) -> bytes:
    """CustomerID, Age, Gender, Joined; row 3 holds ``third_row_cell`` after its id."""
    xml = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           '<sheetData><row r="1">'
           + "".join(f'<c r="{c}1" t="inlineStr"><is><t>{h}</t></is></c>'
                     for c, h in zip("ABCD", ["CustomerID", "Age", "Gender", "Joined"], strict=True))
           + '</row><row r="2"><c r="A2" t="inlineStr"><is><t>C1</t></is></c><c r="B2"><v>30</v></c>'
           '<c r="C2" t="s"><v>0</v></c><c r="D2" s="1"><v>45000</v></c></row>'
           f'<row r="3"><c r="A3" t="inlineStr"><is><t>C2</t></is></c>{third_row_cell}</row>'
           '<row r="4"><c r="A4" t="inlineStr"><is><t>C3</t></is></c><c r="B4"><v>31</v></c></row>'
           '</sheetData></worksheet>')
    return workbook(xml, {"xl/styles.xml": _STYLES, "xl/sharedStrings.xml": _STRINGS})


@pytest.mark.parametrize("cell, column, kept, problem", [
    ('<c r="B3"><v>abc</v></c>', 1, "abc", "cell B3 is stored as a number but holds 'abc'"),
    ('<c r="B3"><v>nan</v></c>', 1, "nan", "cell B3 is stored as a number but holds 'nan'"),
    ("<c><v>abc</v></c>", 1, "abc", "cell B3 is stored as a number"),  # no address
    ('<c r="C3" t="s"><v>99</v></c>', 2, "",
     "cell C3 refers to shared text number '99', which the workbook does not have (it has 1)"),
    ('<c r="C3" t="s"><v>first</v></c>', 2, "", "cell C3 refers to shared text number 'first'"),
    ('<c r="C3" t="s"><v>-1</v></c>', 2, "Female", None),  # Python's index -1: see below
    ('<c r="D3" t="d"><v>not a date</v></c>', 3, "not a date",
     "cell D3 is stored as a date but holds 'not a date'"),
    ('<c r="D3" s="1"><v>99999999999</v></c>', 3, "99999999999",
     "cell D3 is formatted as a date but holds '99999999999', a serial no calendar date has"),
    ('<c r="D3" s="1"><v>1e300</v></c>', 3, "1e300", "is formatted as a date but holds '1e300'"),
    ('<c r="D3" s="1"><v>soon</v></c>', 3, "soon", "cell D3 is stored as a number but holds"),
    ('<c r="B3" t="b"><v>yes</v></c>', 1, "yes", "cell B3 is stored as TRUE or FALSE but holds 'yes'"),
    ('<c r="B3" s="x"><v>3</v></c>', 1, "3", "cell B3 has the style 'x', which is no style number"),
    ('<c r="B3" t="e"><v>#DIV/0!</v></c>', 1, "#DIV/0!", None),  # an error value, as stored
    ('<c r="B3" t="b"><v>1</v></c>', 1, "TRUE", None),
    ('<c r="D3" s="1"><v>45000</v></c>', 3, "2023-03-15T00:00:00", None),
])
def test_a_cell_whose_value_contradicts_its_type_flags_its_row(cell, column, kept, problem):
    table = read_table(_book(cell), name="book.xlsx")
    assert table.n_rows == 3  # every row back
    assert table.data.column(column).to_pylist()[1] == kept
    assert table.data.column(0).to_pylist() == ["C1", "C2", "C3"]
    if problem is None:
        assert 1 not in table.structural
    else:
        note = table.structural[1]
        assert problem in note and note.startswith("the workbook is damaged here: ")
        assert "fix the cell in Excel" in note
    assert set(table.structural) <= {1}


@pytest.mark.parametrize("cell, valid", [
    ('<c r="D3" s="1"><v>99999999999</v></c>', [True, False, True]),  # a column not used
    ('<c r="B3" t="e"><v>#DIV/0!</v></c>', [True, False, True]),  # the age: not a number
    ('<c r="B3" t="b"><v>1</v></c>', [True, False, True]),
    ('<c r="B3"><v>32</v></c>', [True, True, True]),
])
def test_a_damaged_or_unusable_cell_makes_its_row_invalid(cell, valid):
    from custseg.table.fields import Ranges

    checked = read_table(_book(cell), name="book.xlsx").validated(["age"], Ranges())
    assert list(checked.valid) == valid
    if not valid[1]:
        assert checked.issues[1]


def test_a_bad_cell_address_refuses_the_sheet_clearly():
    with pytest.raises(InputFileError, match="the first sheet cannot be read .ValueError"):
        read_table(_book('<c r="3B"><v>1</v></c>'), name="book.xlsx")


# ----------------------------------------------------- pipes, devices, special files


def _fifo(tmp_path: Path, content: bytes, name: str = "pipe.csv") -> Path:
    """A named pipe that a thread fills with ``content`` once a reader opens it."""
    path = tmp_path / name
    os.mkfifo(path)

    def feed() -> None:
        with open(path, "wb") as pipe:
            try:
                pipe.write(content)
            except BrokenPipeError:
                pass

    threading.Thread(target=feed, daemon=True).start()
    return path


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")


@needs_fifo
def test_a_named_pipe_is_read_once_and_its_copy_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    path = _fifo(tmp_path, (HEADER + "\n" + "".join(f"C{i},30,40,50,x\n" for i in range(500))).encode())
    source = TableSource(path)
    assert stat.S_ISREG(os.stat(source.path).st_mode) and source.path.parent == tmp_path / "tmp"
    assert len(rows(source)) == 500 and len(rows(source)) == 500  # read twice: the copy
    source.close()
    assert list((tmp_path / "tmp").iterdir()) == []


@needs_fifo
@pytest.mark.parametrize("kind", ["gzip", "parquet", "xlsx"])
def test_a_pipe_of_any_format_is_told_by_its_content(tmp_path, kind):
    import gzip

    import pandas as pd

    frame = pd.DataFrame({"CustomerID": ["C1", "C2"], "Age": ["30", "31"]})
    buffer = io.BytesIO()
    if kind == "gzip":
        buffer.write(gzip.compress(frame.to_csv(index=False).encode()))
    elif kind == "parquet":
        frame.to_parquet(buffer)
    else:
        frame.to_excel(buffer, index=False)
    table = read_table(_fifo(tmp_path, buffer.getvalue(), name="63"))  # like /dev/fd/63
    assert table.data.column(0).to_pylist() == ["C1", "C2"]


@needs_fifo
def test_a_pipe_past_the_limit_is_refused_and_leaves_nothing(tmp_path, monkeypatch):
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    path = _fifo(tmp_path, (HEADER + "\n").encode() + b"C1,30,40,50,x\n" * 200_000)
    with pytest.raises(InputFileError, match="is a pipe or device bringing more than 1 MB") as caught:
        TableSource(path, limits=ReadLimits(max_decompressed_bytes=1 << 20))
    assert caught.value.parameter == "max_decompressed_mb"
    assert list((tmp_path / "tmp").iterdir()) == []


@needs_fifo
@pytest.mark.parametrize("content, words", [
    (b"", r"is empty \(0 bytes\)"),
    (bytes(200_000), "binary data"),
    (b"\x80\x04K\x01.", "Python pickle"),
])
def test_a_pipe_that_is_no_table_is_refused_by_its_first_bytes(tmp_path, content, words):
    with pytest.raises(InputFileError, match=words):
        TableSource(_fifo(tmp_path, content, name="p"))


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_an_endless_device_is_refused_at_once_not_copied():
    with pytest.raises(InputFileError, match="'/dev/zero' is binary data"):
        TableSource("/dev/zero")
    with pytest.raises(InputFileError, match="'/dev/null' is empty"):
        TableSource("/dev/null")


def test_a_socket_is_refused_by_what_it_is(tmp_path):
    import socket

    path = tmp_path / "s.csv"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(InputFileError, match="is a socket, not a file custseg can read"):
            TableSource(path)


def test_missing_paths_and_folders_are_named(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        TableSource(tmp_path / "nothing.csv")
    (tmp_path / "f.csv").write_text("x")
    with pytest.raises(InputFileError, match="a part of it is a file"):
        TableSource(tmp_path / "f.csv" / "x.csv")
    with pytest.raises(InputFileError, match="is a folder"):
        TableSource(tmp_path)


# ------------------------------------------------------------------- model files


@pytest.fixture(scope="module")
def small_model(rulebook):
    from custseg.model.segmentation import ModelConfig, fit_model
    from custseg.table.sample import make_customers

    config = ModelConfig(params={"n_clusters": 3}, stability_resamples=0)
    return fit_model(make_customers(150, seed=2), config, rulebook)


@needs_fifo
def test_a_model_from_a_named_pipe_is_read(tmp_path, small_model):
    model = load_model(_fifo(tmp_path, model_bytes(small_model), name="m.custseg"))
    assert model.summary()["segments"] == small_model.summary()["segments"]


@needs_fifo
def test_a_pipe_that_is_no_model_is_refused_by_its_first_bytes(tmp_path):
    with pytest.raises(ModelFileError, match="is not a custseg model file: it does not start"):
        load_model(_fifo(tmp_path, b"customer_id,age\n" * 10_000))


def test_devices_sockets_and_folders_as_models_say_what_they_are(tmp_path):
    if Path("/dev/null").exists():
        with pytest.raises(ModelFileError, match="'/dev/null' is a character device; give a model"):
            load_model("/dev/null")
    with pytest.raises(ModelFileError, match="is a folder; give a model file"):
        load_model(tmp_path)
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "none.custseg")
