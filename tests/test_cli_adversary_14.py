"""Issue 14's adversarial pass on the command line: re-scoring a scored file."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run

from custseg import api

MALL = Path("/work/shared/data/Mall_Customers.csv")


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh))


@pytest.mark.skipif(not MALL.exists(), reason="Mall data not available")
def test_a_file_scored_three_times_has_no_two_columns_of_one_name(tmp_path, capsys):
    model = tmp_path / "m.custseg"
    assert run(capsys, "fit", str(MALL), "-o", str(model))[0] == 0
    source = MALL
    for i in (1, 2, 3):
        out = tmp_path / f"s{i}.csv"
        code, _, err = run(capsys, "score", str(model), str(source), "-o", str(out))
        assert code == 0, err
        source = out
    header = _header(source)
    assert len(header) == len(set(header)), header
    assert header[5:11] == ["segment_id_input", "segment_name_input", "confidence_input",
                            "atypical_input", "row_status_input", "row_issues_input"]
    assert header[11] == "segment_id_input_2" and header[16] == "row_issues_input_2"
    assert header[-6:] == ["segment_id", "segment_name", "confidence", "atypical",
                           "row_status", "row_issues"]
    # the oldest scores are the first file's, kept byte for byte
    first, last = pd.read_csv(tmp_path / "s1.csv"), pd.read_csv(source)
    assert (last["segment_id_input"] == first["segment_id"]).all()
    assert len(last) == 200


@pytest.mark.skipif(not MALL.exists(), reason="Mall data not available")
def test_a_scored_frame_scored_again_twice_keeps_distinct_columns(tmp_path):
    frame = pd.read_csv(MALL)
    model = api.fit(frame)
    once = api.score(model, frame)
    twice = api.score(model, once)
    thrice = api.score(model, twice)
    assert thrice.columns.is_unique, list(thrice.columns)
    assert "segment_id_input_2" in thrice.columns and len(thrice) == 200
