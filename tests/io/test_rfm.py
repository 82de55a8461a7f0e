"""The aggregation of a transaction log to one row per customer, on small hand-made logs
whose answers are worked out by hand."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from custseg.errors import ParameterError, SchemaError
from custseg.io.rfm import _plain_cells, aggregate_log
from custseg.table.transactions import OUTPUT_COLUMNS

UCI = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,A,x,6,12/01/2010 08:26,2.55,17850.0,UK
536365,B,y,6,12/01/2010 08:26,3.39,17850.0,UK
536366,A,x,2,12/13/2010 09:00,2.55,17850,UK
C536379,A,x,-1,12/14/2010 09:00,2.55,17850.0,UK
536367,A,x,3,12/02/2010 10:00,1.00,,UK
536368,A,x,3,12/03/2010 10:00,1.00, 13047 ,UK
536368,A,x,3,12/03/2010 10:00,1.00, 13047 ,UK
C536380,A,x,-2,12/05/2010 10:00,4.00,99999,UK
536369,A,x,abc,12/05/2010 10:00,4.00,12000,UK
"""


def rows(result) -> dict[str, dict]:
    return {r["customer_id"]: r for r in result.table.to_pylist()}


def log(tmp_path, text: str, name: str = "log.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_uci_style_log_known_answers(tmp_path):
    result = aggregate_log(log(tmp_path, UCI))
    assert tuple(result.table.column_names) == OUTPUT_COLUMNS
    got = rows(result)
    assert list(got) == ["13047", "17850", "99999"]  # 17850.0 and 17850 are one customer
    c = got["17850"]
    # purchases 6*2.55 + 6*3.39 + 2*2.55 = 40.74 on invoices 536365, 536366; C536379 returns 2.55
    assert (c["frequency"], c["monetary"], c["returns_value"], c["avg_order_value"]) == (
        2, 38.19, 2.55, 20.37)
    assert str(c["first_purchase"]) == "2010-12-01" and str(c["last_purchase"]) == "2010-12-13"
    # as of the day after the latest purchase (the cancellation on 12/14 is no purchase)
    assert result.summary.as_of == "2010-12-14"
    assert (c["recency_days"], c["tenure_days"]) == (1, 13)
    # two identical lines: both kept (two items bought), counted
    assert got["13047"]["monetary"] == 6.0 and got["13047"]["frequency"] == 1
    assert result.summary.duplicate_lines == 1
    # a customer with returns only: kept, frequency 0, empty recency, tenure, dates, aov
    r = got["99999"]
    assert (r["frequency"], r["monetary"], r["returns_value"]) == (0, -8.0, 8.0)
    assert [r[k] for k in ("recency_days", "tenure_days", "first_purchase", "last_purchase",
                           "avg_order_value")] == [None] * 5
    s = result.summary
    assert (s.read, s.used) == (9, 7)
    assert s.excluded == {"no customer id": 1, "unreadable quantity": 1}
    assert s.columns == {"customer": "CustomerID", "date": "InvoiceDate",
                         "invoice": "InvoiceNo", "value": "Quantity × UnitPrice"}
    assert s.to_json_dict()["lines"] == {"read": 9, "used": 7, "excluded": s.excluded}


def test_letter_prefixed_order_ids_are_purchases(tmp_path):
    """Ordinary orders beginning with C (and letters) are not cancellations; only a
    negative value is a return."""
    text = ("Order ID,Order Date,Customer ID,Sales\n"
            "CA-7731-0041,2020-01-05,AB-100,100\n"
            "COM-88123,2020-01-06,AB-100,50\n"
            "C536379,2020-01-07,AB-100,20\n"
            "CA-7731-0042,2020-01-08,ab-100,30\n"
            "CA-7731-0043,2020-01-09,ab-100,-10\n")
    got = rows(aggregate_log(log(tmp_path, text)))
    assert got["AB-100"]["frequency"] == 3 and got["AB-100"]["returns_value"] == 0
    assert got["AB-100"]["monetary"] == 170
    assert got["ab-100"]["frequency"] == 1  # case kept: two customers
    assert (got["ab-100"]["monetary"], got["ab-100"]["returns_value"]) == (20, 10)


def test_amount_column_is_the_value_never_times_quantity(tmp_path):
    text = ("Invoice,Date,Client,Quantity,Amount,Profit\n"
            "1,2021-03-01,7,3,30.00,9\n"
            "2,2021-03-05,7,2,10.50,-4\n")
    result = aggregate_log(log(tmp_path, text))
    c = rows(result)["7"]
    assert (c["monetary"], c["frequency"], c["avg_order_value"]) == (40.5, 2, 20.25)
    assert c["returns_value"] == 0  # a negative profit is no return
    assert result.summary.columns["value"] == "Amount"


def test_without_invoice_frequency_counts_purchase_days(tmp_path):
    text = ("customer_id,date,amount\n"
            "a,2022-05-01 10:00,5\na,2022-05-01 18:00,5\na,2022-05-03,5\n")
    c = rows(aggregate_log(log(tmp_path, text)))["a"]
    assert (c["frequency"], c["monetary"], c["tenure_days"], c["recency_days"]) == (2, 15, 3, 1)


def test_bad_dates_and_values_are_excluded_by_reason(tmp_path):
    text = ("customer_id,date,quantity,price\n"
            "a,2022-02-31,1,1\n"      # no such day
            "a,soon,1,1\n"
            "a,,1,1\n"
            "a,2022-02-01,1,\n"
            "a,2022-02-01,1e200,1e200\n"  # inf: never written
            "a,2022-02-01,2,1.5\n")
    result = aggregate_log(log(tmp_path, text))
    assert result.summary.excluded == {"unreadable date": 3, "unreadable price": 1,
                                       "value too large to represent": 1}
    c = rows(result)["a"]
    assert c["monetary"] == 3.0 and all(
        not isinstance(v, float) or math.isfinite(v) for v in c.values() if v is not None)


@pytest.mark.parametrize("dates", [("13/01/2020", "02/01/2020"), ("01/13/2020", "01/02/2020")])
def test_both_date_orders(tmp_path, dates):
    """13 January and 2 January, written day-first in one log and month-first in the other."""
    text = "CustomerID,InvoiceDate,Amount\n" + "".join(f"x,{d},1\n" for d in dates)
    c = rows(aggregate_log(log(tmp_path, text)))["x"]
    assert (str(c["first_purchase"]), str(c["last_purchase"])) == ("2020-01-02", "2020-01-13")


def test_undecidable_date_order_is_refused_then_stated(tmp_path):
    path = log(tmp_path, "CustomerID,InvoiceDate,Amount\nx,02/01/2020,1\nx,03/01/2020,1\n")
    with pytest.raises(SchemaError, match="day-first or month-first"):
        aggregate_log(path)
    c = rows(aggregate_log(path, date_format="%d/%m/%Y"))["x"]
    assert str(c["last_purchase"]) == "2020-01-03"


def test_as_of(tmp_path):
    path = log(tmp_path, UCI)
    c = rows(aggregate_log(path, as_of="2010-12-31"))["17850"]
    assert (c["recency_days"], c["tenure_days"]) == (18, 30)
    with pytest.raises(ParameterError, match="before the log's latest purchase"):
        aggregate_log(path, as_of="2010-12-02")


def test_columns_given_and_refused(tmp_path):
    text = "who,when,Order Date,Ship Date,Qty,UnitPrice\nk,x,2020-01-01,2020-01-09,2,3\n"
    path = log(tmp_path, text)
    with pytest.raises(SchemaError, match="customer id"):
        aggregate_log(path)
    result = aggregate_log(path, columns={"customer": "who"})
    assert result.summary.columns["date"] == "Order Date"  # never the ship date
    assert rows(result)["k"]["monetary"] == 6
    with pytest.raises(SchemaError, match="'nope' is not a column"):
        aggregate_log(path, columns={"customer": "nope"})


def test_parquet_and_windows_1252(tmp_path):
    import pyarrow.parquet as pq

    table = pa.table({"CustomerID": ["12923.0", "12923"], "InvoiceDate": ["2011-01-01",
                                                                          "2011-01-03"],
                      "InvoiceNo": ["1", "2"], "Quantity": ["1", "1"], "UnitPrice": ["2", "3"]})
    pq.write_table(table, tmp_path / "log.parquet")
    c = rows(aggregate_log(tmp_path / "log.parquet"))["12923"]
    assert (c["frequency"], c["monetary"]) == (2, 5)
    (tmp_path / "w.csv").write_bytes("Customer ID;Date;Amount\nRené;2011-01-01;2,5\n"
                                     .encode("cp1252"))
    assert rows(aggregate_log(tmp_path / "w.csv"))["René"]["monetary"] == 2.5


def test_reader_errors_come_through_the_stream_as_they_were(tmp_path):
    from custseg.errors import InputFileError
    from custseg.io.source import ReadLimits

    text = "customer_id,date,amount\n" + "".join(f"c{i},2020-01-01,1\n" for i in range(50))
    with pytest.raises(InputFileError, match="more than 10 rows"):
        aggregate_log(log(tmp_path, text), limits=ReadLimits(max_rows=10))


def test_a_ragged_line_deep_in_a_log_is_one_malformed_line(tmp_path):
    # the fast reader meets it after many batches; the exact reader goes on from there
    good = "".join(f"c{i % 7},2020-01-{1 + i % 28:02d},{i % 5}\n" for i in range(300_000))
    text = "customer_id,date,amount\n" + good + "c1,2020-01-02,1,extra\n" + good
    result = aggregate_log(log(tmp_path, text))
    assert result.summary.read == 600_001
    assert result.summary.excluded == {"malformed row": 1}
    assert rows(result)["c0"]["monetary"] == 2 * sum(i % 5 for i in range(0, 300_000, 7))


_ODD = ["", " ", "  ", "\u00a0", "\u2003", "\u3000"]  # trimmed away by the rules


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("style", ["uci", "prefixed"])
def test_ids_and_invoices_read_in_sql_agree_with_the_rules_on_every_cell(tmp_path, seed,
                                                                        style):
    # plain cells are read in SQL, the others by the Python rules: both must give what
    # the rules give on every cell
    import numpy as np
    import pyarrow.compute as pc

    from custseg.table.transactions import cancelled, customer_ids, uci_cancellations

    rng = np.random.default_rng(seed)
    n = 400
    base_ids = ["12923", "12923.0", "12923.00", "+7.0", "ab-100", "AB-100", "é1", "x.0",
                "1e3", "007", "7"]
    invoices = ([f"{536000 + i}" for i in range(30)] + [f"C{537000 + i}" for i in range(5)]
                if style == "uci" else [f"CA-{i}" for i in range(20)] + ["COM-1", "C9"])
    lines = []
    for _ in range(n):
        cid = rng.choice(base_ids + [""])
        cid = rng.choice(_ODD) + cid + rng.choice(_ODD) if rng.random() < 0.4 else cid
        inv = rng.choice(invoices + [""])
        inv = rng.choice(_ODD) + inv + rng.choice(_ODD) if rng.random() < 0.4 else inv
        day = int(rng.integers(1, 28))
        amount = int(rng.integers(-3, 20))
        lines.append((cid, inv, day, amount))
    text = "CustomerID\tInvoiceNo\tInvoiceDate\tAmount\n" + "".join(
        f"{c}\t{i}\t2021-03-{d:02d}\t{a}\n" for c, i, d, a in lines)
    path = tmp_path / "log.tsv"
    path.write_text(text, encoding="utf-8")
    result = aggregate_log(path)
    assert "malformed row" not in result.summary.excluded
    got = rows(result)

    ids = customer_ids(pa.array([c for c, *_ in lines])).to_pylist()
    keys = pc.utf8_trim_whitespace(pa.array([i for _, i, _, _ in lines]))
    keys = pc.if_else(pc.equal(keys, ""), pa.scalar(None, pa.string()), keys)
    # decided over the invoices of the lines with a customer id
    with_id = pc.filter(keys, pc.is_valid(pa.array(ids)))
    uci = uci_cancellations(pc.unique(with_id).drop_null())
    assert uci == (style == "uci")
    gone = cancelled(keys, uci)
    want: dict[str, dict] = {}
    for cid, key, gone_, (_, _, day, amount) in zip(ids, keys.to_pylist(), gone, lines,
                                                    strict=True):
        if cid is None:
            continue
        c = want.setdefault(cid, {"orders": set(), "gross": 0, "returns": 0})
        if gone_ or amount < 0:
            c["returns"] += abs(amount)
        else:
            c["orders"].add(key if key is not None else ("day", day))
            c["gross"] += amount
    assert set(got) == set(want)
    for cid, c in want.items():
        assert (got[cid]["frequency"], got[cid]["monetary"], got[cid]["returns_value"]) == (
            len(c["orders"]), c["gross"] - c["returns"], c["returns"]), cid


def test_a_large_but_representable_total_is_written_as_it_is(tmp_path):
    # rounding to 6 decimals scales by 1e6: above ~1.8e302 that overflowed, and a
    # representable total was refused as "beyond 1e308"
    text = ("Order ID,Order Date,Customer ID,Amount\n"
            "O1,2020-01-01,A,1e305\nO2,2020-01-02,B,5\n"
            "O3,2020-01-01,C,1e308\nO4,2020-01-02,C,-1e308\n"
            "O5,2020-01-01,D,0.1\nO6,2020-01-01,D,0.2\n")
    got = rows(aggregate_log(log(tmp_path, text)))
    assert (got["A"]["monetary"], got["A"]["avg_order_value"]) == (1e305, 1e305)
    assert got["B"]["monetary"] == 5.0
    assert (got["C"]["monetary"], got["C"]["returns_value"]) == (0.0, 1e308)
    assert got["D"]["monetary"] == 0.3  # small sums still lose their float noise
    too_big = "Order ID,Order Date,Customer ID,Amount\nO1,2020-01-01,A,1e308\nO2,2020-01-02,A,1e308\n"
    with pytest.raises(SchemaError, match="too large to represent"):
        aggregate_log(log(tmp_path, too_big, "big.csv"))


def test_a_purchase_on_the_last_writable_day_needs_its_as_of_date(tmp_path):
    path = log(tmp_path, "InvoiceNo,InvoiceDate,CustomerID,Quantity,UnitPrice\n"
                         "1,9999-12-31,A,1,1\n2,2020-01-01,A,1,1\n")
    with pytest.raises(ParameterError, match="9999-12-31, the last day") as caught:
        aggregate_log(path)
    assert (caught.value.parameter, caught.value.key) == ("as_of", "9999-12-31")
    c = rows(aggregate_log(path, as_of="9999-12-31"))["A"]
    assert (c["recency_days"], str(c["first_purchase"]), c["frequency"]) == (0, "2020-01-01", 2)


def test_uci_rule_needs_ordinary_digit_invoices_among_lines_with_a_customer(tmp_path):
    # every invoice "C" + digits: orders, not cancellations
    text = ("Invoice,Date,Customer,Amount\n"
            "C0001,2020-01-01,A,10\nC0002,2020-01-02,A,20\nC0003,2020-01-03,B,5\n")
    got = rows(aggregate_log(log(tmp_path, text)))
    assert (got["A"]["frequency"], got["A"]["monetary"], got["A"]["returns_value"]) == (2, 30, 0)
    assert (got["B"]["frequency"], got["B"]["monetary"]) == (1, 5)
    # the UCI log's adjustment invoices (A563185) are on lines without a customer id:
    # they do not turn the rule off for the customers' invoices
    uci = ("InvoiceNo,InvoiceDate,CustomerID,Quantity,UnitPrice\n"
           "536365,2010-12-01,100,2,5\nC536366,2010-12-02,100,1,5\n"
           "A563185,2011-08-12,,1,100\n")
    result = aggregate_log(log(tmp_path, uci, "uci.csv"))
    c = rows(result)["100"]
    assert (c["frequency"], c["monetary"], c["returns_value"]) == (1, 5, 5)
    assert result.summary.excluded == {"no customer id": 1}
    # the same adjustment on a line with a customer: not UCI-style, no cancellation
    with_id = uci.replace("A563185,2011-08-12,,", "A563185,2011-08-12,100,")
    c = rows(aggregate_log(log(tmp_path, with_id, "uci2.csv")))["100"]
    assert (c["frequency"], c["monetary"], c["returns_value"]) == (3, 115, 0)


def test_a_log_is_never_refused_over_customer_table_fields_it_does_not_use(tmp_path):
    # ID beside Customer ID, Gender beside Sex, Age beside Customer Age, Income beside
    # Annual Income: each pair would be ambiguous in a customer table, not in a log
    header = ("Row,ID,Order ID,Order Date,Customer ID,Gender,Sex,Age,Customer Age,Income,"
              "Annual Income,Amount\n")
    text = header + ("1,9,O1,2020-01-01,K,F,F,30,30,5,5,5\n"
                     "2,9,O2,2020-01-03,K,F,F,30,30,5,5,7\n"
                     "Total,,,2020-01-03,L,,,,,,,12\n"   # a summary row (first column)
                     "4,9,O4,2020-01-03,Total,,,,,,,12\n")  # one in the customer column
    path = log(tmp_path, text)
    for columns in (None, {"customer": "Customer ID"}):
        result = aggregate_log(path, columns=columns)
        assert result.summary.columns["customer"] == "Customer ID"
        assert list(rows(result)) == ["K"] and rows(result)["K"]["monetary"] == 12
        assert result.summary.excluded == {"malformed row": 2}


def test_log_detection_and_score_read_such_a_log(tmp_path):
    from custseg.api import log_columns
    from custseg.io.logs import header_of

    path = log(tmp_path, "ID,Order ID,Order Date,Customer ID,Gender,Sex,Amount\n"
                         "1,O1,2020-01-01,K,F,F,5\n")
    assert log_columns(path).taken()["customer"] == "Customer ID"
    assert header_of(path)[3] == "Customer ID"


def test_lines_not_split_into_cells_are_never_duplicates(tmp_path):
    # ragged lines have no cells to compare: four different ones were 3 "duplicates";
    # none is counted, not even two written alike; identical whole lines still are
    text = ("InvoiceNo,InvoiceDate,CustomerID,Quantity,UnitPrice\n"
            "1,2010-12-01,100,2,5\n1,2010-12-01,100,2,5\n"
            "2,2010-12-02,101,1\n3,2010-12-03,102\n"
            "4,2010-12-04,103,1,1,x\n5,2010-12-05,104,1,1,y,z\n5,2010-12-05,104,1,1,y,z\n")
    result = aggregate_log(log(tmp_path, text))
    assert result.summary.excluded == {"malformed row": 5}
    assert result.summary.duplicate_lines == 1
    assert rows(result)["100"]["monetary"] == 20


def test_amounts_and_prices_are_read_as_money_quantities_are_not(tmp_path):
    text = ('Order ID,Order Date,Customer ID,Amount\n'
            'O1,2020-01-01,A,$12.50\nO2,2020-01-02,A,"$1,000.00"\n'
            'O3,2020-01-02,B,"2,000"\nO4,2020-01-02,B,USD 5\n'
            'O5,2020-01-02,C,€3.50\n')  # another currency than the dollar: not read
    result = aggregate_log(log(tmp_path, text))
    got = rows(result)
    assert (got["A"]["monetary"], got["B"]["monetary"]) == (1012.5, 2005)
    assert "C" not in got and result.summary.excluded == {"unreadable amount": 1}
    qp = ('Order ID,Order Date,Customer ID,Quantity,Price\n'
          'O1,2020-01-01,A,2,$3.50\nO2,2020-01-01,A,$2,$1\n')
    result = aggregate_log(log(tmp_path, qp, "qp.csv"))
    assert rows(result)["A"]["monetary"] == 7
    assert result.summary.excluded == {"unreadable quantity": 1}
    semicolon = "Order ID;Order Date;Customer ID;Amount\nO1;2020-01-01;A;1.234,50 $\nO2;2020-01-02;A;$ 2,5\n"
    assert rows(aggregate_log(log(tmp_path, semicolon, "s.csv")))["A"]["monetary"] == 1237


@pytest.mark.parametrize("date_format", [None, "%Y-%m-%d"])
def test_a_log_without_lines_says_so(tmp_path, date_format):
    from custseg.errors import InputFileError

    header = "InvoiceNo,InvoiceDate,CustomerID,Quantity,UnitPrice\n"
    with pytest.raises(InputFileError, match="a header but no lines"):
        aggregate_log(log(tmp_path, header), date_format=date_format)
    with pytest.raises(InputFileError, match="every one of the log's 2 lines is a malformed"):
        aggregate_log(log(tmp_path, header + "1,2,3\n4,5,6,7,8,9\n", "bad.csv"),
                      date_format=date_format)


def test_a_given_date_format_that_reads_no_date_is_refused(tmp_path):
    text = ("InvoiceNo,InvoiceDate,CustomerID,Quantity,UnitPrice\n"
            "1,25/03/2014,A,1,1\n2,26/03/2014,A,1,1\n")
    path = log(tmp_path, text)
    with pytest.raises(SchemaError, match=r"'%Y-%m-%d' reads none of the column's dates "
                                          r"\(such as '25/03/2014'\)") as caught:
        aggregate_log(path, date_format="%Y-%m-%d")
    assert (caught.value.parameter, caught.value.key) == ("date_formats", "InvoiceDate")
    assert rows(aggregate_log(path, date_format="%d/%m/%Y"))["A"]["frequency"] == 2
    # one cell it reads, after more than a thousand it does not: not refused
    odd = "".join(f"{i},1x{i:04d},A,1,1\n" for i in range(1200))
    result = aggregate_log(log(tmp_path, text + odd, "odd.csv"), date_format="%d/%m/%Y")
    assert result.summary.excluded == {"unreadable date": 1200}
    assert rows(result)["A"]["monetary"] == 2


_PLAIN_CELLS = st.lists(st.one_of(st.none(), st.text(
    st.sampled_from(["1", "a", "C", ".", " ", "\t", "\n", "\u00a0", "é", "€", "~", "!",
                     "\x7f", "\x00", "\u2003"]), max_size=6)), max_size=40)


@given(cells=_PLAIN_CELLS, offset=st.integers(0, 3))
def test_plain_cells_are_those_no_trimming_changes(cells, offset):
    """A cell is read in SQL as it is when it begins and ends with a printable ASCII
    character (not a space); every other one goes through the rules in Python. The
    bytes are looked at in numpy, on slices of arrays too (an arrow offset)."""
    column = pa.array(["x"] * offset + cells, pa.string()).slice(offset)
    found = _plain_cells(column).to_pylist()
    expected = [None if c is None else bool(c) and "!" <= c[0] <= "~" and "!" <= c[-1] <= "~"
                for c in cells]
    assert found == expected
