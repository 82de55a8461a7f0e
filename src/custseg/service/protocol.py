"""The HTTP/1.1 connections of ``custseg serve``: uvicorn's h11 protocol, with a deadline
on clients that stop, and its one refusal in the service's shape.

uvicorn keeps an idle keep-alive connection for 5 seconds after a response, but a
connection that sends nothing before its first request, sends a request head in
pieces, or stops reading a response was kept for ever: a few hundred such clients
(slowloris) hold a descriptor each, and a SIGTERM's drain waited for them. Here:

- a request head must arrive whole within :attr:`Protocol.timeout` seconds of the
  connection opening (or of the last response): else ``408 {"error": …}`` when part of
  one came, and the connection is closed;
- a response the client has stopped reading (nothing leaves the send buffer for
  ``timeout`` seconds) is cut off: the connection is closed, and the request is logged
  with ``(client gone)``;
- a body that stops arriving is the app's to refuse (408, see
  :func:`custseg.service.uploads.body_chunks`), with the same timeout.

A request that is not HTTP/1.1 (a malformed request line, header or chunk) is answered
``400 {"error": …}`` as JSON and logged on the service's log, instead of uvicorn's
plain-text "Invalid HTTP request received.".
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from custseg.service.access import LOGGER

#: What uvicorn logs (as a warning) for a request that is not HTTP: ours says it instead.
UVICORN_BAD_REQUEST = "Invalid HTTP request received."

BAD_REQUEST = json.dumps({"error": "the request is not valid HTTP/1.1 (a malformed request "
                                   "line, header or chunked body); send a well-formed "
                                   "request (see /docs)"}, separators=(",", ":")).encode()


def _timed_out(seconds: float) -> bytes:
    return json.dumps({"error": f"the request did not arrive whole within {seconds:g} s; "
                                "send its head and body without pausing"},
                      separators=(",", ":")).encode()


class QuietBadRequests(logging.Filter):
    """Drops uvicorn's line for a request that is not HTTP (the service logs its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != UVICORN_BAD_REQUEST


class Protocol(H11Protocol):
    """uvicorn's h11 protocol with the deadlines of the module's docstring."""

    #: Seconds a client may go without sending (a request due) or reading (a response
    #: sent); ``custseg serve --timeout`` sets it in each process before serving.
    timeout: float = 30.0

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_since: float | None = self.loop.time()
        self._head_bytes = False
        self._stalled: tuple[int, float] | None = None
        self._watch = self.loop.call_later(self._step(), self._check)

    def connection_lost(self, exc: Exception | None) -> None:
        watch = getattr(self, "_watch", None)
        if watch is not None:
            watch.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._between_requests():
            self._head_bytes = True
        super().data_received(data)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._head_since, self._head_bytes, self._stalled = self.loop.time(), False, None

    def send_400_response(self, msg: str) -> None:
        started = time.perf_counter()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close"),
                   (b"content-length", str(len(BAD_REQUEST)).encode())]
        self.transport.write(self.conn.send(h11.Response(status_code=400, headers=headers,
                                                         reason=b"Bad Request")))
        self.transport.write(self.conn.send(h11.Data(data=BAD_REQUEST)))
        self.transport.write(self.conn.send(h11.EndOfMessage()))
        self.transport.close()
        _log("400", started)

    # ------------------------------------------------------------------ deadlines

    def _step(self) -> float:
        return max(0.05, min(1.0, self.timeout / 4))

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _check(self) -> None:
        if self.transport.is_closing():
            return
        now = self.loop.time()
        if self._between_requests():
            if self._head_since is not None and now - self._head_since > self.timeout:
                self._give_up_on_head(now - self._head_since)
                return
        else:
            self._head_since = None  # a request is being answered: the head came
            pending = self.transport.get_write_buffer_size()
            if pending == 0:
                self._stalled = None
            elif self._stalled is None or pending != self._stalled[0]:
                # any change is the client reading: bytes left the buffer (or it
                # drained enough for the next chunk to be written into it)
                self._stalled = (pending, now)
            elif now - self._stalled[1] > self.timeout:  # the client reads nothing
                self.transport.abort()  # close() would wait for the buffer to be read
                return
        self._watch = self.loop.call_later(self._step(), self._check)

    def _give_up_on_head(self, waited: float) -> None:
        if self._head_bytes:  # part of a request came: say why it is refused
            body = _timed_out(self.timeout)
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: "
                                 b"application/json\r\nconnection: close\r\ncontent-length: "
                                 + str(len(body)).encode() + b"\r\n\r\n" + body)
            _log("408", time.perf_counter() - waited)
        self.transport.close()


def _log(status: str, started: float) -> None:
    """The service's line for a request that never reached the app."""
    LOGGER.info("%s %s %s rows=- %.1fms", "(none)", "(no route)", status,
                (time.perf_counter() - started) * 1000)
