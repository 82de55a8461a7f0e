"""Scoring on Dask: the same scoring, spread over a cluster's workers.

INPUT may be a file, a glob of files or a folder; each input file is one task, read and
scored batch by batch by the same code as the local engine, and written as one part of
the output folder (``part-00000.csv``, … in input order; Parquet when OUTPUT ends in
``.parquet``). Duplicate customer ids are found across all the files before scoring, with
rows numbered through the files in order, so the parts, read one after the other, are
row for row what the local engine writes for the files concatenated.

With no scheduler address a LocalCluster starts on this machine (bound to 127.0.0.1);
with one, the cluster at that address is used. Every worker needs custseg installed and
must see the input and output paths (a shared file system).
"""

from __future__ import annotations

import glob as globlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from custseg.errors import CustsegError, InputFileError, shown
from custseg.io.outputs import check_name_length
from custseg.io.score_files import (
    Progress,
    Scan,
    ScoreReport,
    count_ids,
    group_repeats,
    write_scored,
)
from custseg.io.sniff import PARQUET_SUFFIXES, TEXT_SUFFIXES
from custseg.io.source import DEFAULT_BATCH_ROWS, ReadLimits, TableSource
from custseg.model.segmentation import SegmentationModel
from custseg.table.notes import IdCounts, RepeatedIds
from custseg.table.parse import NumberFormat

INPUT_SUFFIXES = TEXT_SUFFIXES | PARQUET_SUFFIXES | {".gz", ".bz2", ".xz", ".zip", ".xlsx"}


def expand_inputs(spec: str | os.PathLike[str]) -> list[Path]:
    """The files named by a path, a folder or a glob, sorted; an error when none."""
    text = str(spec)
    path = Path(text)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES)
    elif path.is_file():
        files = [path]
    else:
        files = sorted(Path(p) for p in globlib.glob(text) if Path(p).is_file())
    if not files:
        raise InputFileError(
            f"{shown(text)} names no input file: give a file, a folder of CSV or Parquet "
            "files, or a glob such as 'customers/*.csv'."
        )
    return files


def _output_folder(output: str | os.PathLike[str]) -> tuple[Path, str]:
    out = Path(output)
    check_name_length(out)
    fmt = "parquet" if out.suffix.lower() in PARQUET_SUFFIXES else "csv"
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputFileError(
            f"the output {shown(str(out))} already exists; the Dask engine writes a new "
            "folder of parts, so choose a name that does not exist yet."
        )
    if not out.parent.exists():
        raise InputFileError(f"the folder {shown(str(out.parent))} does not exist; create it first.")
    return out, fmt


# ------------------------------------------------------------------ worker tasks


def _count_part(path: str, options: dict[str, Any]) -> tuple[int, bool, IdCounts, NumberFormat]:
    """First pass over one file (on a worker): its rows, its shape, its ids counted —
    a hash per distinct id, never the ids themselves — and how it writes numbers."""
    source = _source(path, options)
    source.match.require(options["needs"])
    n_rows, counts = count_ids(source, options["batch_rows"])
    counts.repeated()  # compacted before it travels
    return n_rows, bool(source.well_formed), counts, source.number_format


def _group_part(path: str, start: int, repeated: np.ndarray, well_formed: bool,
                options: dict[str, Any]) -> RepeatedIds:
    """Second pass over one file (on a worker): the groups of its rows whose id hash
    repeats somewhere in the input, numbered from ``start``."""
    source = _source(path, options, well_formed)
    return group_repeats(source, repeated, options["batch_rows"], start)


def _source(path: str, options: dict[str, Any], well_formed: bool | None = None,
            number_format: NumberFormat | None = None) -> TableSource:
    return TableSource(path, mapping=options["mapping"], income_unit=options["income_unit"],
                       limits=options["limits"], well_formed=well_formed,
                       number_format=number_format)


def _score_part(
    model: SegmentationModel, path: str, index: int, n_rows: int, start: int,
    well_formed: bool, repeats: RepeatedIds | None, folder: str, fmt: str,
    options: dict[str, Any],
) -> dict[str, Any]:
    """Last pass over one file: score it into its part of the output (on a worker), with
    the number format decided over all the files."""
    source = _source(path, options, well_formed, options["number_format"])
    report = ScoreReport()
    target = Path(folder) / f"part-{index:05d}.{fmt}"
    write_scored(model, source, target, fmt, report, batch_rows=options["batch_rows"],
                 facts=Scan(n_rows, repeats, start, number_format=options["number_format"]))
    return report.to_dict()


# ---------------------------------------------------------------------- driver


@contextmanager
def _client(scheduler: str | None, connect_timeout: str = "15s"):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise CustsegError(
            "the Dask engine needs dask[distributed]: pip install 'custseg[dask]'."
        ) from None
    if scheduler:
        try:
            client = Client(scheduler, timeout=connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise CustsegError(
                f"cannot reach the Dask scheduler at {shown(scheduler)} ({exc}); check the "
                "address (tcp://host:8786) and that the scheduler is running."
            ) from None
        with client:
            yield client
        return
    workers = max(1, min(4, os.cpu_count() or 1))
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def score_dask(
    model: SegmentationModel,
    inputs: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    scheduler: str | None = None,
    mapping: Mapping[str, str] | None = None,
    income_unit: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    limits: ReadLimits | None = None,
    progress: Progress | None = None,
    connect_timeout: str = "15s",
) -> ScoreReport:
    """Score every input file on Dask into a new folder of parts (see the module)."""
    started = time.perf_counter()
    files = expand_inputs(inputs)
    out, fmt = _output_folder(output)
    options = {"mapping": dict(mapping or {}) or None, "income_unit": income_unit,
               "limits": limits or ReadLimits(), "batch_rows": batch_rows,
               "needs": model.encoding.needs}
    # a short name of its own, whatever the length of the output's
    tmp = Path(tempfile.mkdtemp(prefix=".custseg-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp's folder is private; the output's is not
    report = ScoreReport(output=str(out))
    try:
        with _client(scheduler, connect_timeout) as client:
            sizes, well, offsets, repeats, warnings, numbers = _global_duplicates(
                client, files, options)
            options = {**options, "number_format": numbers}
            total = int(sum(sizes))
            if total == 0:
                raise InputFileError("the input files have headers but no data rows.")
            report.warnings.extend(warnings)
            remote_model = client.scatter(model, broadcast=True)
            remote_repeats = (client.scatter(repeats, broadcast=True)
                              if repeats is not None else None)
            futures = {}
            for i, f in enumerate(files):
                futures[client.submit(_score_part, remote_model, str(f), i, int(sizes[i]),
                                      int(offsets[i]), bool(well[i]), remote_repeats,
                                      str(tmp), fmt, options, pure=False)] = i
            done = 0
            if progress:
                progress(0, total)
            from distributed import as_completed

            for future in as_completed(list(futures)):
                part = future.result()
                _merge(report, part)
                done += part["n_rows"]
                if progress:
                    progress(done, total)
        if out.exists():
            out.rmdir()  # an empty folder, checked above
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report.seconds = time.perf_counter() - started
    return report


def _raise_first_error(client, futures) -> None:
    """Surface a worker's CustsegError (a bad file) as itself, not as a Dask failure."""
    from distributed import wait

    wait(futures)
    for future in futures:
        if future.status == "error":
            raise future.exception()


def _global_duplicates(
    client, files: list[Path], options: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, RepeatedIds | None, list[str], NumberFormat]:
    """Rows, shape and first-row position of each file, the repeated ids of all the files
    together (their rows numbered through the files in order), the search's warnings and
    the number format of all the files together (as of the files concatenated).

    Workers count ids into hashes (8 bytes a distinct id); the driver combines the
    counts, then the workers group the rows of the repeated hashes, and the driver
    combines the groups in file order. No per-row object travels.
    """
    firsts = [client.submit(_count_part, str(f), options, pure=False) for f in files]
    _raise_first_error(client, firsts)
    counted = client.gather(firsts)
    sizes = np.array([c[0] for c in counted], dtype=np.int64)
    well = np.array([c[1] for c in counted], dtype=bool)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    counts = IdCounts()
    numbers = NumberFormat()
    for _, _, part, found in counted:  # in file order: the first example is the first
        counts.merge(part)
        numbers = numbers.merged(found)
    repeated, warnings = counts.repeated(), counts.warnings()
    del counts, counted, firsts  # the distinct ids' hashes: not needed any more
    if not len(repeated):
        return sizes, well, offsets, None, warnings, numbers
    remote = client.scatter(repeated, broadcast=True)
    seconds = [client.submit(_group_part, str(f), int(offsets[i]), remote, bool(well[i]),
                             options, pure=False) for i, f in enumerate(files)]
    _raise_first_error(client, seconds)
    groups = None
    for part in client.gather(seconds):
        if groups is None:
            groups = part
        else:
            groups.merge(part)
    return sizes, well, offsets, groups, warnings + groups.warnings(), numbers


def _merge(report: ScoreReport, part: dict[str, Any]) -> None:
    report.n_rows += part["n_rows"]
    report.n_invalid += part["n_invalid"]
    report.n_atypical += part["n_atypical"]
    report.reasons.update(part["reasons"])
    report.notes.update(part["notes"])
    report.warnings.extend(part["warnings"])
    report.segments.update({int(k): v for k, v in part["segments"].items()})
