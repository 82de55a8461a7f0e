"""The dashboard's readers of uploads (custseg.io.uploads): whatever a file is, the answer
is the object or a CustsegError naming the file (issue 10, class 15, below the pages)."""

from __future__ import annotations

import codecs
import zipfile

import pytest

from custseg.errors import InputFileError, ModelFileError
from custseg.io import uploads
from custseg.io.rulebooks import default_rulebook_text
from custseg.segments.profile import RulebookError


@pytest.mark.parametrize("raised, said", [
    (RuntimeError("File 'model.json' is encrypted, password required for extraction"),
     "RuntimeError: \"File 'model.json' is encrypted"),
    (NotImplementedError("That compression method is not supported"), "NotImplementedError"),
    (zipfile.BadZipFile("Bad CRC-32"), "BadZipFile: 'Bad CRC-32'"),
    (RecursionError("maximum recursion depth exceeded"), "it is nested too deeply"),
    (KeyError("config"), "KeyError: \"'config'\""),
])
def test_what_a_model_reader_lets_through_is_a_model_file_error(monkeypatch, raised, said):
    def read(data, name):
        raise raised

    monkeypatch.setattr(uploads, "model_from_bytes", read)
    with pytest.raises(ModelFileError, match="^'m.custseg' cannot be read as a custseg model "
                       "file") as caught:
        uploads.model("m.custseg", b"PK")
    assert said in caught.value.message
    assert caught.value.message.endswith("Save the model again from custseg.")


def test_memory_and_table_readers(monkeypatch):
    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(uploads, "read_table", exhausted)
    with pytest.raises(InputFileError, match="^'t.csv' is too large to read here as a "
                       "customer table; expected CSV"):
        uploads.table("t.csv", b"a,b\n1,2\n")


def test_custseg_errors_pass_unchanged():
    with pytest.raises(InputFileError, match=r"^'t.csv' is empty \(0 bytes\)"):
        uploads.table("t.csv", b"")
    with pytest.raises(ModelFileError, match="^'m.custseg' is not a custseg model file: it is "
                       "empty"):
        uploads.model("m.custseg", b"")


def test_a_rulebook_is_utf8_toml_of_a_bounded_size():
    text = default_rulebook_text()
    assert uploads.rulebook("r.toml", text.encode()) == text
    assert uploads.rulebook("r.toml", codecs.BOM_UTF8 + text.encode()) == text
    for data, says in [
        (text.encode("utf-16"), "is UTF-16 or binary"),
        (text.encode("utf-16-be"), "is UTF-16 or binary"),  # no BOM: the NUL bytes tell
        ('[levels]\n# é\n'.encode("cp1252"), r"not UTF-8 text \(byte 12 is not UTF-8\)"),
        (b"#" * (uploads.MAX_RULEBOOK_BYTES + 1), r"is 1\.0 MB; a rulebook is a small TOML"),
        (b'levels = "high"\n', "levels|cannot be read as a rulebook"),
        (b"a = " + b"[" * 20_000 + b"]" * 20_000, "nests tables or arrays too deeply"),
    ]:
        with pytest.raises(RulebookError, match=says):
            uploads.rulebook("r.toml", data)
