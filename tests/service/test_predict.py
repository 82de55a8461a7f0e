"""POST /v1/predict through FastAPI's TestClient: values read as a scored file's cells,
every customer back in order, the invalid ones flagged, the body checked strictly."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from service_cases import BAD_ROWS

from custseg.io.score_files import score_table
from custseg.io.source import read_table


def predict(client, customers, **kwargs):
    return client.post("/v1/predict", json={"customers": customers}, **kwargs)


def test_a_customer_gets_the_segment_predict_gives(client, service_model):
    from custseg.api import predict_one

    expected = predict_one(service_model, age=30, annual_income=80, spending_score=85)
    response = predict(client, [{"customer_id": "A-1", "age": 30, "annual_income": 80,
                                 "spending_score": 85}])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    (result,) = response.json()["results"]
    assert result == {"customer_id": "A-1", "segment_id": expected["segment_id"],
                      "segment_name": expected["segment_name"],
                      "confidence": expected["confidence"], "atypical": expected["atypical"],
                      "row_status": "ok", "row_issues": ""}


def test_results_equal_the_scored_file_row_for_row(client, service_model, table_frame,
                                                    inputs):
    """The same customers as JSON and as rows of a CSV: the same segment columns and row
    issues, in order (rows 30 to 79 hold the flagged rows, and no repeated id)."""
    part = slice(30, 80)
    scored = score_table(service_model, read_table(inputs["csv"])).iloc[part]
    response = predict(client, table_frame.iloc[part].to_dict(orient="records"))
    assert response.status_code == 200
    results = pd.DataFrame(response.json()["results"])
    assert results["customer_id"].tolist() == table_frame["customer_id"].iloc[part].tolist()
    for column in ("segment_id", "segment_name", "confidence", "atypical", "row_status",
                   "row_issues"):
        want = scored[column].astype(object).where(scored[column].notna(), None).tolist()
        got = results[column].astype(object).where(results[column].notna(), None).tolist()
        assert got == want, column
    assert results["row_status"].tolist().count("invalid") == 3


def test_invalid_customers_are_flagged_in_place(client):
    good = {"customer_id": "G", "age": 35, "annual_income": 60, "spending_score": 50}
    response = predict(client, [good, *BAD_ROWS, {**good, "customer_id": "G2"}])
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["customer_id"] for r in results] == ["G", "B1", "B2", "B3",
                                                   "=cmd|' /C calc'!A0", "G2"]
    assert [r["row_status"] for r in results] == ["ok", "invalid", "invalid", "invalid",
                                                  "ok", "ok"]
    assert results[1]["row_issues"] == "age: 'abc' is not a number"
    assert results[2]["row_issues"] == "annual_income: missing"
    assert "age: 250 years is outside 16–100 years" in results[3]["row_issues"]
    assert "spending_score: 140 points is outside 1–100 points" in results[3]["row_issues"]
    for flagged in results[1:4]:
        assert flagged["segment_id"] is None and flagged["segment_name"] is None
        assert flagged["confidence"] is None and flagged["atypical"] is None
    assert isinstance(results[5]["segment_id"], int)


def test_numbers_are_read_as_written_not_through_a_float(client):
    """70.50 and "70.5" are one cell; 1e400 is a cell that does not read, not infinity."""
    body = (b'{"customers": [{"customer_id": 1, "age": 30, "annual_income": 70.50, '
            b'"spending_score": "80"}, {"customer_id": 2.5, "age": "30", "annual_income": '
            b'"70.5", "spending_score": 80}, {"customer_id": 12345678901234567890123, '
            b'"age": 1e400, "annual_income": 70, "spending_score": 80}]}')
    response = client.post("/v1/predict", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    first, second, third = response.json()["results"]
    assert (first["customer_id"], second["customer_id"]) == (1, 2.5)
    assert third["customer_id"] == 12345678901234567890123  # a big id is not rounded
    assert first["segment_id"] == second["segment_id"] is not None
    assert first["confidence"] == second["confidence"]
    assert third["row_status"] == "invalid"
    assert third["row_issues"] == "age: '1e400' is not a number"


@pytest.mark.parametrize(("value", "said"), [
    (True, "'age' is true/false (true)"), (False, "'age' is true/false (false)"),
    ({"years": 30}, "'age' is an object"), ([30], "'age' is a list"),
])
def test_a_value_no_cell_can_be_makes_the_customer_invalid(client, value, said):
    good = {"customer_id": "G", "age": 35, "annual_income": 60, "spending_score": 50}
    response = predict(client, [good, {**good, "customer_id": "X", "age": value}])
    assert response.status_code == 200
    ok, bad = response.json()["results"]
    assert ok["row_status"] == "ok"
    assert bad["customer_id"] == "X" and bad["row_status"] == "invalid"
    assert bad["row_issues"].startswith(f"not scored: {said}")
    assert bad["segment_id"] is None


def test_an_unused_key_with_an_odd_value_still_flags_the_customer(client):
    response = predict(client, [{"age": 35, "annual_income": 60, "spending_score": 50,
                                 "tags": ["vip"], "notes": "fine"}])
    (result,) = response.json()["results"]
    assert result["row_status"] == "invalid"
    assert result["row_issues"].startswith("not scored: 'tags' is a list")


def test_extra_keys_pass_through_and_headers_match_as_in_a_file(client):
    """Keys are headers: 'Annual Income (k$)' is the income, 'Favourite colour' is
    passed by; a result holds only the contract's fields."""
    response = predict(client, [{"CustomerID": "0042", "Age": "30",
                                 "Annual Income (k$)": "80",
                                 "Spending Score (1-100)": "85", "Favourite colour": "red"}])
    (result,) = response.json()["results"]
    assert result["customer_id"] == "0042"
    assert result["row_status"] == "ok"
    assert set(result) == {"customer_id", "segment_id", "segment_name", "confidence",
                           "atypical", "row_status", "row_issues"}


def test_a_key_no_customer_gives_flags_each_customer_missing_it(client):
    response = predict(client, [{"customer_id": "a", "age": 30, "annual_income": 70},
                                {"customer_id": "b", "age": 40}])
    a, b = response.json()["results"]
    assert a["row_issues"] == "spending_score: missing"
    assert b["row_issues"] == "annual_income: missing; spending_score: missing"
    assert a["row_status"] == b["row_status"] == "invalid"


def test_no_id_comes_back_null_and_a_repeated_id_is_noted(client):
    row = {"age": 30, "annual_income": 70, "spending_score": 80}
    response = predict(client, [row, {**row, "customer_id": "7"}, {**row, "customer_id": 7}])
    none, first, second = response.json()["results"]
    assert none["customer_id"] is None
    assert (first["customer_id"], second["customer_id"]) == ("7", 7)
    # the cells are both '7': a repeated id, as two rows of a file, same values
    assert first["row_issues"] == "customer_id '7' also on row 3 (same values)"
    assert second["row_status"] == "ok"


def test_a_lone_surrogate_is_read_as_a_file_would_and_answered(client):
    body = (b'{"customers": [{"customer_id": "\\ud800x", "age": 30, "annual_income": 70, '
            b'"spending_score": 80}]}')
    response = client.post("/v1/predict", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert result["customer_id"] == "\ud800x"
    assert result["row_status"] == "ok"


# ------------------------------------------------------------------ refusals


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and body["error"]
    assert "Traceback" not in body["error"]
    return body["error"]


def post(client, body: bytes, content_type: str = "application/json"):
    return client.post("/v1/predict", content=body, headers={"Content-Type": content_type})


@pytest.mark.parametrize(("body", "said"), [
    (b"", "the body is empty"),
    (b"{not json", "the body is not valid JSON (Expecting property name"),
    (b'{"customers": [{"age": 1, "age": 2}]}', "the key 'age' appears twice"),
    (b'{"customers": [{"age": NaN}]}', "NaN is not a JSON number"),
    (b'{"customers": [{"age": Infinity}]}', "Infinity is not a JSON number"),
    (b'{"customers": [{"age": -Infinity}]}', "-Infinity is not a JSON number"),
    (b'{"customers": [{"age": ' + b"[" * 40 + b"]" * 40 + b"}]}", "nests deeper than 32"),
    (b"[" * 30_000 + b"]" * 30_000, "nests deeper than 32"),
    (b'{"customers": [{"age": "\xff"}]}', "not UTF-8"),
])
def test_an_unreadable_body_is_400(client, body, said):
    assert said in error_of(post(client, body), 400)


@pytest.mark.parametrize(("document", "said"), [
    ([], "the body is a list; send a JSON object"),
    ({"customer": []}, "the body has the key 'customer'"),
    ({}, 'the body has no "customers"'),
    ({"customers": {}}, '"customers" is an object; it must be a list'),
    ({"customers": []}, '"customers" is empty'),
    ({"customers": [1]}, "customers[0] is a number; each customer is an object"),
    ({"customers": [{"age": 1}, "x"]}, "customers[1] is a string"),
    ({"customers": [{"age": 1}] * 51}, "51 customers in one request; this service takes at "
                                      "most 50"),
    ({"customers": [{"age": "9" * 10_001}]}, "is 10,001 characters long"),
    ({"customers": [{"k" * 10_001: 1}]}, "a key of 10,001 characters"),
    ({"customers": [{f"c{i}": 1 for i in range(1_001)}]}, "more than 1,000 different keys"),
])
def test_a_body_of_the_wrong_shape_is_422(client, document, said):
    assert said in error_of(post(client, json.dumps(document).encode()), 422)


def test_a_mapping_conflict_is_422_not_500(client):
    """Two columns for one field under different units: refused as a file with that
    header would be (one customer giving one field twice is flagged instead: see
    test_hostile.py)."""
    message = error_of(predict(client, [
        {"age": 1, "Annual Income (k$)": 3, "spending_score": 4},
        {"age": 1, "Annual Income ($)": 3000, "spending_score": 4}]), 422)
    assert message.startswith("columns 'Annual Income (k$)' and 'Annual Income ($)' ")
    assert "could each be annual_income" in message


def test_a_body_over_the_json_cap_is_413(client):
    customers = [{"customer_id": "x" * 9_000, "age": 30}] * 10
    message = error_of(predict(client, customers), 413)
    assert "larger than this service takes for a JSON" in message


def test_a_body_that_is_not_json_is_415(client):
    message = error_of(post(client, b"age,income\n1,2\n", "text/csv"), 415)
    assert "POST it to /v1/score" in message


def test_json_with_a_charset_or_a_suffix_type_is_taken(client):
    body = json.dumps({"customers": [{"age": 30, "annual_income": 70,
                                      "spending_score": 80}]}).encode()
    assert post(client, body, "application/json; charset=utf-8").status_code == 200
    assert post(client, body, "application/vnd.custseg+json").status_code == 200
