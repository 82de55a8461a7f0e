"""Where custseg may write: output paths checked before any work, and written atomically.

An output is refused when it

- is an input of the same command, by any name (a symlink, a hard link, ``./x`` for
  ``x``: the files are compared by device and inode), ``force`` or not;
- is not a regular file: a folder, a named pipe, a device (``/dev/null`` included), a
  socket — writing atomically means renaming a finished file into place, which would
  replace the special file with a regular one;
- already exists and holds another kind of file than the one being written (a customer
  table, a model, a report, a rulebook, anything else), unless ``force`` is given: a
  model written over a customer table, or a report over a model, loses data;
- sits in a folder that does not exist, or has a name longer than the file system allows.

A file of the same kind (a model over a model, a scored table over a table) is replaced,
as re-running a command should; an empty file too. An output that is a symlink is
written through: the file it points to is replaced, the link stays.

The temporary file of :func:`atomic_path` has a short name of its own (``.custseg-`` and
eight random characters) beside the target, so any name the file system accepts can be
written.
"""

from __future__ import annotations

import os
import stat
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from custseg.errors import InputFileError, shown

#: The kinds of file custseg writes, in words for messages.
KINDS = {
    "model": "a custseg model file",
    "table": "a customer table",
    "report": "an HTML report",
    "rulebook": "a rulebook (TOML)",
}
#: Kinds an existing file may hold besides those, in words.
_OTHER_KINDS = {
    "compressed": "a compressed file",
    "archive": "a ZIP archive",
    "binary": "a binary file",
    "text": "a text file",
}
_TABLE_TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".dat"}
_SPECIAL = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
#: Beyond this size a text file is not parsed to see whether it is TOML.
_TOML_SNIFF_BYTES = 1 << 20


def check_output_path(
    path: str | os.PathLike[str],
    *inputs: str | os.PathLike[str] | None,
    kind: str | None = None,
    force: bool = False,
) -> Path:
    """The path to write ``path``'s output to, or a refusal (see the module).

    ``inputs`` are the files the same command reads (None entries are skipped); ``kind``
    is what will be written (one of :data:`KINDS`; None skips the kind check). The path
    returned is ``path`` itself, or for a symlink the file it points to.
    """
    out = Path(path)
    check_name_length(out)
    target = Path(os.path.realpath(out)) if out.is_symlink() else out
    try:
        st: os.stat_result | None = os.stat(target)
    except (FileNotFoundError, NotADirectoryError):  # the folder is looked at below
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise InputFileError(f"{shown(str(out))} is a folder; give a file name for the output.")
    if st is not None and not stat.S_ISREG(st.st_mode):
        what = next((words for test, words in _SPECIAL if test(st.st_mode)), "not a regular file")
        raise InputFileError(
            f"the output {shown(str(out))} is {what}, not a regular file. custseg writes "
            "each output to a regular file, renamed into place when complete, which would "
            "replace it; give the name of a file to write."
        )
    folder = target.parent
    if not folder.exists():
        raise InputFileError(f"the folder {shown(str(folder))} does not exist; create it first.")
    if not folder.is_dir():
        raise InputFileError(
            f"{shown(str(folder))} is a file, not a folder; the output cannot be written in it."
        )
    if st is not None:
        for source in inputs:
            if source is not None and _same_file(st, source):
                also = "" if Path(source) == out else f" {shown(str(source))}"
                raise InputFileError(
                    f"the output {shown(str(out))} is the input file{also}; choose another "
                    "name so the input is not overwritten."
                )
        if kind is not None and not force:
            held = existing_kind(target)
            if held is not None and held != kind:
                raise InputFileError(
                    f"the output {shown(str(out))} already exists and holds "
                    f"{describe(held)}; writing {KINDS[kind]} there would destroy it. "
                    "Choose another name, or allow replacing it",
                    parameter="force",
                )
    return target


def _same_file(st: os.stat_result, source: str | os.PathLike[str]) -> bool:
    try:
        other = os.stat(source)
    except (OSError, ValueError):
        return False
    return (st.st_dev, st.st_ino) == (other.st_dev, other.st_ino)


def check_name_length(out: Path) -> None:
    """Refuse a file name longer than its folder's file system allows."""
    try:
        limit = os.pathconf(out.parent, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        limit = 255
    size = len(os.fsencode(out.name))
    if limit and size > limit:
        raise InputFileError(
            f"the output name {shown(out.name)} is {size:,} bytes long; this file system "
            f"allows at most {limit:,}. Choose a shorter name."
        )


def describe(kind: str) -> str:
    """A kind of file (see :func:`existing_kind`) in words."""
    return KINDS.get(kind) or _OTHER_KINDS.get(kind, "a file")


def existing_kind(path: str | os.PathLike[str]) -> str | None:
    """What an existing regular file holds, from its content (and, for text, its name):
    one of :data:`KINDS`, ``"compressed"``, ``"archive"``, ``"binary"``, ``"text"``; None
    for an empty file (nothing to lose)."""
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(1 << 12)
    if not head:
        return None
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(path)
    if head.startswith((b"PAR1", b"\xd0\xcf\x11\xe0")):  # Parquet, Excel 97-2003
        return "table"
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")):
        return "compressed"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "table" if path.suffix.lower() in _TABLE_TEXT_SUFFIXES else "text"
    if b"\x00" in head:
        return "binary"
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff \t\r\n").lower()
    if text.startswith(("<!doctype html", "<html")):
        return "report"
    if path.suffix.lower() == ".toml" or _is_toml(path):
        return "rulebook"
    return "table" if path.suffix.lower() in _TABLE_TEXT_SUFFIXES else "text"


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return "archive"
    if "manifest.json" in names and "model.json" in names:
        return "model"
    if "[Content_Types].xml" in names or any(n.startswith("xl/") for n in names):
        return "table"
    files = [n for n in names if not n.endswith("/")]
    if len(files) == 1 and Path(files[0]).suffix.lower() in _TABLE_TEXT_SUFFIXES | {".parquet"}:
        return "table"  # a zipped table, as custseg reads them
    return "archive"


def _is_toml(path: Path) -> bool:
    """Whether a small text file is a TOML document with at least one key."""
    if path.stat().st_size > _TOML_SNIFF_BYTES:
        return False
    try:
        return bool(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError, OSError):
        return False


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it only if the block succeeds.

    The temporary name is short (``.custseg-XXXXXXXX``), whatever the length of the
    target's, and is removed on any exit from the block, a signal turned into an
    exception included.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".custseg-", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file private (0600); give it the usual permissions
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
