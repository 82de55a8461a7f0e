"""Hostile requests found by attacking the service (issue 13's adversarial pass), through
FastAPI's TestClient: each test is the regression test of one defect, named by what a
careful client expects. The ones that need a real socket are in test_process.py."""

from __future__ import annotations

import re

import pytest
from service_cases import KEY

ROW = {"customer_id": "C-1", "age": 30, "annual_income": 70, "spending_score": 80}


def lines_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "custseg.service"]


# --------------------------------------------------- connections and protocol


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),  # the key is checked before the body is read
    ({"X-API-Key": KEY, "Content-Type": "image/png"}, 415),
    ({"X-API-Key": KEY, "Accept": "application/json"}, 406),
])
def test_a_refusal_before_the_body_closes_the_connection(keyed, headers, status):
    """Without Connection: close the server read and discarded the rest of a body it
    had refused (4 GB in 3 s on loopback, for a client declaring 1 TB)."""
    response = keyed.post("/v1/score", content=b"age,annual_income\n" * 1000,
                          headers=headers)
    assert response.status_code == status
    assert response.headers["connection"] == "close"


def test_a_body_over_the_cap_closes_the_connection(client):
    big = b"age,annual_income,spending_score\n" + b"30,70,80\n" * 40_000
    response = client.post("/v1/score", content=big, headers={"Content-Type": "text/csv"})
    assert response.status_code == 413
    assert response.headers["connection"] == "close"


def test_an_answer_after_the_whole_body_keeps_the_connection(client, inputs):
    for response in (client.post("/v1/predict", json={"customers": [ROW]}),
                     client.post("/v1/predict", content=b"{bad",
                                 headers={"Content-Type": "application/json"}),
                     client.post("/v1/score", content=inputs["csv"].read_bytes(),
                                 headers={"Content-Type": "text/csv"})):
        assert response.status_code in (200, 400)
        assert "connection" not in response.headers


@pytest.mark.parametrize("path", ["/health/", "/v1/predict/", "/v1/model/", "/docs/"])
def test_a_trailing_slash_is_404_json_not_a_redirect(client, path):
    """Starlette's redirect built its Location from the client's Host header (an open
    redirect to any host) and had no {"error"} body."""
    method = client.post if "predict" in path else client.get
    response = method(path, headers={"Host": "evil.example"}, follow_redirects=False)
    assert response.status_code == 404
    assert "location" not in response.headers
    assert response.json()["error"].endswith("(see /docs), without a trailing slash")


def test_head_is_answered_where_get_is(client, keyed):
    """HTTP servers must take HEAD wherever they take GET (load balancers probe with it)."""
    for path in ("/health", "/v1/model", "/docs", "/openapi.json"):
        response = client.head(path)
        assert response.status_code == 200, path
        assert response.content == b""
        assert int(response.headers["content-length"]) > 0
    assert keyed.head("/v1/model").status_code == 401
    assert keyed.head("/v1/model", headers={"X-API-Key": KEY}).status_code == 200
    assert keyed.head("/health").status_code == 200
    document = client.get("/openapi.json").json()
    assert all("head" not in operations for operations in document["paths"].values())


def test_405_allows_head_beside_get(client):
    response = client.post("/health")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.json() == {"error": "POST is not allowed here; use GET, HEAD"}


# ------------------------------------------------------------------- the key


@pytest.mark.parametrize("headers", [
    [("X-API-Key", KEY), ("X-API-Key", "wrong")],
    [("X-API-Key", "wrong"), ("X-API-Key", KEY)],
    [("Authorization", f"Bearer {KEY}"), ("Authorization", "Bearer wrong")],
    [("X-API-Key", KEY), ("Authorization", f"Bearer {KEY}"), ("Authorization", "Bearer x")],
])
def test_a_header_sent_twice_with_one_wrong_key_is_401(keyed, headers):
    """Only the first copy of each header was checked: the right key then a wrong one
    was let in, the other way round refused."""
    response = keyed.post("/v1/predict", json={"customers": [ROW]}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"].startswith("the API key is wrong")


def test_the_right_key_sent_twice_is_let_in(keyed):
    headers = [("X-API-Key", KEY), ("X-API-Key", KEY), ("Authorization", "Basic abc")]
    assert keyed.get("/v1/model", headers=headers).status_code == 200


# ---------------------------------------------------------------------- logs


def test_the_docs_assets_are_logged_by_their_route(client, caplog):
    page = client.get("/docs").text
    (script,) = re.findall(r'src="([^"]+\.js)"', page)
    assert client.get(script).status_code == 200
    assert client.get("/static-offline-docs/nope.js").status_code == 404
    assert [re.sub(r" [\d.]+ms$", "", line) for line in lines_of(caplog)] == [
        "GET /docs 200 rows=-", "GET /static-offline-docs/* 200 rows=-",
        "GET /static-offline-docs/* 404 rows=-"]


# --------------------------------------------------------------------- files


def test_a_refused_log_never_shows_the_servers_temporary_path(log_app):
    """A log whose every line is excluded: the message named the upload by its full path
    in the server's temporary folder."""
    from fastapi.testclient import TestClient

    body = ("InvoiceNo,InvoiceDate,CustomerID,Quantity,UnitPrice\n"
            + "".join(f"{i},99/99/20xx 10:00,{i}.0,1,2.50\n" for i in range(1, 20))).encode()
    with TestClient(log_app) as client:
        response = client.post("/v1/score", content=body, headers={"Content-Type": "text/csv"})
    assert response.status_code == 422
    assert response.json() == {"error": "'body' has no line with a customer to score (every "
                                        "line was excluded)"}


# ------------------------------------------------------------ /v1/score load


def test_waiting_scores_leave_the_thread_pool_to_predict(service_model, inputs, monkeypatch):
    """/v1/score requests beyond max_concurrent_scores waited for their turn inside
    worker threads, so enough of them used up the pool and /v1/predict hung behind them.
    Here the pool has 2 threads: one file is scored (held), two wait, and a predict
    still answers."""
    import threading

    import anyio
    from fastapi.testclient import TestClient

    from custseg.service import Settings, create_app
    from custseg.service import app as service_app

    scoring, release = threading.Event(), threading.Event()
    real = service_app.score_upload

    def held(*args, **kwargs):
        scoring.set()
        assert release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(service_app, "score_upload", held)
    app = create_app(service_model, Settings(max_concurrent_scores=1))
    body = inputs["csv"].read_bytes()
    with TestClient(app) as client:

        def two_threads() -> None:
            anyio.to_thread.current_default_thread_limiter().total_tokens = 2

        client.portal.call(two_threads)
        answers: list[int] = []

        def post(path: str, **kwargs) -> None:
            answers.append(client.post(path, **kwargs).status_code)

        files = [threading.Thread(target=post, args=("/v1/score",), kwargs={
            "content": body, "headers": {"Content-Type": "text/csv"}}) for _ in range(3)]
        try:
            files[0].start()
            assert scoring.wait(30)
            for thread in files[1:]:
                thread.start()
            predict = threading.Thread(target=post, args=("/v1/predict",),
                                       kwargs={"json": {"customers": [ROW]}})
            # the two waiting files reach their wait (in a thread, before the fix)
            threading.Event().wait(0.3)
            predict.start()
            predict.join(20)
            assert not predict.is_alive(), "/v1/predict waited behind queued files"
            assert answers == [200]
        finally:
            release.set()
            for thread in files:
                thread.join(60)
    assert answers == [200] * 4


def test_a_client_leaving_mid_response_closes_the_scored_file(app, inputs, monkeypatch,
                                                              caplog):
    """Starlette stops the chunks of a response whose client left without closing
    them: the scored file (unlinked, so its disk space) stayed open in the process."""
    import anyio

    from custseg.service import app as service_app

    opened = []
    real = service_app.score_upload

    def kept(*args, **kwargs):
        opened.append(real(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(service_app, "score_upload", kept)
    monkeypatch.setattr("custseg.service.uploads.CHUNK", 1024)  # several chunks
    body = inputs["csv"].read_bytes()

    async def leave_after_the_first_chunk() -> tuple[list[dict], bool]:
        sent: list[dict] = []
        first = anyio.Event()
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict:
            if messages:
                return messages.pop()
            await first.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)
            if message["type"] == "http.response.body":
                first.set()
                await anyio.sleep(0.01)

        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
                 "http_version": "1.1", "method": "POST", "scheme": "http",
                 "path": "/v1/score", "raw_path": b"/v1/score", "query_string": b"",
                 "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
                 "headers": [(b"content-type", b"text/csv"),
                             (b"content-length", str(len(body)).encode())]}
        await app(scope, receive, send)
        (scored,) = opened
        return sent, scored.handle.closed  # when the app is done, not when collected

    sent, closed = anyio.run(leave_after_the_first_chunk)
    assert sent[0]["status"] == 200
    assert sent[-1].get("more_body") is True  # the response was cut short
    assert closed
    (line,) = lines_of(caplog)
    assert re.fullmatch(r"POST /v1/score 200 \(client gone\) rows=204 [\d.]+ms", line)


# ----------------------------------------------------------- Content-Encoding


def test_a_gzip_encoded_predict_body_is_decoded(client):
    import gzip
    import json

    body = gzip.compress(json.dumps({"customers": [ROW]}).encode())
    for coding in ("gzip", "x-gzip", "identity, gzip"):
        response = client.post("/v1/predict", content=body, headers={
            "Content-Type": "application/json", "Content-Encoding": coding})
        assert response.status_code == 200, response.text
        assert response.json()["results"][0]["row_status"] == "ok"


@pytest.mark.parametrize(("body", "status", "said"), [
    (b'{"customers": []}', 400, "says Content-Encoding: gzip but is not gzip data"),
    ("gzip-truncated", 400, "ends before its gzip data does"),
    ("gzip-bomb", 413, "expands to more than this service takes for a JSON (65,536 bytes)"),
])
def test_a_gzip_predict_body_that_lies_or_explodes_is_refused(client, body, status, said):
    import gzip
    import json

    whole = gzip.compress(json.dumps({"customers": [ROW] * 40}).encode())
    if body == "gzip-truncated":
        body = whole[: len(whole) // 2]
    elif body == "gzip-bomb":  # 3 kB that expand to 3 MB, past the 64 kB JSON cap
        body = gzip.compress(b'{"customers": [' + b" " * 3_000_000 + b"]}", compresslevel=1)
    response = client.post("/v1/predict", content=body, headers={
        "Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert response.status_code == status
    assert said in response.json()["error"]


@pytest.mark.parametrize("path", ["/v1/predict", "/v1/score"])
@pytest.mark.parametrize("coding", ["br", "deflate", "zstd", "gzip, gzip", "compress"])
def test_a_content_encoding_not_decoded_is_415(client, path, coding):
    """A brotli or deflate body was read as it was: refused as 'not UTF-8' or 'binary
    data', or taken when it was plain text under a false label."""
    import json

    response = client.post(path, content=json.dumps({"customers": [ROW]}).encode(), headers={
        "Content-Type": "application/json" if path == "/v1/predict" else "text/csv",
        "Content-Encoding": coding})
    assert response.status_code == 415
    assert response.headers["accept-encoding"] == "gzip"
    assert response.json()["error"] == (
        f"Content-Encoding {coding!r} is not one this service decodes; send the body as it "
        "is, or gzip-compressed with Content-Encoding: gzip")


def test_a_gzip_encoded_file_is_scored_as_its_gzip_and_a_false_label_refused(client, inputs):
    response = client.post("/v1/score", content=inputs["gz"].read_bytes(), headers={
        "Content-Type": "text/csv", "Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["x-custseg-rows"] == "204"
    response = client.post("/v1/score", content=inputs["csv"].read_bytes(), headers={
        "Content-Type": "text/csv", "Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert "says Content-Encoding: gzip but is not gzip data" in response.json()["error"]


# ------------------------------------------------------ keys of /v1/predict


def results_of(client, customers):
    response = client.post("/v1/predict", json={"customers": customers})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_keys_differing_in_case_or_spacing_across_customers_are_one_column(client):
    """'age' for one customer and 'Age' for the next were two columns of one field: the
    whole request was refused (422) though each customer was right."""
    spelled = [{"customer_id": "a", "age": 30, "annual_income": 70, "spending_score": 80},
               {"CustomerID": "b", "Age": 30, "Annual_Income": 70, "Spending Score": 80},
               {"customer id": "c", " AGE ": 30, "annual income": 70, "spending_score": 80},
               {"ID": "d", "Age": 30, "Income": 70, "Spending Score (1-100)": 80}]
    results = results_of(client, spelled)
    (alone,) = results_of(client, spelled[:1])
    assert [r["customer_id"] for r in results] == ["a", "b", "c", "d"]
    for result in results:
        assert result["row_status"] == "ok"
        assert result["segment_id"] == alone["segment_id"] is not None


def test_a_customer_giving_one_column_twice_is_flagged_not_the_request(client):
    good = {"customer_id": "g", "age": 30, "annual_income": 70, "spending_score": 80}
    twice = {**good, "customer_id": "t", "Age": 31}
    results = results_of(client, [good, twice, {**good, "customer_id": "g2", "Income": 5}])
    assert [r["row_status"] for r in results] == ["ok", "invalid", "invalid"]
    assert results[1]["customer_id"] == "t"
    assert results[1]["row_issues"] == ("not scored: 'age' and 'Age' are one column "
                                        "('age'); give it once")
    assert results[2]["row_issues"] == ("not scored: 'annual_income' and 'Income' are one "
                                        "column ('annual_income'); give it once")
    assert results[1]["segment_id"] is None


def test_keys_the_model_cannot_read_are_passed_by_not_made_columns(service_model):
    """990 unused keys on one customer made a 54 kB request build a 10-million-cell
    table (2.4 s, 270 MB); a result holds no input column, so they are passed by."""
    from custseg.service import Settings
    from custseg.service.records import customers_of

    wide = {f"note {i}": "x" for i in range(990)}
    document = {"customers": [{**wide, "AGE": "30", "Annual Income (k$)": "70",
                               "tags": ["vip"]}] + [{}] * 9_999}
    customers = customers_of(document, Settings(), service_model)
    assert customers.header == ["age", "Annual Income (k$)"]
    assert customers.cells["age"][:2] == ["30", None]
    assert customers.bad == {0: "not scored: 'tags' is a list — a value is a number, a "
                                "string or null (for a missing value)"}


def test_a_total_under_an_unused_key_is_no_summary_row_whatever_the_key_order(client):
    """The first key of the first customer was the 'first column' a file's "Total" row
    is looked for in: a customer was flagged or not by another customer's key order."""
    row = {"age": 30, "annual_income": 70, "spending_score": 80}
    for first in ({"note": "Total", **row}, {**row, "note": "Total"}):
        results = results_of(client, [first, {**row, "note": "Total"}])
        assert [r["row_status"] for r in results] == ["ok", "ok"]
    # a customer whose id is Total still is one, wherever its id key comes
    (result,) = results_of(client, [{**row, "note": "x", "customer_id": "Total"}])
    assert result["row_issues"] == ("looks like a spreadsheet summary row ('Total'), not a "
                                    "customer")


# ------------------------------------------------------------------ warnings


def test_what_custseg_score_warns_of_the_service_says_too(client, capsys, model_file,
                                                          tmp_path):
    """Incomes under a header with no unit, most above 1,000, are read as dollars: the
    command line warns; the service said nothing, and one customer's $70 (0.07 k$) got a
    segment with no word."""
    import json

    from cli_helpers import run

    rows = [("x", "70000"), ("y", "70"), ("z", "80000")]
    csv = tmp_path / "dollars.csv"
    csv.write_text("customer_id,age,annual_income,spending_score\n"
                   + "".join(f"{i},30,{income},80\n" for i, income in rows))
    code, _, err = run(capsys, "score", model_file, csv, "-o", tmp_path / "out.csv")
    assert code == 0, err
    warned = [line.removeprefix("warning: ") for line in err.splitlines()
              if line.startswith("warning: ")]
    assert len(warned) == 1 and "read as dollars" in warned[0]
    response = client.post("/v1/score", content=csv.read_bytes(),
                           headers={"Content-Type": "text/csv"})
    assert json.loads(response.headers["x-custseg-warnings"]) == warned
    response = client.post("/v1/predict", json={"customers": [
        {"customer_id": i, "age": 30, "annual_income": int(income), "spending_score": 80}
        for i, income in rows]})
    assert json.loads(response.headers["x-custseg-warnings"]) == warned
    # nothing to warn of: no header
    response = client.post("/v1/predict", json={"customers": [ROW]})
    assert "x-custseg-warnings" not in response.headers


# ---------------------------------------------------------------- slow bodies


def test_a_body_that_stops_arriving_is_408_after_the_timeout(service_model, caplog):
    """A client that stopped mid-body held its request (and a SIGTERM's drain) for
    ever. The app sees the body stop: 408 after Settings.timeout seconds, and the
    connection closed (the rest of the body is not waited for). /v1/predict's is
    tested on a real socket (test_process.py)."""
    import anyio

    from custseg.service import Settings, create_app

    app = create_app(service_model, Settings(timeout=1))
    path = "/v1/score"

    async def half_a_body() -> list[dict]:
        sent: list[dict] = []
        parts = [{"type": "http.request", "body": b"age,annual_income\n", "more_body": True}]

        async def receive() -> dict:
            if parts:
                return parts.pop()
            await anyio.sleep(60)  # the client sends nothing more
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
                 "http_version": "1.1", "method": "POST", "scheme": "http", "path": path,
                 "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
                 "headers": [(b"content-type", b"text/csv"), (b"content-length", b"1000")]}
        with anyio.fail_after(10):
            await app(scope, receive, send)
        return sent

    start, body = anyio.run(half_a_body)
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
    assert body["body"] == (b'{"error":"the body stopped arriving (nothing for 1 s); send it '
                            b'without pausing"}')
    (line,) = lines_of(caplog)
    assert re.fullmatch(rf"POST {path} 408 rows=- [\d.]+ms", line)


def _answering(service_model):
    """The service's connection protocol answering a request, on a fake clock and
    transport (the send buffer's size set by hand, abort recorded), its timeout 2 s:
    its slow-client watch driven by hand (test_process.py has the real socket's)."""
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from custseg.service import create_app
    from custseg.service.protocol import Protocol

    class Loop:
        now = 0.0

        def time(self) -> float:
            return self.now

        def call_later(self, delay, callback):
            class Handle:
                def cancel(self) -> None:
                    pass
            return Handle()

    class Transport:
        buffered, aborted = 0, False

        def get_extra_info(self, name, default=None):
            return default

        def is_closing(self) -> bool:
            return self.aborted

        def get_write_buffer_size(self) -> int:
            return self.buffered

        def abort(self) -> None:
            self.aborted = True

    loop, transport = Loop(), Transport()
    protocol = Protocol(config=Config(create_app(service_model)), server_state=ServerState(),
                        app_state={}, _loop=loop)
    protocol.timeout = 2
    protocol.connection_made(transport)
    protocol.cycle = type("Cycle", (), {"response_complete": False})()  # answering
    return loop, transport, protocol


def test_a_response_the_client_stops_reading_is_cut_off(service_model):
    """A client that stopped reading a scored file held its request (and the scored
    file, and a SIGTERM's drain) for ever. The protocol's watch aborts the connection
    once nothing has left its send buffer for the timeout."""
    loop, transport, protocol = _answering(service_model)
    for now, buffered in [(1, 0), (2, 5_000_000), (3, 4_000_000), (4.5, 4_000_000)]:
        loop.now, transport.buffered = now, buffered
        protocol._check()
        assert not transport.aborted, now  # the client reads, or has not paused long
    loop.now = 5.5  # 2.5 s without a byte read
    protocol._check()
    assert transport.aborted


def test_a_client_reading_slowly_but_steadily_is_not_cut_off(service_model):
    """A client reading steadily, slower than a chunk per timeout: the buffer drains a
    little, the next chunk is written into it (the buffer grows again above its last
    low), it drains a little... The watch took only a new lowest buffer for progress,
    and cut such a client off mid-download; any change of the buffer is progress."""
    loop, transport, protocol = _answering(service_model)
    buffered = 1_000_000
    for step in range(20):  # 1.5 s a step, never below the first low for long
        loop.now = 1.5 * step
        buffered = buffered - 50_000 if step % 2 else buffered + 1_000_000
        transport.buffered = buffered
        protocol._check()
        assert not transport.aborted, step


def test_at_most_four_full_json_bodies_are_parsed_at_once(service_model, monkeypatch):
    """A parsed body takes some twenty times its size (8 MB of customers: 160 MB), and
    up to 40 were parsed at once, one per thread: a few clients could exhaust memory.
    Beyond four bodies of the largest size, they wait their turn."""
    import json
    import threading

    from fastapi.testclient import TestClient

    from custseg.service import Settings, create_app
    from custseg.service import app as service_app

    lock, now, most = threading.Lock(), [0], [0]
    real = service_app.parse_body

    def counted(*args, **kwargs):
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        threading.Event().wait(0.3)
        with lock:
            now[0] -= 1
        return real(*args, **kwargs)

    monkeypatch.setattr(service_app, "parse_body", counted)
    body = json.dumps({"customers": [{**ROW, "note": "x" * 6_000}] * 10}).encode()
    assert 60_000 < len(body) <= 64 << 10
    app = create_app(service_model, Settings(max_json_bytes=64 << 10))
    statuses: list[int] = []
    with TestClient(app) as client:
        def post() -> None:
            statuses.append(client.post("/v1/predict", content=body, headers={
                "Content-Type": "application/json"}).status_code)

        threads = [threading.Thread(target=post) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert statuses == [200] * 8
    assert 2 <= most[0] <= 4  # some at once (8 before), never more than four
