"""One log line per request, and the last word on anything unexpected.

The line (on the ``custseg.service`` logger, which ``custseg serve`` writes to stderr)
holds the method, the route, the status, the rows scored and the milliseconds until the
last byte was sent: ``POST /v1/predict 200 rows=3 4.1ms``. No customer data, no query
string, no header (the API key is a header) and no path a client made up: a path that is
no route is logged as ``(no route)``.

A response sent before the request's body was read to its end (a refusal: 401, 413,
415…) says ``Connection: close``: the connection is closed after it, instead of the
server reading and discarding the rest of a body it refused (gigabytes, for a client
that declares them). A client that leaves before the last byte of a response is logged
with ``(client gone)`` after the status.

An exception no handler took becomes ``500 {"error": "internal error"}`` for the client
(never a traceback) and a log line with its type and where it was raised (files, lines
and functions), without its message or source lines, which may quote a customer's value.
"""

from __future__ import annotations

import logging
import time
import traceback
from pathlib import Path
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from custseg.service.problems import error_response

LOGGER = logging.getLogger("custseg.service")

#: Where fastapi-offline serves the docs' assets.
STATIC = "/static-offline-docs"

#: Where an endpoint leaves the number of rows it scored, in the request's scope.
ROWS = "custseg.rows"


def set_rows(scope: dict[str, Any], rows: int) -> None:
    scope[ROWS] = rows


class AccessLog:
    """ASGI middleware: the request's log line, and a 500 for an unhandled exception."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = {"status": None, "complete": False,
                                 "body_read": not _has_body(scope)}

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                state["body_read"] = True
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                if not state["body_read"]:  # a refusal before the body: do not drain it
                    message = {**message, "headers": [
                        *(h for h in message.get("headers", ()) if h[0].lower() != b"connection"),
                        (b"connection", b"close")]}
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                state["complete"] = True
            await send(message)

        try:
            await self.app(scope, receive if state["body_read"] else receiving, sending)
        except ClientDisconnect:  # the client left before its body was read: no one to answer
            state["status"] = "(client gone)"
        except Exception as exc:  # the catch-all: no traceback reaches a client
            # where it was raised (file, line, function), not the source lines
            where = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in
                               reversed(traceback.extract_tb(exc.__traceback__)[-4:]))
            LOGGER.error("internal error (%s) on %s %s at %s", type(exc).__name__,
                         _method(scope), _route(scope), where)
            if state["status"] is None:
                await error_response(500, "internal error")(scope, receive, sending)
            else:
                state["status"] = f"{state['status']}+aborted"
        finally:
            if isinstance(state["status"], int) and not state["complete"]:
                state["status"] = f"{state['status']} (client gone)"
            rows = scope.get(ROWS)
            LOGGER.info("%s %s %s rows=%s %.1fms", _method(scope), _route(scope),
                        state["status"], "-" if rows is None else rows,
                        (time.perf_counter() - started) * 1000)


def _has_body(scope: Scope) -> bool:
    """Whether the request declares a body (a Content-Length above 0, or chunks)."""
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding":
            return True
        if name == b"content-length":
            return value.strip() not in (b"", b"0")
    return False


def _method(scope: Scope) -> str:
    method = str(scope.get("method", "?"))
    return method if method.isalpha() and len(method) <= 10 else "(other)"


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        # the docs' assets (a mount, which leaves no route in the scope): the prefix only
        if str(scope.get("path", "")).startswith(STATIC + "/"):
            return STATIC + "/*"
        return "(no route)"
    if path.startswith("/static") or "{" in path:
        return path.split("{", 1)[0] + "*"
    return path
