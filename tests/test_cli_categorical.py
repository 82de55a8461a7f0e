"""Issue 16: clustering on categorical columns (``--categorical``) and K-Prototypes.

On synthetic tables of the public shapes (tests/inspect_tables.py: a bank's Geography and
Gender, a marketing export's Education and Marital_Status with rare odd answers): the
categories seen at fit travel in the model; score, predict, report and compare replay
them with no option repeated; a value unseen at fit, a blank or an overlong text is
flagged on its row naming the column; a column of thousands of values is refused at fit.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from cli_helpers import one_error_line, run
from hostile_models import CATEGORICAL, forge, set_field
from inspect_tables import bank, marketing

import custseg
from custseg.cluster.features import CATEGORY_WEIGHT, FeatureEncoding
from custseg.errors import ModelFileError
from custseg.io.model_files import load_model, model_bytes, model_from_bytes

BANK_FEATURES = "Age,Balance,CreditScore"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("categorical")
    bank(600).to_csv(folder / "bank.csv", index=False)
    marketing(700).to_csv(folder / "marketing.tsv", sep="\t", index=False)
    return folder


@pytest.fixture(scope="module")
def bank_model(files):
    """K-Means on three numeric columns and Geography, seed 0."""
    model = custseg.fit(pd.read_csv(files / "bank.csv", dtype=str, keep_default_na=False),
                        features=BANK_FEATURES, categorical="Geography")
    path = files / "bank.custseg"
    path.write_bytes(model_bytes(model))
    return model, path


def test_fit_json_describes_the_categorical_feature(capsys, files):
    code, out, err = run(capsys, "fit", files / "bank.csv", "-o", files / "fit.custseg",
                         "--features", BANK_FEATURES, "--categorical", "Geography", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert "NaN" not in out and "Infinity" not in out
    assert summary["features"] == ["age", "Balance", "CreditScore"]
    assert summary["categorical"] == ["Geography"]
    kinds = {f["name"]: f["kind"] for f in summary["features_spec"]}
    assert kinds == {"age": "numeric", "Balance": "numeric", "CreditScore": "numeric",
                     "Geography": "categorical"}
    geo = summary["features_spec"][-1]
    assert geo["categories"] == ["France", "Germany", "Spain"]
    assert geo["encoding"] == "onehot" and geo["transform"] == "none"
    for segment in summary["segments"]:  # numbers only in means, levels and drivers
        assert set(segment["means"]) == set(summary["features"])
        assert set(segment["levels"]) == set(summary["features"])
    model = load_model(files / "fit.custseg")
    assert model.encoding.categorical == (("Geography", ("France", "Germany", "Spain")),)
    assert model.config.spec.get("Geography").categories == ("France", "Germany", "Spain")
    assert model.fitted.reference_X.shape[1] == 3 + 3


def test_each_category_weighs_as_much_as_one_numeric_feature():
    """Two customers who differ only in their category are √2 apart: the RMS distance of
    two customers on one standardised feature."""
    enc = FeatureEncoding(features=("x",), means=(0.0,), scales=(1.0,),
                          categorical=(("colour", ("blue", "green", "red")),))
    X = enc.transform(pd.DataFrame({"x": [0.5, 0.5, 0.5], "colour": ["red", "blue", "red"]}))
    assert X.tolist() == [[0.5, 0, 0, CATEGORY_WEIGHT], [0.5, CATEGORY_WEIGHT, 0, 0],
                          [0.5, 0, 0, CATEGORY_WEIGHT]]
    assert np.linalg.norm(X[0] - X[1]) == pytest.approx(np.sqrt(2))
    assert np.linalg.norm(X[0] - X[2]) == 0
    assert enc.blocks == (3,) and enc.needs == ("x", "colour")


def test_scoring_the_fitted_file_replays_the_fit(capsys, files, bank_model):
    model, path = bank_model
    code, _, err = run(capsys, "score", path, files / "bank.csv", "-o", files / "scored.csv",
                       "--force")
    assert code == 0, err
    scored = pd.read_csv(files / "scored.csv")
    assert (scored["row_status"] == "ok").all()
    agreement = float(np.mean(scored["segment_id"].to_numpy() == model.labels))
    assert agreement >= model.fitted.fidelity.cv_agreement - 0.02
    assert agreement > 0.95


def test_bad_categories_are_flagged_on_their_rows(capsys, files, bank_model):
    _, path = bank_model
    rows = bank(8, seed=5)
    rows["Geography"] = ["Spain", "  Germany ", "", "spain", "Italy", "x" * 5_000, "NA",
                         "France"]
    rows.to_csv(files / "bad.csv", index=False)
    code, _, err = run(capsys, "score", path, files / "bad.csv", "-o", files / "bad-out.csv",
                       "--force")
    assert code == 0, err
    scored = pd.read_csv(files / "bad-out.csv", keep_default_na=False)
    assert len(scored) == 8
    assert scored["CustomerId"].astype(str).tolist() == rows["CustomerId"].tolist()
    assert scored["row_status"].tolist() == ["ok", "ok", "invalid", "invalid", "invalid",
                                             "invalid", "invalid", "ok"]
    issues = scored["row_issues"].tolist()
    assert issues[2] == issues[6] == "Geography: missing"
    assert issues[3].startswith("Geography: 'spain' was not seen when the model was fitted")
    assert "did you mean 'Spain'? (case counts)" in issues[3]
    assert issues[4].startswith("Geography: 'Italy' was not seen")
    assert "'France', 'Germany', 'Spain'" in issues[4]
    assert "has 5,000 characters, more than the 200 a category may have" in issues[5]
    assert len(issues[5]) < 200
    assert scored.loc[2, "segment_id"] == ""  # invalid rows keep empty segment fields


def test_predict_takes_the_category_by_value(capsys, bank_model):
    _, path = bank_model
    base = ["predict", path, "--value", "Age=40", "--value", "Balance=100000",
            "--value", "CreditScore=650", "--json"]
    code, out, err = run(capsys, *base, "--value", "Geography=Germany")
    assert code == 0, err
    assert set(json.loads(out)) == {"segment_id", "segment_name", "confidence", "atypical"}
    code, _, err = run(capsys, *base, "--value", "Geography=Narnia")
    line = one_error_line(code, err)
    assert "Geography: 'Narnia' was not seen when the model was fitted" in line
    code, _, err = run(capsys, *base)
    assert "Geography" in one_error_line(code, err)


def test_report_and_compare_read_the_categories(capsys, files, bank_model):
    _, path = bank_model
    code, _, err = run(capsys, "report", path, "-o", files / "r.html", "--data",
                       files / "bank.csv", "--force")
    assert code == 0, err
    code, _, err = run(capsys, "fit", files / "bank.csv", "-o", files / "again.custseg",
                       "--features", BANK_FEATURES, "--categorical", "Geography", "--seed", "1")
    assert code == 0, err
    code, out, err = run(capsys, "compare", path, files / "again.custseg", "--data",
                         files / "bank.csv", "--json")
    assert code == 0, err
    moved = json.loads(out)
    assert moved["migration"]["customers"] == 600
    assert sum(map(sum, moved["migration"]["counts"])) == 600
    code, _, err = run(capsys, "fit", files / "bank.csv", "-o", files / "other.custseg",
                       "--features", BANK_FEATURES, "--categorical", "Geography", "--reference",
                       files / "fit.custseg")
    assert code == 0, err


def test_kprototypes_on_mixed_marketing_data(capsys, files):
    code, out, err = run(capsys, "fit", files / "marketing.tsv", "-o", files / "kp.custseg",
                         "--income-unit", "$", "-a", "kprototypes",
                         "--features", "Recency,MntWines,Kidhome",
                         "--categorical", "Education,Marital_Status", "--param", "n_clusters=4",
                         "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["algorithm"] == "kprototypes"
    assert summary["params"] == {"n_clusters": 4, "gamma": 1.0, "init": "Huang", "n_init": 3,
                                 "max_iter": 10}
    assert len(summary["segments"]) == 4
    assert sum(s["size"] for s in summary["segments"]) == 700
    assert summary["metrics"]["fidelity"]["cv_agreement"] > 0.8
    model = load_model(files / "kp.custseg")
    # the rare answers (Absurd, YOLO) are categories like any other
    assert dict(model.encoding.categorical)["Education"] == (
        "2n Cycle", "Absurd", "Basic", "Graduation", "Master", "PhD", "YOLO")
    assert model.fitted.params["categorical_blocks"] == (7, 6)
    code, _, err = run(capsys, "score", files / "kp.custseg", files / "marketing.tsv",
                       "--income-unit", "$", "-o", files / "kp.csv", "--force")
    assert code == 0, err
    scored = pd.read_csv(files / "kp.csv")
    assert (scored["row_status"] == "ok").all()
    # the assigner replays the fit: each segment keeps (nearly) its fitted size
    sizes = {s["id"]: s["size"] for s in summary["segments"]}
    counts = scored["segment_id"].value_counts().to_dict()
    assert sum(abs(counts.get(i, 0) - n) for i, n in sizes.items()) <= 0.1 * 700


def test_segments_follow_a_category_the_numbers_do_not_show():
    """Half the customers on each plan, one numeric column of noise: four segments are
    the two plans, each cut in two by the number; none mixes the plans."""
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"a": rng.normal(0, 1, n).round(3).astype(str),
                          "Plan": np.where(np.arange(n) < n // 2, "gold", "basic")})
    for algorithm in ("kprototypes", "kmeans"):
        model = custseg.fit(frame, algorithm=algorithm, features="a", categorical="Plan",
                            params={"n_clusters": 4})
        mixed = pd.crosstab(model.labels, frame["Plan"]).min(axis=1)
        assert mixed.tolist() == [0, 0, 0, 0], algorithm


def test_kprototypes_without_categories_says_it_is_kmeans():
    from custseg.table.sample import make_customers

    model = custseg.fit(make_customers(300, seed=1), algorithm="kprototypes")
    assert model.warnings[0].startswith("K-Prototypes was given no categorical feature")


def test_categories_that_look_like_numbers_stay_text(tmp_path):
    frame = bank(300, seed=3)
    frame["Plan"] = np.resize(["1", "01", "2", "10"], 300)
    model = custseg.fit(frame, features="Age,Balance", categorical="Plan")
    assert dict(model.encoding.categorical)["Plan"] == ("01", "1", "10", "2")
    rows = frame.head(3).assign(Plan=["1", "1.0", " 01 "])
    scored = custseg.score(model, rows)
    assert scored["row_status"].tolist() == ["ok", "invalid", "ok"]
    assert scored["row_issues"].tolist()[1].startswith("Plan: '1.0' was not seen")


def test_too_many_categories_are_refused_at_fit(capsys, tmp_path):
    frame = bank(10_000, seed=4)
    frame["Code"] = [f"Z{i:05d}" for i in range(10_000)]
    frame.to_csv(tmp_path / "codes.csv", index=False)
    code, _, err = run(capsys, "fit", tmp_path / "codes.csv", "-o", tmp_path / "m.custseg",
                       "--features", "Age", "--categorical", "Code")
    line = one_error_line(code, err)
    assert "'Code' has 10,000 different values" in line
    assert "more than the 100 a model clusters on" in line
    assert "group its values into fewer categories" in line
    assert not (tmp_path / "m.custseg").exists()


@pytest.mark.parametrize(("args", "words"), [
    (["--categorical", "Gender"], "is the table's gender column: switch gender on"),
    (["--categorical", "Age"], "cannot be a categorical feature"),
    (["--categorical", "Nowhere"], "unknown feature 'Nowhere'"),
    (["--features", "Age,Geography", "--categorical", "Geography"], "named both"),
    (["--categorical", "Geography", "--transform", "Geography=log1p"], "is categorical"),
    (["--categorical", "Exited,Geography", "--features", "Age", "--range", "age=40:41"],
     None),
])
def test_bad_categorical_options_are_refused(capsys, files, args, words):
    base = ["fit", files / "bank.csv", "-o", files / "refused.custseg", "--force"]
    if "--features" not in args:
        base += ["--features", "Age"]
    code, _, err = run(capsys, *base, *args)
    if words is None:  # a legal fit on two categorical columns
        assert code == 0, err
        return
    assert words in one_error_line(code, err)


def test_suggest_takes_the_categorical_columns(capsys, files):
    code, out, err = run(capsys, "suggest", files / "bank.csv", "--features", BANK_FEATURES,
                         "--categorical", "Geography", "-a", "kprototypes", "--json")
    assert code == 0, err
    assert 2 <= json.loads(out)["recommended"]["n_clusters"] <= 10


# ----------------------------------------------------------------- forged model files


@pytest.mark.parametrize(("case", "change", "words"), CATEGORICAL,
                         ids=[c[0] for c in CATEGORICAL])
def test_forged_categorical_fields_are_refused(bank_model, case, change, words):
    data = model_bytes(bank_model[0])
    with pytest.raises(ModelFileError, match="(?s).*" + words):
        model_from_bytes(forge(data, change))


def test_blocks_forged_on_kmeans_are_refused(bank_model):
    """K-Means reads no blocks: a kmeans model that claims some is inconsistent."""
    data = model_bytes(bank_model[0])
    with pytest.raises(ModelFileError, match="categorical_blocks"):
        model_from_bytes(forge(data, set_field(["segmenter", "params", "categorical_blocks"],
                                               [3])))


def test_a_model_without_categories_writes_what_it_always_wrote(demo_model):
    meta = json.loads(__import__("zipfile").ZipFile(
        __import__("io").BytesIO(model_bytes(demo_model))).read("model.json"))
    assert "categorical_blocks" not in meta["segmenter"]["params"]
    assert meta["encoding"]["categorical"] == []
    assert all("kind" not in f for f in meta["config"]["spec"]["extra"])
