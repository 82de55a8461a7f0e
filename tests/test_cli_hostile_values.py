"""Issue 10, classes 9 and 12 and the fit/suggest items, through the command line.

Every bad value exits 2 with one ``error:`` line; settings that would size an allocation
beyond memory are refused before it is made. The memory cases run in a child process
under an address-space limit and a timeout, and assert the child's peak memory.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import one_error_line, run
from hostile_sizes import run_bounded

from custseg.table.sample import make_customers

SRC = Path(__file__).resolve().parents[1] / "src"
GiB = 2**30


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("values") / "customers.csv"
    make_customers(300, seed=0).to_csv(path, index=False)
    return path


# ------------------------------------------------------------------ class 12: values


@pytest.mark.parametrize(
    ("args", "words"),
    [
        # seeds: 0 .. 2**31 - 1 (scikit-learn takes up to 2**32 - 1; derived seeds add a few)
        (["fit", "{csv}", "-o", "{tmp}/m", "--seed", "-1"], "'--seed'"),
        (["fit", "{csv}", "-o", "{tmp}/m", "--seed", "4294967296"], "less than or equal to 2147483647"),
        (["fit", "{csv}", "-o", "{tmp}/m", "--seed", "2147483648"], "less than or equal to 2147483647"),
        (["fit", "{csv}", "-o", "{tmp}/m", "--seed", "1.5"], "valid integer"),
        (["fit", "{csv}", "-o", "{tmp}/m", "--seed", "abc"], "valid integer"),
        (["suggest", "{csv}", "--seed", "-7"], "'--seed'"),
        (["demo-data", "-o", "{tmp}/m", "--seed", "-1"], "'--seed'"),
        (["demo-data", "-o", "{tmp}/m", "--seed", "99999999999"], "'--seed'"),
        # --param values of the wrong type or beyond the registry's bounds
        (["fit", "{csv}", "-o", "{tmp}/m", "-p", "n_clusters=abc"], "n_clusters='abc' is not a number"),
        (["fit", "{csv}", "-o", "{tmp}/m", "-p", "n_clusters=3.5"], "must be a whole number"),
        (["fit", "{csv}", "-o", "{tmp}/m", "-p", "n_clusters=nan"],
         "n_clusters='nan' is not a number; n_clusters takes 2 to 30"),
        (["fit", "{csv}", "-o", "{tmp}/m", "-p", "n_clusters=inf"],
         "n_clusters='inf' is not finite; n_clusters takes 2 to 30"),
        (["fit", "{csv}", "-o", "{tmp}/m", "-p", "n_clusters=1e400"], "is out of range"),
        (["fit", "{csv}", "-o", "{tmp}/m", "-p", "n_clusters=" + "9" * 500], "is out of range"),
        (["fit", "{csv}", "-o", "{tmp}/m", "-p", "n_clusters=true"], "is not a number"),
        (["fit", "{csv}", "-o", "{tmp}/m", "-p", "n_init=0x10"], "is not a number"),
        (["fit", "{csv}", "-o", "{tmp}/m", "-a", "dbscan", "-p", "eps=-1"], "eps takes 0.01 to 5"),
        (["fit", "{csv}", "-o", "{tmp}/m", "-a", "dbscan", "-p", "min_samples=auto"], "is not a number"),
        (["fit", "{csv}", "-o", "{tmp}/m", "-a", "agglomerative", "-p", "linkage=Ward"],
         "choose one of ward, complete, average, single"),
        (["fit", "{csv}", "-o", "{tmp}/m", "-p", "eps=0.5"], "kmeans has no parameter 'eps'"),
        (["fit", "{csv}", "-o", "{tmp}/m", "-p", "n_clusters=5", "-p", "n_clusters=6"], "given twice"),
        (["suggest", "{csv}", "-p", "n_clusters=abc"], "is not a number"),
        # ranges
        (["fit", "{csv}", "-o", "{tmp}/m", "--range", "age=90:18"], "low < high"),
        (["fit", "{csv}", "-o", "{tmp}/m", "--range", "age=30:30"], "low < high"),
        (["fit", "{csv}", "-o", "{tmp}/m", "--range", "age=nan:90"], "finite"),
        (["fit", "{csv}", "-o", "{tmp}/m", "--range", "age=-inf:inf"], "finite"),
        (["fit", "{csv}", "-o", "{tmp}/m", "--range", "age=18"], "FIELD=LOW:HIGH"),
        (["fit", "{csv}", "-o", "{tmp}/m", "--range", "age=18:90", "--range", "age=20:30"],
         "--range 'age' is given twice"),
        (["suggest", "{csv}", "--range", "spending_score=100:1"], "low < high"),
        # mappings: one column, one field
        (["fit", "{csv}", "-o", "{tmp}/m", "--map", "spending_score=age",
          "--features", "annual_income,spending_score"],
         "column 'age' is the age column by its header, and the mapping gives it to "
         "spending_score"),
        (["fit", "{csv}", "-o", "{tmp}/m", "--map", "annual_income=customer_id"],
         "is the customer_id column by its header"),
        (["fit", "{csv}", "-o", "{tmp}/m", "--map", "age=age", "--map", "spending_score=age"],
         "gives column 'age' to both age and spending_score"),
        (["fit", "{csv}", "-o", "{tmp}/m", "--map", "age=age", "--map", "age=annual_income"],
         "--map 'age' is given twice"),
        (["suggest", "{csv}", "--map", "spending_score=age", "--features", "spending_score"],
         "one column feeds one field"),
        # sizes and counts
        (["fit", "{csv}", "-o", "{tmp}/m", "--neighbors", "1000000000"], "less than or equal to 50"),
        (["fit", "{csv}", "-o", "{tmp}/m", "--neighbors", "0"], "'--neighbors'"),
        (["fit", "{csv}", "-o", "{tmp}/m", "--sample-size", "1"], "at least 2"),
        (["fit", "{csv}", "-o", "{tmp}/m", "--sample-size", "half"], "whole number or 'all'"),
        (["fit", "{csv}", "-o", "{tmp}/m", "--sample-size", "1e9"], "whole number or 'all'"),
        (["demo-data", "-o", "{tmp}/m", "-n", "50000000"],
         "the demo table takes at most 1,000,000 customers"),
        (["demo-data", "-o", "{tmp}/m", "-n", "0"], "'-n'"),
        (["score", "{csv}", "{csv}", "-o", "{tmp}/m", "--batch-rows", "1000000000"],
         "less than or equal to 1000000"),
    ],
)
def test_bad_values_exit_2_with_one_line(small_csv, tmp_path, capsys, args, words):
    args = [a.format(csv=small_csv, tmp=tmp_path) for a in args]
    line = one_error_line(*run(capsys, *args)[::2])
    assert words in line
    assert not (tmp_path / "m").exists()


def test_a_refused_param_names_the_option(small_csv, tmp_path, capsys):
    line = one_error_line(*run(capsys, "fit", small_csv, "-o", tmp_path / "m",
                               "-p", "n_clusters=abc")[::2])
    assert line.endswith("(--param)")


def test_options_are_checked_before_the_table_is_read(tmp_path, capsys):
    """A bad option is refused even when the file could not be read at all."""
    missing = tmp_path / "nope.csv"
    line = one_error_line(*run(capsys, "fit", missing, "-o", tmp_path / "m",
                               "--range", "age=90:18")[::2])
    assert "low < high" in line


def test_large_but_harmless_values_are_accepted(small_csv, tmp_path, capsys):
    code, _, err = run(capsys, "fit", small_csv, "-o", tmp_path / "m", "--seed", "2147483647",
                       "--sample-size", "999999999999", "--neighbors", "50")
    assert code == 0, err


def test_an_oversized_hdbscan_setting_is_lowered_not_a_crash(small_csv, tmp_path, capsys):
    """min_cluster_size above the table used to crash the stability refits (exit 1)."""
    code, out, err = run(capsys, "fit", small_csv, "-o", tmp_path / "m", "-a", "hdbscan",
                         "-p", "min_cluster_size=5000", "--json")
    assert code == 0, err
    assert ("warning: The setting min_cluster_size=5000 is more than the 300 customers "
            "fitted; lowered to 300.") in err
    # the model says the setting it used (its params said 5000, as did the dashboard)
    assert json.loads(out)["params"]["min_cluster_size"] == 300


# --------------------------------------------------- class 9: settings that size memory

def bounded(*args) -> tuple[int, str, int]:
    """``custseg ARGS`` in a child under 4 GiB of address space and 60 s: exit code, stderr
    and the child's own peak resident memory in MB (VmHWM; ``ru_maxrss`` would carry the
    forked pytest's size across exec, which made these tests fail on a bigger CI parent)."""
    code, _out, err, peak = run_bounded([str(a) for a in args], address_gb=4)
    return code, err, peak


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "customers30k.csv"
    make_customers(30_000, seed=0).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def id_gender_csv(tmp_path_factory) -> Path:
    """20,000 customers whose 'gender' column holds a different value on every row."""
    frame = make_customers(20_000, seed=0)
    frame["gender"] = "g" + frame["customer_id"]
    path = tmp_path_factory.mktemp("gender") / "ids_as_gender.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-a", "agglomerative", "--sample-size", "all"],
         ["agglomerative on 30,000 customers would need about", "GB", "pair",
          "(--sample-size 7"]),
        (["-a", "agglomerative", "-p", "linkage=average", "--sample-size", "20000"],
         ["on 20,000 customers", "(--sample-size 7"]),
        (["-a", "dbscan", "-p", "eps=5"],
         ["dbscan on 30,000 customers would need about", "neighbourhoods within eps=5",
          "(--param eps=0."]),
        (["-a", "dbscan", "-p", "eps=2", "--sample-size", "all"], ["(--param eps=0."]),
        (["-a", "hdbscan", "-p", "min_cluster_size=5000"],
         ["hdbscan on 20,000 customers", "5,000 nearest neighbours", "(--param min_samples="]),
        (["-a", "birch", "-p", "threshold=0.05"], ["sub-clusters", "(--param threshold=0.1)"]),
    ],
)
def test_fits_too_large_for_memory_are_refused_before_allocating(big_csv, tmp_path, args, words):
    code, err, peak = bounded("fit", big_csv, "-o", tmp_path / "m", *args)
    line = one_error_line(code, err)
    for word in words:
        assert word in line
    assert "512 MB" in line
    assert 0 < peak < 1024
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_a_gender_column_of_ids_is_refused_not_one_hot_encoded(id_gender_csv, tmp_path):
    code, err, peak = bounded("fit", id_gender_csv, "-o", tmp_path / "m",
                                  "--use-gender")
    line = one_error_line(code, err)
    assert "the gender column holds 20,000 different answers" in line
    assert line.endswith('(--map gender="COLUMN")')
    assert 0 < peak < 1024


@pytest.mark.slow
def test_the_default_sample_is_lowered_to_what_fits(tmp_path):
    """DBSCAN's default sample (50,000) of dense data needs 1.3 GB: it fits on fewer rows,
    says so, and stays under 1 GB."""
    path = tmp_path / "dense.csv"
    make_customers(60_000, seed=0).to_csv(path, index=False)
    code, err, peak = bounded("fit", path, "-o", tmp_path / "m", "-a", "dbscan")
    assert code == 0, err
    assert "dbscan was fitted on a sample of" in err
    assert "the assigner places the others" in err
    assert 0 < peak < 1024


@pytest.mark.slow
def test_demo_data_at_its_cap_stays_under_1_gb(tmp_path):
    code, err, peak = bounded("demo-data", "-n", "1000000", "-o",
                                  tmp_path / "d.csv")
    assert code == 0, err
    assert 0 < peak < 1024


def test_memory_error_is_one_line_exit_2(small_csv, tmp_path, capsys, monkeypatch):
    """The last resort, should any allocation escape the estimates."""
    import custseg.api

    def exhausted(*args, **kwargs):
        raise MemoryError("Unable to allocate 3.35 GiB")

    monkeypatch.setattr(custseg.api, "fit", exhausted)
    line = one_error_line(*run(capsys, "fit", small_csv, "-o", tmp_path / "m")[::2])
    assert "out of memory" in line and "--sample-size" in line


# ------------------------------------------------------------------------ also measured


@pytest.fixture(scope="module")
def messy_csv(tmp_path_factory) -> Path:
    """9,000 customers: some ages missing, some scores out of range, some ages outside a
    --range of 20:60."""
    frame = make_customers(9_000, seed=3).astype({"age": object, "spending_score": object})
    frame.loc[::7, "age"] = "?"
    frame.loc[::11, "spending_score"] = 150
    path = tmp_path_factory.mktemp("messy") / "messy.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("algorithm", ["kmeans", "dbscan", "hdbscan"])
def test_suggest_uses_the_rows_fit_uses_and_says_so(messy_csv, tmp_path, capsys, algorithm):
    options = ["-a", algorithm, "--range", "age=20:60"]
    code, out, err = run(capsys, "fit", messy_csv, "-o", tmp_path / "m", *options, "--json")
    assert code == 0, err
    fitted = json.loads(out)["n_rows"]
    code, out, err = run(capsys, "suggest", messy_csv, *options, "--json")
    assert code == 0, err
    said = json.loads(out)
    assert said["n_rows"] == fitted
    assert 0 < said["sample_rows"] <= said["n_rows"]
    # the documented samples: 4,000 customers, five times as many for eps
    assert said["sample_rows"] == min(fitted, 20_000 if algorithm == "dbscan" else 4_000)
    code, out, err = run(capsys, "suggest", messy_csv, *options)
    assert code == 0, err
    assert f"rows: {fitted:,} valid customers" in out


def test_fit_warns_about_degenerate_results(tmp_path, capsys):
    """Warnings on stderr and in the JSON, each with the setting to change."""
    path = tmp_path / "c.csv"
    make_customers(400, seed=0).to_csv(path, index=False)
    code, out, err = run(capsys, "fit", path, "-o", tmp_path / "m", "-p", "n_clusters=30",
                         "--json")
    assert code == 0, err
    warned = json.loads(out)["warnings"]
    assert any("found 30 segments, more than 20" in w and "lower n_clusters" in w for w in warned)
    assert any("hold fewer than 5 customers (too few to act on; the smallest: " in w
               for w in warned)
    for w in warned:
        assert f"warning: {w}" in err

    code, out, err = run(capsys, "fit", path, "-o", tmp_path / "m2", "-a", "dbscan",
                         "-p", "eps=1.5", "--json")
    warned = json.loads(out)["warnings"]
    assert any("single segment" in w or "in one segment" in w for w in warned)
    assert all("eps" in w or "min_samples" in w for w in warned)

    code, out, err = run(capsys, "fit", path, "-o", tmp_path / "m3", "-a", "dbscan",
                         "-p", "eps=0.15", "--json")
    warned = json.loads(out)["warnings"]
    noise = json.loads(out)["metrics"]["noise_share"]
    assert noise > 0.4
    assert any(f"left {noise:.0%} of customers as noise; raise eps or lower min_samples" in w
               for w in warned)


def test_a_balanced_fit_warns_nothing(tmp_path, capsys):
    path = tmp_path / "c.csv"
    make_customers(1_000, seed=0).to_csv(path, index=False)
    code, out, err = run(capsys, "fit", path, "-o", tmp_path / "m", "--json")
    assert code == 0, err
    assert json.loads(out)["warnings"] == []
    assert "warning:" not in err


def test_suggest_warns_like_fit(tmp_path, capsys):
    path = tmp_path / "c.csv"
    make_customers(600, seed=0).to_csv(path, index=False)
    code, out, err = run(capsys, "suggest", path, "-a", "dbscan", "-p", "min_samples=200",
                         "--json")
    assert code == 0, err
    warned = json.loads(out)["warnings"]
    assert warned
    for w in warned:
        assert w.startswith("with the recommended settings, DBSCAN ") or "alone makes" in w


def test_more_segments_than_a_model_holds_is_refused_before_describing_them(tmp_path, capsys):
    """Found re-measuring HDBSCAN (min_cluster_size=2 on 30,000 customers: 5,975 segments,
    117 s of profiles and rules before the model file refused them): the fit stops as soon
    as the labels are known."""
    path = tmp_path / "pairs.csv"  # 1,500 customers twice each: 1,500 tight pairs
    lines = ["CustomerID,Age,Annual Income (k$),Spending Score (1-100)"]
    for i in range(3_000):
        j = i // 2
        lines.append(f"C{i},{20 + j % 50},{15 + (j // 50) * 3},{1 + (j * 7) % 99}")
    path.write_text("\n".join(lines) + "\n")
    code, _, err = run(capsys, "fit", path, "-o", tmp_path / "m", "-a", "dbscan",
                       "-p", "eps=0.01", "-p", "min_samples=2")
    line = one_error_line(code, err)
    assert "DBSCAN found 1,500 segments in 3,000 customers, more than the 1,000 a model " \
        "holds:" in line
    assert not (tmp_path / "m").exists()


@pytest.fixture(scope="module")
def tiny_scale_model(tmp_path_factory) -> tuple[Path, Path]:
    """A model on a feature whose scale is 0.001 (a valid 1e308 is past float64 once
    standardised) and a batch with values far out on each side."""
    import numpy as np
    import pandas as pd

    from custseg.cli import main

    folder = tmp_path_factory.mktemp("far")
    rng = np.random.default_rng(0)
    fit = pd.DataFrame({"id": range(300), "rate": rng.normal(0, 0.001, 300).round(6),
                        "visits": rng.normal(5, 1, 300).round(2)})
    fit.to_csv(folder / "fit.csv", index=False)
    batch = fit.head(10).astype(str)
    batch.loc[0, "rate"], batch.loc[1, "rate"], batch.loc[2, "visits"] = "1e308", "-1e308", "1e200"
    batch.to_csv(folder / "batch.csv", index=False)
    assert main(["fit", str(folder / "fit.csv"), "-o", str(folder / "m.custseg"),
                 "--features", "rate,visits"]) == 0
    return folder / "m.custseg", folder / "batch.csv"


def test_values_far_past_float64_once_standardised_are_placed_and_atypical(
        tiny_scale_model, tmp_path, capsys):
    """Squared distances of 1e200, and 1e308 over a scale of 0.001, exited 1 (an index
    past the last neighbour; "the rows to assign contain NaN or infinity")."""
    import pandas as pd

    model, batch = tiny_scale_model
    code, out, err = run(capsys, "score", model, batch, "-o", tmp_path / "s.csv", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["rows"] == 10 and summary["invalid"] == 0 and summary["atypical"] == 3
    scored = pd.read_csv(tmp_path / "s.csv", dtype=str)
    assert scored["atypical"].tolist() == ["true"] * 3 + ["false"] * 7
    assert scored["rate"].tolist()[:2] == ["1e308", "-1e308"]  # the cells as given
    for value in ("1e308", "-1e308"):
        code, out, err = run(capsys, "predict", model, "--value", f"rate={value}",
                             "--value", "visits=5", "--json")
        assert code == 0 and json.loads(out)["atypical"] is True, err


@pytest.fixture(scope="module")
def huge_fit_csv(tmp_path_factory) -> Path:
    """600 ordinary customers, then valid values at float64's edge among the ones fitted:
    one of 1e154 (its cube overflows in the skew), two of 1e308 in a column (their sum
    overflows in the mean), a row of 1e308 everywhere, and a tiny feature (about 1e-6)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    n = 600
    frame = pd.DataFrame({"cust": [f"K{i:05d}" for i in range(n)],
                          "a": rng.normal(50, 10, n).round(3),
                          "b": rng.normal(100, 20, n).round(3),
                          "tiny": rng.normal(1e-6, 1e-7, n)})
    frame.loc[0, ["a", "b", "tiny"]] = 1e308
    frame.loc[1, "a"], frame.loc[2, "a"], frame.loc[3, "b"] = 1e308, 1e154, -1e308
    path = tmp_path_factory.mktemp("huge") / "fit.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("algorithm", ["kmeans", "hdbscan", "gmm"])
def test_fitting_on_values_at_the_float64_edge_gives_a_model_that_loads(
        huge_fit_csv, tmp_path, capsys, algorithm):
    """fit exited 1 (OverflowError in the skew; NaN in the assigner's check) or wrote a
    model no command could open ("encoding.scales[0] … got None"; "base statistics of
    the clustered feature a are missing"): means and spreads overflowed to inf or NaN."""
    import pandas as pd

    model = tmp_path / "m.custseg"
    code, out, err = run(capsys, "fit", huge_fit_csv, "-o", model, "-a", algorithm,
                         "--features", "a,b,tiny", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["data_quality"]["n_used"] == 600
    top = max(s["means"]["a"] for s in summary["segments"])
    assert 1e305 < top < float("inf")  # the segment of 1e308s has a finite, huge mean
    code, out, err = run(capsys, "profile", model)
    assert code == 0, err
    assert not any(f" 0 {level}" in out for level in ("low", "mid", "high"))  # tiny: not "0"
    code, out, err = run(capsys, "score", model, huge_fit_csv, "-o", tmp_path / "s.csv")
    assert code == 0, err
    scored = pd.read_csv(tmp_path / "s.csv", dtype=str)
    assert len(scored) == 600 and scored["row_status"].eq("ok").all()
    given = pd.read_csv(huge_fit_csv, dtype=str)
    assert scored["a"].tolist() == given["a"].tolist()  # every cell as the file wrote it
    assert scored.loc[:2, "a"].tolist() == ["1e+308", "1e+308", "1e+154"]


def test_a_profile_prints_small_means_in_significant_digits(tmp_path, capsys):
    """A feature around 1e-6 was printed "0" in every segment (rounded to one decimal);
    segments whose averages differ print differently."""
    import re

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(2)
    pd.DataFrame({"rate": rng.normal(1e-6, 1e-7, 200), "share": rng.uniform(0.01, 0.04, 200),
                  "visits": rng.normal(5, 1, 200)}).to_csv(tmp_path / "t.csv", index=False)
    code, _, err = run(capsys, "fit", tmp_path / "t.csv", "-o", tmp_path / "m.custseg",
                       "-p", "n_clusters=3")
    assert code == 0, err
    code, out, err = run(capsys, "profile", tmp_path / "m.custseg", "--json")
    segments = json.loads(out)["segments"]
    code, out, err = run(capsys, "profile", tmp_path / "m.custseg")
    rows = [line for line in out.splitlines() if re.match(r"\s+\d+  ", line)]
    assert len(rows) == 3
    for s, line in zip(segments, rows, strict=True):
        cells = re.findall(r"(-?[\d.,]+(?:e[-+]\d+)?) (?:low|mid|high)", line)
        rate, share = (float(c.replace(",", "")) for c in cells[:2])
        assert rate == pytest.approx(s["means"]["rate"], rel=0.01)
        assert share == pytest.approx(s["means"]["share"], rel=0.01)
    assert len({line.split()[-6] for line in rows}) == 3  # three rates, three texts
