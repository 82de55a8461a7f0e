"""``custseg serve`` as a real process on a loopback port: it serves, refuses a bad
start with exit 2 and one line, and drains in-flight requests on SIGTERM, exiting 0.

Each server picks a free port itself (``--port 0``) and says it on its first line; every
wait is bounded, and every process started here is stopped at teardown.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cli_helpers import one_error_line, run
from service_cases import KEY

START_TIMEOUT = 60
KEY_VAR = "CUSTSEG_TEST_SERVE_KEY"
SRC = str(Path(__file__).resolve().parents[2] / "src")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != KEY_VAR}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


class Server:
    """A ``custseg serve`` process; its stderr is read as it comes."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "custseg.entry", "serve", *map(str, args)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=env or _env(), text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def url(self) -> str:
        """The server's address once it says it (and /health answers)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = [m for line in self.lines
                     if (m := re.search(r"on (http://127\.0\.0\.1:\d+) ", line))]
            if found:
                base = found[0].group(1)
                try:
                    with urllib.request.urlopen(base + "/health", timeout=5) as answer:
                        if answer.status == 200:
                            return base
                except OSError:
                    pass
            if self.process.poll() is not None:
                raise AssertionError(f"the server stopped: {self.lines}")
            time.sleep(0.1)
        raise AssertionError(f"the server did not start in {START_TIMEOUT} s: {self.lines}")

    def wait(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None):
    """(status, headers, body) of one HTTP request."""
    made = urllib.request.Request(url, data=data, headers=headers or {},
                                  method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(made, timeout=60) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture(scope="module")
def server(model_file):
    """One keyed server for the module's requests."""
    process = Server(model_file, "--port", "0", "--api-key-env", KEY_VAR, "--timeout", "2",
                     env=_env(**{KEY_VAR: KEY}))
    try:
        yield process, process.url()
    finally:
        process.stop()


def test_it_serves_health_predict_and_score(server, capsys, model_file, inputs, tmp_path):
    process, base = server
    status, _, body = request(base + "/health")
    assert status == 200
    assert json.loads(body)["model"]["segments"] == 5
    customers = json.dumps({"customers": [{"customer_id": "a", "age": 30, "annual_income": 70,
                                           "spending_score": 80}]}).encode()
    status, _, body = request(base + "/v1/predict", customers,
                              {"Content-Type": "application/json"})
    assert status == 401
    status, _, body = request(base + "/v1/predict", customers,
                              {"Content-Type": "application/json", "X-API-Key": KEY})
    assert status == 200
    assert json.loads(body)["results"][0]["row_status"] == "ok"
    code, _, err = run(capsys, "score", model_file, inputs["gz"], "-o", tmp_path / "o.csv",
                       "-q")
    assert code == 0, err
    status, headers, body = request(base + "/v1/score", inputs["gz"].read_bytes(),
                                    {"Content-Type": "application/gzip",
                                     "Authorization": f"Bearer {KEY}"})
    assert status == 200
    assert body == (tmp_path / "o.csv").read_bytes()
    assert headers["content-type"] == "text/csv; charset=utf-8"
    # one line per request, the key in none of them
    time.sleep(0.2)
    logged = [line for line in process.lines if re.search(r" (GET|POST) /", line)]
    assert any(re.search(r"POST /v1/score 200 rows=204 \d+\.\dms$", line) for line in logged)
    assert any("POST /v1/predict 401" in line for line in logged)
    assert not any(KEY in line for line in process.lines)
    assert not any("uvicorn" in line.lower() or "Traceback" in line for line in process.lines)


def test_it_serves_the_profile_the_document_and_the_docs(server, capsys, model_file):
    """The other endpoints, on the real process: /v1/model is `custseg profile --json`
    (behind the key), /openapi.json and /docs are open and load nothing from elsewhere."""
    _, base = server
    assert request(base + "/v1/model")[0] == 401
    status, _, body = request(base + "/v1/model", headers={"X-API-Key": KEY})
    assert status == 200
    code, out, err = run(capsys, "profile", model_file, "--json")
    assert code == 0, err
    assert json.loads(body) == json.loads(out)
    status, headers, body = request(base + "/openapi.json")
    assert status == 200 and headers["content-type"] == "application/json"
    document = json.loads(body)
    assert set(document["paths"]) >= {"/health", "/v1/model", "/v1/predict", "/v1/score"}
    status, headers, body = request(base + "/docs")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"swagger" in body.lower()
    assert not re.search(rb"(?:src|href)=[\"']https?://", body)


def test_a_client_that_leaves_mid_body_is_logged_not_an_error(server):
    process, base = server
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(b"POST /v1/score HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\n"
                     b"X-API-Key: " + KEY.encode() + b"\r\nContent-Length: 100000\r\n\r\n"
                     b"age,annual_income,spending_score\n30,70,80\n")
        time.sleep(0.3)
    deadline = time.monotonic() + 10
    while not any("(client gone)" in line for line in process.lines):
        assert time.monotonic() < deadline, process.lines
        time.sleep(0.1)
    assert not any("internal error" in line for line in process.lines)
    assert request(base + "/health")[0] == 200


def _address(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").split(":")
    return host, int(port)


def _answer(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (bounded)."""
    conn.settimeout(15)
    answer = b""
    while chunk := conn.recv(65536):
        answer += chunk
    return answer


def test_clients_that_stop_are_cut_off_after_the_timeout(server):
    """Before, an idle connection, a request head sent in part and a body that stopped
    were each kept for ever (slowloris; a SIGTERM's drain waited for them too). The
    server here has --timeout 2."""
    process, base = server
    started = time.monotonic()
    conns = [socket.create_connection(_address(base), timeout=15) for _ in range(3)]
    idle, head, body = conns
    head.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n")
    body.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                 b"X-API-Key: " + KEY.encode() + b"\r\nContent-Length: 100\r\n\r\n{")
    try:
        assert _answer(idle) == b""  # closed without a word: no request had begun
        status, _, payload = _answer(head).partition(b"\r\n")
        assert status == b"HTTP/1.1 408 Request Timeout"
        assert payload.endswith(b'{"error":"the request did not arrive whole within 2 s; '
                                b'send its head and body without pausing"}')
        status, _, payload = _answer(body).partition(b"\r\n")
        assert status == b"HTTP/1.1 408 Request Timeout"
        assert payload.endswith(b'{"error":"the body stopped arriving (nothing for 2 s); '
                                b'send it without pausing"}')
    finally:
        for conn in conns:
            conn.close()
    assert time.monotonic() - started < 12
    time.sleep(0.2)
    assert any(re.search(r"\(none\) \(no route\) 408 rows=- \d+\.\dms$", line)
               for line in process.lines)
    assert any(re.search(r"POST /v1/predict 408 rows=- \d+\.\dms$", line)
               for line in process.lines)


def test_a_request_that_is_not_http_is_400_json_and_one_log_line(server):
    """uvicorn answered it in plain text and logged its own warning instead of a line."""
    process, base = server
    with socket.create_connection(_address(base), timeout=15) as conn:
        conn.sendall(b"GET /health HTTP/1.1\r\nBad Header: x\r\n\r\n")
        head, _, payload = _answer(conn).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"content-type: application/json" in head
    assert json.loads(payload) == {"error": "the request is not valid HTTP/1.1 (a malformed "
                                            "request line, header or chunked body); send a "
                                            "well-formed request (see /docs)"}
    time.sleep(0.2)
    assert any(re.search(r"\(none\) \(no route\) 400 rows=- ", line) for line in process.lines)
    assert not any("Invalid HTTP request received" in line for line in process.lines)


def test_a_refused_body_is_not_read_to_its_end(server):
    """A client declaring a terabyte is answered 401 and the connection closed: the
    server read and discarded gigabytes after a refusal before."""
    _, base = server
    with socket.create_connection(_address(base), timeout=15) as conn:
        conn.sendall(b"POST /v1/score HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\n"
                     b"Content-Length: 1000000000000\r\n\r\n")
        head = _answer(conn)  # returns: the server closed after its answer
    assert head.startswith(b"HTTP/1.1 401 Unauthorized\r\n")
    assert b"connection: close" in head.lower()


def _refused(*args: str, env: dict[str, str] | None = None) -> str:
    process = Server(*args, env=env)
    try:
        code = process.wait(timeout=60)
    finally:
        process.stop()
    return one_error_line(code, "\n".join(process.lines))


def test_a_bad_model_file_exits_2_before_serving(inputs):
    line = _refused(inputs["csv"], "--port", "0")
    assert line.startswith("error: 'customers.csv' is not a custseg model file")


def test_a_missing_model_file_exits_2(tmp_path):
    line = _refused(tmp_path / "nope.custseg", "--port", "0")
    assert "does not exist" in line


def test_a_busy_port_exits_2(model_file):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _refused(model_file, "--port", str(port))
    assert line == (f"error: port {port} is in use on 127.0.0.1; choose another with "
                    "--port (or stop what listens there).")


@pytest.mark.parametrize("value", [None, "", "   "])
def test_an_api_key_variable_unset_or_empty_exits_2(model_file, value):
    env = _env() if value is None else _env(**{KEY_VAR: value})
    line = _refused(model_file, "--port", "0", "--api-key-env", KEY_VAR, env=env)
    assert f"the environment variable '{KEY_VAR}' (--api-key-env) is " in line
    assert ("not set" if value is None else "empty") in line


@pytest.mark.parametrize(("args", "said"), [
    (["--api-key-env", "my secret key"], "is not an environment variable name"),
    (["--port", "70000"], "--port"),
    (["--workers", "0"], "--workers"),
    (["--max-rows", "0"], "--max-rows"),
    (["--timeout", "0"], "--timeout"),
])
def test_bad_options_are_refused_before_any_server(capsys, model_file, args, said):
    code, _, err = run(capsys, "serve", model_file, *args)
    assert said in one_error_line(code, err)


def test_sigterm_lets_the_request_in_flight_finish_and_exits_0(model_file, inputs,
                                                               capsys, tmp_path):
    """The body of a /v1/score request is sent in two halves with SIGTERM between them:
    the server answers it in full, then exits 0."""
    code, _, err = run(capsys, "score", model_file, inputs["csv"], "-o", tmp_path / "o.csv",
                       "-q")
    assert code == 0, err
    want = (tmp_path / "o.csv").read_bytes()
    process = Server(model_file, "--port", "0")
    try:
        host, port = process.url().removeprefix("http://").split(":")
        body = inputs["csv"].read_bytes()
        half = len(body) // 2
        with socket.create_connection((host, int(port)), timeout=60) as conn:
            conn.sendall(b"POST /v1/score HTTP/1.1\r\nHost: test\r\nContent-Type: text/csv\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
                         + body[:half])
            time.sleep(0.5)  # the request is in flight: its body half read
            process.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert process.process.poll() is None  # still draining
            conn.sendall(body[half:])
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        assert payload == want
        assert process.wait(timeout=30) == 0
        assert process.lines[-1] == ("custseg serve: stopped; every request in flight was "
                                     "answered.")
    finally:
        process.stop()


def test_workers_serve_the_same_model_and_stop_on_sigterm(model_file):
    process = Server(model_file, "--port", "0", "--workers", "2")
    try:
        base = process.url()
        for _ in range(4):
            status, _, body = request(base + "/health")
            assert status == 200 and json.loads(body)["model"]["algorithm"] == "kmeans"
        process.process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert "(K-Means, " in process.lines[0] and "(2 workers;" in process.lines[0]
    finally:
        process.stop()


def test_a_worker_refuses_a_model_file_replaced_after_the_check(model_file, tmp_path,
                                                                service_model):
    from custseg.service.app import worker_app
    from custseg.service.settings import ENV, Settings

    copy = tmp_path / "m.custseg"
    copy.write_bytes(model_file.read_bytes())
    os.environ[ENV] = Settings().to_env(model=str(copy), sha256="0" * 64, api_key_env=None)
    try:
        with pytest.raises(RuntimeError, match="changed after the service started"):
            worker_app()
    finally:
        del os.environ[ENV]


def test_the_bound_socket_says_it_is_tcp():
    """asyncio sets TCP_NODELAY only on a socket whose protocol is IPPROTO_TCP; without it
    a keep-alive response waits for the client's delayed ACK (about 40 ms a request)."""
    from custseg.service.__main__ import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
    finally:
        sock.close()
