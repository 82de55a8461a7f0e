"""Repeated ids on the Dask engine: placeholder ids across parts, numbered through the files
as the local engine numbers the concatenation, with no row travelling to the driver."""

from __future__ import annotations

import glob

import pandas as pd
import pytest

import custseg
from custseg.io.score_files import score_file
from custseg.table import notes

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask_repeats")
    df = custseg.make_customers(6_000, seed=4).astype(str)
    df.loc[df.index % 3 == 0, "customer_id"] = "unknown"  # across every part
    df.loc[4_000:4_100, "customer_id"] = "0"  # within one part
    df.loc[[5, 5_990], "customer_id"] = "C-TWICE"  # first part and last
    folder.joinpath("in").mkdir()
    for i, (a, b) in enumerate([(0, 2_000), (2_000, 4_500), (4_500, 6_000)]):
        df.iloc[a:b].to_csv(folder / "in" / f"part_{i}.csv", index=False)
    df.to_csv(folder / "all.csv", index=False)
    return folder, custseg.fit(df, params={"n_clusters": 4})


def joined(folder) -> bytes:
    chunks = [open(f, "rb").read() for f in sorted(glob.glob(str(folder / "part-*.csv")))]
    return chunks[0] + b"".join(c.split(b"\n", 1)[1] for c in chunks[1:])


def run(folder, model, out, monkeypatch=None):
    from distributed import LocalCluster

    from custseg.io.dask_engine import score_dask

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster:
        return score_dask(model, folder / "in", folder / out, scheduler=cluster.scheduler_address)


def test_placeholder_ids_across_parts_match_the_local_engine(parts):
    folder, model = parts
    report = run(folder, model, "out")
    local = score_file(model, folder / "all.csv", folder / "local.csv")
    assert joined(folder / "out") == (folder / "local.csv").read_bytes()
    assert report.notes == local.notes and report.warnings == []
    last = pd.read_csv(folder / "out" / "part-00002.csv", dtype=str, keep_default_na=False)
    assert last.loc[1_490, "row_issues"] == ("customer_id 'C-TWICE' also on row 6 "
                                             "(conflicting values)")
    n = (pd.read_csv(folder / "all.csv", dtype=str)["customer_id"] == "unknown").sum()
    assert last.loc[1_497, "row_issues"] == ("customer_id 'unknown' also on row 1, 4, 7, 10, "
                                             f"13 and {n - 6:,} more (conflicting values)")


def test_the_cap_on_listed_ids_is_one_warning_for_the_run(parts, monkeypatch):
    folder, model = parts
    monkeypatch.setattr(notes, "MAX_LISTED_IDS", 1)  # the workers share this process
    report = run(folder, model, "capped")
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith("more than 1 customer ids are repeated; the notes of")
    first = pd.read_csv(folder / "capped" / "part-00000.csv", dtype=str, keep_default_na=False)
    assert first.loc[0, "row_issues"].startswith("customer_id 'unknown' also on row 4, 7")
    assert first.loc[5, "row_issues"] == ("customer_id 'C-TWICE' also on other rows (not "
                                          "listed: over 1 ids repeat)")
