"""Issue 10: cases an independent attack found after the first fixes landed.

A shared string longer than Excel allows (amplified by every cell that uses it), a
workbook written without a declared size, ``suggest`` on customers that cannot separate,
an output name ending in '/', and a port taken on localhost's IPv6 address.
"""

from __future__ import annotations

import socket

import pytest
from cli_helpers import one_error_line, run

from custseg.cli import main
from custseg.cluster.suggestions import suggest
from custseg.errors import NotEnoughDataError


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("followups")
    data, model = folder / "base.csv", folder / "m.custseg"
    assert main(["demo-data", "-n", "300", "-o", str(data)]) == 0
    assert main(["fit", str(data), "-o", str(model)]) == 0
    return model


def _workbook(path, rows, long_text=None, write_only=False):
    from openpyxl import Workbook

    book = Workbook(write_only=write_only)
    sheet = book.create_sheet() if write_only else book.active
    sheet.append(["CustomerID", "Age", "Annual Income (k$)", "Spending Score (1-100)", "note"])
    for i in range(rows):
        sheet.append([i + 1, 20 + i % 50, 15 + i % 100, 1 + i % 99, long_text or "x"])
    book.save(path)


def _shared_string_workbook(path, rows, text):
    """A workbook whose every row's last cell refers to one shared string (openpyxl
    writes inline strings, so the parts are written here)."""
    import zipfile

    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    sheet = ['<row r="1"><c r="A1" t="inlineStr"><is><t>age</t></is></c>'
             '<c r="B1" t="inlineStr"><is><t>annual_income</t></is></c>'
             '<c r="C1" t="inlineStr"><is><t>spending_score</t></is></c>'
             '<c r="D1" t="inlineStr"><is><t>note</t></is></c></row>']
    for r in range(2, rows + 2):
        sheet.append(f'<row r="{r}"><c r="A{r}"><v>30</v></c><c r="B{r}"><v>50</v></c>'
                     f'<c r="C{r}"><v>40</v></c><c r="D{r}" t="s"><v>0</v></c></row>')
    office = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    parts = {
        "[Content_Types].xml":
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            f'ContentType="{office}.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            f'ContentType="{office}.worksheet+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" '
            f'ContentType="{office}.sharedStrings+xml"/>'
            '</Types>',
        "_rels/.rels":
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
            '</Relationships>',
        "xl/workbook.xml":
            f'<workbook {ns} xmlns:r="{rel}"><sheets>'
            '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels":
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
            '</Relationships>',
        "xl/worksheets/sheet1.xml": f'<worksheet {ns}><sheetData>{"".join(sheet)}</sheetData></worksheet>',
        "xl/sharedStrings.xml": f'<sst {ns} count="1" uniqueCount="1"><si><t>{text}</t></si></sst>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)


def test_a_shared_string_longer_than_excel_allows_is_refused_before_rows(
        capsys, tmp_path, model_file):
    book = tmp_path / "amplified.xlsx"
    _shared_string_workbook(book, 50, "y" * 40_000)  # one shared string in 50 cells
    code, _, err = run(capsys, "score", model_file, book, "-o", tmp_path / "s.csv")
    line = one_error_line(code, err)
    assert "shared string 1 holds 40,000 characters, more than the 32,767 Excel allows" in line
    assert not (tmp_path / "s.csv").exists()


def test_a_shared_string_at_excels_limit_is_read(capsys, tmp_path, model_file):
    book = tmp_path / "long.xlsx"
    _shared_string_workbook(book, 5, "y" * 32_767)
    code, out, err = run(capsys, "score", model_file, book, "-o", tmp_path / "s.csv", "-q")
    assert code == 0, err
    import pyarrow.csv as pacsv

    scored = pacsv.read_csv(tmp_path / "s.csv")
    assert scored.num_rows == 5
    assert set(scored.column("note").to_pylist()) == {"y" * 32_767}


def test_a_write_only_workbook_without_a_declared_size_is_read(capsys, tmp_path, model_file):
    """openpyxl's write-only files declare no size: finding it scans the sheet, which is
    streamed, so the cap on parts held whole does not apply to it."""
    import custseg.io.formats as formats

    book = tmp_path / "wo.xlsx"
    _workbook(book, 3_000, write_only=True)
    old = formats.MAX_PART_BYTES
    formats.MAX_PART_BYTES = 64 << 10  # the sheet is far larger than this
    try:
        code, _, err = run(capsys, "score", model_file, book, "-o", tmp_path / "s.csv", "-q")
    finally:
        formats.MAX_PART_BYTES = old
    assert code == 0, err
    assert sum(1 for _ in open(tmp_path / "s.csv")) == 3_001


@pytest.mark.parametrize("algorithm", ["kmeans", "gmm", "birch"])
def test_suggest_on_customers_that_cannot_separate_says_so(algorithm):
    import numpy as np

    with pytest.raises(NotEnoughDataError) as caught:
        suggest(np.ones((200, 3)), algorithm)
    assert "do not separate" in caught.value.message
    assert caught.value.parameter == "features"


def test_suggest_on_identical_customers_through_the_cli(capsys, tmp_path):
    data = tmp_path / "ident.csv"
    data.write_text("age,annual_income,spending_score\n" + "30,50,50\n" * 200)
    code, _, err = run(capsys, "suggest", data)
    assert "put the 200 customers searched in a single group" in one_error_line(code, err)


@pytest.mark.parametrize("command", [
    ["demo-data", "-n", "10"], ["rules", "MODEL"], ["report", "MODEL"],
    ["fit", "DATA"]])
def test_an_output_name_ending_in_a_slash_is_refused(capsys, tmp_path, model_file, command):
    data = tmp_path / "base.csv"
    data.write_text("age,annual_income,spending_score\n30,50,50\n40,60,70\n50,70,20\n")
    existing = tmp_path / "out.toml"
    existing.write_text("kept = true\n")
    args = [{"MODEL": model_file, "DATA": data}.get(a, a) for a in command]
    for target in (f"{tmp_path}/new.file/", f"{existing}/"):
        code, _, err = run(capsys, *args, "-o", target)
        assert "ends in '/', so it names a folder; give a file name" in one_error_line(code, err)
    assert existing.read_text() == "kept = true\n"
    assert not (tmp_path / "new.file").exists()


@pytest.mark.slow
def test_a_port_taken_on_localhosts_ipv6_address_is_refused(capsys):
    pytest.importorskip("streamlit")
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    sock = socket.socket(socket.AF_INET6)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    try:
        sock.bind(("::1", 0))
    except OSError:
        pytest.skip("no ::1 here")
    with sock:
        sock.listen()
        port = sock.getsockname()[1]
        from custseg.cli import _check_port
        from custseg.errors import ParameterError

        with pytest.raises(ParameterError, match=f"port {port} is in use"):
            _check_port("localhost", port)
