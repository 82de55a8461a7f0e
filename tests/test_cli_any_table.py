"""Issue 16, first part: features beyond the well-known fields, through the command line.

Synthetic tables of the public shapes (a credit-card table of skewed columns with many
zeros; a marketing table with spend columns to derive a total from), built here. What is
checked: input headers and derived names as features, the auto log transform, the model
keeping how to find its columns (score, predict, report and profile need no option
again), bad cells of the new columns flagged naming the column, and clean refusals.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import one_error_line, run

import custseg
from custseg.io.model_files import load_model
from custseg.table.spec import role_of

CARD_COLUMNS = ["BALANCE", "PURCHASES", "CASH_ADVANCE", "CREDIT_LIMIT", "PAYMENTS"]


def card_table(n: int = 1_200, seed: int = 0) -> pd.DataFrame:
    """CUST_ID and skewed money columns: many zeros, a long right tail, and a TENURE most
    customers share (12)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"CUST_ID": [f"C{10001 + i}" for i in range(n)]})
    frame["BALANCE"] = np.round(rng.lognormal(6, 1.5, n), 2)
    frame["PURCHASES"] = np.where(rng.random(n) < 0.3, 0, np.round(rng.lognormal(5, 1.5, n), 2))
    frame["CASH_ADVANCE"] = np.where(rng.random(n) < 0.5, 0,
                                     np.round(rng.lognormal(6, 1.2, n), 2))
    frame["CREDIT_LIMIT"] = np.round(rng.lognormal(8, 0.6, n), -2)
    frame["PAYMENTS"] = np.round(rng.lognormal(6.5, 1.1, n), 2)
    frame["TENURE"] = np.where(rng.random(n) < 0.85, 12, rng.integers(6, 12, n))
    return frame


@pytest.fixture(scope="module")
def card_csv(tmp_path_factory) -> Path:
    frame = card_table().astype({c: object for c in CARD_COLUMNS})
    frame.loc[3, "BALANCE"] = "n/a"  # missing: that row is invalid, said by column
    frame.loc[7, "PURCHASES"] = "lots"  # not a number
    path = tmp_path_factory.mktemp("card") / "cards.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def card_model(card_csv, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cardmodel") / "cards.custseg"
    code = custseg_cli("fit", card_csv, "-o", path, "--features",
                       "BALANCE,PURCHASES,CASH_ADVANCE,CREDIT_LIMIT,pay_ratio",
                       "--derive", "pay_ratio = PAYMENTS / (BALANCE + 1)")
    assert code == 0
    return path


def custseg_cli(*args) -> int:
    from custseg.cli import main

    return main([str(a) for a in args])


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_fit_on_headers_and_a_derivation_says_what_it_did(card_csv, tmp_path, capsys):
    code, out, err = run(capsys, "fit", card_csv, "-o", tmp_path / "m", "--features",
                         "BALANCE,PURCHASES,CASH_ADVANCE,CREDIT_LIMIT,pay_ratio", "--derive",
                         "pay_ratio = PAYMENTS / (BALANCE + 1)", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["features"] == ["BALANCE", "PURCHASES", "CASH_ADVANCE", "CREDIT_LIMIT",
                                   "pay_ratio"]
    spec = {f["name"]: f for f in summary["features_spec"]}
    assert spec["BALANCE"] == {"name": "BALANCE", "source": "column", "kind": "numeric",
                               "role": "balance", "unit": "", "transform": "log1p",
                               "column": "BALANCE"}
    assert spec["PURCHASES"]["role"] == "monetary"  # from the role alias table
    assert spec["pay_ratio"]["source"] == "derived"
    assert spec["pay_ratio"]["expr"] == "PAYMENTS / (BALANCE + 1)"
    assert summary["data_quality"]["n_input"] == 1_200
    assert summary["data_quality"]["n_invalid"] == 2
    assert summary["data_quality"]["reasons"] == {"BALANCE missing": 1,
                                                  "PURCHASES not a number": 1}
    segment = summary["segments"][0]
    assert set(segment["means"]) == set(summary["features"])
    assert set(segment["levels"]) == set(summary["features"])
    names = [s["name"] for s in summary["segments"]]
    assert len(set(names)) == len(names)
    for name in names:  # in the columns' own words, never the Mall fields'
        assert "spending" not in name.lower() and "income" not in name.lower()
        assert any(c in name for c in [*CARD_COLUMNS, "pay_ratio"]) or name == "Typical customers"


def test_means_are_in_the_columns_units_not_the_log_scale(card_csv, card_model):
    model = load_model(card_model)
    frame = pd.read_csv(card_csv)
    valid = pd.to_numeric(frame["BALANCE"], errors="coerce").dropna()
    weighted = sum(s.means["BALANCE"] * s.size for s in model.segments) / model.base.n
    assert model.base.means["BALANCE"] == pytest.approx(weighted)
    assert model.base.means["BALANCE"] == pytest.approx(valid.drop(7, errors="ignore").mean(),
                                                        rel=0.01)
    # skewed money takes the log; the monetary one (net value) the signed log
    monetary = [role_of(f, model.config.spec) == "monetary" for f in model.config.features[:4]]
    assert monetary.count(True) == 1
    assert model.encoding.transforms[:4] == tuple(
        "signed_log1p" if m else "log1p" for m in monetary)


def test_score_replays_the_columns_and_the_derivation(card_csv, card_model, tmp_path, capsys):
    """Scoring the fitted file needs no option: the same columns are found, the same
    derivation and transforms applied, so each fitted customer lands in its segment."""
    code, _, err = run(capsys, "score", card_model, card_csv, "-o", tmp_path / "s.csv")
    assert code == 0, err
    out = rows(tmp_path / "s.csv")
    assert len(out) == 1_200
    assert [r["CUST_ID"] for r in out] == [f"C{10001 + i}" for i in range(1_200)]
    assert out[3]["row_status"] == "invalid" and out[3]["row_issues"] == "BALANCE: missing"
    assert out[7]["row_issues"] == "PURCHASES: 'lots' is not a number"
    model = load_model(card_model)
    frame = pd.read_csv(card_csv)
    values = custseg.score(model, frame)
    assert [None if pd.isna(v) else int(v) for v in values["segment_id"]] == [
        None if r["segment_id"] == "" else int(r["segment_id"]) for r in out]


def test_predict_takes_the_input_columns(card_model, capsys):
    code, out, err = run(capsys, "predict", card_model, "--value", "BALANCE=100",
                         "--value", "PURCHASES=50", "--value", "CASH_ADVANCE=0",
                         "--value", "CREDIT_LIMIT=3000", "--value", "PAYMENTS=400", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == {"segment_id", "segment_name", "confidence", "atypical"}
    model = load_model(card_model)
    row = pd.DataFrame([{"BALANCE": 100, "PURCHASES": 50, "CASH_ADVANCE": 0,
                         "CREDIT_LIMIT": 3000, "PAYMENTS": 400}])
    assert result["segment_id"] == int(custseg.score(model, row)["segment_id"].iloc[0])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--value", "BALANCE=100"], "missing PURCHASES, CASH_ADVANCE, CREDIT_LIMIT, PAYMENTS"),
        (["--value", "pay_ratio=3"], "pay_ratio is computed (PAYMENTS / (BALANCE + 1)); give"),
        (["--value", "HEIGHT=3"], "this model reads no column 'HEIGHT'"),
        (["--value", "BALANCE"], "--value 'BALANCE' should look like NAME=VALUE"),
    ],
)
def test_predict_refuses_what_the_model_cannot_use(card_model, capsys, args, words):
    code, _, err = run(capsys, "predict", card_model, *args)
    assert words in one_error_line(code, err)


def test_a_table_without_the_models_columns_is_refused_by_name(card_model, tmp_path, capsys):
    path = tmp_path / "mall_like.csv"
    custseg.make_customers(20, seed=0).to_csv(path, index=False)
    code, _, err = run(capsys, "score", card_model, path, "-o", tmp_path / "s.csv")
    line = one_error_line(code, err)
    assert "the model reads the column 'BALANCE', which this table does not have" in line
    assert not (tmp_path / "s.csv").exists()


def test_headers_match_after_normalisation_when_scoring(card_csv, card_model, tmp_path, capsys):
    frame = pd.read_csv(card_csv).rename(columns={"CASH_ADVANCE": "Cash Advance",
                                                  "BALANCE": "balance"})
    path = tmp_path / "renamed.csv"
    frame.to_csv(path, index=False)
    code, _, err = run(capsys, "score", card_model, path, "-o", tmp_path / "s.csv")
    assert code == 0, err
    assert rows(tmp_path / "s.csv")[0]["row_status"] == "ok"


def test_report_and_profile_use_the_columns(card_csv, card_model, tmp_path, capsys):
    code, out, err = run(capsys, "profile", card_model)
    assert code == 0, err
    assert "CASH_ADVANCE" in out and "(years)" not in out and "(points)" not in out
    code, _, err = run(capsys, "report", card_model, "--data", card_csv, "-o",
                       tmp_path / "r.html")
    assert code == 0, err
    html = (tmp_path / "r.html").read_text()
    assert "pay_ratio" in html and "CREDIT_LIMIT" in html


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--features", "BALANCE,NOPE"], "unknown feature 'NOPE': it is neither a well-known "
         "field, a derived feature nor a column of the table; choose from"),
        (["--features", "BALANCE,r", "--derive", "r=BALANCE +* 2"],
         "derivation 'r=BALANCE +* 2': at character 12, expected a number"),
        (["--features", "BALANCE", "--derive", "r=BALANCE * 2"],
         "the derived feature 'r' is not among --features"),
        (["--features", "BALANCE,r", "--derive", "r=sum(`Mnt*`)"], "Mnt*"),
        (["--features", "BALANCE", "--transform", "BALANCE=sqrt"],
         "transform 'sqrt' for 'BALANCE' is not one of auto, none, log1p, signed_log1p"),
        (["--features", "BALANCE", "--transform", "PURCHASES=log1p"],
         "a transform is given for 'PURCHASES', which is not a feature of this fit"),
        (["--features", "BALANCE", "--transform", "BALANCE"],
         "--transform 'BALANCE' should look like NAME=VALUE"),
    ],
)
def test_bad_feature_options_are_one_clean_line(card_csv, tmp_path, capsys, args, words):
    code, _, err = run(capsys, "fit", card_csv, "-o", tmp_path / "m", *args)
    assert words in one_error_line(code, err)
    assert not (tmp_path / "m").exists()


def test_a_transform_can_be_switched_off(card_csv, tmp_path, capsys):
    code, out, err = run(capsys, "fit", card_csv, "-o", tmp_path / "m", "--features",
                         "BALANCE,CREDIT_LIMIT", "--transform", "BALANCE=none", "--json")
    assert code == 0, err
    spec = {f["name"]: f["transform"] for f in json.loads(out)["features_spec"]}
    assert spec == {"BALANCE": "none", "CREDIT_LIMIT": "log1p"}


def test_a_derivation_of_many_columns_by_pattern(tmp_path, capsys):
    """A marketing table's total spend from its Mnt* columns; the model stores the
    columns the pattern matched, so a file missing one is refused when scoring."""
    rng = np.random.default_rng(1)
    n = 600
    frame = pd.DataFrame({"ID": range(n), "Kidhome": rng.integers(0, 3, n),
                          "Recency": rng.integers(0, 100, n)})
    for name in ["MntWines", "MntFruits", "MntMeat"]:
        frame[name] = np.round(rng.lognormal(3, 1.4, n))
    path = tmp_path / "marketing.tsv"
    frame.to_csv(path, sep="\t", index=False)
    code, out, err = run(capsys, "fit", path, "-o", tmp_path / "m", "--features",
                         "Recency,total_spend", "--derive", "total_spend = sum(`Mnt*`)",
                         "--json")
    assert code == 0, err
    spec = {f["name"]: f for f in json.loads(out)["features_spec"]}
    assert spec["total_spend"]["expr"] == "sum(MntWines, MntFruits, MntMeat)"
    means = json.loads(out)["segments"]
    total = frame[["MntWines", "MntFruits", "MntMeat"]].sum(axis=1)
    everyone = sum(s["means"]["total_spend"] * s["size"] for s in means) / n
    assert everyone == pytest.approx(total.mean())
    frame.drop(columns="MntFruits").to_csv(tmp_path / "less.tsv", sep="\t", index=False)
    code, _, err = run(capsys, "score", tmp_path / "m", tmp_path / "less.tsv", "-o",
                       tmp_path / "s.csv")
    assert "the model reads the column 'MntFruits'" in one_error_line(code, err)


def test_a_derivation_undefined_on_a_row_flags_that_row(tmp_path, capsys):
    frame = card_table(300)
    frame.loc[0, "CREDIT_LIMIT"] = 0
    path = tmp_path / "zero.csv"
    frame.to_csv(path, index=False)
    code, _, err = run(capsys, "fit", path, "-o", tmp_path / "m", "--features",
                       "BALANCE,use", "--derive", "use = BALANCE / CREDIT_LIMIT")
    assert code == 0, err
    code, _, err = run(capsys, "score", tmp_path / "m", path, "-o", tmp_path / "s.csv")
    first = rows(tmp_path / "s.csv")[0]
    assert first["row_status"] == "invalid"
    assert first["row_issues"].startswith("use: BALANCE / CREDIT_LIMIT cannot be computed here")


def test_the_mall_default_is_unchanged_by_the_new_options(mall_path, tmp_path, capsys):
    code, out, err = run(capsys, "fit", mall_path, "-o", tmp_path / "m", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert [s["size"] for s in summary["segments"]] == [54, 47, 40, 39, 20]
    assert [f["transform"] for f in summary["features_spec"]] == ["none"] * 3
    assert [f["source"] for f in summary["features_spec"]] == ["field"] * 3
    # the Mall headers as features are the well-known fields
    code, out, err = run(capsys, "fit", mall_path, "-o", tmp_path / "m2", "--features",
                         "Annual Income (k$),Spending Score (1-100)", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["features"] == ["annual_income", "spending_score"]
    assert [s["size"] for s in summary["segments"]] == [81, 39, 35, 23, 22]


def test_a_table_without_the_mall_fields_is_fitted_on_inspects_suggestion(card_csv, tmp_path,
                                                                          capsys):
    """No --features and no Mall fields: the features custseg inspect suggests, said in a
    warning; --features auto asks for the same on any table."""
    code, out, err = run(capsys, "fit", card_csv, "-o", tmp_path / "m", "--json")
    assert code == 0, err
    assert err.startswith("warning: features chosen from the table's columns, as custseg "
                          "inspect suggests: BALANCE, PURCHASES, CASH_ADVANCE, CREDIT_LIMIT, "
                          "PAYMENTS, TENURE; choose others with --features on the command line")
    summary = json.loads(out)
    assert summary["features"] == [*CARD_COLUMNS, "TENURE"]
    assert summary["warnings"][0].startswith("features chosen from the table's columns")
    code, out, err = run(capsys, "fit", card_csv, "-o", tmp_path / "m2", "--features", "auto",
                         "--json")
    assert code == 0, err
    assert json.loads(out)["features"] == summary["features"]


def test_suggest_takes_the_same_features_as_fit(card_csv, capsys):
    code, out, err = run(capsys, "suggest", card_csv, "--features", "BALANCE,pay_ratio",
                         "--derive", "pay_ratio = PAYMENTS / (BALANCE + 1)", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["n_rows"] == 1_199  # the row missing BALANCE is left out, as fit does
    assert result["recommended"]["n_clusters"] >= 2



@pytest.fixture(scope="module")
def marketing_tsv(tmp_path_factory) -> Path:
    from inspect_tables import marketing

    frame = marketing(800, seed=2)
    frame.loc[4, "Dt_Customer"] = "31-02-2013"  # no such day
    frame.loc[5, "Year_Birth"] = ""  # missing
    path = tmp_path_factory.mktemp("mkt") / "marketing.tsv"
    frame.to_csv(path, sep="\t", index=False)
    return path


MARKETING_FIT = ["--income-unit", "$", "--features",
                 "age,tenure_days,Recency,total_spend,NumWebPurchases",
                 "--derive", "age = years_since(Year_Birth)",
                 "--derive", "tenure_days = days_since(Dt_Customer, \"2014-12-31\")",
                 "--derive", "total_spend = sum(`Mnt*`)"]


def test_dates_and_birth_years_derive_age_and_tenure(marketing_tsv, tmp_path, capsys):
    code, out, err = run(capsys, "fit", marketing_tsv, "-o", tmp_path / "m", *MARKETING_FIT,
                         "--json")
    assert code == 0, err
    summary = json.loads(out)
    spec = {f["name"]: f for f in summary["features_spec"]}
    assert spec["age"]["role"] == "age" and spec["age"]["unit"] == "years"
    assert spec["tenure_days"]["role"] == "tenure" and spec["tenure_days"]["unit"] == "days"
    assert spec["Recency"]["role"] == "recency"
    reasons = summary["data_quality"]["reasons"]
    assert reasons["Dt_Customer not a date"] == 1
    assert reasons["Year_Birth missing"] == 1
    model = load_model(tmp_path / "m")
    assert model.config.spec.date_formats == {"Year_Birth": "year||%Y|0",
                                              "Dt_Customer": "dmy|-|%d-%m-%Y|0"}
    frame = pd.read_csv(marketing_tsv, sep="\t", dtype=str, keep_default_na=False)
    born = pd.to_numeric(frame["Year_Birth"], errors="coerce")
    ages = model.config.spec.fit_date.year - born
    kept = ages[(ages >= 16) & (ages <= 100)]
    assert model.base.means["age"] == pytest.approx(kept.drop([4], errors="ignore").mean(),
                                                    rel=0.01)
    # recency, frequency (NumWebPurchases) and monetary (total_spend) are all there:
    # the rulebook names the segments in RFM words, over the roles
    names = [s["name"] for s in summary["segments"]]
    rfm = {r.name for r in model.rulebook.rules if "recency" in r.when}
    assert all(n.removeprefix("Young ").removeprefix("Mature ").split(" (")[0] in rfm
               for n in names), names
    assert len(set(names)) == len(names)


def test_scoring_reads_the_dates_as_the_fit_did(marketing_tsv, tmp_path, capsys):
    """A later file whose dates are all ambiguous (every day at most 12) is read with the
    fit's day-first format, not refused or read month-first."""
    code, _, err = run(capsys, "fit", marketing_tsv, "-o", tmp_path / "m", *MARKETING_FIT)
    assert code == 0, err
    frame = pd.read_csv(marketing_tsv, sep="\t", dtype=str, keep_default_na=False)
    frame = frame[frame["Year_Birth"].str.fullmatch(r"19[5-9]\d")].head(3)
    frame["Dt_Customer"] = ["01-02-2013", "03-04-2013", "05-06-2013"]
    path = tmp_path / "later.tsv"
    frame.to_csv(path, sep="\t", index=False)
    code, _, err = run(capsys, "score", tmp_path / "m", path, "-o", tmp_path / "s.csv",
                       "--income-unit", "$")
    assert code == 0, err
    model = load_model(tmp_path / "m")
    values = model.config.spec
    assert values.date_formats["Dt_Customer"].startswith("dmy")
    scored = rows(tmp_path / "s.csv")
    assert [r["row_status"] for r in scored] == ["ok", "ok", "ok"]


def test_an_ambiguous_date_column_is_refused_with_the_format_to_give(tmp_path, capsys):
    frame = card_table(60)
    frame["Joined"] = [f"{1 + i % 12:02d}/{1 + i % 12:02d}/2015" for i in range(60)]
    path = tmp_path / "joined.csv"
    frame.to_csv(path, index=False)
    args = ["fit", path, "-o", tmp_path / "m", "--features", "BALANCE,t",
            "--derive", "t = days_since(Joined)"]
    code, _, err = run(capsys, *args)
    line = one_error_line(code, err)
    assert "'Joined': dates such as" in line and "day-first or month-first" in line
    assert line.endswith("(--date-format Joined=FORMAT)")
    code, _, err = run(capsys, *args, "--date-format", "Joined=%d/%m/%Y")
    assert code == 0, err


def test_a_negative_value_of_a_logged_feature_is_flagged_not_cut(card_model, tmp_path, capsys):
    """BALANCE is read on a log scale (fitted on values of 0 or more): a negative balance
    when scoring is flagged, never cut to 0; log1p asked for negative data is refused."""
    frame = card_table(3)
    frame.loc[1, "BALANCE"] = -250
    path = tmp_path / "negative.csv"
    frame.to_csv(path, index=False)
    code, _, err = run(capsys, "score", card_model, path, "-o", tmp_path / "s.csv")
    assert code == 0, err
    out = rows(tmp_path / "s.csv")
    assert [r["row_status"] for r in out] == ["ok", "invalid", "ok"]
    assert out[1]["row_issues"].startswith(
        "BALANCE: -250 is below 0, the smallest value this model reads BALANCE at (it takes "
        "its log); pay_ratio: ")  # the ratio of a negative balance is negative too
    frame = card_table(200)
    frame.loc[5, "PAYMENTS"] = -40
    frame.to_csv(path, index=False)
    code, _, err = run(capsys, "fit", path, "-o", tmp_path / "m", "--features", "PAYMENTS",
                       "--transform", "PAYMENTS=log1p")
    assert "PAYMENTS has negative values (the lowest is -40), and log1p needs values of 0 or " \
        "more; use signed_log1p" in one_error_line(code, err)
    code, out_, err = run(capsys, "fit", path, "-o", tmp_path / "m", "--features", "PAYMENTS",
                          "--json")
    assert code == 0, err
    assert json.loads(out_)["features_spec"][0]["transform"] == "signed_log1p"


# ------------------------------------------------ found by the adversary on this feature


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--features", "BALANCE,CREDIT_LIMIT", "--transform", "balance=log1p",
          "--transform", "BALANCE=none"],
         "the feature 'BALANCE' is given two transforms (log1p and none); give one"),
        (["--features", "BALANCE", "--date-format", "Dt_Custmer=%d-%m-%Y"],
         "a date format is given for 'Dt_Custmer', which no derivation reads as a date"),
        (["--features", "BALANCE,q", "--derive", "q=NOPE+1"],
         "the derivation of 'q' reads 'NOPE', which is not a column of this table"),
        (["--features", "TENURE"],
         "TENURE has the same value"),
    ],
    ids=["two-transforms", "date-format-unread", "derivation-unknown-column", "constant"],
)
def test_options_that_would_be_ignored_or_misread_are_refused(card_csv, tmp_path, capsys,
                                                             args, words):
    path = card_csv
    if "TENURE" in args:
        frame = card_table(100).assign(TENURE=12)
        path = tmp_path / "constant.csv"
        frame.to_csv(path, index=False)
    code, _, err = run(capsys, "fit", path, "-o", tmp_path / "m", *args)
    assert words in one_error_line(code, err)


def test_a_bare_year_column_under_any_header_is_read_as_years(tmp_path, capsys):
    frame = card_table(120).assign(Born=[1940 + i % 50 for i in range(120)])
    path = tmp_path / "born.csv"
    frame.to_csv(path, index=False)
    code, out, err = run(capsys, "fit", path, "-o", tmp_path / "m", "--features", "BALANCE,a",
                         "--derive", 'a = years_since(Born, "2020-06-01")', "--json")
    assert code == 0, err
    model = load_model(tmp_path / "m")
    assert model.config.spec.date_formats == {"Born": "year||%Y|0"}
    expected = (2020 - frame["Born"]).mean()
    assert model.base.means["a"] == pytest.approx(expected)
    code, _, err = run(capsys, "fit", path, "-o", tmp_path / "m2", "--features", "BALANCE,a",
                       "--derive", 'a = years_since(Born, "2020-06-01")', "--date-format",
                       "Born=%Y")
    assert code == 0, err


def test_suggest_takes_a_date_format(tmp_path, capsys):
    frame = card_table(60).assign(D=[f"{i % 12 + 1:02d}/{i * 7 % 12 + 1:02d}/2015"
                                     for i in range(60)])
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    args = ["suggest", path, "--features", "PURCHASES,t", "--derive", "t=days_since(D)"]
    code, _, err = run(capsys, *args)
    assert "(--date-format D=FORMAT)" in one_error_line(code, err)
    code, _, err = run(capsys, *args, "--date-format", "D=%d/%m/%Y")
    assert code == 0, err


def test_awkward_headers_can_be_features_and_predicted(tmp_path, capsys):
    """Headers holding a comma (written in backticks in --features), an "=" or spaces."""
    frame = card_table(150)
    frame["a,b"] = [i % 13 for i in range(150)]
    frame["x=y"] = [i % 17 for i in range(150)]
    path = tmp_path / "awkward.csv"
    frame.to_csv(path, index=False)
    code, out, err = run(capsys, "fit", path, "-o", tmp_path / "m", "--features",
                         "PURCHASES,`a,b`,x=y", "--json")
    assert code == 0, err
    assert json.loads(out)["features"] == ["PURCHASES", "a,b", "x=y"]
    code, out, err = run(capsys, "predict", tmp_path / "m", "--value", "PURCHASES=100",
                         "--value", "a,b=5", "--value", "x=y=3", "--json")
    assert code == 0, err
    code, _, err = run(capsys, "predict", tmp_path / "m", "--value", "PURCHASES=100",
                       "--value", "a,b=5", "--value", "x=y=3", "--value", "spending_score=abc")
    assert "this model reads no column 'spending_score'" in one_error_line(code, err)


def test_an_error_line_stays_bounded_whatever_the_headers(card_model, tmp_path, capsys):
    path = tmp_path / "long.csv"
    header = ["ID"] + [f"c{i}_" + "x" * 10_000 for i in range(100)]
    path.write_text(",".join(header) + "\n" + ",".join(["1"] * 101) + "\n")
    code, _, err = run(capsys, "score", card_model, path, "-o", tmp_path / "s.csv")
    assert "which this table does not have" in one_error_line(code, err)
    assert len(err) < 3_000


def test_a_pattern_matching_too_many_columns_says_so(tmp_path, capsys):
    frame = pd.DataFrame({"ID": range(40), "Spend": range(40)})
    for i in range(300):
        frame[f"MntProduct{i:03d}"] = i % 7
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    code, _, err = run(capsys, "fit", path, "-o", tmp_path / "m", "--features", "tot,Spend",
                       "--derive", "tot=sum(`Mnt*`)")
    line = one_error_line(code, err)
    assert "the derivation of 'tot' reads 300 columns once its patterns are expanded" in line


def test_suggest_takes_the_features_fit_takes_on_a_table_without_the_mall_fields(
        card_csv, tmp_path, capsys):
    """suggest refused the table fit segments ("no column for age, annual_income…"): its
    n_rows are meant to be the rows fit uses with the same options."""
    code, out, err = run(capsys, "suggest", card_csv, "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["warnings"][0].startswith("features chosen from the table's columns, as "
                                           "custseg inspect suggests: BALANCE, PURCHASES")
    code, fitted, err = run(capsys, "fit", card_csv, "-o", tmp_path / "m", "--json")
    assert found["n_rows"] == json.loads(fitted)["data_quality"]["n_used"]
