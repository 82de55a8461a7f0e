"""The benchmark report's partial rewrite: a section run alone (``--only model-load``)
replaces its own section and target row in BENCHMARKS.md and keeps everything else."""

from __future__ import annotations

from benchmarks.run import model_load_markdown, splice_section, splice_target

REPORT = """# Benchmarks

## Targets

| target | measured | met |
|---|---|---|
| first | 1 s | yes |

## Dashboard under AppTest

hand-written text

## Batch scoring (file to file)

kept
"""


def _result(load_s: float) -> dict:
    parts = {"read": 0.1, "validate": 0.0, "assign": 0.9, "lab": 1.3, "dashboard": 1.3,
             "fit": 0.0}
    return {"model_load": [{
        "rows": 200_000, "model_mb": 0.26, "segments": "5", "params": {"n_clusters": 5},
        "load_s": load_s, "refit_s": 4.0, "load_all": [load_s], "refit_all": [4.0],
        "cold_s": 9.0, "validate_uncached_s": 0.4, "load_average": [2.0, 3.0],
        "load_peak_mb": 600.0, "refit_peak_mb": 700.0, "load_parts": parts,
        "refit_parts": {**parts, "fit": 3.2}, "ratio": load_s / 4.0}]}


def test_a_new_section_goes_after_the_one_named_and_the_rest_is_kept():
    section = model_load_markdown(_result(3.0))
    out = splice_section(REPORT, section, "## Dashboard under AppTest")
    headings = [line for line in out.splitlines() if line.startswith("## ")]
    assert headings == ["## Targets", "## Dashboard under AppTest",
                        "## Loading a saved model in the dashboard",
                        "## Batch scoring (file to file)"]
    assert "hand-written text" in out and out.endswith("kept\n")
    row = next(line for line in out.splitlines() if line.startswith("| 200,000 |"))
    assert "| **3.00** |" in row and "| **0.75×** |" in row


def test_a_section_run_again_replaces_its_own_figures_only():
    once = splice_section(REPORT, model_load_markdown(_result(3.0)), "## Dashboard under AppTest")
    twice = splice_section(once, model_load_markdown(_result(2.0)), "## Dashboard under AppTest")
    assert twice.count("## Loading a saved model in the dashboard") == 1
    assert "| **2.00** |" in twice and "| **3.00** |" not in twice
    assert twice.replace("2.00", "3.00").replace("0.50×", "0.75×") == once


def test_a_target_row_is_added_once_then_rewritten():
    added = splice_target(REPORT, "load", "3 s", True)
    assert added.splitlines()[6:8] == ["| first | 1 s | yes |", "| load | 3 s | yes |"]
    again = splice_target(added, "load", "5 s", False)
    assert again.count("| load |") == 1
    assert "| load | 5 s | **no** |" in again
