"""POST /v1/score through FastAPI's TestClient: the bytes ``custseg score`` writes, for
every input format, and the refusals of a body that is not a table or too big."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow.parquet as pq
import pytest
from cli_helpers import run

CONTENT_TYPES = {"csv": "text/csv", "gz": "application/gzip",
                 "parquet": "application/vnd.apache.parquet",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def cli_bytes(capsys, model, source, output) -> bytes:
    code, _, err = run(capsys, "score", model, source, "-o", output, "-q")
    assert code == 0, err
    return output.read_bytes()


def score(client, path, content_type=None, accept=None):
    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if accept:
        headers["Accept"] = accept
    return client.post("/v1/score", content=path.read_bytes(), headers=headers)


@pytest.mark.parametrize("kind", ["csv", "gz", "parquet", "xlsx"])
def test_the_scored_csv_is_the_cli_bytes(client, capsys, model_file, inputs, kind, tmp_path):
    want = cli_bytes(capsys, model_file, inputs[kind], tmp_path / "out.csv")
    response = score(client, inputs[kind], CONTENT_TYPES[kind])
    assert response.status_code == 200, response.text
    assert response.content == want
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-length"] == str(len(want))
    assert response.headers["x-custseg-rows"] == "204"
    assert response.headers["x-custseg-invalid"] == "3"
    scored = pd.read_csv(io.BytesIO(response.content), dtype=str, keep_default_na=False)
    assert len(scored) == 204
    assert scored.loc[60:63, "row_status"].tolist() == ["invalid"] * 3 + ["ok"]
    if kind != "xlsx":  # (openpyxl wrote that cell as a formula, which reads empty)
        assert scored.loc[63, "customer_id"] == "'=cmd|' /C calc'!A0"  # neutralised
    assert "also on row 151" in scored.loc[3, "row_issues"]


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@pytest.mark.parametrize("accept", ["application/vnd.apache.parquet",
                                    "application/x-parquet"])
def test_the_scored_parquet_is_the_cli_bytes(client, capsys, model_file, inputs, kind,
                                             accept, tmp_path):
    want = cli_bytes(capsys, model_file, inputs[kind], tmp_path / "out.parquet")
    response = score(client, inputs[kind], CONTENT_TYPES[kind], accept)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    assert response.content == want
    table = pq.read_table(io.BytesIO(response.content))
    assert table.num_rows == 204
    assert table.column("row_status").to_pylist()[60:64] == ["invalid"] * 3 + ["ok"]


@pytest.mark.parametrize(("accept", "fmt"), [
    ("text/csv", "csv"), ("*/*", "csv"), ("text/*", "csv"),
    ("application/json, text/csv;q=0.5", "csv"),
    ("text/csv;q=0.4, application/vnd.apache.parquet;q=0.9", "parquet"),
    ("application/vnd.apache.parquet;q=0, */*;q=0.1", "csv"),
])
def test_accept_chooses_the_format(client, inputs, accept, fmt):
    response = score(client, inputs["csv"], "text/csv", accept)
    assert response.status_code == 200
    assert response.content.startswith(b"PAR1") == (fmt == "parquet")


@pytest.mark.parametrize("content_type", ["text/x-csv", "text/comma-separated-values",
                                          "application/excel", "binary/octet-stream",
                                          "application/octet-stream"])
def test_any_other_type_is_read_by_its_content(client, inputs, content_type):
    response = score(client, inputs["csv"], content_type)
    assert response.status_code == 200
    assert response.headers["x-custseg-rows"] == "204"


def test_a_body_with_no_content_type_is_read_by_its_content(client, inputs):
    response = score(client, inputs["parquet"])
    assert response.status_code == 200
    assert response.headers["x-custseg-rows"] == "204"


def test_a_log_is_aggregated_as_score_aggregates_it(capsys, tmp_path, log_files, log_app):
    """A model fitted on a log's customers: a posted log is aggregated with the fit's
    columns and scored, byte for byte as custseg score does; its customer table too."""
    from fastapi.testclient import TestClient

    log, model = log_files["log"], log_files["model"]
    want = cli_bytes(capsys, model, log, tmp_path / "out.csv")
    with TestClient(log_app) as client:
        response = score(client, log, "text/csv")
        assert response.status_code == 200, response.text
        assert response.content == want
        assert response.headers["x-custseg-rows"] == "63"  # customers, not lines
        scored = pd.read_csv(io.BytesIO(response.content), dtype=str)
        assert scored["segment_name"].value_counts()["Returns only"] == 3
        # the customer table custseg rfm writes is scored as a table
        table = tmp_path / "customers.csv"
        assert run(capsys, "rfm", log, "-o", table)[0] == 0
        want = cli_bytes(capsys, model, table, tmp_path / "out2.csv")
        response = score(client, table, "text/csv")
        assert response.status_code == 200 and response.content == want


# ------------------------------------------------------------------ refusals


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and body["error"]
    return body["error"]


@pytest.mark.parametrize(("content_type", "said"), [
    ("application/json", "is JSON; to score customers given as JSON, POST them to "
                         "/v1/predict"),
    ("multipart/form-data; boundary=x", "is a form; send the file itself as the body"),
    ("application/x-www-form-urlencoded", "curl --data-binary @customers.csv"),
    ("image/png", "is not a table"),
    ("text/html; charset=utf-8", "is not a table"),
    ("application/problem+json", "is JSON"),
])
def test_a_type_that_is_no_table_is_415(client, inputs, content_type, said):
    assert said in error_of(score(client, inputs["csv"], content_type), 415)


def test_an_accept_of_no_format_written_is_406(client, inputs):
    message = error_of(score(client, inputs["csv"], "text/csv", "application/json"), 406)
    assert "ask for text/csv (the default) or application/vnd.apache.parquet" in message


@pytest.mark.parametrize(("body", "said"), [
    (b"", "the body is empty"),
    (b"\x00\x01\x02\x03binary", "'body' is binary data, not text"),
    (b"\x80\x04\x95 pickle", "custseg never loads pickles"),
    (b"PK\x03\x04 not really a zip", "'body'"),
])
def test_a_body_that_is_no_table_is_400(client, body, said):
    response = client.post("/v1/score", content=body, headers={"Content-Type": "text/csv"})
    assert said in error_of(response, 400)


def test_a_table_without_the_model_columns_is_422(client):
    response = client.post("/v1/score", content=b"customer_id,age\n1,30\n",
                           headers={"Content-Type": "text/csv"})
    message = error_of(response, 422)
    assert "annual_income" in message and "spending_score" in message


def test_a_header_with_no_rows_is_400(client):
    response = client.post("/v1/score", content=b"age,annual_income,spending_score\n",
                           headers={"Content-Type": "text/csv"})
    assert "has a header but no data rows" in error_of(response, 400)


def test_a_body_over_the_cap_is_413_by_its_length_or_as_it_streams(client):
    big = b"age,annual_income,spending_score\n" + b"30,70,80\n" * 40_000  # 360 kB > 256 kB
    message = error_of(client.post("/v1/score", content=big,
                                   headers={"Content-Type": "text/csv"}), 413)
    assert message.startswith("the body is larger than this service takes for a file "
                              "(262,144 bytes)")
    assert "the service's limit is --max-body-mb" in message

    def chunks():  # no Content-Length: refused once the cap is passed
        for start in range(0, len(big), 16_384):
            yield big[start:start + 16_384]

    response = client.post("/v1/score", content=chunks(), headers={"Content-Type": "text/csv"})
    assert "larger than this service takes for a file" in error_of(response, 413)


def test_a_compressed_body_expanding_past_the_cap_is_413(service_model):
    import gzip

    from fastapi.testclient import TestClient

    from custseg.service import Settings, create_app

    bomb = gzip.compress(b"age,annual_income,spending_score\n" + b"30,70,80\n" * 300_000)
    assert len(bomb) < 100_000
    app = create_app(service_model, Settings(max_decompressed_bytes=1 << 20))
    with TestClient(app) as client:
        response = client.post("/v1/score", content=bomb,
                               headers={"Content-Type": "application/gzip"})
    message = error_of(response, 413)
    assert "1 MB" in message


def test_a_full_temporary_folder_is_507(client, inputs, monkeypatch):
    import errno

    from custseg.io import score_files

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(score_files, "score_file", full)
    message = error_of(score(client, inputs["csv"], "text/csv"), 507)
    assert message.startswith("the server has no room for this file now")
