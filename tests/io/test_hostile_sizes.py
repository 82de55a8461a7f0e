"""Sizes and repeats: groups of rows sharing an id, and small files that expand.

Issue 10, classes 7 and 8. Notes for a group of n rows cost O(n) and a bounded text per
row; the duplicate search holds hashes, not rows; every reader applies its caps before it
builds what they bound.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hostile_sizes import (
    HEADER,
    customers,
    header_row,
    rle_parquet,
    same_id_csv,
    sheet,
    workbook,
)

import custseg
from custseg.errors import InputFileError
from custseg.io import formats
from custseg.io.score_files import scan, score_file
from custseg.io.source import ReadLimits, TableSource, read_table
from custseg.table import notes
from custseg.table.notes import IdCounts, RepeatedIds, duplicate_notes


def reference_notes(ids: list, keys: np.ndarray) -> dict[int, str]:
    """Today's wording, by the obvious quadratic method (for small inputs only)."""
    from custseg.errors import shown

    groups: dict[str, list[int]] = {}
    for i, v in enumerate(ids):
        if v is not None and str(v).strip():
            groups.setdefault(v, []).append(i)
    out = {}
    for key, rows in groups.items():
        if len(rows) < 2:
            continue
        kind = "same values" if len(set(keys[rows].tolist())) == 1 else "conflicting values"
        for pos in rows:
            others = [str(r + 1) for r in rows if r != pos]
            listed = ", ".join(others[:5])
            if len(others) > 5:
                listed += f" and {len(others) - 5:,} more"
            out[pos] = f"customer_id {shown(key)} also on row {listed} ({kind})"
    return out


@pytest.fixture(scope="module")
def model():
    return custseg.fit(custseg.make_customers(400, seed=2), params={"n_clusters": 4})


# ------------------------------------------------------------------ class 7: repeats


def test_a_group_of_50000_rows_has_short_notes_by_value():
    ids = pa.array(["unknown"] * 50_000)
    keys = np.zeros(50_000, dtype=np.uint64)
    keys[7] = 1  # one row differs
    got = duplicate_notes(ids, keys)
    assert len(got) == 50_000
    assert got[0] == ("customer_id 'unknown' also on row 2, 3, 4, 5, 6 and 49,994 more "
                      "(conflicting values)")
    assert got[3] == ("customer_id 'unknown' also on row 1, 2, 3, 5, 6 and 49,994 more "
                      "(conflicting values)")
    assert got[49_999] == ("customer_id 'unknown' also on row 1, 2, 3, 4, 5 and 49,994 more "
                           "(conflicting values)")
    assert max(len(v) for v in got.values()) < 120


def test_small_groups_keep_todays_wording():
    ids = ["7", "8", "7", "9", "9", "0", "0", "0", "0", "0", "0", "0", "", " ", None, None]
    keys = np.array([1, 2, 1, 3, 4] + [5] * 7 + [0] * 4, dtype=np.uint64)
    got = duplicate_notes(pd.Series(ids, dtype=object), keys)
    assert got == reference_notes(ids, keys)
    assert got[0] == "customer_id '7' also on row 3 (same values)"
    assert got[3] == "customer_id '9' also on row 5 (conflicting values)"
    assert got[5] == "customer_id '0' also on row 7, 8, 9, 10, 11 and 1 more (same values)"
    assert 12 not in got and 14 not in got  # blank ids are no id


@pytest.mark.parametrize("weak", [False, True])
def test_batches_and_files_give_the_notes_of_one_pass(monkeypatch, weak):
    """Rows split into batches and files, ids hashed by a deliberately weak hash (every
    id on one of three values, so every group shares its first hash with others): the
    notes are those of one exact pass."""
    if weak:
        real = notes.id_hashes

        def three(text):
            usable, hashes = real(text)
            return usable, np.where(usable, hashes % np.uint64(3), 0).astype(np.uint64)

        monkeypatch.setattr(notes, "id_hashes", three)
    rng = np.random.default_rng(7)
    for _ in range(60):
        n = int(rng.integers(1, 150))
        pool = [None, "", "a", "b", "c", "d"] + [f"id{i}" for i in range(int(rng.integers(1, 15)))]
        ids = [pool[i] for i in rng.integers(0, len(pool), n)]
        keys = rng.integers(0, 2, n).astype(np.uint64)
        text = pa.array(ids, type=pa.string())
        cuts = sorted({0, n, *rng.integers(0, n, 2).tolist()})
        files = list(zip(cuts[:-1], cuts[1:], strict=True))
        counts = IdCounts()
        for a, b in files:
            part = IdCounts()
            for x in range(a, b, 4):
                part.add(text.slice(x, min(4, b - x)))
            counts.merge(part)
        groups = None
        for a, b in files:
            part = RepeatedIds(counts.repeated())
            for x in range(a, b, 5):
                part.add(text.slice(x, min(5, b - x)), x, lambda p, x=x, k=keys: k[x + p])
            if groups is None:
                groups = part
            else:
                groups.merge(part)
        got = {}
        for x in range(0, n, 9):
            got.update({x + k: v for k, v in groups.notes(text.slice(x, min(9, n - x)), x).items()})
        assert got == reference_notes(ids, keys)


def test_the_duplicate_search_keeps_hashes_not_rows():
    counts = IdCounts()
    for _ in range(10):  # a million rows, three ids
        counts.add(pa.array(["unknown", "0", "C1"] * 33_333 + ["unknown"]))
    repeated = counts.repeated()
    assert len(repeated) == 3
    held = sum(len(s) for s in counts._seen) + sum(map(len, counts._pending))
    assert held == 3  # one hash per distinct id, whatever the rows


def test_caps_on_the_search_are_said_once(monkeypatch):
    counts = IdCounts(limit=5)
    counts.add(pa.array([f"C{i}" for i in range(10)] + ["C0", "C9"]))
    assert counts.truncated
    assert counts.warnings() == ["the input has more than 5 distinct customer ids; ids "
                                 "beyond those were not checked for repeats"]
    ids = pa.array([f"g{i % 10}" for i in range(100)])
    counts = IdCounts()
    counts.add(ids)
    groups = RepeatedIds(counts.repeated(), limit=3)
    groups.add(ids, 0)
    got = groups.notes(ids, 0)
    assert len(got) == 100  # every repeated row still noted
    assert got[0] == "customer_id 'g0' also on row 11, 21, 31, 41, 51 and 4 more (same values)"
    assert got[3] == "customer_id 'g3' also on other rows (not listed: over 3 ids repeat)"
    assert groups.warnings() == ["more than 3 customer ids are repeated; the notes of the 70 "
                                 "rows of the others do not list their other rows"]


def test_score_file_reports_the_caps_as_warnings(model, tmp_path, monkeypatch):
    monkeypatch.setattr(notes, "MAX_LISTED_IDS", 2)
    src = tmp_path / "in.csv"
    src.write_text(",".join(HEADER) + "\n" + "".join(
        f"{c},30,60,50\n" for c in ["a", "b", "c", "a", "b", "c", "d"]))
    report = score_file(model, src, tmp_path / "out.csv")
    assert report.warnings == ["more than 2 customer ids are repeated; the notes of the 2 rows "
                               "of the others do not list their other rows"]
    assert report.to_dict()["warnings"] == report.warnings
    scored = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert scored["row_issues"].tolist() == [
        "customer_id 'a' also on row 4 (same values)",
        "customer_id 'b' also on row 5 (same values)",
        "customer_id 'c' also on other rows (not listed: over 2 ids repeat)",
        "customer_id 'a' also on row 1 (same values)",
        "customer_id 'b' also on row 2 (same values)",
        "customer_id 'c' also on other rows (not listed: over 2 ids repeat)",
        "",
    ]


def test_placeholder_ids_among_real_ones_across_batches(model, tmp_path):
    rows = [",".join(HEADER)]
    for i in range(3_000):
        id_ = "unknown" if i % 3 == 0 else ("0" if i % 3 == 1 else f"C{i}")
        rows.append(f"{id_},{20 + i % 50},{20 + i % 100},{1 + i % 99}")
    src = tmp_path / "in.csv"
    src.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out.csv"
    score_file(model, src, out, batch_rows=1_000)
    scored = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(scored) == 3_000
    assert scored.loc[0, "row_issues"] == ("customer_id 'unknown' also on row 4, 7, 10, 13, 16 "
                                           "and 994 more (conflicting values)")
    assert scored.loc[2_998, "row_issues"] == ("customer_id '0' also on row 2, 5, 8, 11, 14 "
                                               "and 994 more (conflicting values)")
    assert scored.loc[2, "row_issues"] == ""
    in_memory = custseg.score(model, src)
    assert in_memory["row_issues"].tolist() == scored["row_issues"].tolist()


def test_scan_of_a_gzip_of_identical_rows_holds_one_group(tmp_path):
    import gzip

    path = tmp_path / "same.csv.gz"
    with gzip.open(path, "wb") as fh:
        fh.write((",".join(HEADER) + "\n").encode())
        fh.write(b"unknown,30,60,50\n" * 300_000)
    assert path.stat().st_size < 20_000
    facts = scan(TableSource(path), batch_rows=50_000)
    assert facts.n_rows == 300_000
    assert facts.repeats.n == 1 and facts.warnings == ()
    assert facts.repeats.notes(pa.array(["unknown"]), 299_999) == {
        0: "customer_id 'unknown' also on row 1, 2, 3, 4, 5 and 299,994 more (same values)"}


# ---------------------------------------------------------- class 8: files that expand


def test_a_declared_dimension_of_a_million_rows_and_16384_columns_is_ignored(tmp_path):
    path = tmp_path / "dim.xlsx"
    path.write_bytes(workbook(sheet({1: header_row(), **customers(2_000)},
                                    dimension="A1:XFD1048576")))
    assert path.stat().st_size < 60_000
    table = read_table(path)
    assert table.header == tuple(HEADER)  # trailing empty cells are not columns
    assert table.n_rows == 2_000
    assert table.fields_frame()["customer_id"].tolist()[-1] == "C1999"


def test_excel_rows_stored_with_gaps_and_out_of_order_are_all_kept(tmp_path):
    path = tmp_path / "order.xlsx"
    rows = [(1, header_row()), (2, {1: "A", 2: 30, 3: 40, 4: 50}),
            (5, {1: "B", 2: 31, 3: 41, 4: 51}), (4, {1: "C", 2: 32, 3: 42, 4: 52}),
            (6, {1: "D", 2: 33, 3: 43, 4: 53})]
    path.write_bytes(workbook(sheet(rows)))
    ids = read_table(path).fields_frame()["customer_id"].tolist()
    assert ids == ["A", "", "B", "C", "D"]  # row 3 left out: blank; row 4 stored later


def test_an_excel_row_number_beyond_excel_is_refused(tmp_path):
    path = tmp_path / "far.xlsx"
    path.write_bytes(workbook(sheet({1: header_row(), 2: {1: "A", 2: 30, 3: 40, 4: 50},
                                     10**12: {1: "B", 2: 31, 3: 41, 4: 51}})))
    with pytest.raises(InputFileError, match=r"a row numbered 1,000,000,000,000, outside "
                                             r"Excel's 1–1,048,576"):
        read_table(path)


def test_blank_rows_of_a_wide_sheet_count_against_the_cell_cap(tmp_path):
    """A header of 16,384 columns and one row at the sheet's last line: 17 billion empty
    cells if padded. Refused when the count passes the cap, before any is built."""
    path = tmp_path / "wide.xlsx"
    head = {c: f"h{c}" for c in range(1, 16_385)}
    head.update(header_row())
    path.write_bytes(workbook(sheet({1: head, 1_048_576: {1: "A", 2: 30, 3: 40, 4: 50}})))
    assert path.stat().st_size < 200_000
    with pytest.raises(InputFileError, match=r"more than 50,000,000 cells \(rows × the "
                                             r"header's 16,384 columns, blank rows included\)"):
        read_table(path)


def test_rows_with_values_beyond_the_header_keep_their_place(tmp_path):
    path = tmp_path / "beyond.xlsx"
    path.write_bytes(workbook(sheet({1: header_row(), 2: {1: "A", 2: 30, 3: 40, 4: 50},
                                     3: {1: "B", 2: 30, 3: 40, 4: 50, 16_384: "far"}})))
    table = read_table(path)
    assert table.n_rows == 2
    assert table.structural == {1: "has values beyond the 4 header columns; not split into "
                                   "columns. Its values: 'B', '30', '40', '50', 'far'"}


def test_workbook_parts_that_expand_are_refused_as_they_load(tmp_path):
    """Shared strings and styles, which openpyxl reads whole, deflated to kilobytes."""
    strings = (b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
               + b"<si><t>x</t></si>" * 1_500_000 + b"</sst>")  # 24 MB
    xf = b'<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    styles = (b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
              b"<cellXfs>" + xf * 300_000 + b"</cellXfs></styleSheet>")  # 19 MB
    for part, content in (("xl/sharedStrings.xml", strings), ("xl/styles.xml", styles)):
        path = tmp_path / "parts.xlsx"
        path.write_bytes(workbook(sheet({1: header_row()}), extra={part: content}))
        assert path.stat().st_size < 200_000
        with pytest.raises(InputFileError, match=rf"its part '{part}' expands to more than "
                                                 r"the 16 MB custseg reads"):
            TableSource(path)


def test_a_workbook_over_the_compressed_input_limit_is_refused_from_its_directory(tmp_path):
    path = tmp_path / "big.xlsx"
    path.write_bytes(workbook(sheet({1: header_row(), **customers(20_000)})))
    with pytest.raises(InputFileError, match=r"more than the 1 MB limit") as caught:
        TableSource(path, limits=ReadLimits(max_decompressed_bytes=1 << 20))
    assert caught.value.parameter == "max_decompressed_mb"
    assert TableSource(path).header == tuple(HEADER)


def test_a_parquet_row_group_of_millions_of_rle_rows_is_read_in_slices(tmp_path):
    path = rle_parquet(tmp_path / "rle.parquet", rows_per_group=2_000_000)
    assert path.stat().st_size < 50_000
    source = TableSource(path)
    assert source.parquet.n_rows == 2_000_000
    sizes = [b.data.num_rows for b in source.batches(100_000)]
    assert sum(sizes) == 2_000_000 and max(sizes) <= 100_000


def test_whole_table_reads_are_refused_from_the_parquet_footer(tmp_path, monkeypatch):
    path = rle_parquet(tmp_path / "big.parquet", rows_per_group=1_000_000, groups=3)
    calls = []
    monkeypatch.setattr(formats, "parquet_batches", lambda *a, **k: calls.append(a) or iter(()))
    with pytest.raises(InputFileError, match=r"has more than 1,000,000 rows \(3,000,000, says "
                                             r"its footer\), the limit here") as caught:
        read_table(path)
    assert caught.value.parameter == "max_rows"
    with pytest.raises(InputFileError, match=r"has more than 10 rows \(3,000,000, says its "
                                             r"footer\), the limit here: custseg holds"):
        read_table(path, limits=ReadLimits(max_rows=10))  # the dashboard's cap
    with pytest.raises(InputFileError, match=r"has more than 10 rows \(3,000,000, says its "
                                             r"footer\), the limit here\. Score it"):
        next(TableSource(path, limits=ReadLimits(max_rows=10)).batches())  # a streamed read
    assert calls == []  # no row was read


def test_whole_table_reads_of_text_stop_at_the_cap(tmp_path):
    path = same_id_csv(tmp_path / "many.csv", 1_001)
    with pytest.raises(InputFileError, match="has more than 1,000 rows, the limit here"):
        read_table(path, limits=ReadLimits(max_rows=1_000))
    assert read_table(path, limits=ReadLimits(max_rows=1_001)).n_rows == 1_001


def test_dictionary_text_is_decoded_in_bounded_slices(tmp_path):
    """A 1 MB value repeated on 200 rows: a few KB on disk, 200 MB decoded."""
    big = "x" * (1 << 20)
    indices = pa.array(np.zeros(200, dtype=np.int8))
    table = pa.table({"CustomerID": pa.array([f"C{i}" for i in range(200)]),
                      "Notes": pa.DictionaryArray.from_arrays(indices, pa.array([big]))})
    path = tmp_path / "long.parquet"
    pq.write_table(table, path, compression="zstd")
    assert path.stat().st_size < 100_000
    batches = list(TableSource(path).batches(250_000))
    assert sum(b.data.num_rows for b in batches) == 200
    assert max(b.data.nbytes for b in batches) <= formats.MAX_BATCH_BYTES + (1 << 20)
    assert batches[-1].data.column(1)[0].as_py() == big


def test_parquet_columns_that_expand_past_the_caps_are_refused(tmp_path, monkeypatch):
    lists = pa.table({"CustomerID": ["a", "b"], "Tags": pa.array([list(range(60)), []])})
    path = tmp_path / "lists.parquet"
    pq.write_table(lists, path)
    monkeypatch.setattr(formats, "MAX_LIST_VALUES", 50)
    with pytest.raises(InputFileError, match=r"'Tags.list.element' holds lists of 61 values"):
        TableSource(path)
    monkeypatch.setattr(formats, "MAX_CHUNK_BYTES", 10)
    with pytest.raises(InputFileError, match=r"of row group 1 expands to 0 MB, more than"):
        TableSource(path)


def test_wide_tables_are_read_in_batches_bounded_in_cells(tmp_path, monkeypatch):
    from custseg.io import source as source_module

    monkeypatch.setattr(source_module, "BATCH_CELLS", 5_000)
    width = 1_000
    header = HEADER + [f"x{i}" for i in range(width - len(HEADER))]
    lines = [",".join(header)] + [",".join(["C1", "30", "40", "50"] + ["1"] * (width - 4))] * 40
    lines[5] = "C5,30"  # a short row: the exact reader, which builds every cell in Python
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(lines) + "\n")
    sizes = [b.data.num_rows for b in TableSource(path).batches(250_000)]
    assert sum(sizes) == 40 and max(sizes) <= 5


def test_a_row_longer_than_a_fast_block_goes_to_the_exact_reader(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "_block_size", lambda rows: 16_384)
    path = tmp_path / "long.csv"
    path.write_text(",".join(HEADER) + ",Notes\n" + "C1,30,40,50," + "y" * 100_000 + "\n"
                    + "C2,31,41,51,short\n")
    source = TableSource(path)
    notes_column = [v for b in source.batches(1_000) for v in b.data.column(4).to_pylist()]
    assert notes_column == ["y" * 100_000, "short"]
    assert source.well_formed is False  # later passes take the exact reader at once
