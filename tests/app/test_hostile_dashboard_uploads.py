"""Every uploader of the dashboard against each hostile kind of its file (issue 10, class
15): custseg's own message in an st.error, never Streamlit's exception box, and nothing
changed by a refused file.

The uploaders: the sidebar's data source (``data_upload``), the Batch page's
(``batch_upload``), and the Model Lab's earlier model to compare (``compare_upload``),
rulebook (``rules_upload``) and model file (``model_upload``). One app per uploader (a
module fixture) takes every kind in turn, as a user trying files one after another would.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import json
import os
import pickle
import re
import struct
import zipfile
from pathlib import Path

import pytest
import streamlit as st
from hostile_sizes import customers, header_row, sheet, workbook
from streamlit.testing.v1 import AppTest
from streamlit_text import unescape

import custseg
from custseg.errors import CustsegError
from custseg.io.model_files import model_bytes

ENTRY = Path(__file__).resolve().parents[2] / "src" / "custseg" / "app" / "streamlit_app.py"
PAGES = {"batch": "app_pages/batch.py", "model_lab": "app_pages/model_lab.py"}

# ------------------------------------------------------------------ hostile files

HEADER = "CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100)"
ROWS = [f"{i},Male,{20 + i % 50},{30 + i % 90},{1 + i % 99}" for i in range(60)]
GOOD = HEADER + "\n" + "\n".join(ROWS) + "\n"


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


def _patched(data: bytes, local: tuple[int, bytes], central: tuple[int, bytes]) -> bytes:
    """Every ZIP header with bytes written at an offset (local and central headers)."""
    out = bytearray(data)
    for magic, (offset, value) in ((b"PK\x03\x04", local), (b"PK\x01\x02", central)):
        at = data.find(magic)
        while at != -1:
            out[at + offset:at + offset + len(value)] = value
            at = data.find(magic, at + 4)
    return bytes(out)


@pytest.fixture(scope="module")
def good_model() -> bytes:
    return model_bytes(custseg.fit(custseg.make_customers(300, seed=1)))


def model_files(good: bytes) -> dict[str, tuple[bytes, str]]:
    """Kind -> (content of a .custseg upload, what the message must say)."""
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    deep = dict(members, **{"model.json": b"[" * 100_000 + b"]" * 100_000})
    manifest = json.loads(members["manifest.json"])
    manifest["sha256"]["model.json"] = hashlib.sha256(deep["model.json"]).hexdigest()
    deep["manifest.json"] = json.dumps(manifest).encode()
    flags = good[6:8]  # the first local header's flags: set the "encrypted" bit
    encrypted = _patched(good, (6, bytes([flags[0] | 1, flags[1]])),
                         (8, bytes([flags[0] | 1, flags[1]])))
    method = _patched(good, (8, struct.pack("<H", 99)), (10, struct.pack("<H", 99)))
    return {
        "empty": (b"", "it is empty"),
        "a table named .custseg": (GOOD.encode(), "is not a custseg model file"),
        "a rulebook named .custseg": (b'[[rules]]\nname = "x"\n', "is not a custseg model file"),
        "a pickle": (pickle.dumps({"a": 1}), "Python pickle"),
        "a gzip (joblib)": (gzip.compress(b"model"), "compressed file"),
        "not a zip after its signature": (b"PK\x03\x04" + bytes(range(256)) * 4,
                                          "damaged or truncated"),
        "truncated": (good[: len(good) // 2], "damaged or truncated"),
        "another zip": (_zip({"a.txt": b"x"}), "not a custseg model file"),
        "deep json, checksum recomputed": (_zip(deep), "model.json"),
        "encrypted members": (encrypted, "encrypted"),
        "an unknown compression method": (method, "compressed with ZIP method 99"),
    }


MODEL_KINDS = ["empty", "a table named .custseg", "a rulebook named .custseg", "a pickle",
               "a gzip (joblib)", "not a zip after its signature", "truncated", "another zip",
               "deep json, checksum recomputed", "encrypted members",
               "an unknown compression method"]


def rulebooks() -> dict[str, tuple[bytes, str]]:
    rule = b'[[rules]]\nname = "a"\nstrategy = "s"\n'
    return {
        "invalid TOML": (b"[[rules]\nname = ", "not valid TOML"),
        "binary": (bytes(range(256)) * 4, "not UTF-8 text"),
        "Latin-1": ('[[rules]]\nname = "Café"\n'.encode("latin-1"),
                    r"not UTF-8 text \(byte 22 is not UTF-8\)"),
        "UTF-16": ("[levels]\nthreshold = 0.5\n".encode("utf-16"), "UTF-16 or binary"),
        "rules a string": (b'rules = "everyone"\n', "rules: input should be a valid list"),
        "a rule a number": (b"rules = [1, 2]\n",
                            r"rules\[0\]: input should be a valid dictionary \(got 1\)"),
        "when a number": (rule + b"when = 5\n", "when"),
        "a level a number": (rule + b"when = {age = 5}\n", "'low', 'mid' or 'high'.*\\(got 5\\)"),
        "levels a string": (b'levels = "high"\n', "levels|rulebook"),
        "threshold text": (b'[levels]\nthreshold = "high"\n', "threshold|high"),
        "outliers a number": (b"outliers = 5\n", "outliers|rulebook"),
        "deep arrays": (b"a = " + b"[" * 50_000 + b"]" * 50_000 + b"\n", "nested|deep"),
        "deep tables": (b"a = " + b"{b = " * 5_000 + b"1" + b"}" * 5_000 + b"\n",
                        "nested|deep"),
        "huge": (b"# " + b"x" * (2 << 20) + b"\n", r"2\.0 MB; a rulebook is a small TOML file"),
    }


def refused_tables() -> dict[str, tuple[str, bytes, str]]:
    """Kind -> (file name, content, what the message must say)."""
    return {
        "binary garbage": ("t.csv", bytes(range(256)) * 16, "binary data"),
        "empty": ("t.csv", b"", r"is empty \(0 bytes\)"),
        "header only": ("t.csv", (HEADER + "\n").encode(), "header but no data rows"),
        "a pickle": ("t.csv", pickle.dumps(list(range(10))), "Python pickle"),
        "a zip that is not one": ("t.zip", b"PK\x03\x04" + bytes(range(256)),
                                  "damaged ZIP archive"),
        "a damaged gzip": ("t.csv.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 40, "damaged gzip"),
        "a damaged Parquet": ("t.parquet", b"PAR1" + b"\x00" * 100 + b"PAR1",
                              "not a readable Parquet"),
        "a workbook of broken XML": ("t.xlsx", workbook("<not xml"),
                                     "not a readable Excel workbook"),
        "a workbook named .csv": ("t.csv", workbook(sheet({1: header_row(), **customers(3)})),
                                  "holds an Excel workbook"),
        "an empty zip": ("t.zip", _zip({}), "t.zip"),
    }


def read_tables() -> dict[str, tuple[str, bytes, int]]:
    """Kind -> (file name, content, rows shown): read, every row back."""
    return {
        "a workbook declaring a million rows": (
            "t.xlsx", workbook(sheet({1: header_row(), **customers(5)},
                                     dimension="A1:XFD1048576")), 5),
        "UTF-16 without a BOM": ("t.csv", GOOD.encode("utf-16-le"), 60),
        "Latin-1": ("t.csv", GOOD.replace("Male", "Mâle").encode("latin-1"), 60),
        "UTF-8 with a broken last line": ("t.csv", GOOD.encode() + b"\xff\xfe\xc3\x28,\n", 61),
        "a UTF-8 BOM": ("t.csv", codecs.BOM_UTF8 + GOOD.encode(), 60),
    }


# ------------------------------------------------------------------------ the apps


def _new_app(page: str | None = None) -> AppTest:
    os.environ.pop("CUSTSEG_DATA", None)  # demo data, as the conftest's app
    st.cache_data.clear()
    at = AppTest.from_file(str(ENTRY), default_timeout=120)
    at.run()
    if page:
        at.switch_page(PAGES[page]).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


@pytest.fixture(scope="module")
def lab():
    return _new_app("model_lab")


@pytest.fixture(scope="module")
def batch():
    return _new_app("batch")


@pytest.fixture(scope="module")
def source():
    at = _new_app()
    at.radio(key="data_source").set_value("Upload a file").run()
    return at


def put(at: AppTest, key: str, name: str, content: bytes) -> None:
    """This file, alone, in the uploader ``key``; the page's other uploaders emptied."""
    for other in at.get("file_uploader"):
        if other.key != key:
            other.clear()
    at.file_uploader(key=key).set_value((name, content, "application/octet-stream")).run()


def refused(at: AppTest, key: str, name: str, content: bytes) -> str:
    """Upload into the uploader ``key``; the one message shown, as a reader sees it."""
    put(at, key, name, content)
    assert not at.exception, [e.message for e in at.exception]
    shown = [unescape(e.value) for e in at.error]
    # a refused data source is also said above the page (ui.context_banner)
    shown = [m for m in shown if "could not be used (the sidebar says why)" not in m]
    assert len(shown) == 1, shown
    return shown[0]


# ----------------------------------------------------------------------- model files


@pytest.mark.parametrize("key", ["model_upload", "compare_upload"])
@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_a_hostile_model_file_is_refused_with_a_message(lab, good_model, key, kind):
    content, says = model_files(good_model)[kind]
    message = refused(lab, key, "hostile.custseg", content)
    assert "'hostile.custseg'" in message
    assert says in message, message
    assert lab.session_state["_loaded_model"] is None  # the fit from the controls stays
    assert lab.session_state["_view"].loaded_name is None


def test_a_model_for_other_columns_is_refused_by_name(fresh_app, go, errors):
    """A model file that clusters on gender, loaded over a table with no gender column."""
    app = fresh_app()
    table = "ID,Age,Annual Income (k$),Spending Score (1-100)\n" + "\n".join(
        f"{i},{20 + i % 50},{30 + i % 90},{1 + i % 99}" for i in range(80)) + "\n"
    app.radio(key="data_source").set_value("Upload a file").run()
    app.file_uploader(key="data_upload").upload("nogender.csv", table.encode()).run()
    go(app, "model_lab")
    with_gender = model_bytes(custseg.fit(custseg.make_customers(300, seed=2), use_gender=True))
    app.file_uploader(key="model_upload").upload("g.custseg", with_gender).run()
    assert not app.exception
    assert len(app.error) == 1 and "gender" in errors(app)[0]
    assert app.session_state["_loaded_model"] is None


# ------------------------------------------------------------------------- rulebooks


@pytest.mark.parametrize("kind", list(rulebooks()))
def test_a_hostile_rulebook_is_refused_with_a_message(lab, kind):
    content, says = rulebooks()[kind]
    message = refused(lab, "rules_upload", "hostile.toml", content)
    assert re.search(says, message), message
    assert "_rules_toml" not in lab.session_state  # naming stays the default


def test_a_rulebook_with_a_bom_is_used(fresh_app, go):
    """Windows editors start UTF-8 files with a BOM; TOML's parser does not take it."""
    from custseg.io.rulebooks import default_rulebook_text

    app = fresh_app()
    go(app, "model_lab")
    text = default_rulebook_text().replace('name = "', 'name = "BOM ', 1)
    app.file_uploader(key="rules_upload").upload("bom.toml",
                                                 codecs.BOM_UTF8 + text.encode()).run()
    assert not app.exception and not app.error
    assert app.session_state["_rules_toml"] == text


# ------------------------------------------------------------------- customer tables


@pytest.mark.parametrize("kind", list(refused_tables()))
def test_a_hostile_batch_file_is_refused_with_a_message(batch, kind):
    name, content, says = refused_tables()[kind]
    message = refused(batch, "batch_upload", name, content)
    assert re.search(says, message), message
    assert batch.get("download_button") == []


@pytest.mark.parametrize("kind", list(refused_tables()))
def test_a_hostile_data_source_is_refused_and_the_data_kept(source, kind):
    name, content, says = refused_tables()[kind]
    before = source.session_state["_view"].data.key
    message = refused(source, "data_upload", name, content)
    assert re.search(says, message), message
    assert source.session_state["_view"].data.key == before


@pytest.mark.parametrize("kind", list(read_tables()))
def test_a_messy_batch_file_comes_back_row_for_row(batch, kind):
    name, content, rows = read_tables()[kind]
    put(batch, "batch_upload", name, content)
    assert not batch.exception and not batch.error
    assert {m.label: m.value for m in batch.metric}["Rows"] == f"{rows:,}"


@pytest.mark.parametrize("kind", list(read_tables()))
def test_a_messy_data_source_is_read(source, kind):
    name, content, rows = read_tables()[kind]
    put(source, "data_upload", name, content)
    assert not source.exception and not source.error
    assert source.session_state["_view"].validated.n_rows == rows


def test_an_unbalanced_quote_does_not_raise(batch):
    """What the rows become is the reader's business (issue 10, class 2); here, only that
    the page shows them or a message, never an exception."""
    content = (HEADER + "\n" + "\n".join(ROWS[:5]) + '\n6,"Male,30,50,50\n'
               + "\n".join(ROWS[6:]) + "\n").encode()
    put(batch, "batch_upload", "quote.csv", content)
    assert not batch.exception
    assert batch.error or batch.metric


# -------------------------------------------------------------- over the upload limit


@pytest.mark.parametrize("key, name, page", [
    ("data_upload", "big.csv", None), ("batch_upload", "big.csv", "batch"),
    ("model_upload", "big.custseg", "model_lab"), ("compare_upload", "big.custseg", "model_lab"),
    ("rules_upload", "big.toml", "model_lab"),
])
def test_every_uploader_names_the_upload_limit(monkeypatch, fresh_app, go, errors,
                                               key, name, page):
    app = fresh_app()
    real = st.get_option
    monkeypatch.setattr(st, "get_option",
                        lambda option: 0 if option == "server.maxUploadSize" else real(option))
    if page is None:
        app.radio(key="data_source").set_value("Upload a file").run()
    else:
        go(app, page)
    app.file_uploader(key=key).upload(name, b"x" * 2048).run()
    assert not app.exception
    assert [e for e in errors(app) if "the upload limit is 0 MB (server.maxUploadSize)" in e]


# ------------------------------------------------------------------ anything later


def test_a_custseg_error_a_page_lets_through_is_a_message(fresh_app, monkeypatch, errors):
    """The entry file's last net: a model that loads but that a page cannot use (a field
    the loader did not check) shows custseg's message, not the exception box."""
    from custseg.model import summaries

    def refuse(model):
        raise CustsegError("this model names an algorithm custseg does not know.")

    monkeypatch.setattr(summaries, "describe_model", refuse)
    app = fresh_app()
    app.switch_page(PAGES["model_lab"]).run()
    assert not app.exception
    assert errors(app) == ["this model names an algorithm custseg does not know."]
