"""``--algorithm rfm`` from the command line: demo log -> ``custseg rfm`` -> fit, score,
predict, profile; ``--rules`` editing the score map; refusals."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from cli_helpers import one_error_line, run

from custseg.cluster.rfm import CELLS
from custseg.io.rulebooks import default_rulebook, default_rulebook_text

RULEBOOK = default_rulebook()
OWNERS = RULEBOOK.score_cells()
MAP_NAMES = [s.name for s in RULEBOOK.score_map]


def map_name(cell: str) -> str:
    return RULEBOOK.score_map[OWNERS[CELLS.index(cell)]].name


@pytest.fixture(scope="module")
def customers(tmp_path_factory):
    """The demo log's customer table, plus one customer with returns only."""
    folder = tmp_path_factory.mktemp("rfm_algo")
    log, table = folder / "log.csv", folder / "customers.csv"
    from custseg.cli import main

    assert main(["demo-data", "--transactions", "-n", "4000", "--seed", "3", "-o", str(log)]) == 0
    assert main(["rfm", str(log), "-o", str(table)]) == 0
    with table.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    returns_only = {k: "" for k in header} | {"customer_id": "R-1", "frequency": "0",
                                              "monetary": "-20", "returns_value": "20"}
    rows.append([returns_only[k] for k in header])
    with table.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return table


@pytest.fixture(scope="module")
def fitted(customers, tmp_path_factory):
    model = tmp_path_factory.mktemp("rfm_model") / "rfm.custseg"
    from custseg.cli import main

    assert main(["fit", str(customers), "--algorithm", "rfm", "-o", str(model)]) == 0
    return model


def read_csv(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_fit_json_names_segments_by_the_map(capsys, customers, tmp_path):
    code, out, err = run(capsys, "fit", customers, "--algorithm", "rfm", "-o",
                         tmp_path / "m.custseg", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["algorithm"] == "rfm" and doc["features"] == ["recency_days", "frequency",
                                                             "monetary"]
    # customers with returns only have no recency to score: set apart in "Returns only"
    returns_only = sum(r["frequency"] == "0" for r in read_csv(customers))
    assert returns_only >= 2 and doc["data_quality"]["n_returns_only"] == returns_only
    assert doc["data_quality"]["n_invalid"] == 0
    apart = doc["segments"][-1]
    assert (apart["id"], apart["name"], apart["size"]) == (-2, "Returns only", returns_only)
    assert apart["cells"] == []
    names = [s["name"] for s in doc["segments"][:-1]]
    assert set(names) <= set(MAP_NAMES) and len(names) >= 5
    for s in doc["segments"][:-1]:
        assert {"id", "name", "size", "share", "means", "levels", "strategy"} <= set(s)
        assert s["cells"] and all(map_name(c) == s["name"] for c in s["cells"])
    assert sum(s["size"] for s in doc["segments"]) == doc["n_rows"]
    cuts = doc["rfm_scoring"]["cuts"]
    assert set(cuts) == {"recency", "frequency", "monetary"}
    assert all(len(c) == 4 and c == sorted(c) for c in cuts.values())
    # profile --json says the same
    code, out, _ = run(capsys, "profile", tmp_path / "m.custseg", "--json")
    assert code == 0 and json.loads(out)["segments"] == doc["segments"]


def test_score_adds_the_scores_and_the_cell(capsys, customers, fitted, tmp_path):
    out = tmp_path / "scored.csv"
    code, _, err = run(capsys, "score", fitted, customers, "-o", out)
    assert code == 0, err
    rows = read_csv(out)
    header = list(rows[0])
    assert header[-10:] == ["segment_id", "segment_name", "confidence", "atypical",
                            "row_status", "row_issues", "r_score", "f_score", "m_score",
                            "rfm_cell"]
    assert all(r["row_status"] == "ok" for r in rows)
    apart = [r for r in rows if r["frequency"] == "0"]
    assert len(apart) >= 2 and all(r["segment_id"] == "-2" for r in apart)
    for r in rows:
        if r["frequency"] != "0":
            assert r["rfm_cell"] == r["r_score"] + r["f_score"] + r["m_score"]
            assert r["segment_name"] == map_name(r["rfm_cell"])
    last = rows[-1]  # returns only: placed by the rule, with no scores
    assert last["customer_id"] == "R-1" and last["segment_name"] == "Returns only"
    assert last["r_score"] == last["f_score"] == last["m_score"] == last["rfm_cell"] == ""


def test_predict_places_one_customer_by_its_scores(capsys, fitted):
    code, out, err = run(capsys, "predict", fitted, "--value", "recency_days=0",
                         "--value", "frequency=900", "--value", "monetary=100000", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["segment_name"] == "Champions" and doc["rfm_cell"] == "555"
    assert [doc["r_score"], doc["f_score"], doc["m_score"]] == [5, 5, 5]
    code, out, _ = run(capsys, "predict", fitted, "--value", "recency_days=5000",
                       "--value", "frequency=1", "--value", "monetary=0")
    assert code == 0 and out.splitlines()[0].endswith(": Lost")


def test_rules_edit_the_map(capsys, customers, tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text(default_rulebook_text().replace('name = "Champions"', 'name = "VIPs"'),
                     encoding="utf-8")
    code, out, err = run(capsys, "fit", customers, "--algorithm", "rfm", "--rules", rules,
                         "-o", tmp_path / "m.custseg", "--json")
    assert code == 0, err
    names = {s["name"]: s["cells"] for s in json.loads(out)["segments"]}
    assert "Champions" not in names and "555" in names["VIPs"]


def test_a_map_with_a_gap_is_refused(capsys, customers, tmp_path):
    text = default_rulebook_text()
    start = text.index('[[rfm_segments]]\nname = "Lost"')
    rules = tmp_path / "gap.toml"
    rules.write_text(text[:start], encoding="utf-8")
    code, _, err = run(capsys, "fit", customers, "--algorithm", "rfm", "--rules", rules,
                       "-o", tmp_path / "m.custseg")
    line = one_error_line(code, err)
    assert "leaves 4 of the 125 cells without a segment (111, 112, 121, 122;" in line
    assert not (tmp_path / "m.custseg").exists()


def test_a_table_without_the_roles_is_refused(capsys, tmp_path):
    table = tmp_path / "mall.csv"
    assert run(capsys, "demo-data", "-n", "50", "-o", table)[0] == 0
    code, _, err = run(capsys, "fit", table, "--algorithm", "rfm", "-o", tmp_path / "m.custseg")
    line = one_error_line(code, err)
    assert "no feature has the role recency or frequency or monetary" in line
    assert "age, annual_income, spending_score" in line


def test_scoring_an_rfm_model_loads_no_scikit_learn(customers, fitted, tmp_path):
    """Scores, cells and the map are numpy; the assigner's vote numpy and scipy."""
    args = ["score", str(fitted), str(customers), "-o", str(tmp_path / "out.csv"), "-q"]
    code = (f"import sys; from custseg.cli import main; code = main({args!r}); "
            "print(code, [m for m in ('sklearn', 'plotly') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.splitlines()[-1] == "0 []"
    assert read_csv(tmp_path / "out.csv")[0]["rfm_cell"] != ""


def test_suggest_says_there_is_nothing_to_search(capsys, customers):
    code, out, err = run(capsys, "suggest", customers, "--algorithm", "rfm", "--features",
                         "recency_days,frequency,monetary")
    assert code == 0, err
    assert out.splitlines() == [
        "RFM scores (quintiles) (no settings)",
        "why: RFM scores (quintiles) has no settings to search: its segments are the "
        "rulebook's score map applied to the scores."]


def test_predict_a_customer_with_returns_only_has_no_scores(capsys, fitted):
    """Set apart before any score: the scores and cell are null, not an internal error."""
    code, stdout, err = run(capsys, "predict", fitted, "--value", "frequency=0", "--value",
                            "monetary=-12", "--json")
    assert code == 0, err
    assert json.loads(stdout) == {"segment_id": -2, "segment_name": "Returns only",
                                  "confidence": 1.0, "atypical": False, "r_score": None,
                                  "f_score": None, "m_score": None, "rfm_cell": None}
