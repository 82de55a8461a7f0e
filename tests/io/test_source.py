from __future__ import annotations

import io
import itertools

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custseg.errors import CustsegError, InputFileError, SchemaError
from custseg.io.source import TableSource, read_table

HEADER = "CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100)"
ROWS = ["0001,Male,19,15,39", "18446744073709551617,Female,21,15,81"]


def csv_text(rows=ROWS, header=HEADER, sep=",", eol="\n"):
    return eol.join([header.replace(",", sep)] + [r.replace(",", sep) for r in rows]) + eol


def test_ids_are_text_byte_for_byte(write):
    table = read_table(write("c.csv", csv_text()))
    ids = table.fields_frame()["customer_id"].tolist()
    assert ids == ["0001", "18446744073709551617"]  # leading zero and > 2**64 kept


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16", b""), ("cp1252", b"")],
)
def test_encodings(write, encoding, prefix):
    text = csv_text(["1,Fémale “x”,30,50,50"])
    path = write("e.csv", prefix + text.encode(encoding))
    table = read_table(path)
    assert table.header[0] == "CustomerID"
    assert table.fields_frame()["gender"].tolist() == ["Fémale “x”"]
    expected = {"utf-8": "utf-8-sig" if prefix else "utf-8", "utf-16": "utf-16", "cp1252": "cp1252"}
    assert table.dialect.encoding == expected[encoding]


@pytest.mark.parametrize(("sep", "name", "decimal"), [(",", "x.csv", "."), (";", "x.csv", ","),
                                                     ("\t", "x.tsv", "."), ("\t", "x.txt", ".")])
def test_delimiters(write, sep, name, decimal):
    rows = ["1,Male,30,50,50"]
    table = read_table(write(name, csv_text(rows, sep=sep, eol="\r\n")))
    assert table.dialect.delimiter == sep
    assert table.dialect.decimal == decimal
    assert table.fields_frame().iloc[0].tolist() == ["1", "Male", "30", "50", "50"]


def test_semicolon_file_with_decimal_comma_fits(write):
    import custseg

    lines = ["ID;Age;Income;Spending Score"] + [
        f"{i};{20 + i % 40};{30 + i % 50},5;{i % 90 + 1}" for i in range(60)
    ]
    model = custseg.fit(write("s.csv", "\n".join(lines) + "\n"), params={"n_clusters": 3})
    assert model.quality.n_used == 60
    assert model.base.mins["annual_income"] == 30.5
    assert model.base.maxs["annual_income"] == 79.5


def test_quoted_fields_with_commas_quotes_and_newlines(write):
    rows = ['"7","Fe""male, really\nyes",30,50,50']
    table = read_table(write("q.csv", csv_text(rows)))
    assert table.n_rows == 1
    assert table.fields_frame()["gender"].tolist() == ['Fe"male, really\nyes']


def test_ragged_rows_keep_their_place_and_are_never_shifted(write):
    rows = ["1,Male,30,50,50", "2,Male,30,50", "3,Male,30,50,50,extra", "4,Female,40,60,60"]
    table = read_table(write("r.csv", csv_text(rows)))
    frame = table.fields_frame()
    assert frame["customer_id"].isna().tolist() == [False, True, True, False]
    assert frame["customer_id"].dropna().tolist() == ["1", "4"]
    assert table.structural == {
        1: "line 3 has 4 fields where the header has 5; not split into columns. "
           "Its text: '2,Male,30,50'",
        2: "line 4 has 6 fields where the header has 5; not split into columns. "
           "Its text: '3,Male,30,50,50,extra'",
    }


def test_excel_first_sheet(tmp_path):
    path = tmp_path / "c.xlsx"
    with pd.ExcelWriter(path) as xl:
        pd.DataFrame({"ID": ["007", "8"], "Age": [30, 40.5], "Income": [50, 60],
                      "Spending Score": [5, 6]}).to_excel(xl, index=False, sheet_name="first")
        pd.DataFrame({"other": [1]}).to_excel(xl, index=False, sheet_name="second")
    table = read_table(path)
    assert table.kind == "excel"
    assert table.fields_frame().to_dict("list") == {
        "customer_id": ["007", "8"], "age": ["30", "40.5"], "annual_income": ["50", "60"],
        "spending_score": ["5", "6"]}


def test_parquet(tmp_path):
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"customer_id": ["a", "b"], "age": [30, None],
                             "annual_income": [50.5, 60.0], "spending_score": [5, 6]}), path)
    table = read_table(path)
    assert table.kind == "parquet"
    frame = table.fields_frame()
    assert frame["age"].isna().tolist() == [False, True]
    assert frame.fillna("").to_dict("list") == {
        "customer_id": ["a", "b"], "age": ["30", ""], "annual_income": ["50.5", "60"],
        "spending_score": ["5", "6"]}


def test_bytes_upload_with_name():
    table = read_table(csv_text().encode(), name="upload.csv")
    assert table.name == "upload.csv"
    assert table.n_rows == 2


def test_batches_cover_every_row_in_order(write):
    rows = [f"{i},Male,30,50,50" for i in range(1_000)]
    source = TableSource(write("b.csv", csv_text(rows)))
    seen = [b.data.column(0).to_pylist() for b in source.batches(rows=100)]
    flat = [x for chunk in seen for x in chunk]
    assert flat == [str(i) for i in range(1_000)]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("e.csv", b"", "is empty"),
        ("p.csv", b"\x80\x04\x95\x10\x00\x00", "is a Python pickle"),
        ("z.bin", b"\x00\x01\x02\x03" * 100, "binary data"),
        ("x.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "Excel 97-2003"),
    ],
)
def test_not_a_table_is_refused(write, name, content, message):
    with pytest.raises(InputFileError, match=message):
        read_table(write(name, content))


def test_wrong_type_renamed(tmp_path):
    xlsx = tmp_path / "real.xlsx"
    pd.DataFrame({"age": [1]}).to_excel(xlsx, index=False)
    fake = tmp_path / "fake.csv"
    fake.write_bytes(xlsx.read_bytes())
    with pytest.raises(InputFileError, match=r"named \.csv but holds an Excel workbook"):
        read_table(fake)
    csv_as_xlsx = tmp_path / "fake.xlsx"
    csv_as_xlsx.write_text(csv_text())
    with pytest.raises(InputFileError, match=r"named \.xlsx but holds text"):
        read_table(csv_as_xlsx)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(InputFileError, match="is a folder"):
        read_table(tmp_path)


def test_explicit_mapping(write):
    path = write("m.csv", "Kunde,Jahre,Einkommen,Punkte\n1,30,50,60\n")
    table = read_table(path, mapping={"customer_id": "Kunde", "age": "Jahre",
                                      "annual_income": "Einkommen", "spending_score": "Punkte"})
    assert table.fields_frame().iloc[0].tolist() == ["1", "30", "50", "60"]
    with pytest.raises(SchemaError, match="no such column"):
        read_table(path, mapping={"age": "Alter"})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_any_bytes_give_a_table_or_a_clean_error(data):
    try:
        table = read_table(data, name="fuzz.csv")
    except CustsegError:
        return
    assert table.data.num_columns == len(table.header)
    assert table.fields_frame().shape[0] == table.n_rows


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=6),
                         min_size=1, max_size=5), min_size=1, max_size=8))
def test_any_text_table_round_trips_rows(rows):
    import csv

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(["customer_id", "age", "annual_income", "spending_score", "note"])
    writer.writerows(rows)
    try:
        table = read_table(buf.getvalue().encode("utf-8"), name="t.csv")
    except CustsegError:
        return
    # Every record comes back, in order: one row each, except that a record over several
    # lines with the wrong number of fields is not taken as one (it may be a stray quote
    # swallowing lines): its lines come back as rows of their own.
    lines = len(io.StringIO(buf.getvalue(), newline="").readlines()) - 1  # \n, \r, \r\n
    assert len(rows) <= table.n_rows <= lines
    if all(len(r) == 5 for r in rows):  # well formed: exactly the rows written
        assert table.n_rows == len(rows) and not table.structural
        assert [list(r) for r in zip(*table.data.to_pydict().values(), strict=True)] == rows


def test_excel_blank_rows_between_data_are_kept(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append([])  # a leading blank row
    sheet.append(["ID", "Age", "Income", "Spending Score"])
    sheet.append([1e20, 30, 50, 60])
    sheet.append([])
    sheet.append(["2", 31, 51, 61])
    sheet.append([])  # trailing
    path = tmp_path / "blank.xlsx"
    book.save(path)
    table = read_table(path)
    frame = table.fields_frame()
    assert table.n_rows == 3
    assert frame["customer_id"].tolist()[0] == "100000000000000000000"
    assert frame["age"].tolist()[1] == ""
    assert frame["age"].tolist()[2] == "31"


def test_semicolon_file_with_dotted_thousands(write):
    from custseg.table.fields import NUMERIC_FIELDS, Ranges

    path = write("eu.csv", "id;age;Annual Income ($);spending_score\n1;30;54.000;60\n"
                           "2;40;120.500;20\n3;35;1.200.000;50\n")
    validated = read_table(path).validated(NUMERIC_FIELDS, Ranges())
    assert validated.valid.all()
    assert validated.values["annual_income"].tolist() == [54.0, 120.5, 1200.0]  # $ -> k$


def test_a_malformed_row_after_fast_batches_gives_every_row_once(write, monkeypatch):
    from custseg.io import formats

    monkeypatch.setattr(formats, "_block_size", lambda rows: 2_048)  # many small fast batches
    rows = [f"{i},Male,30,50,50" for i in range(2_000)]
    rows[1_500] = "1500,Male,30"
    source = TableSource(write("late.csv", csv_text(rows)))
    assert source.well_formed is None
    first = list(source.batches(rows=300))
    assert source.well_formed is False
    again = list(source.batches(rows=300))  # the exact reader at once, same rows
    for batches in (first, again):
        data = pa.concat_tables([b.data for b in batches])
        assert data.column(0).to_pylist() == [str(i) if i != 1_500 else None for i in range(2_000)]
        starts = itertools.accumulate((b.data.num_rows for b in batches), initial=0)
        notes = {start + k: v for start, b in zip(starts, batches, strict=False)
                 for k, v in b.structural.items()}
        assert list(notes) == [1_500]
        assert notes[1_500].startswith("line 1502 has 3 fields where the header has 5")


def test_a_quick_pass_converts_one_column(write):
    rows = [f"{i},Male,{20 + i},50,50" for i in range(50)]
    for content in (rows, rows[:10] + ["x,y"] + rows[10:]):
        source = TableSource(write("q.csv", csv_text(content)))
        batches = list(source.batches(column=2))
        assert all(b.data.column_names == ["c2"] for b in batches)
        ages = pa.concat_tables([b.data for b in batches]).column(0).to_pylist()
        assert ages == [b.split(",")[2] if b.count(",") == 4 else None for b in content]
        assert source.well_formed is (len(content) == 50)
