"""custseg's benchmarks: ``make bench`` (``python -m benchmarks.run``).

Measures, on the demo generator's data, each algorithm's fit time and peak memory at
200, 10k, 100k and 1M customers; the dashboard's cold start and page-switch time under
AppTest beside the seed's per-rerun refit; the dashboard loading a saved model of 200,000
customers beside fitting one from its controls; batch scoring at 1M and 5M rows beside the
seed's batch path and the I/O floor (pyarrow reading the same CSV and writing one of the
output's shape, nothing else), in-process and as whole processes; scoring 1M rows × 17
features beside scikit-learn's KNeighborsClassifier on the same reference set; a transaction
log of 1M and 10M lines to its customer table beside the pandas groupby script; the scoring
service (a real ``custseg serve`` on loopback: /v1/predict latency and batches, /v1/score
of 1M rows beside ``custseg score``); and the command line's start-up (``custseg --help``,
``--version``). Every figure is a median of repeats in fresh
processes, custseg and its baselines interleaved in one run, so ratios compare like with
like on a shared, noisy machine. Prints a table, writes ``benchmarks/results/latest.json`` and
rewrites ``BENCHMARKS.md``; ``--only SECTION`` runs one section (``model-load`` writes its
own section of ``BENCHMARKS.md`` in place and keeps the others).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MALL = ROOT.parent / "shared" / "data" / "Mall_Customers.csv"
ALGORITHMS = ["kmeans", "birch", "gmm", "agglomerative", "dbscan", "hdbscan"]


def task(*args: str) -> dict:
    """One task's figures, plus ``process_s``: the wall time of its whole process."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "benchmarks.tasks", *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=3_600)
    process_s = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"benchmark task {args[0]} failed:\n{result.stderr[-3000:]}")
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "process_s": process_s}


def custseg_process(*args: str) -> float:
    """Wall time of one ``custseg`` command as a user runs it: start-up, imports, work, exit."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "custseg.cli", *args], cwd=ROOT, check=True,
                   capture_output=True, timeout=3_600)
    return time.perf_counter() - started


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def machine() -> dict:
    mem_kb = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    import numpy
    import pandas
    import pyarrow
    import sklearn
    import streamlit

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024**2, 1),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": numpy.__version__, "pandas": pandas.__version__,
        "scikit-learn": sklearn.__version__, "pyarrow": pyarrow.__version__,
        "streamlit": streamlit.__version__,
        "commit": commit,
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
    }


def demo_csv(folder: Path, n: int) -> Path:
    """The demo table of ``n`` customers (seed 0), by ``custseg demo-data`` up to the
    million rows it makes, and beyond by the task ``demo_big`` (its chunks joined)."""
    from custseg.table.sample import DEMO_MAX_ROWS

    path = folder / f"demo_{n}.csv"
    if not path.exists() and n > DEMO_MAX_ROWS:
        task("demo_big", "--rows", str(n), "--out", str(path))
    elif not path.exists():
        subprocess.run([sys.executable, "-m", "custseg.cli", "demo-data", "-n", str(n), "--seed",
                        "0", "-o", str(path)], check=True, capture_output=True)
    return path


def bench_startup(repeats: int) -> dict:
    """What every command pays before its work: ``custseg --help`` and ``--version``."""
    runs = max(repeats, 5)
    row = {flag: statistics.median(custseg_process(flag) for _ in range(runs))
           for flag in ("--help", "--version")}
    print(f"  start-up: --help {row['--help']:.2f} s, --version {row['--version']:.2f} s",
          flush=True)
    return row


def bench_fits(folder: Path, sizes: list[int], repeats: int) -> list[dict]:
    rows = []
    for n in sizes:
        csv = demo_csv(folder, n)
        for algorithm in ALGORITHMS:
            runs = [task("fit", "--csv", str(csv), "--algorithm", algorithm) for _ in range(repeats)]
            rows.append({"rows": n, "algorithm": algorithm, "fit_s": median(runs, "fit_s"),
                         "read_s": median(runs, "read_s"),
                         "peak_mb": max(r["peak_mb"] for r in runs),
                         "sample_size": runs[0]["sample_size"], "fidelity": runs[0]["fidelity"]})
            print(f"  fit {algorithm:>13} {n:>9,} rows: {rows[-1]['fit_s']:7.2f} s  "
                  f"{rows[-1]['peak_mb']:7.0f} MB", flush=True)
    return rows


def bench_dashboard(folder: Path, sizes: list[int], repeats: int) -> list[dict]:
    rows = []
    for n in sizes:
        csv = str(demo_csv(folder, n))
        seed = task("seed_rerun", "--csv", csv, "--repeats", str(repeats))
        ours = task("dashboard", "--csv", csv, "--repeats", str(repeats))
        rows.append({"rows": n, "seed_rerun_s": seed["seconds"], "cold_s": ours["cold_s"],
                     "switch_s": ours["switch_s"], "widget_s": ours["widget_s"],
                     "per_page": ours["per_page"], "peak_mb": ours["peak_mb"],
                     "ratio": ours["switch_s"] / seed["seconds"]})
        print(f"  dashboard {n:>9,} rows: cold {ours['cold_s']:.2f} s, page switch "
              f"{ours['switch_s']:.3f} s vs seed rerun {seed['seconds']:.3f} s", flush=True)
    return rows


#: Customers of the model file the dashboard loads (issue 14: "Loading a saved model at
#: 200k takes 24 s").
MODEL_LOAD_ROWS = 200_000
MODEL_LOAD_PARTS = ("read", "validate", "assign", "lab", "dashboard", "fit")


def bench_model_load(folder: Path, rows: int, repeats: int) -> list[dict]:
    """The dashboard (AppTest, the demo table of ``rows`` customers as its start-up file)
    loading a model file fitted on the same customers (``custseg fit``, K-Means, 5
    segments) in the Model Lab and showing the Dashboard, beside the same app fitting
    from the controls (the random seed changed on the Dashboard), in turn in fresh
    processes (load, refit, refit, load, …)."""
    csv = demo_csv(folder, rows)
    model = folder / f"model_{rows}.custseg"
    subprocess.run([sys.executable, "-m", "custseg.cli", "fit", str(csv), "-o", str(model),
                    "--algorithm", "kmeans", "--param", "n_clusters=5", "--force"],
                   cwd=ROOT, check=True, capture_output=True)
    runs: dict[str, list[dict]] = {"load": [], "refit": []}
    load_average = [os.getloadavg()[0]]
    for i in range(repeats):
        for mode in (("load", "refit") if i % 2 == 0 else ("refit", "load")):
            runs[mode].append(task("model_load", "--csv", str(csv), "--model", str(model),
                                   "--mode", mode))
    load_average.append(os.getloadavg()[0])
    load, refit = runs["load"], runs["refit"]
    row = {"rows": rows, "model_mb": model.stat().st_size / 1e6, "load_average": load_average,
           "validate_uncached_s": median(load, "validate_uncached_s"),
           "segments": load[0]["segments"], "params": load[0]["params"],
           "load_s": median(load, "seconds"), "refit_s": median(refit, "seconds"),
           "load_all": [r["seconds"] for r in load], "refit_all": [r["seconds"] for r in refit],
           "cold_s": median(load + refit, "cold_s"),
           "load_peak_mb": max(r["peak_mb"] for r in load),
           "refit_peak_mb": max(r["peak_mb"] for r in refit),
           "load_parts": {part: median(load, f"{part}_s") for part in MODEL_LOAD_PARTS},
           "refit_parts": {part: median(refit, f"{part}_s") for part in MODEL_LOAD_PARTS}}
    row["ratio"] = row["load_s"] / row["refit_s"]
    parts = ", ".join(f"{k} {v:.2f}" for k, v in row["load_parts"].items() if k != "fit")
    print(f"  model load {rows:>9,} customers: {row['load_s']:.2f} s ({parts}) vs a fit from "
          f"the controls {row['refit_s']:.2f} s = {row['ratio']:.2f}×; every run: load "
          f"{row['load_all']}, refit {row['refit_all']}", flush=True)
    return [row]


def model_load_markdown(result: dict) -> list[str]:
    rows = result.get("model_load", [])
    if not rows:
        return []
    lines = ["", "## Loading a saved model in the dashboard", "",
             "Under AppTest, in fresh processes, in turn (load, refit, refit, load, …): the "
             "demo table as the start-up file, the app's cold start (its own fit of the "
             "controls' settings), a visit to the Model Lab (its curves computed), then the "
             "step timed, until the Dashboard is drawn. **Load**: the model file (`custseg "
             "fit` on the same customers, K-Means, 5 segments) uploaded in the Model Lab, "
             "then the Dashboard. **Refit**, the baseline: the sidebar's random seed changed "
             "on the Dashboard, a new fit from the controls (same algorithm and settings). "
             "The parts are the step's calls, timed where they run: read (the file parsed "
             "and checked), validate (the customers validated and typed for the model; "
             "cached when the fit shown already needed the same columns), assign (the "
             "nearest-neighbour assigner), fit; lab: the rest of the upload's run (the Model "
             "Lab drawn again and the rerun it asks for); dashboard: the Dashboard drawn "
             "(and the sidebar's cached results). Peak memory is the whole process's.", "",
             *_header("customers", "model file (MB)", "load (s)", "read", "validate",
                      "assign", "lab", "dashboard", "refit (s)", "fit", "refit dashboard",
                      "load / refit", "peak (MB) load / refit")]
    for r in rows:
        lp, rp = r["load_parts"], r["refit_parts"]
        lines.append(f"| {r['rows']:,} | {r['model_mb']:.2f} | **{r['load_s']:.2f}** | "
                     f"{lp['read']:.2f} | {lp['validate']:.2f} | {lp['assign']:.2f} | "
                     f"{lp['lab']:.2f} | {lp['dashboard']:.2f} | **{r['refit_s']:.2f}** | "
                     f"{rp['fit']:.2f} | {rp['dashboard']:.2f} | **{r['ratio']:.2f}×** | "
                     f"{r['load_peak_mb']:,.0f} / {r['refit_peak_mb']:,.0f} |")
    for r in rows:
        before, after = r["load_average"]
        lines += ["", f"Each part is its own median, so the parts need not add up to the "
                  f"median load. Every run (s): load "
                  f"{', '.join(f'{t:.2f}' for t in r['load_all'])}; refit "
                  f"{', '.join(f'{t:.2f}' for t in r['refit_all'])}. The app's cold start "
                  f"(reading the file, its first fit, the Dashboard) took {r['cold_s']:.1f} s. "
                  "Validation is 0 in the load because the fit shown validated the same "
                  "columns and its result is cached; when it needed others, a load pays "
                  f"{r['validate_uncached_s']:.2f} s more (measured apart, after each load). "
                  f"Load average (1 min) {before:.1f} before, {after:.1f} after."]
    return lines


def checks_model_load(result: dict) -> list[tuple[str, str, bool]]:
    return [("loading a saved model of 200k customers and showing the Dashboard (issue 14: "
             "24 s) takes less than a fit from the controls",
             f"{row['load_s']:.2f} s vs {row['refit_s']:.2f} s = {row['ratio']:.2f}×",
             row["ratio"] < 1)
            for row in result.get("model_load", []) if row["rows"] >= MODEL_LOAD_ROWS]


def splice_section(report: str, section: list[str], after: str) -> str:
    """``report`` (BENCHMARKS.md) with the ``## `` section that ``section`` starts with
    replaced by it, or put before the section that follows the one headed ``after``
    (at the end when there is none): a partial run rewrites its own section and keeps
    every other, written by ``make bench`` or by hand."""
    heading = next(line for line in section if line.startswith("## "))
    lines = report.rstrip("\n").split("\n")
    body = section[section.index(heading):]

    def end_of(start: int) -> int:
        return next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
                    len(lines))

    if heading in lines:
        start = lines.index(heading)
        stop = end_of(start)
        while stop > start and not lines[stop - 1].strip():
            stop -= 1
        lines[start:stop] = body
    else:
        at = end_of(lines.index(after)) if after in lines else len(lines)
        while at > 0 and not lines[at - 1].strip():
            at -= 1
        lines[at:at] = ["", *body]
    return "\n".join(lines) + "\n"


def splice_target(report: str, name: str, value: str, met: bool) -> str:
    """``report`` with the Targets table's row for ``name`` written anew (added at the
    table's end when it has none)."""
    row = f"| {name} | {value} | {'yes' if met else '**no**'} |"
    lines = report.split("\n")
    found = [i for i, line in enumerate(lines) if line.startswith(f"| {name} |")]
    if found:
        lines[found[0]] = row
    else:
        at = lines.index("## Targets") + 1
        while at < len(lines) and not lines[at].startswith("|"):
            at += 1
        while at < len(lines) and lines[at].startswith("|"):
            at += 1
        lines.insert(at, row)
    return "\n".join(lines)


def bench_batch(folder: Path, sizes: list[int], repeats: int, model_rows: int) -> list[dict]:
    model = folder / "model.custseg"
    subprocess.run([sys.executable, "-m", "custseg.cli", "fit", str(demo_csv(folder, model_rows)),
                    "-o", str(model)], check=True, capture_output=True)
    rows = []
    for n in sizes:
        csv = str(demo_csv(folder, n))
        out = str(folder / "out.csv")
        seed, ours, floor, whole = [], [], [], []
        for _ in range(repeats):  # interleaved: each repeat measures all four
            seed.append(task("seed_batch", "--csv", csv, "--out", out, "--mall", str(MALL)))
            ours.append(task("score", "--model", str(model), "--csv", csv, "--out", out))
            floor.append(task("io_floor", "--csv", csv, "--out", out))
            whole.append(custseg_process("score", str(model), csv, "-o", out, "--quiet"))
        row = {
            "rows": n,
            "custseg_s": median(ours, "seconds"), "custseg_peak_mb": max(r["peak_mb"] for r in ours),
            "seed_s": median(seed, "seconds"), "seed_peak_mb": max(r["peak_mb"] for r in seed),
            "io_floor_s": median(floor, "seconds"),
            "io_floor_peak_mb": max(r["peak_mb"] for r in floor),
            "custseg_process_s": statistics.median(whole),
            "seed_process_s": median(seed, "process_s"),
        }
        row["rows_per_s"] = n / row["custseg_s"]
        row["vs_seed"] = row["custseg_s"] / row["seed_s"]
        row["vs_io_floor"] = row["custseg_s"] / row["io_floor_s"]
        row["process_vs_seed"] = row["custseg_process_s"] / row["seed_process_s"]
        rows.append(row)
        print(f"  score {n:>9,} rows: custseg {row['custseg_s']:.2f} s / "
              f"{row['custseg_peak_mb']:.0f} MB, seed {row['seed_s']:.2f} s / "
              f"{row['seed_peak_mb']:.0f} MB, I/O floor {row['io_floor_s']:.2f} s; whole process "
              f"custseg {row['custseg_process_s']:.2f} s, seed {row['seed_process_s']:.2f} s",
              flush=True)
    return rows


def bench_knn17(folder: Path, rows: int, reference: int, repeats: int) -> list[dict]:
    """Scoring ``rows`` × 17 features by custseg's vote and by scikit-learn's
    KNeighborsClassifier(3) on the same reference set, in turn (custseg, scikit-learn,
    custseg, …), on the credit-card shape and on a Gaussian mixture."""
    out = []
    for shape in ("credit_card", "mixture"):
        data = folder / f"knn17_{shape}"
        made = task("knn17_data", "--shape", shape, "--rows", str(rows), "--reference",
                    str(reference), "--out", str(data))
        runs: dict[str, list[dict]] = {"custseg": [], "sklearn": []}
        for i in range(repeats):
            for engine in (("custseg", "sklearn") if i % 2 == 0 else ("sklearn", "custseg")):
                runs[engine].append(task("knn17", "--engine", engine, "--data", str(data),
                                         "--labels", str(data / f"{engine}.npy")))
        import numpy as np

        ours, theirs = np.load(data / "custseg.npy"), np.load(data / "sklearn.npy")
        row = {"shape": shape, "rows": made["rows"], "reference": made["reference"],
               "custseg_s": median(runs["custseg"], "seconds"),
               "sklearn_s": median(runs["sklearn"], "seconds"),
               "custseg_all": [r["seconds"] for r in runs["custseg"]],
               "sklearn_all": [r["seconds"] for r in runs["sklearn"]],
               "custseg_peak_mb": max(r["peak_mb"] for r in runs["custseg"]),
               "sklearn_peak_mb": max(r["peak_mb"] for r in runs["sklearn"]),
               "search": runs["custseg"][0]["search"],
               "sklearn_algorithm": runs["sklearn"][0]["algorithm"],
               "agreement": float((ours == theirs).mean())}
        row["ratio"] = row["custseg_s"] / row["sklearn_s"]
        out.append(row)
        print(f"  knn 17 features {shape:>11}: custseg {row['custseg_s']:.1f} s / "
              f"{row['custseg_peak_mb']:.0f} MB, scikit-learn {row['sklearn_s']:.1f} s / "
              f"{row['sklearn_peak_mb']:.0f} MB = {row['ratio']:.2f}×, labels agree "
              f"{row['agreement']:.2%}; every run: custseg {row['custseg_all']}, "
              f"scikit-learn {row['sklearn_all']}", flush=True)
    return out


def bench_rfm(folder: Path, sizes: list[int], repeats: int) -> list[dict]:
    """A demo transaction log to its customer table: ``custseg rfm`` (``api.rfm``) beside
    the pandas script (read_csv, to_datetime, groupby), in turn in fresh processes."""
    out = []
    for lines in sizes:
        log = folder / f"log_{lines}.csv"
        made = task("rfm_log", "--lines", str(lines), "--out", str(log))
        runs: dict[str, list[dict]] = {"rfm": [], "pandas_rfm": []}
        for i in range(repeats):
            for name in (("rfm", "pandas_rfm") if i % 2 == 0 else ("pandas_rfm", "rfm")):
                runs[name].append(task(name, "--csv", str(log),
                                       "--out", str(folder / f"{name}.csv")))
        log.unlink()
        row = {"lines": lines, "mb": made["mb"], "customers": made["customers"],
               "custseg_s": median(runs["rfm"], "seconds"),
               "pandas_s": median(runs["pandas_rfm"], "seconds"),
               "custseg_process_s": median(runs["rfm"], "process_s"),
               "pandas_process_s": median(runs["pandas_rfm"], "process_s"),
               "custseg_peak_mb": max(r["peak_mb"] for r in runs["rfm"]),
               "pandas_peak_mb": max(r["peak_mb"] for r in runs["pandas_rfm"])}
        row["ratio"] = row["custseg_s"] / row["pandas_s"]
        row["process_ratio"] = row["custseg_process_s"] / row["pandas_process_s"]
        out.append(row)
        print(f"  rfm {lines:>11,} lines: custseg {row['custseg_s']:.1f} s / "
              f"{row['custseg_peak_mb']:.0f} MB, pandas {row['pandas_s']:.1f} s / "
              f"{row['pandas_peak_mb']:.0f} MB = {row['ratio']:.2f}×", flush=True)
    return out


def bench_rfm_parquet(folder: Path, lines: int) -> list[dict]:
    """A large demo log written as Parquet (in chunks, see the task ``rfm_log_parquet``)
    to its customer table by ``custseg rfm`` (``api.rfm``), once: the memory target is
    for logs no pandas script holds, so there is nothing to run beside it."""
    log = folder / f"log_{lines}.parquet"
    made = task("rfm_log_parquet", "--lines", str(lines), "--out", str(log))
    try:
        run = task("rfm", "--csv", str(log), "--out", str(folder / "rfm_parquet.csv"))
    finally:
        log.unlink()
    row = {"lines": lines, "mb": made["mb"], "customers": run["customers"],
           "custseg_s": run["seconds"], "custseg_process_s": run["process_s"],
           "custseg_peak_mb": run["peak_mb"]}
    print(f"  rfm {lines:>11,} lines of Parquet ({made['mb']:,.0f} MB): "
          f"{row['custseg_s']:.1f} s / {row['custseg_peak_mb']:.0f} MB", flush=True)
    return [row]


def bench_fit_transactions(folder: Path, lines: int, repeats: int) -> list[dict]:
    """``fit LOG --transactions`` end to end on the demo log (CSV), in fresh processes."""
    log = folder / f"log_{lines}.csv"
    made = task("rfm_log", "--lines", str(lines), "--out", str(log))
    try:
        runs = [task("fit_transactions", "--csv", str(log), "--out",
                     str(folder / "fit_tx.custseg")) for _ in range(repeats)]
    finally:
        log.unlink()
    row = {"lines": lines, "mb": made["mb"], "customers": runs[0]["customers"],
           "segments": runs[0]["segments"], "custseg_s": median(runs, "seconds"),
           "custseg_process_s": median(runs, "process_s"),
           "custseg_peak_mb": max(r["peak_mb"] for r in runs)}
    print(f"  fit --transactions {lines:>11,} lines: {row['custseg_s']:.1f} s / "
          f"{row['custseg_peak_mb']:.0f} MB", flush=True)
    return [row]


def fit_transactions_markdown(result: dict) -> list[str]:
    rows = result.get("fit_transactions", [])
    if not rows:
        return []
    lines = ["", "### From a log to a model in one step", "",
             "`custseg fit LOG --transactions` (`api.fit_transactions` and saving the model) "
             "on the demo log as CSV, end to end: aggregation, K-Means on the signed log of "
             "recency, frequency and monetary, profiles, stability, the model file. Peak "
             "memory is the whole process's.", "",
             *_header("lines", "CSV (MB)", "customers", "segments", "custseg (s)",
                      "whole process (s)", "custseg peak (MB)")]
    for r in rows:
        lines.append(f"| {r['lines']:,} | {r['mb']:,.0f} | {r['customers']:,} | "
                     f"{r['segments']} | {r['custseg_s']:.1f} | {r['custseg_process_s']:.1f} | "
                     f"{r['custseg_peak_mb']:,.0f} |")
    return lines


def rfm_parquet_markdown(result: dict) -> list[str]:
    rows = result.get("rfm_parquet", [])
    if not rows:
        return []
    lines = ["", "### A log too big for pandas, from Parquet", "",
             "The demo log written as Parquet (text ids and invoices, a timestamp, an "
             "integer quantity, a float price; made in chunks of 5M lines, each with its "
             "own customers) to its customer table by `custseg rfm`, once, in a fresh "
             "process. Peak memory is the whole process's.", "",
             *_header("lines", "Parquet (MB)", "customers", "custseg (s)",
                      "whole process (s)", "custseg peak (MB)")]
    for r in rows:
        lines.append(f"| {r['lines']:,} | {r['mb']:,.0f} | {r['customers']:,} | "
                     f"{r['custseg_s']:.1f} | {r['custseg_process_s']:.1f} | "
                     f"{r['custseg_peak_mb']:,.0f} |")
    return lines


def rfm_markdown(result: dict) -> list[str]:
    rows = result.get("rfm", [])
    if not rows:
        return []
    lines = ["", "## Transaction logs", "",
             "`custseg rfm` (`api.rfm`: the demo log to its customer table, written as CSV) "
             "beside the pandas script every notebook on the UCI log runs (`read_csv`, "
             "`to_datetime`, drop lines without a customer, `groupby` for recency, frequency "
             "and monetary; `benchmarks/tasks.py`), in turn in fresh processes. Times exclude "
             "imports; the whole-process figures include them (custseg's: pandas, pyarrow and "
             "DuckDB, as `custseg rfm` loads them; no scikit-learn).", "",
             *_header("lines", "CSV (MB)", "customers", "custseg (s)", "custseg peak (MB)",
                      "pandas (s)", "pandas peak (MB)", "custseg / pandas",
                      "whole processes")]
    for r in rows:
        lines.append(f"| {r['lines']:,} | {r['mb']:,.0f} | {r['customers']:,} | "
                     f"{r['custseg_s']:.2f} | {r['custseg_peak_mb']:,.0f} | {r['pandas_s']:.2f} | "
                     f"{r['pandas_peak_mb']:,.0f} | {r['ratio']:.2f}× | "
                     f"{r['process_ratio']:.2f}× |")
    return lines


def checks_rfm_parquet(result: dict) -> list[tuple[str, str, bool]]:
    return [("50M log lines from Parquet to customers under 1 GB",
             f"{row['custseg_peak_mb']:,.0f} MB in {row['custseg_s']:.0f} s",
             row["custseg_peak_mb"] < 1024)
            for row in result.get("rfm_parquet", []) if row["lines"] >= 50_000_000]


# --- the scoring service: a real `custseg serve` process on loopback ---

#: Requests per client (single customers at 1 and at 8 clients) and 1,000-row batches,
#: each phase stopped at SERVE_CAP_S seconds whatever its count.
SERVE_PLAN = {"single": [(1, 2_000), (8, 500)], "batch_rows": 1_000, "batches": 50}
SERVE_PLAN_QUICK = {"single": [(1, 200), (8, 50)], "batch_rows": 1_000, "batches": 10}
SERVE_CAP_S = 60.0


def proc_memory(pid: int) -> dict[str, float]:
    """A process's resident set now and at its peak (VmRSS, VmHWM), in MB: Linux's
    /proc/PID/status (psutil is no dependency)."""
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return {"rss_mb": out["VmRSS"], "peak_mb": out["VmHWM"]}


def proc_cpu_s(pid: int) -> float:
    """A process's CPU time so far (user + system), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak(pid: int) -> bool:
    """Set a process's VmHWM back to its resident set now (Linux: ``5`` written to
    /proc/PID/clear_refs), so that the next peak read is the peak since; False when the
    kernel refuses it (then a peak read is the peak since the process started)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


class Served:
    """``custseg serve MODEL --port 0`` started as a user starts it, on 127.0.0.1, its
    stderr (the announce line with the port it took, then one line per request) to
    ``log``; up once /health answers 200, within ``timeout`` seconds. Always stopped on
    exit (SIGTERM, which drains; SIGKILL after 30 s), its exit code kept."""

    def __init__(self, model: Path, log: Path, timeout: float = 90.0) -> None:
        self.model, self.log, self.timeout = model, log, timeout
        self.exit_code: int | None = None

    def __enter__(self) -> Served:
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "custseg.cli", "serve", str(self.model), "--host",
                 "127.0.0.1", "--port", "0"], cwd=ROOT, stdout=subprocess.DEVNULL,
                stderr=err)
        try:
            self.port = self._wait_up(time.monotonic() + self.timeout)
        except BaseException:
            self._stop()
            raise
        return self

    def _wait_up(self, deadline: float) -> int:
        import http.client
        import re

        port = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"custseg serve exited {self.proc.returncode}:\n"
                                   f"{self.log.read_text()[-3000:]}")
            if port is None:
                found = re.search(r"on http://127\.0\.0\.1:(\d+) ", self.log.read_text())
                port = int(found.group(1)) if found else None
            if port is not None:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    conn.request("GET", "/health")
                    if conn.getresponse().status == 200:
                        conn.close()
                        return port
                except OSError:
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"custseg serve did not answer /health within {self.timeout:.0f} s:"
                           f"\n{self.log.read_text()[-3000:]}")

    def _stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.exit_code = self.proc.returncode

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def logged_ms(self, path: str) -> list[float]:
        """The milliseconds the service logged for each 200 answer on ``path``."""
        import re

        return [float(ms) for ms in re.findall(
            rf"POST {re.escape(path)} 200 rows=\d+ ([\d.]+)ms", self.log.read_text())]


def cli_score(model: Path, csv: Path, out: Path) -> dict:
    """``custseg score MODEL INPUT -o OUT.csv`` as a whole process, launch to exit: its
    wall time, its peak resident set (its own rusage, from wait4) and the scoring time it
    reports."""
    import re

    out.unlink(missing_ok=True)
    err = out.with_suffix(".err")
    started = time.perf_counter()
    with open(err, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "custseg.cli", "score", str(model),
                                 str(csv), "-o", str(out)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=fh)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = err.read_text()
    if proc.returncode != 0:
        raise RuntimeError(f"custseg score exited {proc.returncode}:\n{text[-3000:]}")
    said = re.search(r"in ([\d.]+) s ->", text)
    return {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "scoring_s": float(said.group(1)) if said else None}


def service_score(server: Served, csv: Path, out: Path) -> dict:
    """One /v1/score of ``csv`` by a client process (the task ``serve_score``), with the
    server's peak resident set over that request alone."""
    pid = server.proc.pid
    before = proc_memory(pid)
    exact = reset_peak(pid)
    cpu = proc_cpu_s(pid)
    run = task("serve_score", "--port", str(server.port), "--csv", str(csv), "--out", str(out))
    server_cpu = proc_cpu_s(pid) - cpu
    if run["status"] != 200:
        raise RuntimeError(f"/v1/score answered {run['status']} ({run.get('error')}):\n"
                           f"{server.log.read_text()[-3000:]}")
    after = proc_memory(pid)
    return {**run, "server_cpu_s": server_cpu, "server_rss_before_mb": before["rss_mb"],
            "server_peak_mb": after["peak_mb"],
            "server_rss_after_mb": after["rss_mb"], "peak_since_request": exact}


def _same_bytes(a: Path, b: Path) -> bool:
    import filecmp

    return filecmp.cmp(a, b, shallow=False)


def bench_serve(folder: Path, repeats: int, quick: bool) -> dict:
    """``custseg serve`` on loopback: single-customer /v1/predict latency at 1 and 8
    clients over kept-alive connections, 1,000-row batches, and /v1/score of a 1M-row CSV
    beside ``custseg score`` on the same file, in turn (service, CLI, service, …)."""
    load_before = os.getloadavg()
    plan = SERVE_PLAN_QUICK if quick else SERVE_PLAN
    model = folder / "serve_model.custseg"
    subprocess.run([sys.executable, "-m", "custseg.cli", "fit", str(demo_csv(folder, 10_000)),
                    "-o", str(model)], check=True, capture_output=True)
    rows = 100_000 if quick else 1_000_000
    big = demo_csv(folder, rows)
    result: dict = {"model_rows": 10_000, "score_rows": rows,
                    "score_mb": big.stat().st_size / 1e6, "cap_s": SERVE_CAP_S}
    with Served(model, folder / "serve.log") as server:
        pid = server.proc.pid
        result["server_started_mb"] = proc_memory(pid)["rss_mb"]
        single = []
        for clients, requests, health in [(1, plan["single"][0][1], True),
                                          *((c, r, False) for c, r in plan["single"])]:
            run = task("serve_predict", "--port", str(server.port), "--csv", str(big),
                       "--clients", str(clients), "--requests", str(requests),
                       "--cap", str(SERVE_CAP_S), *(["--health"] if health else []))
            single.append(run)
            what = "GET /health" if health else "/v1/predict 1 customer"
            print(f"  serve {what}, {clients} client(s): "
                  f"{run['requests']:,} requests, p50 {run['p50_ms']:.2f} ms, "
                  f"p99 {run['p99_ms']:.2f} ms, max {run['max_ms']:.1f} ms, "
                  f"{run['requests_per_s']:,.0f} requests/s, {run['failures']} failures, "
                  f"{run['reconnects']} reconnects", flush=True)
        result["single"] = single
        batch = task("serve_batch", "--port", str(server.port), "--csv", str(big),
                     "--rows", str(plan["batch_rows"]), "--requests", str(plan["batches"]),
                     "--cap", str(SERVE_CAP_S))
        result["batch"] = batch
        print(f"  serve /v1/predict {batch['rows']:,} customers: {batch['requests']} requests, "
              f"median {batch['rows_per_s_median']:,.0f} rows/s (p50 {batch['p50_ms']:.0f} ms), "
              f"{batch['failures']} failures", flush=True)
        result["server_after_predict_mb"] = proc_memory(pid)
        service, cli = [], []
        for i in range(repeats):  # interleaved: service, CLI, service, CLI, …
            service.append(service_score(server, big, folder / "service.csv"))
            cli.append(cli_score(model, big, folder / "cli.csv"))
            service[-1]["same_bytes"] = _same_bytes(folder / "service.csv", folder / "cli.csv")
            print(f"  serve /v1/score {rows:,} rows, run {i + 1}: service "
                  f"{service[-1]['seconds']:.2f} s (upload {service[-1]['upload_s']:.2f}, "
                  f"wait {service[-1]['wait_s']:.2f}, download {service[-1]['download_s']:.2f}),"
                  f" server peak {service[-1]['server_peak_mb']:.0f} MB; custseg score "
                  f"{cli[-1]['seconds']:.2f} s ({cli[-1]['scoring_s']} s scoring), peak "
                  f"{cli[-1]['peak_mb']:.0f} MB; same bytes {service[-1]['same_bytes']}",
                  flush=True)
        result["score_service"], result["score_cli"] = service, cli
        if not quick:  # memory at three times the rows: one of each, not in the ratio
            bigger = demo_csv(folder, 3 * rows)
            result["bigger"] = {"rows": 3 * rows, "mb": bigger.stat().st_size / 1e6,
                                "service": service_score(server, bigger, folder / "service.csv"),
                                "cli": cli_score(model, bigger, folder / "cli.csv")}
            result["bigger"]["same_bytes"] = _same_bytes(folder / "service.csv",
                                                         folder / "cli.csv")
            bigger.unlink()
            b = result["bigger"]
            print(f"  serve /v1/score {3 * rows:,} rows: service {b['service']['seconds']:.2f} s,"
                  f" server peak {b['service']['server_peak_mb']:.0f} MB; custseg score "
                  f"{b['cli']['seconds']:.2f} s, peak {b['cli']['peak_mb']:.0f} MB; same bytes "
                  f"{b['same_bytes']}", flush=True)
        result["score_logged_ms"] = server.logged_ms("/v1/score")
        result["server_end_mb"] = proc_memory(pid)
    result["server_exit_code"] = server.exit_code
    svc = statistics.median(r["seconds"] for r in service)
    whole = statistics.median(r["seconds"] for r in cli)
    result["score"] = {
        "service_s": svc, "cli_s": whole, "ratio": svc / whole,
        "pair_ratios": [s["seconds"] / c["seconds"] for s, c in zip(service, cli, strict=True)],
        "same_bytes": all(r["same_bytes"] for r in service),
        "bytes_out": service[0]["bytes_received"],
        "server_peak_mb": max(r["server_peak_mb"] for r in service),
        "cli_peak_mb": max(r["peak_mb"] for r in cli),
        # CPU, less moved by other work on the machine than wall time: the server's and
        # the client's beside the whole CLI process's
        "service_cpu_s": statistics.median(r["server_cpu_s"] + r["cpu_s"] for r in service),
        "cli_cpu_s": statistics.median(r["cpu_s"] for r in cli)}
    result["load_before"], result["load_after"] = load_before, os.getloadavg()
    print(f"  serve /v1/score vs custseg score: {svc:.2f} s vs {whole:.2f} s = "
          f"{svc / whole:.2f}×; same bytes: {result['score']['same_bytes']}; load average "
          f"{load_before[0]:.1f} before, {result['load_after'][0]:.1f} after; server exit "
          f"{server.exit_code}", flush=True)
    return result


def checks_serve(result: dict) -> list[tuple[str, str, bool]]:
    serve = result.get("serve")
    if not serve or serve["score_rows"] < 1_000_000:
        return []
    score = serve["score"]
    failures = sum(r["failures"] for r in serve["single"]) + serve["batch"]["failures"]
    out = [("`/v1/score` of 1M rows in at most 1.3× `custseg score`'s time (whole process)",
             f"{score['service_s']:.2f} s vs {score['cli_s']:.2f} s = {score['ratio']:.2f}×",
             score["ratio"] <= 1.3),
            ("… the same bytes", "identical" if score["same_bytes"] else "**different**",
             score["same_bytes"]),
            ("`/v1/predict`: every response 200 with its customers' results", f"{failures} "
             "failures", failures == 0)]
    bigger = serve.get("bigger")
    if bigger:  # the body is on disk, never in memory: the server grows as the CLI does
        grew = bigger["service"]["server_peak_mb"] - score["server_peak_mb"]
        cli_grew = bigger["cli"]["peak_mb"] - score["cli_peak_mb"]
        out.insert(2, (f"… in bounded memory: from 1M to {bigger['rows']:,} rows the server's "
                       "peak grows no more than `custseg score`'s (+25 MB)",
                       f"+{grew:,.0f} MB vs +{cli_grew:,.0f} MB "
                       f"({bigger['service']['server_peak_mb']:,.0f} vs "
                       f"{bigger['cli']['peak_mb']:,.0f} MB at {bigger['rows']:,} rows)",
                       grew <= cli_grew + 25))
    return out


def serve_markdown(result: dict) -> list[str]:
    serve = result.get("serve")
    if not serve:
        return []
    score = serve["score"]
    lines = ["", "## Scoring service", "",
             "A real `custseg serve MODEL --port 0` process on 127.0.0.1 (one worker; model "
             f"fitted on {serve['model_rows']:,} demo customers), driven by client processes "
             "using the standard library's http.client over kept-alive connections. Each "
             f"loop is bounded in count and in time ({serve['cap_s']:.0f} s). Server memory "
             "is its /proc VmHWM (Linux).", "",
             *_header("/v1/predict", "clients", "requests", "p50 (ms)", "p99 (ms)",
                      "max (ms)", "requests/s", "failures")]
    for r in serve["single"]:
        what = "(GET /health)" if r["path"] == "/health" else "1 customer"
        lines.append(f"| {what} | {r['clients']} | {r['requests']:,} | {r['p50_ms']:.2f} | "
                     f"{r['p99_ms']:.2f} | {r['max_ms']:.1f} | {r['requests_per_s']:,.0f} | "
                     f"{r['failures']} |")
    b = serve["batch"]
    lines.append(f"| {b['rows']:,} customers | 1 | {b['requests']:,} | {b['p50_ms']:.0f} | "
                 f"{b['p99_ms']:.0f} | {b['max_ms']:.0f} | {b['rows_per_s_median']:,.0f} rows/s "
                 f"(median) | {b['failures']} |")
    lines += ["", f"`/v1/score` of {serve['score_rows']:,} rows ({serve['score_mb']:.0f} MB of "
              "CSV) beside `custseg score` on the same file as a whole process, in turn:", "",
              *_header("service (s)", "custseg score (s)", "service / CLI", "same bytes",
                       "server peak (MB)", "CLI peak (MB)"),
              f"| {score['service_s']:.2f} | {score['cli_s']:.2f} | {score['ratio']:.2f}× | "
              f"{'yes' if score['same_bytes'] else '**no**'} | {score['server_peak_mb']:,.0f} | "
              f"{score['cli_peak_mb']:,.0f} |"]
    svc = serve["score_service"]
    lines += ["", f"CPU (server and client beside the CLI process): {score['service_cpu_s']:.2f} s "
              f"vs {score['cli_cpu_s']:.2f} s. The service's time, by the client: sending the "
              f"body {statistics.median(r['upload_s'] for r in svc):.2f} s, waiting for the "
              f"answer (the rest saved, scored) {statistics.median(r['wait_s'] for r in svc):.2f}"
              f" s, receiving it {statistics.median(r['download_s'] for r in svc):.2f} s "
              f"(medians). The server was {serve['server_started_mb']:,.0f} MB idle."]
    bigger = serve.get("bigger")
    if bigger:
        lines += ["", f"At {bigger['rows']:,} rows ({bigger['mb']:.0f} MB), once each: service "
                  f"{bigger['service']['seconds']:.2f} s, server peak "
                  f"{bigger['service']['server_peak_mb']:,.0f} MB; `custseg score` "
                  f"{bigger['cli']['seconds']:.2f} s, peak {bigger['cli']['peak_mb']:,.0f} MB; "
                  f"same bytes: {'yes' if bigger['same_bytes'] else '**no**'}."]
    lines += ["", f"Load average (1 min) {serve['load_before'][0]:.1f} before the section, "
              f"{serve['load_after'][0]:.1f} after; the server exited {serve['server_exit_code']} "
              "on SIGTERM."]
    return lines


def checks(result: dict) -> list[tuple[str, str, bool]]:
    out = []
    big = [r for r in result["fits"] if r["rows"] == max(x["rows"] for x in result["fits"])]
    if big and big[0]["rows"] >= 1_000_000:
        slowest = max(big, key=lambda r: r["fit_s"])
        heaviest = max(big, key=lambda r: r["peak_mb"])
        km = next(r for r in big if r["algorithm"] == "kmeans")
        out.append(("every algorithm fits 1M customers in under 2 minutes",
                    f"slowest: {slowest['algorithm']} {slowest['fit_s']:.1f} s",
                    slowest["fit_s"] < 120))
        out.append(("… and under 4 GB", f"largest: {heaviest['algorithm']} "
                    f"{heaviest['peak_mb']:,.0f} MB", heaviest["peak_mb"] < 4096))
        out.append(("K-Means on 1M customers in a few seconds", f"{km['fit_s']:.1f} s",
                    km["fit_s"] < 10))
    for row in result["batch"]:
        if row["rows"] == 1_000_000:
            out.append(("scoring 1M rows takes at most half the seed's batch time",
                        f"{row['custseg_s']:.2f} s vs {row['seed_s']:.2f} s = "
                        f"{row['vs_seed']:.2f}×", row["vs_seed"] <= 0.5))
            out.append(("… within a small multiple of the I/O floor",
                        f"{row['vs_io_floor']:.1f}× ({row['io_floor_s']:.2f} s)",
                        row["vs_io_floor"] <= 8))
            out.append(("… as a whole process (`custseg score`, start-up paid), at most half the seed's",
                        f"{row['custseg_process_s']:.2f} s vs {row['seed_process_s']:.2f} s = "
                        f"{row['process_vs_seed']:.2f}×", row["process_vs_seed"] <= 0.5))
        if row["rows"] == 5_000_000:
            out.append(("scoring 5M rows in under 1 GB", f"{row['custseg_peak_mb']:,.0f} MB",
                        row["custseg_peak_mb"] < 1024))
    for row in result.get("knn17", []):
        if row["shape"] == "credit_card" and row["rows"] >= 1_000_000:
            out.append(("scoring 1M rows × 17 features in at most half the time of scikit-learn's "
                        "KNeighborsClassifier(3), same reference set",
                        f"{row['custseg_s']:.1f} s vs {row['sklearn_s']:.1f} s = "
                        f"{row['ratio']:.2f}×", row["ratio"] <= 0.5))
    for row in result.get("rfm", []):
        if row["lines"] >= 10_000_000:
            out.append(("10M log lines to customers in at most 0.25× the pandas script's time",
                        f"{row['custseg_s']:.1f} s vs {row['pandas_s']:.1f} s = "
                        f"{row['ratio']:.2f}×", row["ratio"] <= 0.25))
            out.append(("… and under 1 GB", f"{row['custseg_peak_mb']:,.0f} MB",
                        row["custseg_peak_mb"] < 1024))
    out += checks_rfm_parquet(result)
    out += checks_serve(result)
    out += checks_model_load(result)
    startup = result["startup"]
    out.append(("`custseg --help` and `--version` load no scikit-learn: under 0.5 s",
                f"{startup['--help']:.2f} s / {startup['--version']:.2f} s",
                max(startup.values()) < 0.5))
    for row in result["dashboard"]:
        if row["rows"] == 100_000:
            out.append(("page switch at 100k customers under a third of the seed's rerun",
                        f"{row['switch_s']:.3f} s vs {row['seed_rerun_s']:.3f} s = "
                        f"{row['ratio']:.2f}×", row["ratio"] < 1 / 3))
    return out


def _header(*names: str) -> list[str]:
    """A markdown table header: first column left, numbers right."""
    return ["| " + " | ".join(names) + " |", "|" + "|".join("---:" for _ in names) + "|"]


def knn17_markdown(result: dict) -> list[str]:
    rows = result.get("knn17", [])
    if not rows:
        return []
    lines = ["", "## Scoring at 17 features beside scikit-learn", "",
             f"custseg's vote (`NeighbourVote.assign`, built as a loaded model builds it) and "
             f"scikit-learn's `KNeighborsClassifier(n_neighbors=3)` (its `predict`, algorithm "
             f"'{rows[0]['sklearn_algorithm']}') assign the same rows with the same reference "
             "set, in turn in fresh processes; times exclude loading the arrays. "
             "`credit_card`: the test suite's credit-card table (17 skewed columns, many "
             "zeros), fitted by custseg (log1p and standardised by the model's own encoding, "
             "its reference set the fit's); `mixture`: a Gaussian mixture in 17 dimensions, "
             "8 overlapping centres, labelled by K-Means — no structure for any search to use. "
             "The labels differ only where the vote ties: custseg gives a tie to the segment "
             "of the nearest neighbour, scikit-learn to the lowest label.", "",
             *_header("data", "rows", "reference", "custseg search", "custseg (s)",
                      "custseg peak (MB)", "scikit-learn (s)", "scikit-learn peak (MB)",
                      "custseg / scikit-learn", "same label")]
    for r in rows:
        lines.append(f"| {r['shape']} | {r['rows']:,} | {r['reference']:,} | {r['search']} | "
                     f"{r['custseg_s']:.1f} | {r['custseg_peak_mb']:,.0f} | {r['sklearn_s']:.1f} | "
                     f"{r['sklearn_peak_mb']:,.0f} | {r['ratio']:.2f}× | {r['agreement']:.2%} |")
    return lines


def markdown(result: dict, command: str) -> str:
    m = result["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{command}` on {m['date']} (commit {m['commit']}): {m['cores']} cores, "
        f"{m['memory_gb']} GB, Python {m['python']}, numpy {m['numpy']}, pandas {m['pandas']}, "
        f"scikit-learn {m['scikit-learn']}, pyarrow {m['pyarrow']}, streamlit {m['streamlit']}.",
        "Each figure is the median of fresh-process repeats; custseg and the seed baselines "
        "(rewritten in `benchmarks/tasks.py` from the seed's description) are interleaved in "
        "the same run. Times exclude interpreter start-up, except the whole-process and "
        "start-up figures, which time a fresh `custseg` command from launch to exit; peak "
        "memory is the process's peak resident set, interpreter and libraries included. This "
        "machine is shared and noisy: read the ratios, measured side by side, rather than the "
        "absolute times.",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for name, value, ok in checks(result):
        lines.append(f"| {name} | {value} | {'yes' if ok else '**no**'} |")
    lines += ["", "## Fitting (read excluded)", "",
              *_header("customers", "algorithm", "clusterer sample", "fit (s)",
                       "peak memory (MB)", "assigner agreement")]
    for r in result["fits"]:
        fid = "–" if r["fidelity"] is None else f"{r['fidelity']:.1%}"
        lines.append(f"| {r['rows']:,} | {r['algorithm']} | {r['sample_size']:,} | "
                     f"{r['fit_s']:.2f} | {r['peak_mb']:,.0f} | {fid} |")
    lines += ["", "## Dashboard under AppTest", "",
              "Cold start includes reading the file and the first fit. A page switch reruns the "
              "script with every fit cached (the median over tours of Explore, Predict, Batch "
              "and Dashboard, after a first tour); the unrelated widget is an Explore axis. The "
              "seed refits K-Means and its KNN on every rerun, whatever changed (its figure below "
              "is that refit alone, before any drawing). On tiny tables that refit costs less "
              "than drawing a page, hence ratios above 1 there.", "",
              *_header("customers", "cold start (s)", "page switch (s)", "unrelated widget (s)",
                       "seed rerun refit (s)", "switch / seed")]
    for r in result["dashboard"]:
        lines.append(f"| {r['rows']:,} | {r['cold_s']:.2f} | {r['switch_s']:.3f} | "
                     f"{r['widget_s']:.3f} | {r['seed_rerun_s']:.3f} | {r['ratio']:.2f}× |")
    lines += model_load_markdown(result)
    lines += ["", "## Batch scoring (file to file)", "",
              "custseg streams the input in batches (`custseg score`); the seed reads the whole "
              "file with pandas. The I/O floor reads the same CSV and writes one of the scored "
              "output's shape with pyarrow and does nothing else. custseg's model was fitted on "
              f"{result['model_rows']:,} customers (its assigner keeps at most 50,000); the "
              "seed's KNN knows 200.", "",
              *_header("rows", "custseg (s)", "rows/s", "custseg peak (MB)", "seed (s)",
                       "seed peak (MB)", "I/O floor (s)", "custseg / seed", "custseg / I/O floor")]
    for r in result["batch"]:
        lines.append(f"| {r['rows']:,} | {r['custseg_s']:.2f} | {r['rows_per_s']:,.0f} | "
                     f"{r['custseg_peak_mb']:,.0f} | {r['seed_s']:.2f} | {r['seed_peak_mb']:,.0f} | "
                     f"{r['io_floor_s']:.2f} | {r['vs_seed']:.2f}× | {r['vs_io_floor']:.1f}× |")
    lines += ["", "Whole processes, launch to exit: `custseg score MODEL INPUT -o OUT` beside the "
              "seed's batch task (its imports, its fit on the Mall table, its scoring).", "",
              *_header("rows", "custseg score (s)", "seed (s)", "custseg / seed")]
    for r in result["batch"]:
        lines.append(f"| {r['rows']:,} | {r['custseg_process_s']:.2f} | "
                     f"{r['seed_process_s']:.2f} | {r['process_vs_seed']:.2f}× |")
    lines += knn17_markdown(result)
    lines += rfm_markdown(result)
    lines += rfm_parquet_markdown(result)
    lines += fit_transactions_markdown(result)
    lines += serve_markdown(result)
    startup = result["startup"]
    lines += ["", "## Start-up", "",
              "Paid by every command before its work: a fresh `custseg --help` and "
              "`custseg --version`, launch to exit (scikit-learn, pandas and plotly are loaded "
              "only by the commands that use them).", "",
              *_header("command", "wall (s)"),
              *(f"| `custseg {flag}` | {seconds:.2f} |" for flag, seconds in startup.items()), ""]
    return "\n".join(lines)


def only_model_load(quick: bool, repeats: int) -> int:
    """``--only model-load``: the section measured, printed, kept in
    ``benchmarks/results/model_load.json`` and (unless ``quick``) written into
    BENCHMARKS.md in place of its own section and target row, every other kept."""
    folder = Path(tempfile.mkdtemp(prefix="custseg-bench-"))
    try:
        result = {"machine": machine(), "model_load": bench_model_load(
            folder, 20_000 if quick else MODEL_LOAD_ROWS, 1 if quick else repeats)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "model_load.json").write_text(json.dumps(result, indent=1))
    section = model_load_markdown(result)
    m = result["machine"]
    section[3:3] = [f"Measured by `python -m benchmarks.run --only model-load` on {m['date']} "
                    f"(commit {m['commit']}), {repeats if not quick else 1} of each; the "
                    "other sections are from the runs they name.", ""]
    print("\n".join(section))
    checks = checks_model_load(result)
    for what, figure, met in checks:
        print(f"{'met' if met else 'NOT met'}: {what}: {figure}")
    if not quick:
        path = ROOT / "BENCHMARKS.md"
        report = splice_section(path.read_text(), section, "## Dashboard under AppTest")
        for check in checks:
            report = splice_target(report, *check)
        path.write_text(report)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, one repeat (a smoke run; does not rewrite BENCHMARKS.md)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=["knn17", "rfm", "rfm-parquet", "fit-transactions",
                                           "serve", "model-load"],
                        help="run one section and print its table (does not rewrite "
                        "BENCHMARKS.md, except model-load: see below)")
    args = parser.parse_args(argv)
    if args.only == "model-load":
        return only_model_load(args.quick, args.repeats)
    if args.only == "knn17":
        folder = Path(tempfile.mkdtemp(prefix="custseg-bench-"))
        try:
            rows = 100_000 if args.quick else 1_000_000
            result = {"knn17": bench_knn17(folder, rows, 20_000, 1 if args.quick else args.repeats)}
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print("\n".join(knn17_markdown(result)))
        return 0
    if args.only == "rfm":
        folder = Path(tempfile.mkdtemp(prefix="custseg-bench-"))
        try:
            sizes = [100_000] if args.quick else [1_000_000, 10_000_000]
            result = {"rfm": bench_rfm(folder, sizes, 1 if args.quick else args.repeats)}
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print("\n".join(rfm_markdown(result)))
        return 0
    if args.only == "fit-transactions":
        folder = Path(tempfile.mkdtemp(prefix="custseg-bench-"))
        try:
            result = {"fit_transactions": bench_fit_transactions(
                folder, 100_000 if args.quick else 10_000_000, 1 if args.quick else 2)}
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print("\n".join(fit_transactions_markdown(result)))
        return 0
    if args.only == "serve":
        folder = Path(tempfile.mkdtemp(prefix="custseg-bench-"))
        try:
            result = {"serve": bench_serve(folder, 1 if args.quick else args.repeats,
                                           args.quick)}
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        out = ROOT / "benchmarks" / "results"
        out.mkdir(parents=True, exist_ok=True)
        (out / "serve.json").write_text(json.dumps(result, indent=1))
        print("\n".join(serve_markdown(result)))
        for what, figure, met in checks_serve(result):
            print(f"{'met' if met else 'NOT met'}: {what}: {figure}")
        return 0
    if args.only == "rfm-parquet":
        folder = Path(tempfile.mkdtemp(prefix="custseg-bench-"))
        try:
            result = {"rfm_parquet": bench_rfm_parquet(
                folder, 1_000_000 if args.quick else 50_000_000)}
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print("\n".join(rfm_parquet_markdown(result)))
        for what, figure, met in checks_rfm_parquet(result):
            print(f"{'met' if met else 'NOT met'}: {what}: {figure}")
        return 0
    quick = args.quick
    repeats = 1 if quick else args.repeats
    fit_sizes = [200, 10_000] if quick else [200, 10_000, 100_000, 1_000_000]
    dash_sizes = [200, 10_000] if quick else [200, 10_000, 100_000, 1_000_000]
    batch_sizes = [100_000] if quick else [1_000_000, 5_000_000]
    model_rows = 10_000 if quick else 1_000_000
    folder = Path(tempfile.mkdtemp(prefix="custseg-bench-"))
    try:
        result = {"machine": machine(), "quick": quick, "repeats": repeats, "model_rows": model_rows}
        print(f"machine: {result['machine']}", flush=True)
        result["startup"] = bench_startup(repeats)
        result["fits"] = bench_fits(folder, fit_sizes, repeats)
        result["dashboard"] = bench_dashboard(folder, dash_sizes, repeats)
        result["model_load"] = bench_model_load(folder, 20_000 if quick else MODEL_LOAD_ROWS,
                                                repeats)
        result["batch"] = bench_batch(folder, batch_sizes, repeats, model_rows)
        result["knn17"] = bench_knn17(folder, 100_000 if quick else 1_000_000, 20_000, repeats)
        result["rfm"] = bench_rfm(folder, [100_000] if quick else [1_000_000, 10_000_000],
                                  repeats)
        result["rfm_parquet"] = bench_rfm_parquet(folder,
                                                  1_000_000 if quick else 50_000_000)
        result["fit_transactions"] = bench_fit_transactions(
            folder, 100_000 if quick else 10_000_000, 1 if quick else 2)
        result["serve"] = bench_serve(folder, repeats, quick)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(result, indent=1))
    command = "make bench" + (" (python -m benchmarks.run --quick)" if quick else "")
    report = markdown(result, command)
    print("\n" + report)
    if not quick:
        (ROOT / "BENCHMARKS.md").write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
