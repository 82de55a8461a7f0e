"""The Dask engine: identical to the local engine row for row, on a multi-file input."""

from __future__ import annotations

import glob

import pandas as pd
import pytest

import custseg
from custseg.cli import main
from custseg.errors import CustsegError
from custseg.io.score_files import score_file

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Three CSV parts (one id repeated across parts, one invalid row) and their concatenation."""
    folder = tmp_path_factory.mktemp("dask")
    df = custseg.make_customers(3_000, seed=3).astype(str)
    df.loc[10, "customer_id"] = df.loc[2_500, "customer_id"]
    df.loc[20, "age"] = "NA"
    df.loc[1_500, "spending_score"] = "=1+1"
    bounds = [(0, 1_000), (1_000, 2_200), (2_200, 3_000)]
    parts = folder / "parts"
    parts.mkdir()
    for i, (a, b) in enumerate(bounds):
        df.iloc[a:b].to_csv(parts / f"customers_{i}.csv", index=False)
    df.to_csv(folder / "all.csv", index=False)
    model = custseg.fit(df)
    return folder, model


def joined_parts(folder) -> bytes:
    chunks = [open(f, "rb").read() for f in sorted(glob.glob(str(folder / "part-*.csv")))]
    return chunks[0] + b"".join(c.split(b"\n", 1)[1] for c in chunks[1:])


def test_identical_to_the_local_engine(files):
    from custseg.io.dask_engine import score_dask

    folder, model = files
    calls = []
    report = score_dask(model, str(folder / "parts" / "customers_*.csv"), folder / "out",
                        progress=lambda d, t: calls.append((d, t)))
    score_file(model, folder / "all.csv", folder / "local.csv")
    local = (folder / "local.csv").read_bytes()
    assert joined_parts(folder / "out") == local
    assert report.n_rows == 3_000
    assert report.n_invalid == 2
    assert report.notes["duplicate customer_id"] == 2
    assert calls[0] == (0, 3_000) and calls[-1] == (3_000, 3_000)
    scored = pd.read_csv(folder / "out" / "part-00002.csv", dtype=str, keep_default_na=False)
    assert scored.loc[300, "row_issues"].startswith("customer_id")  # row 2,501 overall
    assert "also on row 11 (conflicting values)" in scored.loc[300, "row_issues"]


def test_folder_input_parquet_output_and_a_given_scheduler(files):
    from distributed import LocalCluster

    from custseg.io.dask_engine import score_dask

    folder, model = files
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        report = score_dask(model, folder / "parts", folder / "out.parquet",
                            scheduler=cluster.scheduler_address)
    assert report.n_rows == 3_000
    parts = sorted((folder / "out.parquet").iterdir())
    assert [p.name for p in parts] == ["part-00000.parquet", "part-00001.parquet",
                                       "part-00002.parquet"]
    joined = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    local = custseg.score(model, folder / "all.csv")
    ours = joined["segment_id"].astype("Int64").fillna(-99).tolist()
    assert ours == local["segment_id"].astype("Int64").fillna(-99).tolist()
    assert ours.count(-99) == 2  # the two invalid rows, in their places
    assert joined["customer_id"].tolist() == local["customer_id"].tolist()


def test_errors(files, tmp_path):
    from custseg.io.dask_engine import score_dask

    folder, model = files
    with pytest.raises(CustsegError, match="names no input file"):
        score_dask(model, str(tmp_path / "nothing_*.csv"), tmp_path / "o")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    with pytest.raises(CustsegError, match="already exists"):
        score_dask(model, folder / "all.csv", tmp_path / "taken")
    with pytest.raises(CustsegError, match="cannot reach the Dask scheduler"):
        score_dask(model, folder / "all.csv", tmp_path / "o2", scheduler="tcp://127.0.0.1:9",
                   connect_timeout="2s")
    assert not (tmp_path / "o2").exists()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.csv").write_text("ID,Age\n1,2\n")
    with pytest.raises(CustsegError, match="no column for annual_income"):
        score_dask(model, bad, tmp_path / "o3")
    assert not (tmp_path / "o3").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_dask(files, tmp_path, capsys):
    folder, model = files
    model_path = tmp_path / "m.custseg"
    custseg.save_model(model, model_path)
    code = main(["score", str(model_path), str(folder / "parts"), "-o", str(tmp_path / "out"),
                 "--engine", "dask"])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "scored 3,000 rows (2 invalid" in err
    assert len(list((tmp_path / "out").iterdir())) == 3


def test_parquet_parts_of_different_types_give_one_readable_output(files, tmp_path):
    """Two Parquet parts whose Note column is int32 in one and text in the other: the
    output folder's parts share one schema (text), so it reads back as one table; a
    warning all parts give (incomes read in dollars) is said once."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from custseg.io.dask_engine import score_dask

    _, model = files
    parts = tmp_path / "parts"
    parts.mkdir()
    for i, note in enumerate([pa.array([1, 2, 3] * 10, pa.int32()), pa.array(["x"] * 30)]):
        pq.write_table(pa.table({
            "Age": pa.array([30 + j for j in range(30)]),
            "Income": pa.array([40_000 + 1_000 * j for j in range(30)]),
            "Spending Score": pa.array([j + 1 for j in range(30)]),
            "Note": note}), parts / f"p{i}.parquet")
    out = tmp_path / "out.parquet"
    report = score_dask(model, parts, out)
    assert report.n_rows == 60
    back = pq.read_table(out)
    assert back.num_rows == 60 and back.column("Note").type == pa.string()
    said = [w for w in report.warnings if "read as dollars" in w]
    assert len(said) == 1, report.warnings
