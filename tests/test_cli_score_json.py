"""custseg score: the drift warning on stderr and the --json summary on stdout."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from cli_helpers import run

from custseg.table.sample import make_customers


@pytest.fixture
def mall_model(mall_path, tmp_path, capsys):
    path = tmp_path / "mall.custseg"
    code, _, err = run(capsys, "fit", mall_path, "-o", path, "--param", "n_clusters=5")
    assert code == 0, err
    return path


def _no_nan(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_no_nan(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_nan(v) for v in value)
    return True


def test_json_counts_are_the_scored_files(mall_model, tmp_path, capsys):
    data = make_customers(1_200, seed=4)
    data = data.astype({"age": object})
    data.loc[[3, 50], "age"] = ["abc", "-4"]  # two invalid rows
    path = tmp_path / "batch.csv"
    data.to_csv(path, index=False)
    out = tmp_path / "scored.csv"
    code, stdout, err = run(capsys, "score", mall_model, path, "-o", out, "--json", "-q")
    assert code == 0, err
    summary = json.loads(stdout)
    scored = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert summary["rows"] == len(scored) == 1_200
    assert summary["invalid"] == int((scored["row_status"] == "invalid").sum()) == 2
    assert summary["atypical"] == int((scored["atypical"] == "true").sum())
    counts = scored.loc[scored["row_status"] == "ok", "segment_id"].astype(int).value_counts()
    assert [(s["id"], s["count"]) for s in summary["segments"]] == [
        (i, int(counts.get(i, 0))) for i in range(5)]
    names = scored.drop_duplicates("segment_id").set_index("segment_id")["segment_name"]
    assert all(s["name"] == names[str(s["id"])] for s in summary["segments"] if s["count"])
    assert sum(s["count"] for s in summary["segments"]) == 1_198
    assert [d["feature"] for d in summary["drift"]] == ["age", "annual_income", "spending_score"]
    assert summary["drift_rows"] == 1_198
    assert summary["output"] == str(out)
    assert _no_nan(summary)


def test_a_shifted_batch_is_flagged_on_stderr_and_in_json(mall_model, mall_path, tmp_path,
                                                          capsys):
    mall = pd.read_csv(mall_path)
    shifted = mall.assign(**{"Annual Income (k$)": mall["Annual Income (k$)"] + 60})
    path = tmp_path / "richer.csv"
    shifted.to_csv(path, index=False)
    code, stdout, err = run(capsys, "score", mall_model, path, "-o", tmp_path / "o.csv",
                            "--json", "-q")
    assert code == 0, err
    drift = {d["feature"]: d for d in json.loads(stdout)["drift"]}
    assert drift["annual_income"]["psi"] > 0.25 and drift["annual_income"]["flagged"]
    assert drift["age"] == {"feature": "age", "psi": 0.0, "flagged": False}
    warning = [line for line in err.splitlines() if "differ from the ones" in line]
    assert warning == [
        "warning: these customers differ from the ones the model was fitted on: "
        f"annual_income (PSI {drift['annual_income']['psi']:.4g}), above 0.25; their "
        "segments may not mean what they meant at fit, so check the batch or refit on "
        "customers like these"]
    assert json.loads(stdout)["warnings"][-1] == warning[0].removeprefix("warning: ")


def test_the_fitted_customers_say_nothing_and_without_json_stdout_stays_empty(
        mall_model, mall_path, tmp_path, capsys):
    out = tmp_path / "o.csv"
    code, stdout, err = run(capsys, "score", mall_model, mall_path, "-o", out, "-q")
    assert code == 0 and stdout == ""
    assert err.strip().splitlines() == [f"scored 200 rows (0 invalid, 0 atypical) in "
                                        f"{err.split(' in ')[1].split(' s ')[0]} s -> {out}"]
    code, stdout, _ = run(capsys, "score", mall_model, mall_path, "-o", out, "--json", "-q",
                          "--force")
    assert code == 0
    assert [d["psi"] for d in json.loads(stdout)["drift"]] == [0.0, 0.0, 0.0]


def test_a_refusal_prints_no_json(mall_model, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,age\n1,30\n")
    code, stdout, err = run(capsys, "score", mall_model, bad, "-o", tmp_path / "o.csv",
                            "--json")
    assert code == 2 and stdout == ""
    assert err.startswith("error: ")
    assert not (tmp_path / "o.csv").exists()


def test_dask_engine_gives_the_same_summary(mall_model, tmp_path, capsys):
    pytest.importorskip("distributed")
    data = make_customers(900, seed=5)
    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(3):
        data.iloc[i * 300:(i + 1) * 300].to_csv(folder / f"p{i}.csv", index=False)
    data.to_csv(tmp_path / "all.csv", index=False)
    code, local, err = run(capsys, "score", mall_model, tmp_path / "all.csv", "-o",
                           tmp_path / "local.csv", "--json", "-q")
    assert code == 0, err
    code, dask, err = run(capsys, "score", mall_model, folder, "-o", tmp_path / "out",
                          "--engine", "dask", "--json", "-q")
    assert code == 0, err
    a, b = json.loads(local), json.loads(dask)
    for key in ("rows", "invalid", "atypical", "segments", "drift", "drift_rows"):
        assert a[key] == b[key], key
    assert any(d["flagged"] for d in a["drift"])  # demo customers are not the Mall's
