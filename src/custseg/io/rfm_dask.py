"""A transaction log of many files to one row per customer, on Dask.

The result is the local engine's (:func:`custseg.io.rfm.aggregate_log` on the files
concatenated), row for row and digit for digit, with the same summary, though a
customer's lines are spread across files. Two passes of tasks, with the log-wide
decisions taken in between by the driver:

1. One task per file reads it with the local engine's reader and rules (every format,
   the hostile-input rules and caps), reads its customer ids (a rule of the cell alone),
   and writes its lines, as text, to Parquet partitioned by a hash of the customer id
   into buckets, so that every line of a customer, whichever file it is in, lands in
   one bucket. It returns the facts the log-wide decisions need (the date column's
   distinct cells and counts, the UCI invoice flags, the number format).
2. The driver takes those decisions over all the files, as the local engine does over
   its one file: the date order over the whole column, the "C" cancellation rule
   (which holds only when every ordinary invoice of every file is digits alone), the
   number format.
3. One task per bucket reads each distinct cell with those decisions and sums the
   bucket's customers, with the local engine's SQL. Identical lines are identical in
   every cell, so they share a customer id and a bucket: the distinct lines of the log
   are the buckets' distinct lines added up. The driver concatenates the buckets'
   customers (no customer is in two), sorts them as DuckDB sorts text and finishes the
   table (the as-of date from the latest purchase of the whole log) as the local
   engine does.

The files are parts of one log: the same header (names and order) and the same decimal
mark. The lines go through a temporary folder beside the output (every worker must see
it, and the input files: a shared file system), removed at the end. A row cap
(``limits.max_rows``) applies to each file.
"""

from __future__ import annotations

import glob as globlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from custseg.io.dask_engine import (
    CONNECT_TIMEOUT,
    _client,
    _display_names,
    _guarded,
    _results,
    expand_inputs,
)
from custseg.io.rfm import (
    _CID,
    CustomerLog,
    Decisions,
    LogFacts,
    Sums,
    _as_of_day,
    _connect,
    _ids,
    _lines,
    _load,
    _readings,
    _sums,
    check_same_header,
    decide,
    duckdb_errors,
    facts,
    finish,
    memory_bytes,
)
from custseg.io.source import ReadLimits, TableSource
from custseg.table.spec import date_format_text
from custseg.table.transactions import LogColumns, find_columns


@dataclass(frozen=True)
class _Scanned:
    """What the first pass found in one file."""

    facts: LogFacts
    columns: LogColumns


def _quoted(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


@_guarded
def _scan_part(path: str, name: str, index: int, folder: str,
               options: dict[str, Any]) -> _Scanned:
    """First pass over one file (on a worker): its lines to the buckets' Parquet, its
    facts back."""
    with duckdb_errors(options["memory_limit"]):
        return _scan(path, name, index, folder, options)


def _scan(path: str, name: str, index: int, folder: str, options: dict[str, Any]) -> _Scanned:
    log = TableSource(path, name=name, limits=options["limits"], check_income=False,
                      customer_fields=False)
    try:
        cols = find_columns(log.header, options["columns"])
        log.log_customer(cols.customer, cols.numbers())
        con, spill = _connect(options["memory_limit"])
        try:
            _load(con, log, cols, options["memory_limit"])
            _ids(con)
            found = facts(con, log, cols)
            target = os.path.join(folder, f"part-{index:05d}")
            con.execute(f"""
                COPY (
                    WITH read AS (
                        SELECT {_CID} AS cid, r.dt, r.key0, r.inv_odd, r.a, r.q, r.p,
                               r.bad, r.h
                        FROM raw r LEFT JOIN ids i ON r.cust_odd = i.raw)
                    SELECT *, coalesce(hash(cid), 0) % {int(options["buckets"])} AS bucket
                    FROM read
                ) TO {_quoted(target)} (FORMAT parquet, PARTITION_BY (bucket))
            """)
        finally:
            con.close()
            shutil.rmtree(spill, ignore_errors=True)
    finally:
        log.close()
    return _Scanned(found, cols)


@_guarded
def _sum_bucket(folder: str, bucket: int, cols: LogColumns, decided: Decisions,
                memory_limit: str) -> Sums | None:
    """Second pass over one bucket (on a worker): every line of its customers, read
    with the log-wide decisions and summed; None when no line fell in it."""
    files = sorted(globlib.glob(os.path.join(globlib.escape(folder), "part-*",
                                             f"bucket={bucket}", "*.parquet")))
    if not files:
        return None
    with duckdb_errors(memory_limit):
        return _sum_files(files, cols, decided, memory_limit)


def _sum_files(files: list[str], cols: LogColumns, decided: Decisions,
               memory_limit: str) -> Sums:
    con, spill = _connect(memory_limit)
    try:
        listed = ", ".join(_quoted(f) for f in files)
        con.execute("CREATE TABLE raw AS SELECT cid, dt, key0, inv_odd, a, q, p, bad, h "
                    f"FROM read_parquet([{listed}], hive_partitioning = false)")
        _readings(con, cols, decided)
        _lines(con, cols, decided, cid="r.cid")
        return _sums(con)
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def aggregate_log_dask(
    inputs: str | os.PathLike[str],
    *,
    columns: Mapping[str, str | None] | None = None,
    as_of: date | str | None = None,
    date_format: str | None = None,
    limits: ReadLimits | None = None,
    memory_limit: str = "350MB",
    scheduler: str | None = None,
    connect_timeout: str | float = CONNECT_TIMEOUT,
    workdir: str | os.PathLike[str] | None = None,
) -> CustomerLog:
    """One row per customer of the log whose files ``inputs`` names (a file, a folder or
    a glob), on Dask (see the module); the parameters are
    :func:`~custseg.io.rfm.aggregate_log`'s, ``memory_limit`` each task's.

    ``scheduler`` is a Dask scheduler's address (default: a local cluster on this
    machine); ``workdir`` the folder the lines go through (default: the system's
    temporary folder, which a local cluster's workers share).
    """
    as_of_day = _as_of_day(as_of)
    memory_bytes(memory_limit)  # refused before any work
    files = expand_inputs(inputs)
    names = _display_names(files)
    tmp = Path(tempfile.mkdtemp(prefix=".custseg-rfm-", dir=workdir))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # workers may run as another user of the shared folder
    try:
        with _client(scheduler, connect_timeout) as client:
            buckets = max(1, 2 * len(client.nthreads()))
            options = {"columns": dict(columns or {}), "limits": limits or ReadLimits(),
                       "memory_limit": memory_limit, "buckets": buckets}
            scanned = _results(client, [
                client.submit(_scan_part, str(f), names[i], i, str(tmp), options, pure=False)
                for i, f in enumerate(files)], names)
            for name, part in zip(names[1:], scanned[1:], strict=True):
                check_same_header(name, part.facts.header, names[0], scanned[0].facts.header)
            cols = scanned[0].columns
            # each bucket finds its own dates: the log's would be sent to every worker
            decided = replace(decide([s.facts for s in scanned], cols, date_format),
                              date_cells=None)
            labels = [f"bucket {b} of the log's lines" for b in range(buckets)]
            sums = _results(client, [
                client.submit(_sum_bucket, str(tmp), b, cols, decided, memory_limit,
                              pure=False) for b in range(buckets)], labels)
        return replace(finish([s for s in sums if s is not None], cols, as_of_day),
                       date_format=date_format_text(decided.date_format))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
