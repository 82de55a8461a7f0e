"""Hostile and messy input files, generated (never copied from real exports).

Each case says what a careful user expects: refused with a message matching
``refuse``, or accepted with exactly ``rows`` rows back.
"""

from __future__ import annotations

import gzip
import io
import pickle
import random
import zipfile
from dataclasses import dataclass

import pandas as pd

HEADER = "CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100)"


@dataclass(frozen=True)
class Case:
    name: str  # also the file name
    content: bytes
    rows: int | None = None  # rows expected back when accepted
    refuse: str | None = None  # regex the refusal message matches


def _csv(lines: list[str], eol: str = "\n") -> str:
    return eol.join(lines) + eol


def _good_rows(n: int, start: int = 1) -> list[str]:
    rng = random.Random(start)
    return [
        f"{i:05d},{rng.choice(['Male', 'Female'])},{rng.randint(18, 70)},"
        f"{rng.randint(15, 140)},{rng.randint(1, 99)}"
        for i in range(start, start + n)
    ]


def _xlsx() -> bytes:
    buf = io.BytesIO()
    frame = pd.DataFrame([r.split(",") for r in _good_rows(5)], columns=HEADER.split(","))
    frame.to_excel(buf, index=False)
    return buf.getvalue()


def cases() -> list[Case]:
    good = _csv([HEADER, *_good_rows(40)])
    rng = random.Random(7)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("customers.csv", good)
    two = io.BytesIO()
    with zipfile.ZipFile(two, "w") as zf:
        zf.writestr("a.csv", good)
        zf.writestr("b.csv", good)
    wide_header = HEADER + "," + ",".join(f"extra_{i}" for i in range(3_000))
    wide_rows = [r + "," + ",".join(str(j) for j in range(3_000)) for r in _good_rows(5)]
    return [
        # ---- not a table
        Case("empty.csv", b"", refuse="is empty"),
        Case("header_only.csv", (HEADER + "\n").encode(), refuse="header but no data rows"),
        Case("random.csv", bytes(rng.randrange(256) for _ in range(4_000)),
             refuse="binary data|not text|not a customer table"),
        Case("workbook.csv", _xlsx(), refuse=r"named \.csv but holds an Excel workbook"),
        Case("text.xlsx", good.encode(), refuse=r"named \.xlsx but holds text"),
        Case("pickle.csv", pickle.dumps({"a": 1}), refuse="Python pickle"),
        Case("two_tables.zip", two.getvalue(), refuse="exactly one table"),
        # ---- encodings and dialects
        Case("utf8_bom.csv", b"\xef\xbb\xbf" + good.encode(), rows=40),
        Case("excel_unicode.txt", good.replace(",", "\t").encode("utf-16"), rows=40),
        Case("windows1252.csv", _csv([HEADER, "1,Féminin “quoted”,30,50,50", "2,Male,31,51,51"])
             .encode("cp1252"), rows=2),
        Case("semicolon_decimal_comma.csv",
             _csv([HEADER.replace(",", ";"), "1;Male;30,5;50,25;50", "2;Female;31;51,5;51"])
             .encode(), rows=2),
        Case("crlf.csv", _csv([HEADER, *_good_rows(10)], eol="\r\n").encode(), rows=10),
        Case("tabs.tsv", good.replace(",", "\t").encode(), rows=40),
        # ---- headers
        Case("messy_headers.csv", _csv([
            "Unnamed: 0, SPENDING_SCORE ,Favourite Colour,annual income (K$), AGE ,"
            "Discount Percentage,Income Tax Band,Spending Category,customer id,GENDER",
            "0,50,blue,60,30,15,B,luxury,A1,F",
            "1,60,red,70,40,20,C,basic,A2,m",
        ]).encode(), rows=2),
        Case("missing_score.csv", _csv(["ID,Age,Income", "1,30,50"]).encode(),
             refuse="no column for spending_score"),
        # ---- values
        Case("values.csv", _csv([
            HEADER,
            "1,M,NA,50,50", "2,f,?,50,50", "3,FEMALE,N/A,50,50", "4, Male ,null,50,50",
            "5,woman,None,50,50", "6,Non-binary,-,50,50", "7,,,50,50",
            "8,Male,-4,50,50", "9,Male,250,50,50", "10,Male,30,1e12,50", "11,Male,30,50,150",
            "12,Male,30,50,-1", '13,Male,30,"$15,000",50', '14,Male,30,"USD 137,000",50',
            '15,Male,30,"16,000.00",50', "16,Male,**5**,50,50", "17,Male,<b>5</b>,50,50",
            "18,MALE,40,60,70", "19,F,41,61,71", "20,Prefer not to say,42,62,72",
        ]).encode(), rows=20),
        Case("dollars_no_unit.csv", _csv(["ID,Age,Income,Spending Score"] + [
            f"{i},{20 + i},{30_000 + i * 1_000},{i}" for i in range(1, 30)
        ]).encode(), rows=29),  # read in dollars, said in a warning
        # ---- rows
        Case("rows.csv", _csv([
            HEADER,
            "00001,Male,30,50,50",
            "00002,Male,30,50",  # too few fields
            "00003,Male,30,50,50,extra",  # too many
            ",,,,",  # fully blank
            "18446744073709551617,Female,40,60,60",  # id > 2**64
            '"00004","Fe, ""quoted""\nline",41,61,61',  # quotes, comma, newline
            "00001,Male,30,50,50",  # exact duplicate
            "00005,Female,50,50,50",
            "00005,Female,51,50,50",  # conflicting duplicate
            "Total,,1234,5678,910",
            "Average,,38,60,50",
        ]).encode(), rows=11),
        # ---- size
        Case("wide.csv", _csv([wide_header, *wide_rows]).encode(), rows=5),
        Case("customers.csv.gz", gzip.compress(good.encode()), rows=40),
        Case("customers.zip", zipped.getvalue(), rows=40),
        Case("bomb.csv.gz", gzip.compress((HEADER + "\n" + "1,Male,30,50,50\n" * 400_000).encode(),
                                          compresslevel=9), refuse="decompresses to more than"),
        # ---- output
        Case("formulas.csv", _csv([
            HEADER + ",Note",
            "1,Male,30,50,50,=1+1", "2,Male,30,50,50,+cmd", "3,Male,30,50,50,-2+3",
            "4,Male,30,50,50,@SUM(A1)", '5,Male,30,50,50,"\tx"', '6,Male,30,50,50,"\rx"',
            "7,Male,30,50,50,＝1+1", "8,Male,30,50,50,-5",
        ]).encode(), rows=8),
    ]


#: The bomb expands to ~6.5 MB; tests read with a 1 MB cap on decompressed bytes.
BOMB_LIMIT_MB = 1
