"""The service's refusals: an HTTP status and one message that says what to do.

Every error a client sees is ``{"error": "..."}``. Input problems found by the library
(a :class:`~custseg.errors.CustsegError`) keep the library's wording; the status says
whose problem it is: 400 a body that cannot be read, 413 too big, 415 a type the
service does not take, 422 a body of the wrong shape or a table that cannot be scored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse

from custseg.errors import CustsegError, InputFileError


class Refusal(Exception):
    """A request refused, with its status, message and any headers to send."""

    def __init__(self, status: int, message: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def bad_request(message: str) -> Refusal:
    return Refusal(400, message)


def wrong_shape(message: str) -> Refusal:
    return Refusal(422, message)


def too_big(message: str) -> Refusal:
    return Refusal(413, message)


def unsupported(message: str) -> Refusal:
    return Refusal(415, message)


def _no_setting(parameter: str, key: str | None) -> None:
    """A client cannot change the service's settings: messages name none."""
    return None


def from_library(exc: CustsegError) -> Refusal:
    """The refusal for a library error: 413 for a cap (a compressed body expanding past
    the limit), 400 for a body that is not a readable table, else 422."""
    message = exc.render(_no_setting)
    if exc.parameter in ("max_decompressed_mb", "max_rows"):
        return Refusal(413, message)
    if isinstance(exc, InputFileError):
        return Refusal(400, message)
    return Refusal(422, message)


class JSONOut(JSONResponse):
    """JSON as Starlette writes it (no NaN, compact), and ASCII-escaped in the rare
    case a text holds what UTF-8 cannot encode (a lone surrogate sent in a request)."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None,
                          separators=(",", ":"))
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False,
                              separators=(",", ":")).encode("ascii")


def error_response(status: int, message: str,
                   headers: Mapping[str, str] | None = None) -> JSONOut:
    return JSONOut({"error": message}, status_code=status, headers=dict(headers or {}))
