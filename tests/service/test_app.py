"""The service's other endpoints, its key, its error shape, its docs and its log lines,
through FastAPI's TestClient."""

from __future__ import annotations

import json
import logging
import re

import pytest
from cli_helpers import run
from service_cases import KEY

from custseg.service import Settings, create_app
from custseg.service.settings import SettingsError

ROW = {"customer_id": "C-77", "age": 30, "annual_income": 70, "spending_score": 80}


def test_health_says_the_model(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "model": {
        "algorithm": "kmeans", "segments": 5,
        "features": ["age", "annual_income", "spending_score"], "format_version": 4}}


def test_health_gives_the_file_format_version_it_was_told(service_model):
    from fastapi.testclient import TestClient

    with TestClient(create_app(service_model, format_version=2)) as client:
        assert client.get("/health").json()["model"]["format_version"] == 2


def test_model_is_what_profile_json_prints(client, capsys, model_file):
    code, out, err = run(capsys, "profile", model_file, "--json")
    assert code == 0, err
    response = client.get("/v1/model")
    assert response.status_code == 200
    assert response.json() == json.loads(out)


# ------------------------------------------------------------------------ key


@pytest.mark.parametrize("path", ["/v1/model", "/v1/predict", "/v1/score"])
def test_without_the_key_every_v1_endpoint_is_401(keyed, path):
    method = keyed.get if path == "/v1/model" else keyed.post
    response = method(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"error": "this service needs an API key: send it in the "
                                        "header 'X-API-Key: KEY' or 'Authorization: Bearer "
                                        "KEY'"}


@pytest.mark.parametrize("headers", [
    {"X-API-Key": KEY}, {"Authorization": f"Bearer {KEY}"},
    {"X-API-Key": KEY, "Authorization": f"Bearer {KEY}"},
])
def test_the_key_in_either_header_is_let_in(keyed, headers):
    assert keyed.get("/v1/model", headers=headers).status_code == 200
    response = keyed.post("/v1/predict", json={"customers": [ROW]}, headers=headers)
    assert response.status_code == 200
    assert response.json()["results"][0]["row_status"] == "ok"


@pytest.mark.parametrize("headers", [
    {"X-API-Key": KEY + "x"}, {"X-API-Key": KEY[:-1]}, {"Authorization": "Bearer nope"},
    {"X-API-Key": KEY, "Authorization": "Bearer nope"},  # one wrong key is a wrong key
    {"X-API-Key": "é".encode() * 10},
])
def test_a_wrong_key_is_401(keyed, headers):
    response = keyed.post("/v1/predict", json={"customers": [ROW]}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"].startswith("the API key is wrong")


def test_a_key_in_another_scheme_is_no_key(keyed):
    response = keyed.get("/v1/model", headers={"Authorization": f"Basic {KEY}"})
    assert response.status_code == 401
    assert response.json()["error"].startswith("this service needs an API key")


def test_the_key_is_checked_before_the_body_is_read(keyed):
    response = keyed.post("/v1/score", content=b"x" * 1000,
                          headers={"Content-Type": "image/png"})
    assert response.status_code == 401  # not 415: an anonymous client learns nothing


def test_health_docs_and_openapi_need_no_key(keyed):
    assert keyed.get("/health").status_code == 200
    assert keyed.get("/docs").status_code == 200
    document = keyed.get("/openapi.json").json()
    assert document["components"]["securitySchemes"] == {
        "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                         "description": "The API key (or send Authorization: Bearer KEY)."},
        "HTTPBearer": {"type": "http", "scheme": "bearer",
                       "description": "The API key as a bearer token."}}
    assert "401" in document["paths"]["/v1/predict"]["post"]["responses"]


def test_without_a_key_nothing_asks_for_one(client):
    document = client.get("/openapi.json").json()
    assert "securitySchemes" not in document.get("components", {})
    assert "401" not in document["paths"]["/v1/predict"]["post"]["responses"]


@pytest.mark.parametrize("value", ["k3y-from-an-env-file\n", "k3y ", "\tk3y", "k\x7fy"])
def test_a_key_no_header_can_carry_is_refused_at_start(value):
    """HTTP strips spaces at a header's ends and carries no control character: a key
    read with a trailing newline or space could never be presented, and every /v1/
    request was 401 without a word at start."""
    from custseg.service.settings import key_from_env

    with pytest.raises(SettingsError, match="holds a key with spaces at an end or a "
                                            "control character"):
        key_from_env("VAR", {"VAR": value})
    assert key_from_env("VAR", {"VAR": "clé-ünïcode"}) == "clé-ünïcode"  # UTF-8 is sent


def test_the_key_never_shows(service_model):
    settings = Settings(api_key=KEY)
    assert KEY not in repr(settings)
    assert KEY not in settings.to_env(model="m", sha256="0", api_key_env="VAR")


@pytest.mark.parametrize(("options", "said"), [
    ({"api_key": ""}, "api_key must be a non-blank string"),
    ({"api_key": "  "}, "api_key must be a non-blank string"),
    ({"api_key": "k3y\n"}, "api_key has spaces at an end or a control character"),
    ({"api_key": " k3y"}, "api_key has spaces at an end or a control character"),
    ({"api_key": "k\x00y"}, "api_key has spaces at an end or a control character"),
    ({"max_rows": 0}, "max_rows must be a whole number of at least 1"),
    ({"max_body_bytes": True}, "max_body_bytes must be a whole number"),
    ({"max_depth": 2}, "max_depth must be at least 3"),
])
def test_settings_out_of_range_are_refused(options, said):
    with pytest.raises(SettingsError, match=re.escape(said)):
        Settings(**options)


# --------------------------------------------------------------- error shape


def test_an_unknown_path_is_404_json(client):
    response = client.get("/v2/predict?customer=Alice")
    assert response.status_code == 404
    assert response.json() == {"error": "there is no such endpoint; the endpoints are GET "
                                        "/health, GET /v1/model, POST /v1/predict, POST "
                                        "/v1/score (see /docs)"}


def test_a_wrong_method_is_405_json(client):
    response = client.get("/v1/predict")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {"error": "GET is not allowed here; use POST"}


def test_an_internal_error_is_500_json_without_a_traceback(service_model, caplog,
                                                           monkeypatch):
    """The catch-all: the client gets one line, the log the exception's type and place,
    never its message (which may quote a customer's value)."""
    from fastapi.testclient import TestClient

    from custseg.service import records

    def broken(*args, **kwargs):
        raise ZeroDivisionError("customer Alice Smith")

    monkeypatch.setattr(records, "score_table_batches", broken)
    with TestClient(create_app(service_model)) as client:
        response = client.post("/v1/predict", json={"customers": [ROW]})
    assert response.status_code == 500
    assert response.json() == {"error": "internal error"}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    text = errors[0].getMessage()
    assert "internal error (ZeroDivisionError) on POST /v1/predict" in text
    assert "records.py" in text and "Alice" not in text
    caplog.clear()  # seen: the autouse check is for bad input reaching the catch-all


# ------------------------------------------------------------------ docs


def test_docs_load_nothing_from_another_host(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert not re.findall(r"https?://", page.text)
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) == 3  # the stylesheet, the icon and the script
    for asset in assets:
        assert asset.startswith("/"), asset
        fetched = client.get(asset)
        assert fetched.status_code == 200 and len(fetched.content) > 1000
    assert '"validatorUrl": null' in page.text  # Swagger UI's default calls a web service


def test_openapi_examples_come_from_the_model_and_are_its_answers(client, service_model):
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    predict = document["paths"]["/v1/predict"]["post"]
    body = predict["requestBody"]["content"]["application/json"]
    example = body["example"]["customers"]
    typical = max((s for s in service_model.segments if s.id >= 0), key=lambda s: s.size)
    assert example[0] == {"customer_id": "C0001",
                          **{f: round(typical.medians[f], 2) for f in
                             ("age", "annual_income", "spending_score")}}
    assert example[1]["age"] == "unknown"
    schema = body["schema"]["properties"]["customers"]
    assert (schema["minItems"], schema["maxItems"]) == (1, 50)
    assert set(schema["items"]["properties"]) == {"customer_id", "age", "annual_income",
                                                  "spending_score"}
    # the response example is the model's answer to the request example
    shown = predict["responses"]["200"]["content"]["application/json"]["example"]
    assert client.post("/v1/predict", json=body["example"]).json() == shown
    assert shown["results"][0]["segment_name"] == typical.name
    assert shown["results"][1]["row_status"] == "invalid"
    assert shown["results"][1]["segment_id"] is None  # nulls kept, not dropped
    scored = document["paths"]["/v1/score"]["post"]
    csv_in = scored["requestBody"]["content"]["text/csv"]["example"]
    csv_out = scored["responses"]["200"]["content"]["text/csv"]["example"]
    answer = client.post("/v1/score", content=csv_in.encode(),
                         headers={"Content-Type": "text/csv"})
    assert answer.text == csv_out
    assert csv_out.splitlines()[0].endswith('"row_status","row_issues"')
    model_example = document["paths"]["/v1/model"]["get"]["responses"]["200"]["content"]
    assert model_example["application/json"]["example"] == service_model.summary()


def test_openapi_documents_each_refusal_with_the_error_shape(client):
    document = client.get("/openapi.json").json()
    responses = document["paths"]["/v1/score"]["post"]["responses"]
    assert set(responses) == {"200", "400", "406", "408", "413", "415", "422", "500", "507"}
    error = {"$ref": "#/components/schemas/Error"}
    assert all(responses[c]["content"]["application/json"]["schema"] == error
               for c in responses if c != "200")
    assert set(document["paths"]["/v1/predict"]["post"]["responses"]) == {
        "200", "400", "408", "413", "415", "422", "500"}


def test_examples_of_a_wide_table_model(tmp_path):
    """A model of other columns (a derivation, a category, a date): the example
    customer gives each input column, and the model scores it."""
    from fastapi.testclient import TestClient
    from inspect_tables import marketing

    from custseg.api import fit

    frame = marketing(400)
    model = fit(frame, features="Income,Recency,total",
                derive=["total=sum(`Mnt*`)"], categorical="Education",
                params={"n_clusters": 3})
    with TestClient(create_app(model)) as client:
        document = client.get("/openapi.json").json()
        body = document["paths"]["/v1/predict"]["post"]["requestBody"]["content"][
            "application/json"]
        typical = body["example"]["customers"][0]
        mnt = [c for c in frame.columns if c.startswith("Mnt")]
        # Income is the well-known income field: the example names it by the field
        assert set(typical) == {"customer_id", "annual_income", "Recency", "Education", *mnt}
        assert typical["Education"] in frame["Education"].unique()
        (result, _) = client.post("/v1/predict", json=body["example"]).json()["results"]
        assert result["row_status"] == "ok", result["row_issues"]


# ------------------------------------------------------------------- logs


def test_one_log_line_per_request_without_customer_data(client, caplog):
    client.get("/health")
    client.post("/v1/predict?token=secret-value", json={"customers": [
        {**ROW, "customer_id": "Alice Smith"}, ROW]})
    client.post("/v1/predict", json={"customers": "Alice Smith"})
    client.get("/customers/Alice%20Smith")
    lines = [r.getMessage() for r in caplog.records if r.name == "custseg.service"]
    assert len(lines) == 4
    assert re.fullmatch(r"GET /health 200 rows=- \d+\.\dms", lines[0])
    assert re.fullmatch(r"POST /v1/predict 200 rows=2 \d+\.\dms", lines[1])
    assert re.fullmatch(r"POST /v1/predict 422 rows=- \d+\.\dms", lines[2])
    assert re.fullmatch(r"GET \(no route\) 404 rows=- \d+\.\dms", lines[3])
    text = "\n".join(lines)
    assert "Alice" not in text and "secret" not in text and "token" not in text


def test_the_log_never_holds_the_key(keyed, caplog):
    keyed.get("/v1/model", headers={"X-API-Key": KEY})
    keyed.get("/v1/model", headers={"Authorization": "Bearer wrong-key-here"})
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET /v1/model 200" in text and "GET /v1/model 401" in text
    assert KEY not in text and "wrong-key-here" not in text


def test_a_scored_file_logs_its_rows(client, caplog, inputs):
    client.post("/v1/score", content=inputs["csv"].read_bytes(),
                headers={"Content-Type": "text/csv"})
    (line,) = [r.getMessage() for r in caplog.records if r.name == "custseg.service"]
    assert re.fullmatch(r"POST /v1/score 200 rows=204 \d+\.\dms", line)


def test_with_a_key_the_open_document_shows_no_profile(keyed_app, client, service_model):
    """/openapi.json needs no key (a developer reads the interface), and it showed the
    profile (segment names, sizes, means) as /v1/model's example: the very thing the key
    guards. With a key set, that example is left out; without one, it is the profile."""
    from fastapi.testclient import TestClient

    def model_example(document):
        return document["paths"]["/v1/model"]["get"]["responses"]["200"]["content"][
            "application/json"].get("example")

    with TestClient(keyed_app) as keyed:
        assert keyed.get("/v1/model").status_code == 401
        document = keyed.get("/openapi.json")
    assert document.status_code == 200
    assert model_example(document.json()) is None
    assert model_example(client.get("/openapi.json").json()) == client.get("/v1/model").json()
