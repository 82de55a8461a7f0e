"""Compressed input (gzip, bzip2, xz, a ZIP of one table), expanded never beyond a cap.

A decompression bomb (a few kilobytes that expand to gigabytes) stops at the cap with
a message naming it, and leaves nothing behind.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import signal
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from custseg.errors import InputFileError, shown

COMPRESSED_SUFFIXES = {".gz", ".gzip", ".bz2", ".xz", ".zip"}

_OPENERS = {
    "gzip": lambda f: gzip.GzipFile(fileobj=f),
    "bz2": bz2.BZ2File,
    "xz": lzma.LZMAFile,
}


def megabytes(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MB"


def decompress(
    raw: BinaryIO, compression: str, name: str, cap: int, *, in_memory: bool,
    adopt: Callable[[Path], object] | None = None,
) -> tuple[bytes | Path, str]:
    """The content of ``raw`` decompressed, and the name of the file it holds.

    The content is bytes when ``in_memory`` (an upload), else a temporary file the
    caller deletes when done. ``adopt`` is called with the temporary file's path as soon
    as it exists, with stop signals held back until it returns, so that the caller can
    take charge of it before anything can interrupt; the file is deleted here if
    decompression fails or is interrupted. More than ``cap`` bytes is refused.
    """
    if compression == "zip":
        inner, inner_name = _zip_member(raw, name, cap)
    else:
        inner = _OPENERS[compression](raw)
        path = Path(name)
        inner_name = path.stem if path.suffix.lower() in COMPRESSED_SUFFIXES else name
    total = 0
    sink: io.BytesIO | tempfile._TemporaryFileWrapper | None = None
    held = _hold_stop_signals()
    try:
        # created, and handed over, while no stop signal can interrupt (Python's first
        # look at $TMPDIR leaves a probe file of its own when interrupted)
        sink = io.BytesIO() if in_memory else tempfile.NamedTemporaryFile(
            prefix="custseg-", suffix=Path(inner_name).suffix[:16], delete=False
        )
        if adopt is not None and not in_memory:
            adopt(Path(sink.name))
        held = _release(held)
        with inner:
            while chunk := inner.read(1 << 20):
                total += len(chunk)
                if total > cap:
                    raise InputFileError(
                        f"{shown(name)} decompresses to more than {megabytes(cap)}, the limit "
                        "for compressed input; it is refused (a decompression bomb looks like "
                        "this). If the file is genuine, decompress it yourself or raise the "
                        "limit",
                        parameter="max_decompressed_mb",
                    )
                sink.write(chunk)
        if not isinstance(sink, io.BytesIO):
            sink.close()
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, zlib.error) as exc:
        _discard(sink)
        raise InputFileError(f"{shown(name)} is a damaged {compression} file ({exc}).") from None
    except BaseException:  # the cap, or an interruption (Ctrl+C, a signal turned exception)
        _discard(sink)
        raise
    finally:
        _release(held)
    if isinstance(sink, io.BytesIO):
        return sink.getvalue(), inner_name
    return Path(sink.name), inner_name


#: The signals a command is stopped by (the command line turns them into exceptions).
_STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def _hold_stop_signals() -> set[int] | None:
    """Block the stop signals in this thread (they stay pending); the previous mask."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)


def _release(held: set[int] | None) -> None:
    """Restore the mask :func:`_hold_stop_signals` changed (pending signals arrive now)."""
    if held is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _discard(sink: io.BytesIO | tempfile._TemporaryFileWrapper | None) -> None:
    if sink is not None and not isinstance(sink, io.BytesIO):
        sink.close()
        Path(sink.name).unlink(missing_ok=True)


def _zip_member(raw: BinaryIO, name: str, cap: int) -> tuple[BinaryIO, str]:
    """The one file in a ZIP archive, opened, and its name."""
    try:
        archive = zipfile.ZipFile(raw)
    except zipfile.BadZipFile as exc:
        raise InputFileError(f"{shown(name)} is a damaged ZIP archive ({exc}).") from None
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) != 1:
        listed = ", ".join(repr(m.filename) for m in members[:5])
        raise InputFileError(
            f"{shown(name)} is a ZIP archive with {len(members)} files ({listed}); "
            "custseg reads a ZIP holding exactly one table."
        )
    member = members[0]
    if member.file_size > cap:
        raise InputFileError(
            f"{shown(name)} holds {member.filename!r} of {member.file_size:,} bytes, "
            f"more than the {megabytes(cap)} limit for compressed input."
        )
    return archive.open(member), Path(member.filename).name
