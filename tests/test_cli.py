"""The command line, through main([...]) and once through the installed script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run

from custseg.cli import _parse_params, main
from custseg.errors import ParameterError


@pytest.fixture
def demo_csv(tmp_path, capsys) -> Path:
    path = tmp_path / "customers.csv"
    code, _, err = run(capsys, "demo-data", "-n", 300, "--seed", 0, "-o", path)
    assert code == 0, err
    return path


@pytest.fixture
def model_path(demo_csv, tmp_path, capsys) -> Path:
    path = tmp_path / "model.custseg"
    code, _, err = run(capsys, "fit", demo_csv, "-o", path)
    assert code == 0, err
    return path


def test_demo_data(demo_csv):
    df = pd.read_csv(demo_csv, dtype=str)
    assert len(df) == 300
    assert list(df.columns) == ["customer_id", "gender", "age", "annual_income", "spending_score"]


def test_fit_json_contract(demo_csv, tmp_path, capsys):
    out_model = tmp_path / "m.bin"
    code, out, err = run(capsys, "fit", demo_csv, "-o", out_model, "--algorithm", "agglomerative",
                         "--param", "n_clusters=4", "--param", "linkage=average",
                         "--features", "annual_income,spending_score", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert {"algorithm", "params", "features", "n_rows", "metrics", "segments"} <= set(data)
    assert data["algorithm"] == "agglomerative"
    assert data["params"] == {"n_clusters": 4, "linkage": "average"}
    assert data["features"] == ["annual_income", "spending_score"]
    assert data["n_rows"] == 300
    assert len(data["segments"]) == 4
    for seg in data["segments"]:
        assert {"id", "name", "size", "share", "means", "levels", "strategy"} <= set(seg)
        assert set(seg["levels"]) == {"age", "annual_income", "spending_score"}
    assert out_model.is_file()  # exactly the path given
    assert "model written to" in err


def test_fit_human_output(demo_csv, tmp_path, capsys):
    code, out, _ = run(capsys, "fit", demo_csv, "-o", tmp_path / "m.custseg")
    assert code == 0
    assert out.splitlines()[0] == (
        "K-Means (n_clusters=5, n_init=10) on age, annual income and spending score")
    assert "rows used: 300 of 300" in out


def test_dbscan_noise_is_outliers(demo_csv, tmp_path, capsys):
    code, out, _ = run(capsys, "fit", demo_csv, "-o", tmp_path / "m", "-a", "dbscan",
                       "-p", "eps=0.3", "-p", "min_samples=8", "--json")
    assert code == 0
    segments = json.loads(out)["segments"]
    noise = [s for s in segments if s["id"] == -1]
    assert noise and noise[0]["name"] == "Outliers"


def test_profile_json(model_path, capsys):
    code, out, _ = run(capsys, "profile", model_path, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["algorithm"] == "kmeans"
    assert sum(s["size"] for s in data["segments"]) == 300


def test_predict_json_and_text(model_path, capsys):
    code, out, _ = run(capsys, "predict", model_path, "--age", 30, "--annual-income", 85,
                       "--spending-score", 85, "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"segment_id", "segment_name", "confidence", "atypical"}
    assert data["atypical"] is False
    code, out, _ = run(capsys, "predict", model_path, "--age", 30, "--annual-income", 85,
                       "--spending-score", 85)
    assert out.startswith(f"Segment {data['segment_id']}: {data['segment_name']}")


def test_score(model_path, demo_csv, tmp_path, capsys):
    out_path = tmp_path / "scored.csv"
    code, _, err = run(capsys, "score", model_path, demo_csv, "-o", out_path)
    assert code == 0, err
    assert "scored 300 rows (0 invalid" in err
    scored = pd.read_csv(out_path, dtype=str, keep_default_na=False)
    assert len(scored) == 300
    assert scored.columns[-6:].tolist() == ["segment_id", "segment_name", "confidence",
                                            "atypical", "row_status", "row_issues"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "{csv}", "-o", "{tmp}/m", "--algorithm", "foo"],
         "error: Invalid value for '--algorithm' / '-a': 'foo' is not one of 'kmeans', 'dbscan', "
         "'agglomerative', 'gmm', 'hdbscan', 'birch', 'kprototypes', 'rfm'. "
         "(see custseg --help)"),
        # refused before the command runs: the missing file is never looked at
        (["suggest", "{tmp}/nope.csv", "-a", "kmedoids"], "'kmedoids' is not one of 'kmeans'"),
        (["score", "{csv}", "{csv}", "-o", "{tmp}/x.csv", "--engine", "spark"],
         "error: Invalid value for '--engine': 'spark' is not one of 'local', 'dask'."),
        (["score", "{csv}", "{csv}", "-o", "{tmp}/x.csv", "--scheduler", "tcp://x:1"],
         "error: --scheduler only applies with --engine dask."),
        (["fit", "{csv}", "-o", "{tmp}/m", "--features", "gender"],
         "one-hot encoded beside the numeric features (--use-gender)"),
        (["fit", "{csv}", "-o", "{tmp}/m", "-p", "n_clusters=99"], "error: n_clusters='99' is out of range"),
        (["fit", "{csv}", "-o", "{tmp}/m", "-p", "eps"], "error: --param 'eps' should look like NAME=VALUE"),
        (["fit", "{tmp}/nope.csv", "-o", "{tmp}/m"], "does not exist"),
        (["fit", "{csv}", "-o", "{tmp}/no/such/dir/m"], "does not exist"),
        (["fit", "{csv}"], "error: Missing option"),
        (["fit"], "error: Missing argument"),
        (["fit", "{csv}", "-o", "{tmp}/m", "--bogus"], "error: No such option: --bogus"),
        (["predict", "{tmp}/nope.custseg", "--age", "3"], "error: model file"),
        (["predict", "{csv}", "--age", "3"], "is not a custseg model file"),
        (["score", "{csv}", "{csv}", "-o", "{tmp}/x.csv"], "is not a custseg model file"),
        ([], "error: Missing command"),
    ],
)
def test_user_errors_exit_2_with_one_line(demo_csv, tmp_path, capsys, args, message):
    args = [a.format(csv=demo_csv, tmp=tmp_path) for a in args]
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_score_failure_leaves_nothing(model_path, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("ID,Age\n1,30\n")
    code, _, err = run(capsys, "score", model_path, bad, "-o", tmp_path / "out.csv")
    assert code == 2
    assert "no column for annual_income, spending_score" in err
    assert not (tmp_path / "out.csv").exists()
    assert not any(p.name.endswith(".part") for p in tmp_path.iterdir())


def test_pickle_model_is_refused_through_the_cli(tmp_path, capsys):
    import pickle

    marker = tmp_path / "ran"
    evil = tmp_path / "evil.custseg"

    class Trap:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil.write_bytes(pickle.dumps(Trap()))
    code, _, err = run(capsys, "profile", evil)
    assert code == 2
    assert "Python pickle" in err
    assert not marker.exists()


def test_installed_script_runs(tmp_path):
    script = shutil.which("custseg") or str(Path(sys.executable).with_name("custseg"))
    result = subprocess.run([script, "fit", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "m")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr


def test_real_data_cli(mall_path, tmp_path, capsys):
    model = tmp_path / "mall.custseg"
    code, out, _ = run(capsys, "fit", mall_path, "-o", model, "--features",
                       "annual_income,spending_score", "--json")
    assert code == 0
    sizes = [s["size"] for s in json.loads(out)["segments"]]
    assert sizes == [81, 39, 35, 23, 22]
    code, out, _ = run(capsys, "predict", model, "--age", 25, "--annual-income", 20,
                       "--spending-score", 80, "--json")
    assert json.loads(out)["segment_name"] == "Trend-Driven Budget Spenders"
    code, _, _ = run(capsys, "score", model, mall_path, "-o", tmp_path / "s.csv")
    assert code == 0
    scored = pd.read_csv(tmp_path / "s.csv", dtype=str)
    original = pd.read_csv(mall_path, dtype=str)
    pd.testing.assert_frame_equal(scored[original.columns], original)


def test_app_refuses_an_unreadable_data_file(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"")
    code, _, err = run(capsys, "app", "--data", bad)
    assert code == 2
    assert "is empty" in err


def test_unreadable_input_is_a_user_error(demo_csv, tmp_path, capsys, monkeypatch):
    import builtins

    model = tmp_path / "m.custseg"
    assert main(["fit", str(demo_csv), "-o", str(model)]) == 0
    capsys.readouterr()
    real_open = builtins.open

    def denied(path, *args, **kwargs):
        if str(path) == str(demo_csv):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", denied)
    code, _, err = run(capsys, "score", model, demo_csv, "-o", tmp_path / "out.csv")
    assert code == 2
    assert err.startswith("error: Permission denied (") and len(err.splitlines()) == 1


def test_param_assignments_are_parsed_for_the_registry():
    assert _parse_params(["n_clusters=4", " linkage = ward"]) == {
        "n_clusters": "4", "linkage": "ward"}
    assert _parse_params(None) == {}
    with pytest.raises(ParameterError, match="should look like NAME=VALUE"):
        _parse_params(["n_clusters"])
    with pytest.raises(ParameterError, match="given twice"):
        _parse_params(["eps=1", "eps=2"])


MAP = ["--map", "age=Years", "--map", "annual_income=Pay", "--map", "spending_score=Points"]


@pytest.fixture
def odd_csv(demo_csv, tmp_path) -> Path:
    """The demo customers under headers that only --map can place."""
    path = tmp_path / "odd.csv"
    frame = pd.read_csv(demo_csv, dtype=str)
    frame.columns = ["Client", "gender", "Years", "Pay", "Points"]
    frame.to_csv(path, index=False)
    return path


def test_report_and_compare_read_their_data_with_map(odd_csv, tmp_path, capsys):
    model = tmp_path / "odd.custseg"
    code, _, err = run(capsys, "fit", odd_csv, "-o", model, *MAP)
    assert code == 0, err
    report = ["report", model, "-o", tmp_path / "r.html", "--data", odd_csv]
    compare = ["compare", model, model, "--data", odd_csv, "--json"]
    # the model keeps the mapping fit was given: no --map again, and the same result
    for extra in ((), MAP):
        code, _, err = run(capsys, *report, *extra)
        assert code == 0, err
        assert "odd.csv" in (tmp_path / "r.html").read_text()
        code, out, err = run(capsys, *compare, *extra)
        assert code == 0, err
        assert json.loads(out)["migration"]["customers"] == 300
        assert json.loads(out)["migration"]["stayed_share"] == 1.0
    plain = tmp_path / "plain.custseg"  # a model fitted without the mapping cannot
    odd = pd.read_csv(odd_csv, dtype=str)
    odd.rename(columns={"Years": "Age", "Pay": "Income", "Points": "Spending Score"}).to_csv(
        tmp_path / "plain.csv", index=False)
    assert run(capsys, "fit", tmp_path / "plain.csv", "-o", plain)[0] == 0
    code, _, err = run(capsys, "report", plain, "-o", tmp_path / "p.html", "--data", odd_csv)
    assert code == 2
    assert "--map age=" in err  # the headers need it


def test_suggest_takes_the_input_options(demo_csv, capsys):
    code, _, err = run(capsys, "suggest", demo_csv, "--range", "age=18:19",
                       "--max-decompressed-mb", 1)
    assert code == 2
    assert "too few to suggest settings" in err


def test_score_loads_no_scikit_learn(model_path, demo_csv, tmp_path):
    """Scoring needs the vote (numpy, scipy), not the estimators or the charts."""
    args = ["score", str(model_path), str(demo_csv), "-o", str(tmp_path / "out.csv"), "-q"]
    code = (f"import sys; from custseg.cli import main; code = main({args!r}); "
            "print(code, [m for m in ('sklearn', 'plotly') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.splitlines()[-1] == "0 []"
    assert "scored 300 rows (0 invalid" in result.stderr


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_load_no_heavy_library(flag):
    code = (f"import sys; from custseg.cli import main; code = main([{flag!r}]); "
            "print(code, [m for m in ('sklearn', 'plotly', 'pandas', 'pyarrow') "
            "if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.splitlines()[-1] == "0 []"
    if flag == "--version":
        assert result.stdout.splitlines()[0] == f"custseg {version('custseg')}"


def test_fit_hdbscan_with_a_merge_distance(tmp_path, capsys):
    # issue 14: scikit-learn's own HDBSCAN crashed here (exit 1, TypeError) under NumPy 2.4
    data = tmp_path / "customers.csv"
    assert run(capsys, "demo-data", "-n", 2_000, "--seed", 0, "-o", data)[0] == 0
    model = tmp_path / "m.custseg"
    code, out, err = run(capsys, "fit", data, "-o", model, "--algorithm", "hdbscan",
                         "--param", "cluster_selection_epsilon=0.55", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["params"]["cluster_selection_epsilon"] == 0.55
    assert result["params"]["min_samples"] is None  # JSON keeps the machine value
    code, text, err = run(capsys, "profile", model)
    assert code == 0, err
    # people read the registry's label and 'auto', never 'hdbscan' or 'None'
    assert text.splitlines()[0] == (
        "HDBSCAN (min_cluster_size=15, min_samples=auto, cluster_selection_epsilon=0.55) "
        "on age, annual income and spending score")
    assert sum(s["size"] for s in result["segments"]) == 2_000
    code, apart, err = run(capsys, "fit", data, "-o", model, "--algorithm", "hdbscan",
                           "--json")
    assert code == 0, err
    # the merge distance merged segments: fewer of them than with none
    assert len(result["segments"]) < len(json.loads(apart)["segments"])
