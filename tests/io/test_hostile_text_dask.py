"""Issue 10, classes 2, 3 and 6 on the Dask engine: one number format for all the parts,
every line of a part with a stray quote, header cells neutralised in every part — and
the parts, read one after the other, equal to the local engine's output byte for byte."""

from __future__ import annotations

import glob

import pandas as pd
import pytest

import custseg
from custseg.io.score_files import score_file

pytest.importorskip("distributed")

HEADER = "CustomerID;Gender;Age;Annual Income (k$);Spending Score (1-100);=HYPERLINK(\"x\")"


def part(start: int, incomes: list[str]) -> list[str]:
    return [f"{start + i:05d};Male;{20 + i % 40};{v};{1 + i % 99};n"
            for i, v in enumerate(incomes)]


def test_parts_share_one_number_format_and_keep_every_line(tmp_path):
    first = part(0, ["1.500"] * 30)  # on its own, points would group thousands here
    second = part(30, ["30.5", "1.500"] * 10)  # the point as a decimal mark
    second[5] = second[5].replace(";Male;", ';"Male;')  # a stray quote
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.csv").write_text("\n".join([HEADER] + first) + "\n", encoding="utf-8")
    (folder / "b.csv").write_text("\n".join([HEADER] + second) + "\n", encoding="utf-8")
    (tmp_path / "all.csv").write_text("\n".join([HEADER] + first + second) + "\n",
                                      encoding="utf-8")
    model = custseg.fit(custseg.make_customers(200, seed=7), params={"n_clusters": 3})

    from custseg.io.dask_engine import score_dask

    report = score_dask(model, str(folder), tmp_path / "out", batch_rows=8)
    score_file(model, tmp_path / "all.csv", tmp_path / "local.csv", batch_rows=8)
    parts = [pd.read_csv(f, dtype=str, keep_default_na=False)
             for f in sorted(glob.glob(str(tmp_path / "out" / "part-*")))]
    joined = pd.concat(parts, ignore_index=True)
    local = pd.read_csv(tmp_path / "local.csv", dtype=str, keep_default_na=False)
    # line numbers are the file's own: line 7 of b.csv is line 37 of the concatenation
    shifted = joined.loc[35, "row_issues"].replace("line 7 ", "line 37 ").replace(
        "lines 8–21", "lines 38–51")
    assert local.loc[35, "row_issues"] == shifted
    local.loc[35, "row_issues"] = joined.loc[35, "row_issues"]
    pd.testing.assert_frame_equal(joined, local)
    assert report.n_rows == 50
    scored = pd.read_csv(tmp_path / "out" / "part-00000.csv", dtype=str, keep_default_na=False)
    assert scored.columns[5] == "'=HYPERLINK(\"x\")"
    assert (scored["row_status"] == "invalid").all()  # '1.500' has two readings in the input
    assert scored["row_issues"].str.contains("can be read two ways").all()
    later = pd.read_csv(tmp_path / "out" / "part-00001.csv", dtype=str, keep_default_na=False)
    assert len(later) == 20
    assert later.loc[5, "row_issues"].startswith("line 7 opens a quote that is never closed")
