"""One measurement per process: ``python -m benchmarks.tasks TASK ...`` prints one JSON line.

Each task runs in a fresh interpreter so that its peak memory (``ru_maxrss``) is its own.
Times exclude interpreter start-up and imports; they cover the work named.

The ``seed_*`` tasks are the seed application's paths, rewritten here as the issue
describes them, to be measured side by side with custseg's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _emit(**values) -> None:
    print(json.dumps({**values, "peak_mb": round(_peak_mb(), 1)}))


def fit(args) -> None:
    import custseg
    from custseg.io.source import read_table

    started = time.perf_counter()
    table = read_table(args.csv)
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    model = custseg.fit(table, algorithm=args.algorithm)
    fit_s = time.perf_counter() - started
    _emit(read_s=read_s, fit_s=fit_s, sample_size=int(model.segmenter.n_fit_rows_),
          segments=len(model.segments), fidelity=model.segmenter.fidelity_.cv_agreement)


def score(args) -> None:
    import custseg
    from custseg.io.score_files import score_file

    model = custseg.load_model(args.model)
    started = time.perf_counter()
    report = score_file(model, args.csv, args.out)
    _emit(seconds=time.perf_counter() - started, rows=report.n_rows)


def profiles(args) -> None:
    """Category profiles alone: ``--rows`` customers in 8 segments, 20 columns of 20 values
    (and blanks), the median of ``--repeats`` runs."""
    import numpy as np
    import pandas as pd

    from custseg.segments.categories import category_profiles

    rng = np.random.default_rng(0)
    values = [f"v{k}" for k in range(20)] + [None]
    cells = pd.DataFrame({f"c{j}": rng.choice(values, args.rows).astype(object)
                          for j in range(20)})
    labels = rng.integers(0, 8, args.rows)
    runs = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        category_profiles(cells, labels)
        runs.append(time.perf_counter() - started)
    _emit(seconds=statistics.median(runs), rows=args.rows)


def io_floor(args) -> None:
    """Read the same CSV and write a CSV of the scored output's shape, with pyarrow only."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    started = time.perf_counter()
    table = pacsv.read_csv(args.csv)
    extra = {f"extra_{i}": table.column(i % table.num_columns) for i in range(6)}
    for name, column in extra.items():
        table = table.append_column(name, column)
    pacsv.write_csv(table, args.out)
    _emit(seconds=time.perf_counter() - started, rows=table.num_rows,
          columns=table.num_columns, pyarrow=pa.__version__)


def seed_batch(args) -> None:
    """The seed's batch path: pandas.read_csv of the whole file, rename, Gender to 1/0,
    StandardScaler of gender, age, income and score, KNeighborsClassifier(3) trained on the
    K-Means (k=5, n_init=10) labels of the 200 Mall customers, predict, DataFrame.to_csv."""
    import pandas as pd
    from sklearn.cluster import KMeans
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    columns = {"CustomerID": "customer_id", "Gender": "gender", "Age": "age",
               "Annual Income (k$)": "annual_income", "Spending Score (1-100)": "spending_score"}
    if args.mall and Path(args.mall).is_file():
        mall = pd.read_csv(args.mall).rename(columns=columns)
    else:  # the public table is absent: 200 demo customers stand in for it
        from custseg.table.sample import make_customers

        mall = make_customers(200, seed=0)
    features = ["gender", "age", "annual_income", "spending_score"]
    mall["gender"] = mall["gender"].map({"Male": 1, "Female": 0})
    scaler = StandardScaler().fit(mall[features])
    labels = KMeans(n_clusters=5, n_init=10, random_state=0).fit_predict(scaler.transform(mall[features]))
    knn = KNeighborsClassifier(n_neighbors=3).fit(scaler.transform(mall[features]), labels)

    started = time.perf_counter()
    data = pd.read_csv(args.csv)
    data = data.rename(columns=columns)
    data["gender"] = data["gender"].map({"Male": 1, "Female": 0})
    data["segment"] = knn.predict(scaler.transform(data[features]))
    data.to_csv(args.out, index=False)
    _emit(seconds=time.perf_counter() - started, rows=len(data))


def seed_rerun(args) -> None:
    """The seed dashboard's work on every rerun, whatever changed: StandardScaler + KMeans(5,
    n_init=10) + KNeighborsClassifier(3) fitted on the whole table."""
    import pandas as pd
    from sklearn.cluster import KMeans
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    data = pd.read_csv(args.csv)
    features = ["age", "annual_income", "spending_score"]
    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        X = StandardScaler().fit_transform(data[features])
        labels = KMeans(n_clusters=5, n_init=10, random_state=0).fit_predict(X)
        KNeighborsClassifier(n_neighbors=3).fit(X, labels)
        times.append(time.perf_counter() - started)
    _emit(seconds=statistics.median(times), all=times)


def dashboard(args) -> None:
    """custseg's dashboard under AppTest: cold start, then page switches and an
    unrelated widget change (medians)."""
    os.environ["CUSTSEG_DATA"] = str(Path(args.csv).resolve())
    from streamlit.testing.v1 import AppTest

    entry = Path(__file__).resolve().parents[1] / "src" / "custseg" / "app" / "streamlit_app.py"
    at = AppTest.from_file(str(entry), default_timeout=600)
    started = time.perf_counter()
    at.run()
    cold = time.perf_counter() - started
    if at.exception:
        raise SystemExit(f"app failed: {at.exception[0].message}")
    pages = ["explore", "predict", "batch", "dashboard"]
    # one warm-up tour (first visits compute page-specific caches), then the timed tours
    for page in pages:
        at.switch_page(f"app_pages/{page}.py").run()
    switches: dict[str, list[float]] = {p: [] for p in pages}
    for _ in range(args.repeats):
        for page in pages:
            started = time.perf_counter()
            at.switch_page(f"app_pages/{page}.py").run()
            switches[page].append(time.perf_counter() - started)
    widget = []
    for value in ("age", "annual_income") * args.repeats:
        at.switch_page("app_pages/explore.py").run()
        started = time.perf_counter()
        at.selectbox(key="explore_x").set_value(value).run()
        widget.append(time.perf_counter() - started)
    every = [t for times in switches.values() for t in times]
    _emit(cold_s=cold, switch_s=statistics.median(every),
          per_page={p: statistics.median(v) for p, v in switches.items()},
          widget_s=statistics.median(widget))


def _timed(spent: dict[str, float], name: str, fn):
    """``fn``, adding its wall time to ``spent[name]`` on every call."""
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - started
    return wrapper


def model_load(args) -> None:
    """The dashboard under AppTest on ``--csv`` (its start-up file), then one change
    shown on the Dashboard page: ``--mode load``: ``--model`` uploaded in the Model Lab
    (read, checked, the customers validated for it and assigned, the Model Lab drawn
    again), then the Dashboard; ``--mode refit``, the baseline: the sidebar's random seed
    changed on the Dashboard (a new fit from the controls, the same algorithm and
    settings, and the Dashboard drawn). Both start alike: a cold start that fits the
    controls' settings, a visit to the Model Lab (its curves computed), the Dashboard.

    The step's time is split by the calls it makes (each timed where it runs, whoever
    calls it): ``read_s`` the model file parsed and checked (``uploads.model``),
    ``validate_s`` the table validated and typed (``CustomerTable.validated``,
    ``Validated.valid_values``), ``assign_s`` the assigner (``SegmentationModel.assign``),
    ``fit_s`` a fit (``fit_model``); ``lab_s`` the rest of the upload's run (the Model
    Lab drawn again, the rerun it asks for), ``dashboard_s`` the switch to the Dashboard
    less what those calls took in it (the page drawn, the sidebar's cached results);
    ``validate_uncached_s`` the validation once more, outside the app, as a load pays it
    when the fit shown needed other columns (the two share it here)."""
    from custseg.app import work

    os.environ["CUSTSEG_DATA"] = str(Path(args.csv).resolve())
    os.environ[work.LIVE_ENV] = "3600"  # every fit in the script's thread, as AppTest waits
    from streamlit.testing.v1 import AppTest

    from custseg.app import cached
    from custseg.io import uploads
    from custseg.io.source import CustomerTable
    from custseg.model.segmentation import SegmentationModel
    from custseg.table.validate import Validated

    spent = dict.fromkeys(("read", "validate", "assign", "fit"), 0.0)
    uploads.model = _timed(spent, "read", uploads.model)
    CustomerTable.validated = _timed(spent, "validate", CustomerTable.validated)
    Validated.valid_values = _timed(spent, "validate", Validated.valid_values)
    SegmentationModel.assign = _timed(spent, "assign", SegmentationModel.assign)
    cached.fit_model = _timed(spent, "fit", cached.fit_model)

    def checked(at):
        if at.exception:
            raise SystemExit(f"app failed: {at.exception[0].message}")
        return at

    entry = Path(__file__).resolve().parents[1] / "src" / "custseg" / "app" / "streamlit_app.py"
    at = AppTest.from_file(str(entry), default_timeout=600)
    started = time.perf_counter()
    checked(at.run())
    cold = time.perf_counter() - started
    fitted = at.session_state["_view"].model
    started = time.perf_counter()
    checked(at.switch_page("app_pages/model_lab.py").run())
    lab_visit = time.perf_counter() - started
    if args.mode == "refit":
        checked(at.switch_page("app_pages/dashboard.py").run())
    for name in spent:
        spent[name] = 0.0
    started = time.perf_counter()
    if args.mode == "load":
        data = Path(args.model).read_bytes()
        at.file_uploader(key="model_upload").upload(Path(args.model).name, data,
                                                    "application/octet-stream")
        checked(at.run())
        upload = time.perf_counter() - started
        before = dict(spent)
        if at.session_state["_view"].loaded_name != Path(args.model).name:
            raise SystemExit("the model file was not loaded")
        page = time.perf_counter()
        checked(at.switch_page("app_pages/dashboard.py").run())
    else:
        upload, before = 0.0, dict(spent)
        page = time.perf_counter()
        checked(at.number_input(key="seed").set_value(fitted.config.random_state + 1).run())
    done = time.perf_counter()
    spent = dict(spent)  # the step's; what follows is not
    shown = at.session_state["_view"]
    metrics = {m.label: m.value for m in at.metric}
    if at.title[0].value != "Customer segments" or "Segments" not in metrics:
        raise SystemExit("the Dashboard was not drawn")
    in_page = sum(spent.values()) - sum(before.values())
    # what validating costs a load when the fit shown needed other columns (here the
    # fit's validation is cached and serves the model too)
    model = shown.model
    again = time.perf_counter()
    shown.table.validated(model.encoding.needs, model.config.ranges,
                          model.config.spec).valid_values()
    _emit(mode=args.mode, seconds=done - started, cold_s=cold, lab_visit_s=lab_visit,
          read_s=spent["read"], validate_s=spent["validate"], assign_s=spent["assign"],
          fit_s=spent["fit"], lab_s=upload - sum(before.values()),
          dashboard_s=done - page - in_page,
          validate_uncached_s=time.perf_counter() - again, customers=len(shown.values),
          segments=metrics.get("Segments"), loaded=shown.loaded_name,
          algorithm=shown.model.config.algorithm,
          params=dict(shown.model.config.params), random_state=shown.model.config.random_state,
          fitted_params=dict(fitted.config.params))


def knn17_data(args) -> None:
    """The data of the 17-feature comparison, written once to ``--out`` (.npy files):
    ``credit_card``: a model fitted by custseg on ``--reference`` rows of the test
    suite's credit-card table (17 skewed columns, many zeros; the fit log-transforms and
    standardises them), its reference set and labels, and ``--rows`` more customers of
    the same table run through the model's own encoding; ``mixture``: a Gaussian
    mixture in 17 dimensions (8 overlapping centres, no structure a table has), labelled
    by K-Means, as the hard case for any exact search."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.shape == "credit_card":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        import inspect_tables

        import custseg
        from custseg.io.source import table_from_frame

        model = custseg.fit(inspect_tables.credit_card(args.reference, seed=1))
        fitted = model.fitted
        R, y, threshold = fitted.reference_X, fitted.reference_labels, fitted.atypical_threshold
        parts, seed = [], 100
        while sum(map(len, parts)) < args.rows:  # a few rows in 30 have a blank: invalid
            frame = inspect_tables.credit_card(min(200_000, args.rows + 100), seed=seed)
            seed += 1
            table = table_from_frame(frame, "DataFrame", None, None)
            values = table.validated(model.encoding.needs, model.config.ranges,
                                     model.config.spec).valid_values()
            parts.append(model.encoding.transform(values))
        X = np.concatenate(parts)[:args.rows]
    else:
        from sklearn.cluster import KMeans

        rng = np.random.default_rng(1)
        centres = rng.normal(0, 1.5, (8, 17))
        R = centres[rng.integers(0, 8, args.reference)] + rng.normal(size=(args.reference, 17))
        X = centres[rng.integers(0, 8, args.rows)] + rng.normal(size=(args.rows, 17))
        y = KMeans(n_clusters=5, n_init=1, random_state=0).fit_predict(R)
        threshold = float("inf")
    np.save(out / "R.npy", R)
    np.save(out / "y.npy", y)
    np.save(out / "X.npy", X)
    (out / "meta.json").write_text(json.dumps({"threshold": threshold}))
    _emit(seconds=time.perf_counter() - started, rows=len(X), reference=len(R),
          features=X.shape[1])


def knn17(args) -> None:
    """Assign the rows of ``knn17_data`` by custseg's vote (built as a loaded model
    builds it: the reference set, its labels, k=3, the atypical threshold) or by
    scikit-learn's ``KNeighborsClassifier(n_neighbors=3)`` on the same reference set;
    labels to ``--labels``."""
    folder = Path(args.data)
    R, y, X = (np.load(folder / f"{name}.npy") for name in ("R", "y", "X"))
    threshold = json.loads((folder / "meta.json").read_text())["threshold"]
    if args.engine == "custseg":
        from custseg.cluster.assignment import NeighbourVote

        started = time.perf_counter()
        vote = NeighbourVote(R, y, 3, threshold)
        labels = vote.assign(X).labels
        seconds = time.perf_counter() - started
        detail = {"search": "screen" if vote.screens else "tree"}
    else:
        import sklearn
        from sklearn.neighbors import KNeighborsClassifier

        started = time.perf_counter()
        knn = KNeighborsClassifier(n_neighbors=3).fit(R, y)
        labels = knn.predict(X)
        seconds = time.perf_counter() - started
        detail = {"algorithm": knn._fit_method, "sklearn": sklearn.__version__}
    np.save(args.labels, labels)
    _emit(seconds=seconds, rows=len(X), reference=len(R), **detail)


def rfm_log(args) -> None:
    """The demo transaction log of ``--lines`` lines, written once to ``--out`` (CSV)."""
    from custseg.io.writers import write_frame_csv
    from custseg.table.sample_log import make_transactions

    started = time.perf_counter()
    log, truth = make_transactions(args.lines, 0)
    write_frame_csv(log, args.out, force=True)
    _emit(seconds=time.perf_counter() - started, lines=len(log), customers=len(truth),
          mb=round(os.path.getsize(args.out) / 1e6, 1))


#: Lines of the demo log made at once when writing a large Parquet log (bounded memory).
PARQUET_CHUNK_LINES = 5_000_000


def rfm_log_parquet(args) -> None:
    """A demo log of ``--lines`` lines written to ``--out`` as Parquet, in chunks of
    :data:`PARQUET_CHUNK_LINES` lines (each the demo generator's with its own seed, its
    customers and invoices numbered after the previous chunk's), so that a log of 50
    million lines is made in bounded memory. Columns as a Parquet export has them:
    text ids and invoices, a timestamp, an integer quantity, a float price."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from custseg.table.sample_log import make_transactions

    started = time.perf_counter()
    schema = pa.schema([("InvoiceNo", pa.string()), ("InvoiceDate", pa.timestamp("s")),
                        ("CustomerID", pa.string()), ("Quantity", pa.int64()),
                        ("UnitPrice", pa.float64())])
    done = customers = 0
    invoices = 0
    with pq.ParquetWriter(args.out, schema) as writer:
        chunk = 0
        while done < args.lines:
            n = min(PARQUET_CHUNK_LINES, args.lines - done)
            log, truth = make_transactions(n, chunk)
            ids = log["CustomerID"].astype(np.int64) + customers
            plain = ~log["InvoiceNo"].str.startswith("C")
            number = log["InvoiceNo"].str.lstrip("C").astype(np.int64) + invoices
            invoice = np.where(plain, number.astype(str), "C" + number.astype(str))
            writer.write_table(pa.table({
                "InvoiceNo": pa.array(invoice, pa.string()),
                "InvoiceDate": pa.array(log["InvoiceDate"].to_numpy(dtype="datetime64[s]")),
                "CustomerID": pa.array(ids.astype(str).to_numpy(), pa.string()),
                "Quantity": pa.array(log["Quantity"].to_numpy(), pa.int64()),
                "UnitPrice": pa.array(log["UnitPrice"].to_numpy(), pa.float64())},
                schema=schema))
            customers += len(truth)
            invoices += int(number.max()) + 1
            done += n
            chunk += 1
    _emit(seconds=time.perf_counter() - started, lines=done, customers=customers,
          mb=round(os.path.getsize(args.out) / 1e6, 1))


def rfm(args) -> None:
    """custseg's aggregation of a log to its customer table, written to ``--out``: what
    ``custseg rfm`` runs (``api.rfm`` runs the same; importing the api loads
    scikit-learn, which the command does not)."""
    from custseg.io.rfm import rfm_file

    started = time.perf_counter()
    result = rfm_file(args.csv, args.out, force=True)
    _emit(seconds=time.perf_counter() - started, lines=result.summary.read,
          customers=result.summary.customers)


def pandas_rfm(args) -> None:
    """The script every notebook on the UCI log runs: read_csv, to_datetime, drop lines
    without a customer, line value, groupby (recency, frequency, monetary)."""
    import pandas as pd

    started = time.perf_counter()
    df = pd.read_csv(args.csv, dtype={"CustomerID": str, "InvoiceNo": str})
    df["InvoiceDate"] = pd.to_datetime(df["InvoiceDate"])
    df = df.dropna(subset=["CustomerID"])
    df["TotalPrice"] = df["Quantity"] * df["UnitPrice"]
    as_of = df["InvoiceDate"].max() + pd.Timedelta(days=1)
    out = df.groupby("CustomerID").agg(
        recency=("InvoiceDate", lambda d: (as_of - d.max()).days),
        frequency=("InvoiceNo", "nunique"),
        monetary=("TotalPrice", "sum"),
    )
    out.to_csv(args.out)
    _emit(seconds=time.perf_counter() - started, lines=len(df), customers=len(out))


def fit_transactions(args) -> None:
    """``custseg fit LOG --transactions`` end to end: the log aggregated in memory, its
    customers segmented (K-Means on the signed log of recency, frequency and monetary),
    the model saved."""
    from custseg import api
    from custseg.io.model_files import save_model

    started = time.perf_counter()
    result = api.fit_transactions(args.csv)
    save_model(result.model, args.out, force=True)
    _emit(seconds=time.perf_counter() - started, lines=result.log.summary.read,
          customers=result.log.summary.customers, segments=len(result.model.segments))


def demo_big(args) -> None:
    """A demo customer table of ``--rows`` rows, more than ``custseg demo-data`` makes
    (it stops at DEMO_MAX_ROWS): chunks of the generator's tables (seed 0, 1, …) written
    as the command writes one and joined under one header, their customer ids numbered
    on across chunks. Memory: one chunk."""
    import shutil

    from custseg.io.writers import write_frame_csv
    from custseg.table.sample import DEMO_MAX_ROWS, make_customers

    started = time.perf_counter()
    out = Path(args.out)
    part = out.with_name(out.stem + ".part.csv")
    width = len(str(args.rows))
    done = 0
    with open(out, "wb") as sink:
        for seed in range(-(-args.rows // DEMO_MAX_ROWS)):
            n = min(DEMO_MAX_ROWS, args.rows - done)
            frame = make_customers(n, seed)
            frame["customer_id"] = [f"C{i:0{width}d}" for i in range(done + 1, done + n + 1)]
            write_frame_csv(frame, part, force=True)
            with open(part, "rb") as fh:
                if seed:
                    fh.readline()  # the header, once
                shutil.copyfileobj(fh, sink, 1 << 20)
            done += n
    part.unlink()
    _emit(seconds=time.perf_counter() - started, rows=done,
          mb=round(os.path.getsize(out) / 1e6, 1))


# --- the scoring service (custseg serve): clients of a server started by benchmarks.run ---

def _customers(csv_path: str, n: int) -> list[dict]:
    """The first ``n`` rows of a demo CSV as /v1/predict customers: whole numbers as JSON
    numbers, the rest (ids, gender) as strings."""
    import csv

    out: list[dict] = []
    with open(csv_path, newline="") as fh:
        for row in csv.DictReader(fh):
            out.append({k: int(v) if v.isdigit() else v for k, v in row.items()})
            if len(out) >= n:
                break
    if len(out) < n:
        raise SystemExit(f"{csv_path} has {len(out)} rows; {n} are needed")
    return out


def _connection(port: int):
    """One HTTP/1.1 connection to the service on loopback, kept alive between requests."""
    import http.client

    return http.client.HTTPConnection("127.0.0.1", port, timeout=120, blocksize=1 << 20)


JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def _predict_check(status: int, data: bytes, ids: list | None) -> str | None:
    """Why a /v1/predict answer is wrong (None: 200, one result per customer sent, in
    order, each scored ``ok``); with ``ids`` None, a /health answer (200, status ok)."""
    if status != 200:
        return f"status {status}"
    if ids is None:
        return None if json.loads(data)["status"] == "ok" else "health not ok"
    results = json.loads(data)["results"]
    if [r["customer_id"] for r in results] != ids:
        return f"{len(results)} results for {len(ids)} customers, or out of order"
    if any(r["row_status"] != "ok" for r in results):
        return "a customer came back invalid"
    return None


def _predict_loop(port: int, bodies: list[tuple[bytes, list]], warmup: int,
                  deadline_s: float, ready=None) -> dict:
    """POST ``bodies`` to /v1/predict (a None body: GET /health) over one kept-alive
    connection: the first
    ``warmup`` untimed, then each timed until ``deadline_s`` seconds after the timed part
    starts (``ready``: a barrier to pass first). Latencies in ns, failures with reasons,
    and the connections opened during the timed part (0 when keep-alive held)."""
    import http.client

    conn = _connection(port)
    times: list[int] = []
    failures: dict[str, int] = {}
    opened = 0

    def post(body: bytes, ids: list) -> tuple[int, str | None]:
        nonlocal conn, opened
        opened += conn.sock is None  # http.client connects again after a close
        started = time.perf_counter_ns()
        try:
            if body is None:
                conn.request("GET", "/health")
            else:
                conn.request("POST", "/v1/predict", body, JSON_HEADERS)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            conn = _connection(port)
            return time.perf_counter_ns() - started, type(exc).__name__
        elapsed = time.perf_counter_ns() - started
        return elapsed, _predict_check(response.status, data, ids)

    for body, ids in bodies[:warmup]:
        post(body, ids)
    opened = 0
    if ready is not None:
        ready.wait()
    deadline = time.perf_counter() + deadline_s
    for body, ids in bodies[warmup:]:
        if time.perf_counter() > deadline:
            break
        elapsed, wrong = post(body, ids)
        times.append(elapsed)
        if wrong is not None:
            failures[wrong] = failures.get(wrong, 0) + 1
    conn.close()
    return {"times": times, "failures": failures, "reconnects": opened}


def _latency_figures(times_ns: list[int]) -> dict:
    ms = np.asarray(times_ns, dtype=float) / 1e6
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "max_ms": float(ms.max()), "mean_ms": float(ms.mean())}


def serve_predict(args) -> None:
    """Single-customer /v1/predict latency: ``--clients`` threads, each with its own
    kept-alive connection, each sending ``--warmup`` untimed requests, then (all together,
    after a barrier) at most ``--requests`` timed ones, for at most ``--cap`` seconds. Every
    request is another customer of ``--csv``. With ``--health``, GET /health instead: the
    HTTP floor (uvicorn, FastAPI, the access log; no scoring)."""
    import threading

    per = args.warmup + args.requests
    if args.health:
        bodies = [(None, None)] * (args.clients * per)
    else:
        customers = _customers(args.csv, args.clients * per)
        bodies = [(json.dumps({"customers": [c]}).encode(), [c["customer_id"]])
                  for c in customers]
    ready = threading.Barrier(args.clients + 1)
    runs: list[dict] = [{} for _ in range(args.clients)]

    def client(i: int) -> None:
        runs[i] = _predict_loop(args.port, bodies[i * per:(i + 1) * per], args.warmup,
                                args.cap, ready)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    ready.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    times = [t for run in runs for t in run["times"]]
    failures: dict[str, int] = {}
    for run in runs:
        for why, n in run["failures"].items():
            failures[why] = failures.get(why, 0) + n
    _emit(path="/health" if args.health else "/v1/predict", clients=args.clients,
          requests=len(times), planned=args.clients * args.requests,
          wall_s=wall, requests_per_s=len(times) / wall, capped=len(times) <
          args.clients * args.requests, failures=sum(failures.values()),
          failure_reasons=failures, reconnects=sum(r["reconnects"] for r in runs),
          **_latency_figures(times))


def serve_batch(args) -> None:
    """``--rows``-customer /v1/predict requests over one kept-alive connection: ``--warmup``
    untimed, then at most ``--requests`` timed ones for at most ``--cap`` seconds; each
    request is the next ``--rows`` customers of ``--csv``."""
    customers = _customers(args.csv, args.rows * (args.warmup + args.requests))
    bodies = []
    for i in range(args.warmup + args.requests):
        part = customers[i * args.rows:(i + 1) * args.rows]
        bodies.append((json.dumps({"customers": part}).encode(),
                       [c["customer_id"] for c in part]))
    run = _predict_loop(args.port, bodies, args.warmup, args.cap)
    seconds = np.asarray(run["times"], dtype=float) / 1e9
    rows_per_s = args.rows / seconds
    _emit(rows=args.rows, requests=len(seconds), planned=args.requests,
          body_kb=round(len(bodies[-1][0]) / 1024, 1),
          rows_per_s_median=float(np.median(rows_per_s)),
          rows_per_s_min=float(rows_per_s.min()), rows_per_s_max=float(rows_per_s.max()),
          failures=sum(run["failures"].values()), failure_reasons=run["failures"],
          reconnects=run["reconnects"], **_latency_figures(run["times"]))


def serve_score(args) -> None:
    """POST ``--csv`` to /v1/score, streamed from the file (never read whole), and stream
    the answer to ``--out``. Times: the body sent (``upload_s``: until the last byte is in
    the socket), the wait for the answer's head (``wait_s``: the server saving the rest of
    the body and scoring it, as it answers only once the scored file is written), the
    scored file received (``download_s``)."""
    import http.client

    size = os.path.getsize(args.csv)
    conn = _connection(args.port)
    cpu = time.process_time()
    started = time.perf_counter()
    with open(args.csv, "rb") as body:
        try:
            conn.request("POST", "/v1/score", body, {
                "Content-Type": "text/csv", "Accept": "text/csv",
                "Content-Length": str(size)})
        except OSError as exc:  # the server refused before the body was all sent
            sent_error = type(exc).__name__
        else:
            sent_error = None
    sent = time.perf_counter()
    try:
        response = conn.getresponse()
    except (OSError, http.client.HTTPException) as exc:
        _emit(status=None, error=sent_error or type(exc).__name__)
        return
    head = time.perf_counter()
    received = 0
    with open(args.out, "wb") as out:
        while chunk := response.read(1 << 20):
            out.write(chunk)
            received += len(chunk)
    done = time.perf_counter()
    conn.close()
    _emit(status=response.status, seconds=done - started, cpu_s=time.process_time() - cpu,
          upload_s=sent - started,
          wait_s=head - sent, download_s=done - head, bytes_sent=size, bytes_received=received,
          rows=response.getheader("X-Custseg-Rows"), error=sent_error)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="benchmarks.tasks")
    sub = parser.add_subparsers(dest="task", required=True)
    p = sub.add_parser("fit")
    p.add_argument("--csv", required=True)
    p.add_argument("--algorithm", required=True)
    p = sub.add_parser("score")
    p.add_argument("--model", required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("profiles")
    p.add_argument("--rows", type=int, default=300_000)
    p.add_argument("--repeats", type=int, default=3)
    for name in ("io_floor", "seed_batch"):
        p = sub.add_parser(name)
        p.add_argument("--csv", required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--mall")
    for name in ("seed_rerun", "dashboard"):
        p = sub.add_parser(name)
        p.add_argument("--csv", required=True)
        p.add_argument("--repeats", type=int, default=3)
    p = sub.add_parser("model_load")
    p.add_argument("--csv", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--mode", choices=["load", "refit"], required=True)
    p = sub.add_parser("knn17_data")
    p.add_argument("--shape", choices=["credit_card", "mixture"], required=True)
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--reference", type=int, required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("knn17")
    p.add_argument("--engine", choices=["custseg", "sklearn"], required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--labels", required=True)
    p = sub.add_parser("rfm_log")
    p.add_argument("--lines", type=int, required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("rfm_log_parquet")
    p.add_argument("--lines", type=int, required=True)
    p.add_argument("--out", required=True)
    for name in ("rfm", "pandas_rfm", "fit_transactions"):
        p = sub.add_parser(name)
        p.add_argument("--csv", required=True)
        p.add_argument("--out", required=True)
    p = sub.add_parser("demo_big")
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("serve_predict")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--clients", type=int, default=1)
    p.add_argument("--requests", type=int, default=2_000)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--cap", type=float, default=60.0)
    p.add_argument("--health", action="store_true")
    p = sub.add_parser("serve_batch")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--rows", type=int, default=1_000)
    p.add_argument("--requests", type=int, default=50)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--cap", type=float, default=60.0)
    p = sub.add_parser("serve_score")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    {"fit": fit, "score": score, "profiles": profiles, "io_floor": io_floor,
     "seed_batch": seed_batch, "seed_rerun": seed_rerun, "dashboard": dashboard,
     "model_load": model_load,
     "knn17_data": knn17_data, "knn17": knn17,
     "rfm_log": rfm_log, "rfm_log_parquet": rfm_log_parquet, "rfm": rfm,
     "pandas_rfm": pandas_rfm, "fit_transactions": fit_transactions,
     "demo_big": demo_big, "serve_predict": serve_predict, "serve_batch": serve_batch,
     "serve_score": serve_score}[args.task](args)


if __name__ == "__main__":
    sys.exit(main())
