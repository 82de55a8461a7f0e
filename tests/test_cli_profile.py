"""Issue 16, profiles: medians, categories (--profile-by), RFM names over roles, names in
the columns' words, and the model file's checks of the new fields, through the command
line on the synthetic tables of tests/inspect_tables.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_helpers import one_error_line, run
from hostile_models import PROFILES, forge, set_field
from inspect_tables import credit_card, marketing, rfm

from custseg.io.model_files import load_model


def strict_json(text: str):
    """JSON that must hold no NaN or Infinity."""
    def refuse(token: str):
        raise AssertionError(f"JSON holds {token}")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def marketing_tsv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("mkt") / "marketing.tsv"
    marketing(1_200, seed=4).to_csv(path, sep="\t", index=False)
    return path


MARKETING = ["--income-unit", "$", "--features",
             "Income,Recency,total_spend,NumStorePurchases",
             "--derive", "total_spend = sum(`Mnt*`)", "--param", "n_clusters=5"]


@pytest.fixture(scope="module")
def marketing_fit(marketing_tsv, tmp_path_factory):
    path = tmp_path_factory.mktemp("mktmodel") / "m.custseg"
    import contextlib
    import io

    from custseg.cli import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["fit", str(marketing_tsv), "-o", str(path), *MARKETING, "--json"])
    assert code == 0
    return path, strict_json(out.getvalue())


def test_every_segment_is_profiled_by_the_categorical_and_flag_columns(marketing_fit):
    path, summary = marketing_fit
    model = load_model(path)
    assert model.config.spec.profile_by == (
        "Education", "Marital_Status", "AcceptedCmp3", "AcceptedCmp4", "AcceptedCmp5",
        "AcceptedCmp1", "AcceptedCmp2", "Complain", "Response")
    for s in summary["segments"]:
        assert list(s["categories"]) == list(model.config.spec.profile_by)
        education = {e["value"]: e for e in s["categories"]["Education"]}
        assert set(education) == {"Graduation", "PhD", "Master", "2n Cycle", "Basic", "Absurd",
                                  "YOLO"}
        assert sum(e["share"] for e in education.values()) == pytest.approx(1)
        assert sum(e["count"] for e in education.values()) == s["size"]
        response = {e["value"] for e in s["categories"]["Response"]}
        assert response == {"0", "1"}  # a flag: a share with its lift, no level
        assert "Response" not in s["levels"]
        # rare answers ("Absurd", "YOLO": two customers each) never reach a headline
        assert not any("Absurd" in f or "YOLO" in f for f in s["facts"])
    everyone = model.base.categories["Education"]
    phd = summary["segments"][0]["categories"]["Education"][
        [e["value"] for e in summary["segments"][0]["categories"]["Education"]].index("PhD")]
    assert phd["lift"] == pytest.approx(phd["share"] / everyone["PhD"])


def test_medians_sit_beside_means_in_the_columns_units(marketing_fit, marketing_tsv):
    import pandas as pd

    _, summary = marketing_fit
    frame = pd.read_csv(marketing_tsv, sep="\t", dtype=str, keep_default_na=False)
    recency = pd.to_numeric(frame["Recency"])
    for s in summary["segments"]:
        assert set(s["medians"]) == set(s["means"])
        assert 0 <= s["medians"]["Recency"] <= recency.max()
    # total_spend is logged for the distance, yet its medians are in dollars
    assert max(s["medians"]["total_spend"] for s in summary["segments"]) > 100


def test_a_marketing_table_is_named_in_rfm_words(marketing_fit):
    _, summary = marketing_fit
    names = [s["name"] for s in summary["segments"]]
    rfm_names = {"Champions", "Loyal Customers", "Potential Loyalists", "New Customers",
                 "Recent Occasional Buyers", "Need Attention", "About to Sleep", "At Risk",
                 "Can't Lose Them", "Lost", "Hibernating"}
    # a name the RFM rules share with another segment is told apart by a trait
    assert all(re.sub(r" \(\d+\)$", "", n).split(" · ")[0] in rfm_names for n in names), names
    assert len(set(names)) == len(names)


def test_profile_by_chooses_the_columns_and_travels_to_profile_and_report(
        marketing_tsv, tmp_path, capsys):
    model = tmp_path / "m.custseg"
    code, out, err = run(capsys, "fit", marketing_tsv, "-o", model, *MARKETING,
                         "--profile-by", "education,Response")
    assert code == 0, err
    assert load_model(model).config.spec.profile_by == ("Education", "Response")
    assert "profiled by Education, Response" in out
    code, out, _ = run(capsys, "profile", model, "--json")
    assert list(strict_json(out)["segments"][0]["categories"]) == ["Education", "Response"]
    report = tmp_path / "r.html"
    code, _, err = run(capsys, "report", model, "-o", report, "--data", marketing_tsv,
                       "--income-unit", "$")
    assert code == 0, err
    html = report.read_text()
    assert "<b>Categories</b>" in html and "Graduation" in html and "Marital" not in html


@pytest.mark.parametrize(("profile_by", "words"), [
    ("Country", "no column 'Country' to profile by; the columns are 'ID', 'Year_Birth'"),
    ("Income", "cannot profile by 'Income': it has 1,1"),
])
def test_a_bad_profile_by_column_is_one_clean_line(marketing_tsv, tmp_path, capsys,
                                                   profile_by, words):
    code, _, err = run(capsys, "fit", marketing_tsv, "-o", tmp_path / "m", *MARKETING,
                       "--profile-by", profile_by)
    line = one_error_line(code, err)
    assert words in line and "--profile-by" in line
    assert not (tmp_path / "m").exists()


def test_an_rfm_table_is_named_with_rfm_vocabulary(tmp_path, capsys):
    data = tmp_path / "customers.csv"
    rfm().to_csv(data, index=False)
    code, out, err = run(capsys, "fit", data, "-o", tmp_path / "m", "--features",
                         "recency_days,frequency,monetary,tenure_days", "--param",
                         "n_clusters=4", "--json")
    assert code == 0, err
    summary = strict_json(out)
    names = {s["name"]: s for s in summary["segments"]}
    assert set(names) == {"Champions", "New Customers", "Need Attention", "Lost"}
    champions = names["Champions"]
    assert champions["levels"]["recency_days"] == "low"
    assert champions["strategy"].startswith("Reward and involve them")
    # the newsletter flag is profiled, and its over-representation said with its lift
    assert "newsletter = 1: 90% vs 36% of everyone (2.5×)" in champions["facts"]
    assert champions["medians"]["recency_days"] < 20
    spec = {f["name"]: f for f in summary["features_spec"]}
    assert spec["recency_days"]["unit"] == "days" and spec["monetary"]["role"] == "monetary"


def test_a_credit_card_table_is_named_in_its_columns_words(tmp_path, capsys):
    data = tmp_path / "cards.csv"
    credit_card(1_500).to_csv(data, index=False)
    code, out, err = run(capsys, "fit", data, "-o", tmp_path / "m", "--features",
                         "BALANCE,PURCHASES,CASH_ADVANCE,CREDIT_LIMIT,PAYMENTS", "--param",
                         "n_clusters=5", "--json")
    assert code == 0, err
    names = [s["name"] for s in strict_json(out)["segments"]]
    assert len(set(names)) == len(names)
    words = ("BALANCE", "PURCHASES", "CASH_ADVANCE", "CREDIT_LIMIT", "PAYMENTS")
    for name in names:
        traits = re.sub(r" \(\d+\)$", "", name).split(" · ")
        assert name == "Typical customers" or all(
            t.split(" ", 1)[0] in ("High", "Low") and t.split(" ", 1)[1] in words
            for t in traits), name


def test_the_mall_default_is_profiled_by_gender_and_keeps_its_names(mall_path, tmp_path,
                                                                    capsys):
    code, out, err = run(capsys, "fit", mall_path, "-o", tmp_path / "m", "--json")
    assert code == 0, err
    summary = strict_json(out)
    assert sorted(s["size"] for s in summary["segments"]) == [20, 39, 40, 47, 54]
    for s in summary["segments"]:
        shares = {e["value"]: e["share"] for e in s["categories"]["Gender"]}
        assert shares == pytest.approx({k: v for k, v in s["gender_mix"].items()})


@pytest.mark.parametrize(("change", "where"), [
    (set_field(["segments", 0, "categories", "Gender", 0, "share"], 1.5),
     "segments[0].categories.Gender[0].share"),
    (set_field(["segments", 0, "categories", "Gender", 0, "lift"], -1.0),
     "segments[0].categories.Gender[0].lift"),
    (set_field(["segments", 0, "categories", "Gender", 0, "value"], "x" * 201),
     "segments[0].categories.Gender[0].value"),
    (set_field(["segments", 0, "categories", "Gender"],
               [{"value": str(i), "share": 0.0, "lift": 0.0, "count": 0} for i in range(21)]),
     "segments[0].categories.Gender"),
    (set_field(["segments", 0, "categories", "Plan"], []), "which base.categories does not"),
    (set_field(["segments", 0, "categories", "Gender", 0, "value"], "Other"),
     "values of 'Gender' are not those of base.categories"),
    (set_field(["segments", 0, "medians", "age"], "3"), "segments[0].medians.age"),
    (set_field(["config", "spec", "profile_by"], ["c"] * 21), "config.spec.profile_by"),
])
def test_the_model_file_checks_the_new_fields(mall_path, tmp_path, capsys, change, where):
    model = tmp_path / "m.custseg"
    assert run(capsys, "fit", mall_path, "-o", model)[0] == 0
    bad = tmp_path / "bad.custseg"
    bad.write_bytes(forge(model.read_bytes(), change))
    code, _, err = run(capsys, "profile", bad)
    assert where in one_error_line(code, err)


def test_an_older_model_file_without_the_new_fields_still_loads(mall_path, tmp_path, capsys):
    model = tmp_path / "m.custseg"
    assert run(capsys, "fit", mall_path, "-o", model)[0] == 0

    def older(meta: dict) -> None:
        del meta["base"]["categories"], meta["config"]["spec"]["profile_by"]
        for s in meta["segments"]:
            del s["medians"], s["categories"]
    old = tmp_path / "old.custseg"
    old.write_bytes(forge(model.read_bytes(), older))
    code, out, err = run(capsys, "profile", old, "--json")
    assert code == 0, err
    segment = strict_json(out)["segments"][0]
    assert segment["medians"] == {} and segment["categories"] == {}


def _mall_like(n: int = 200, seed: int = 3):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame({"Age": rng.integers(18, 70, n),
                         "Annual Income (k$)": rng.integers(15, 140, n),
                         "Spending Score (1-100)": rng.integers(1, 100, n)}), rng


@pytest.mark.parametrize(("header", "words"), [
    (" ", "must not be blank"),
    ("\x1b[31mred", "U+001B"),
    ("x\u202ey", "U+202E"),
    ("h" * 101, "101 characters long"),
])
def test_a_header_a_model_cannot_hold_is_skipped_by_default_and_refused_when_asked(
        tmp_path, capsys, header, words):
    frame, rng = _mall_like()
    frame[header] = rng.choice(["p", "q"], len(frame))
    frame["Plan"] = rng.choice(["a", "b"], len(frame))
    data = tmp_path / "t.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "m.custseg"
    code, _, err = run(capsys, "fit", data, "-o", model)
    assert code == 0, err
    assert load_model(model).config.spec.profile_by == ("Plan",)
    warned = [line for line in err.splitlines() if line.startswith("warning: not profiled")]
    assert len(warned) == 1 and words in warned[0], err
    if not header.strip():
        return  # a blank --profile-by names no column (it profiles by none)
    code, _, err = run(capsys, "fit", data, "-o", tmp_path / "m2", "--profile-by", header)
    line = one_error_line(code, err)
    assert "cannot profile by" in line and words in line and "--profile-by" in line


def test_columns_beyond_the_bound_are_left_out_with_a_warning_and_inspect_agrees(
        tmp_path, capsys):
    frame, rng = _mall_like()
    for i in range(25):
        frame[f"cat{i}"] = rng.choice(["a", "b", "c"], len(frame))
    frame["long"] = rng.choice(["x" * 201, "y"], len(frame))  # values too long to profile
    data = tmp_path / "t.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "m.custseg"
    code, _, err = run(capsys, "fit", data, "-o", model)
    assert code == 0, err
    taken = tuple(f"cat{i}" for i in range(20))
    assert load_model(model).config.spec.profile_by == taken
    assert ("warning: 25 columns could be profiled by; profiled by the first 20, 5 left out "
            "('cat20', 'cat21', 'cat22', 'cat23', 'cat24'); choose them with --profile-by"
            ) in err
    code, out, err = run(capsys, "inspect", data, "--json")
    assert code == 0, err
    assert tuple(strict_json(out)["profile_by"]) == taken


@pytest.mark.parametrize(("case", "change", "words"), PROFILES, ids=[c[0] for c in PROFILES])
def test_forged_category_fields_are_refused(marketing_fit, tmp_path, capsys, case, change,
                                            words):
    path, _ = marketing_fit
    bad = tmp_path / f"{case}.custseg"
    bad.write_bytes(forge(path.read_bytes(), change))
    for command in (["profile", bad], ["report", bad, "-o", tmp_path / "r.html"]):
        code, out, err = run(capsys, *command)
        assert words in one_error_line(code, err)
        assert out == ""


def test_report_data_says_which_profiled_columns_it_could_not_profile_by(
        marketing_fit, marketing_tsv, tmp_path, capsys):
    import pandas as pd

    path, _ = marketing_fit
    frame = pd.read_csv(marketing_tsv, sep="\t").drop(columns=["Education"])
    frame["Response"] = [f"r{i % 30}" for i in range(len(frame))]
    data = tmp_path / "new.tsv"
    frame.to_csv(data, sep="\t", index=False)
    report = tmp_path / "r.html"
    code, _, err = run(capsys, "report", path, "-o", report, "--data", data,
                       "--income-unit", "$")
    assert code == 0, err
    html = report.read_text()
    assert ("Not profiled by, in this data: &#x27;Education&#x27; (not in the data); "
            "&#x27;Response&#x27; (it has 30 distinct values; custseg profiles by columns of "
            "at most 20).") in html
    assert "<td>Graduation</td>" not in html and "<td>Married</td>" in html


def test_the_report_shows_control_characters_in_values_as_escapes(tmp_path, capsys):
    frame, rng = _mall_like()
    frame["Plan"] = rng.choice(["\x1b[31mred", "b\x07ell", "x\u202ey<b>"], len(frame))
    data = tmp_path / "t.csv"
    frame.to_csv(data, index=False)
    model, report = tmp_path / "m.custseg", tmp_path / "r.html"
    assert run(capsys, "fit", data, "-o", model)[0] == 0
    code, _, err = run(capsys, "report", model, "-o", report, "--data", data)
    assert code == 0, err
    html = report.read_text()
    assert not any(c in html for c in "\x1b\x07\u202e")
    assert "<td>\\x1b[31mred</td>" in html and "<td>b\\x07ell</td>" in html
    assert "<td>x\\u202ey&lt;b&gt;</td>" in html
