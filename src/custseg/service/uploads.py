"""Request bodies read under a byte cap, and ``/v1/score``: a file in, the scored file out.

A body is never held whole unless it is JSON: a file is streamed to a temporary file as
it arrives, and refused (413) as soon as it passes the cap, or at once when its
Content-Length says it will. The file is then read exactly as ``custseg score`` reads its
INPUT: its format from its content (CSV, TSV, Excel, Parquet, any of them compressed),
a transaction log told from a customer table by its header for a model fitted on a log's
customers, and scored by the same functions (:func:`custseg.io.score_files.score_file`,
:func:`custseg.io.logs.score_log_file`) into a temporary file, which is streamed back and
removed. The bytes are the ones ``custseg score MODEL INPUT -o OUT.csv`` (or ``.parquet``)
writes.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import tempfile
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from starlette.requests import Request

from custseg.errors import CustsegError
from custseg.io.score_files import ScoreReport
from custseg.io.source import ReadLimits
from custseg.model.segmentation import SegmentationModel
from custseg.service.problems import Refusal, bad_request, from_library, too_big, unsupported

CSV = "text/csv"
PARQUET = "application/vnd.apache.parquet"
#: Media types that ask for a Parquet output (the registered one and the older one).
PARQUET_TYPES = (PARQUET, "application/x-parquet")

#: Content-Types /v1/score refuses: the file's content decides its format (CSV sent as
#: text/x-csv, application/excel or binary/octet-stream is still read), the type only
#: keeps out bodies that are clearly something else (a form, JSON, a web page, a picture).
REFUSED_TYPES = frozenset({
    "application/x-www-form-urlencoded", "application/json", "application/xml", "text/xml",
    "text/html", "application/xhtml+xml", "application/pdf", "application/javascript",
    "text/javascript", "text/css", "application/graphql", "application/x-ndjson",
})
REFUSED_FAMILIES = ("multipart/", "image/", "audio/", "video/", "font/", "model/")
REFUSED_SUFFIXES = ("+json", "+xml")

CHUNK = 1 << 20

#: The saved body's file name, which messages about the file use ("'body' is empty").
BODY = "body"


def media_type(value: str | None) -> str | None:
    """A Content-Type's type/subtype, lower case, without parameters (None: absent)."""
    if value is None or not value.strip():
        return None
    return value.split(";", 1)[0].strip().lower()


#: Content-Encodings taken (RFC 9110): gzip, by both its names; anything else is 415.
GZIP_CODINGS = frozenset({"gzip", "x-gzip"})


def content_coding(value: str | None) -> str | None:
    """``"gzip"`` for a gzip-encoded body, None for one sent as it is; 415 (with
    ``Accept-Encoding: gzip``, RFC 7694) for any other coding, such as br, deflate,
    zstd or two codings in turn: a body the service cannot decode was read as a table or
    as JSON, and refused as binary data or not UTF-8, which says nothing of the cause."""
    codings = [c.strip().lower() for c in (value or "").split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return None
    if len(codings) == 1 and codings[0] in GZIP_CODINGS:
        return "gzip"
    raise Refusal(415, f"Content-Encoding {value.strip()!r:.80} is not one this service "
                       "decodes; send the body as it is, or gzip-compressed with "
                       "Content-Encoding: gzip", {"Accept-Encoding": "gzip"})


def gunzip_json(body: bytes, cap: int) -> bytes:
    """A gzip-encoded JSON body decoded, at most ``cap`` bytes once decoded (413 past
    it: a small gzip body can expand a thousandfold)."""
    out = bytearray()
    data = body
    try:
        while data:
            member = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += member.decompress(data, cap + 1 - len(out))
            if len(out) > cap:
                raise too_big(f"the body expands to more than this service takes for a "
                              f"JSON ({_size(cap)}) once decompressed; send fewer "
                              "customers per request (the limit is --max-json-mb)")
            if not member.eof:
                raise bad_request("the body ends before its gzip data does; send the whole "
                                  "gzip-compressed JSON")
            data = member.unused_data
    except zlib.error:
        raise bad_request("the body says Content-Encoding: gzip but is not gzip data; send "
                          "it gzip-compressed, or without that header") from None
    return bytes(out)


def check_gzip_file(path: Path) -> None:
    """A ``/v1/score`` body sent with Content-Encoding: gzip must be gzip data (it is then
    read as a gzip-compressed file, under ``--max-decompressed-mb``)."""
    with open(path, "rb") as source:
        if source.read(2) != b"\x1f\x8b":
            raise bad_request("the body says Content-Encoding: gzip but is not gzip data; "
                              "send it gzip-compressed, or without that header")


def check_json_type(value: str | None) -> None:
    """``/v1/predict`` takes JSON (or a body with no Content-Type)."""
    kind = media_type(value)
    if kind is None or kind == "application/json" or kind.endswith("+json"):
        return
    raise unsupported(f"Content-Type {kind!r:.80} is not JSON; send the customers as "
                      "application/json (to score a file, POST it to /v1/score)")


def check_table_type(value: str | None) -> None:
    """``/v1/score`` takes a file's bytes as the body, of any table type (or none)."""
    kind = media_type(value)
    if kind is None or not (kind in REFUSED_TYPES or kind.startswith(REFUSED_FAMILIES)
                            or kind.endswith(REFUSED_SUFFIXES)):
        return
    if kind.startswith("multipart/") or kind == "application/x-www-form-urlencoded":
        why = ("a form; send the file itself as the body, e.g. curl --data-binary "
               "@customers.csv -H 'Content-Type: text/csv'")
    elif kind == "application/json" or kind.endswith("+json"):
        why = "JSON; to score customers given as JSON, POST them to /v1/predict"
    else:
        why = "not a table"
    raise unsupported(f"Content-Type {kind!r:.80} is {why}. /v1/score takes CSV, TSV, "
                      "Excel or Parquet (or any of them gzip-compressed), e.g. text/csv or "
                      f"{PARQUET}")


def output_format(accept: str | None) -> str:
    """``"csv"`` or ``"parquet"`` for an Accept header (CSV when absent or a wildcard);
    406 when it accepts neither."""
    if accept is None or not accept.strip():
        return "csv"
    best: tuple[float, int, str] | None = None
    for position, item in enumerate(accept.split(",")):
        kind, *params = (p.strip() for p in item.split(";"))
        kind = kind.lower()
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if not 0 < quality <= 1:
            continue
        fmt = ("parquet" if kind in PARQUET_TYPES
               else "csv" if kind in (CSV, "text/*", "*/*") else None)
        if fmt is not None and (best is None or (quality, -position) > best[:2]):
            best = (quality, -position, fmt)
    if best is None:
        raise Refusal(406, f"Accept {accept!r:.100} names no format /v1/score writes; ask "
                           f"for {CSV} (the default) or {PARQUET}")
    return best[2]


async def body_chunks(request: Request, timeout: float) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive; 408 when none comes for ``timeout`` seconds (a
    client that stops mid-body held its request, and a SIGTERM's drain, for ever)."""
    stream = request.stream().__aiter__()
    while True:
        try:
            async with asyncio.timeout(timeout):
                chunk = await stream.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise Refusal(408, f"the body stopped arriving (nothing for {timeout:g} s); send "
                               "it without pausing") from None
        yield chunk


async def read_json_body(request: Request, cap: int, timeout: float = 30) -> bytes:
    """The whole body, at most ``cap`` bytes (413 past it)."""
    _check_declared(request, cap, "JSON")
    parts: list[bytes] = []
    size = 0
    async for chunk in body_chunks(request, timeout):
        size += len(chunk)
        if size > cap:
            raise _too_big(cap, "JSON")
        parts.append(chunk)
    return b"".join(parts)


async def save_body(request: Request, cap: int, path: Path, timeout: float = 30) -> int:
    """Stream the body into ``path``, at most ``cap`` bytes (413 past it); its size."""
    _check_declared(request, cap, "file")
    size = 0
    try:
        with open(path, "wb") as sink:
            async for chunk in body_chunks(request, timeout):
                size += len(chunk)
                if size > cap:
                    raise _too_big(cap, "file")
                sink.write(chunk)
    except OSError as exc:
        raise _no_room(exc) from None
    if size == 0:
        raise bad_request("the body is empty; send the file to score as the body, e.g. "
                          "curl --data-binary @customers.csv -H 'Content-Type: text/csv'")
    return size


def _check_declared(request: Request, cap: int, what: str) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise _too_big(cap, what)


def _too_big(cap: int, what: str) -> Refusal:
    if what == "file":
        advice = ("compress it (gzip), split it, or score it with custseg score; the "
                  "service's limit is --max-body-mb")
    else:
        advice = "send fewer customers per request (the limit is --max-json-mb)"
    return too_big(f"the body is larger than this service takes for a {what} "
                   f"({_size(cap)}); {advice}")


def _no_room(exc: OSError) -> Exception:
    """507 when the temporary folder is full; any other OS error is the server's (500)."""
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return Refusal(507, "the server has no room for this file now (its temporary "
                            "folder is full); try again later, or send it compressed")
    return exc


def _size(n: int) -> str:
    return f"{n / (1 << 20):,.0f} MB" if n >= 1 << 20 else f"{n:,} bytes"


def _scrubbed(message: str, upload: Path) -> str:
    """A library message as the client may see it: the saved body named 'body', never
    by the server's temporary path (some messages quote the path they were given)."""
    for path in (upload, upload.resolve()):
        message = message.replace(str(path), BODY)
    for folder in (upload.parent, upload.resolve().parent):
        message = message.replace(str(folder), "(the service's temporary folder)")
    return message


class Workspace:
    """A private temporary folder for one request's upload and output, removed on exit."""

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="custseg-serve-"))
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


@dataclass
class Scored:
    """A scored file, open for reading and already unlinked (its bytes go when it is
    closed), and what the run counted."""

    handle: BinaryIO
    size: int
    report: ScoreReport

    def chunks(self) -> Iterator[bytes]:
        try:
            while chunk := self.handle.read(CHUNK):
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        self.handle.close()


def score_upload(model: SegmentationModel, upload: Path, fmt: str,
                 limits: ReadLimits | None = None) -> Scored:
    """Score the saved body ``upload`` as ``custseg score`` scores a file named by its
    path (with ``limits``: its defaults), into a file beside it, opened and unlinked
    before returning."""
    from custseg.io.logs import header_of, input_kind, reads_logs, score_log_file
    from custseg.io.score_files import score_file

    output = upload.with_name(f"scored.{fmt}")
    try:
        kind = (input_kind(model, header_of(upload, limits)) if reads_logs(model)
                else "table")
        if kind == "log":
            report = score_log_file(model, upload, output, limits=limits)
        else:
            report = score_file(model, upload, output, limits=limits)
    except CustsegError as exc:
        refusal = from_library(exc)
        refusal.message = _scrubbed(refusal.message, upload)
        raise refusal from None
    except OSError as exc:
        raise _no_room(exc) from None
    handle = open(output, "rb")  # noqa: SIM115 - closed when streamed (Scored.chunks)
    os.unlink(output)
    return Scored(handle, os.fstat(handle.fileno()).st_size, report)
