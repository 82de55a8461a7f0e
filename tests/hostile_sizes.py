"""Builders of small files that expand, and a bounded way to run the command line on them.

Each file is a few KB on disk: a workbook declaring a million rows, a Parquet file of
millions of run-length-encoded rows, a table whose customers all share one id.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HEADER = ["CustomerID", "Age", "Annual Income (k$)", "Spending Score (1-100)"]

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
_RELS = ('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
         'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_BOOK = ('<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
         'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
         '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
_BOOK_RELS = ('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
              'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
              'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
              '</Relationships>')


def column_letter(n: int) -> str:
    out = ""
    while n:
        n, rest = divmod(n - 1, 26)
        out = chr(65 + rest) + out
    return out


def _cell(ref: str, value: object) -> str:
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


def sheet(rows: dict[int, dict[int, object]] | list[tuple[int, dict[int, object]]],
          dimension: str | None = None, row_attrs: str = "") -> str:
    """A worksheet: ``{row number: {column number: value}}`` (or pairs, to store rows out
    of order), with a declared ``dimension`` when given."""
    items = rows.items() if isinstance(rows, dict) else rows
    out = ['<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">']
    if dimension:
        out.append(f'<dimension ref="{dimension}"/>')
    out.append("<sheetData>")
    for r, cells in items:
        body = "".join(_cell(f"{column_letter(c)}{r}", v) for c, v in cells.items())
        out.append(f'<row r="{r}"{row_attrs}>{body}</row>')
    out.append("</sheetData></worksheet>")
    return "".join(out)


_STRINGS_TYPE = ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                 'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
_STYLES_REL = ('<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/'
               'officeDocument/2006/relationships/styles" Target="styles.xml"/>')


def workbook(sheet_xml: str, extra: dict[str, bytes] | None = None) -> bytes:
    """An .xlsx holding one worksheet (and any ``extra`` parts: shared strings and styles
    are declared so that openpyxl reads them), deflated."""
    extra = extra or {}
    types, rels = _CONTENT_TYPES, _BOOK_RELS
    if "xl/sharedStrings.xml" in extra:
        types = types.replace("</Types>", _STRINGS_TYPE + "</Types>")
    if "xl/styles.xml" in extra:
        rels = rels.replace("</Relationships>", _STYLES_REL + "</Relationships>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", types)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _BOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", rels)
        zf.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        for name, content in extra.items():
            zf.writestr(name, content)
    return buffer.getvalue()


def customers(n: int, first_row: int = 2) -> dict[int, dict[int, object]]:
    return {first_row + i: {1: f"C{i}", 2: 20 + i % 50, 3: 30 + i % 90, 4: 1 + i % 99}
            for i in range(n)}


def header_row() -> dict[int, object]:
    return {i + 1: h for i, h in enumerate(HEADER)}


def rle_parquet(path: Path, rows_per_group: int, groups: int = 1,
                values: tuple[str, ...] = ("unknown", "30", "60", "50")) -> Path:
    """A Parquet file of ``rows_per_group × groups`` identical rows: one dictionary value
    per column and run-length-encoded indices, so a few KB on disk."""
    indices = pa.array(np.zeros(rows_per_group, dtype=np.int8))
    table = pa.table({name: pa.DictionaryArray.from_arrays(indices, pa.array([value]))
                      for name, value in zip(HEADER, values, strict=True)})
    with pq.ParquetWriter(path, table.schema, compression="zstd") as writer:
        for _ in range(groups):
            writer.write_table(table, row_group_size=rows_per_group)
    return path


def same_id_csv(path: Path, n: int, id_: str = "unknown") -> Path:
    lines = [",".join(HEADER)]
    lines += [f"{id_},{20 + i % 50},{20 + i % 100},{1 + i % 99}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_bounded(args: list[str], *, timeout: float = 60, address_gb: float = 3,
                cwd: Path | None = None) -> tuple[int, str, str, int]:
    """Run ``custseg ARGS`` in a child limited to ``address_gb`` of address space; return
    (exit code, stdout, stderr, peak resident memory in MB, as the child measures it). A
    hang fails the test through ``timeout``."""
    limit = int(address_gb * (1 << 30))
    code = (
        "import json, resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))\n"
        "from custseg.cli import main\n"
        f"code = main({json.dumps([str(a) for a in args])})\n"
        # VmHWM: this process's own peak (ru_maxrss would include the parent's, kept
        # across exec)
        "peak = next(int(x.split()[1]) // 1024 for x in open('/proc/self/status')\n"
        "            if x.startswith('VmHWM:'))\n"
        "print(f'PEAK_MB {peak}', file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)
    lines = done.stderr.splitlines()
    peak = next((int(x.split()[1]) for x in lines if x.startswith("PEAK_MB ")), -1)
    stderr = "\n".join(x for x in lines if not x.startswith("PEAK_MB "))
    return done.returncode, done.stdout, stderr, peak
