"""Transaction logs in several files, and their concatenation: for the engines that
aggregate a folder or a glob of a log's files (local and Dask), whose result must be the
concatenated file's."""

from __future__ import annotations

HEADER = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"

#: UCI-style, in three files and an empty one. Alone, a.csv's dates cannot tell their
#: order (every day is 12 or less): b.csv's 12/13 says month-first for the whole log.
#: Invoice 536365 of 17850 has lines in a and b (one order); 17850 is written 17850.0
#: and 17850; a line of 13047 is in the log three times (a, a, b); 99999 only returns
#: (C536380 in b, C536381 in c, written 99999.0); d.csv has a header and no line.
UCI_PARTS = {
    "a.csv": ("536365,A,6,12/01/2010 08:26,2.55,17850.0\n"
              "536365,B,6,12/01/2010 08:26,3.39,17850.0\n"
              "536370,A,3,12/02/2010 10:00,1.00, 13047 \n"
              "536370,A,3,12/02/2010 10:00,1.00, 13047 \n"
              "536371,A,1,12/03/2010 10:00,5.00,\n"
              "536372,A,abc,12/03/2010 10:00,5.00,12000\n"),
    "b.csv": ("536365,C,2,12/01/2010 08:26,1.00,17850\n"
              "536366,A,2,12/13/2010 09:00,2.55,17850\n"
              "C536379,A,-1,12/14/2010 09:00,2.55,17850.0\n"
              "536370,A,3,12/02/2010 10:00,1.00, 13047 \n"
              "C536380,A,-2,12/05/2010 10:00,4.00,99999\n"),
    "c.csv": ("C536381,A,-1,12/06/2010 10:00,4.00,99999.0\n"
              "536373,A,1,12/09/2010 10:00,7.50,13047\n"),
    "d.csv": "",
}

#: x.csv alone is UCI-style (C100 a cancellation); y.csv's letter-prefixed order ids say
#: the log's ids are not, so C100, with its positive quantity, is a purchase.
PREFIXED_PARTS = {
    "x.csv": ("100,A,1,2021-03-01,10,7\n"
              "C100,A,2,2021-03-02,10,7\n"),
    "y.csv": ("CA-7731,A,1,2021-03-05,4,7\n"
              "101,A,1,2021-03-06,4,8\n"),
}


def write_parts(folder, parts: dict[str, str], header: str = HEADER):
    """The parts in ``folder/parts`` and their concatenation, ``folder/all.csv``."""
    (folder / "parts").mkdir()
    for name, lines in parts.items():
        (folder / "parts" / name).write_text(header + lines, encoding="utf-8")
    (folder / "all.csv").write_text(header + "".join(parts.values()), encoding="utf-8")
    return folder / "parts", folder / "all.csv"


def demo_parts() -> tuple[str, dict[str, str]]:
    """The demo log's header and its 6,000 lines cut into three files by line, not by
    customer."""
    from custseg.table.sample_log import make_transactions

    log, _ = make_transactions(6_000, 4)
    header, text = log.to_csv(index=False).split("\n", 1)
    lines = text.splitlines(keepends=True)
    cuts = [0, 2_000, 4_500, 6_000]
    return header + "\n", {f"p{i}.csv": "".join(lines[a:b])
                           for i, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False))}
