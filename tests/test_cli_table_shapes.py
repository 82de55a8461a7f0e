"""The whole workflow on each table shape the "any customer table" issue names.

A marketing export (tab-separated, incomes in dollars with blanks, birth years, dd-mm-yyyy
dates, a family of skewed spend columns, 0/1 flags, constant columns), a credit-card table
(CUST_ID and 17 skewed numeric columns with many zeros, a tenure most customers share) and
a bank table (a row-number column, an id, categorical columns, a balance with many
zeros): each is fitted with the features inspect suggests, then scored, predicted,
reported and compared with no option repeated. Every row comes back; bad cells are
flagged naming their column; names are distinct and in the columns' own words.
"""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest
from cli_helpers import run
from inspect_tables import bank, credit_card, marketing

from custseg.api import input_names
from custseg.cli import main
from custseg.io.model_files import load_model
from custseg.table.headers import match_headers

SHAPES = {
    "marketing": (lambda: marketing(n=600), "\t", ".tsv"),
    "credit_card": (lambda: credit_card(n=600), ",", ".csv"),
    "bank": (lambda: bank(n=600), ",", ".csv"),
}


@pytest.fixture(scope="module", params=sorted(SHAPES))
def shape(request, tmp_path_factory):
    """(name, table file, frame, model fitted with seed 0, model fitted with seed 1)."""
    build, sep, ext = SHAPES[request.param]
    folder = tmp_path_factory.mktemp(request.param)
    frame = build()
    data = folder / f"customers{ext}"
    frame.to_csv(data, sep=sep, index=False, quoting=csv.QUOTE_MINIMAL)
    models = []
    for seed in (0, 1):
        model = folder / f"model{seed}.custseg"
        assert main(["fit", str(data), "-o", str(model), "--seed", str(seed)]) == 0
        models.append(model)
    return request.param, data, frame, *models


def test_fit_uses_the_columns_and_names_segments_in_their_words(shape, capsys):
    name, data, frame, model, _ = shape
    code, out, err = run(capsys, "profile", model, "--json")
    assert code == 0, err
    profile = json.loads(out)
    features = profile["features"]
    assert len(features) >= 3
    id_like = {"ID", "CUST_ID", "RowNumber", "CustomerId"}
    assert not id_like & set(features)  # ids and row numbers are never features
    assert not {"Z_CostContact", "Z_Revenue"} & set(features)  # constants neither
    names = [s["name"] for s in profile["segments"]]
    assert len(set(names)) == len(names)
    for segment in profile["segments"]:
        assert set(segment["means"]) == set(features)
        assert set(segment["levels"]) <= set(features)
    spec = {f["name"]: f for f in profile["features_spec"]}
    assert set(spec) == set(features)
    if name == "credit_card":
        assert "(years)" not in out and "(points)" not in out
    assert "NaN" not in out and "Infinity" not in out


def test_score_gives_every_row_back_with_no_option(shape, capsys, tmp_path):
    name, data, frame, model, _ = shape
    out = tmp_path / "scored.csv"
    code, _, err = run(capsys, "score", model, data, "-o", out)
    assert code == 0, err
    scored = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(scored) == len(frame)
    assert list(scored.columns[:len(frame.columns)]) == list(frame.columns)
    assert (scored[frame.columns] == frame).all().all()  # input cells unchanged
    invalid = scored[scored["row_status"] == "invalid"]
    assert (invalid["segment_id"] == "").all()
    assert (invalid["row_issues"] != "").all()
    ok = scored[scored["row_status"] == "ok"]
    assert len(ok) >= 0.9 * len(frame)
    sizes = {s["id"]: s["size"] for s in json.loads(run(capsys, "profile", model, "--json")[1])
             ["segments"]}
    counts = ok["segment_id"].astype(int).value_counts()
    # the fitted customers land where the fit put them (the assigner's agreement)
    assert sum(abs(counts.get(i, 0) - n) for i, n in sizes.items()) <= 0.1 * sum(sizes.values())


def test_a_bad_cell_of_a_feature_column_is_flagged_naming_it(shape, capsys, tmp_path):
    name, data, frame, model, _ = shape
    spec = load_model(model).config.spec
    column = spec.source_columns()[0]
    bad = frame.head(5).copy()
    bad.loc[2, column] = "lots"
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    out = tmp_path / "scored.csv"
    code, _, err = run(capsys, "score", model, path, "-o", out)
    assert code == 0, err
    scored = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(scored) == 5
    assert scored["row_status"][2] == "invalid"
    assert column in scored["row_issues"][2] and "'lots'" in scored["row_issues"][2]


def test_predict_takes_the_fitted_files_columns(shape, capsys):
    name, data, frame, model, _ = shape
    fitted = load_model(model)
    values = []
    row = frame.iloc[50]
    for column in input_names(fitted):
        header = column if column in frame.columns else fitted.config.spec.mapping.get(column)
        if header is None:  # a well-known field found through the alias table: by the
            header = match_headers(tuple(frame.columns)).source(column)  # file's header
        values += ["--value", f"{header}={row[header]}"]
    code, out, err = run(capsys, "predict", model, *values, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == {"segment_id", "segment_name", "confidence", "atypical"}


def test_report_and_compare_read_the_table_with_no_option(shape, capsys, tmp_path):
    name, data, frame, model, other = shape
    code, _, err = run(capsys, "report", model, "--data", data, "-o", tmp_path / "r.html")
    assert code == 0, err
    html = (tmp_path / "r.html").read_text()
    assert "<html" in html.lower()
    code, out, err = run(capsys, "compare", model, other, "--data", data, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["migration"]["customers"] >= 0.9 * len(frame)
