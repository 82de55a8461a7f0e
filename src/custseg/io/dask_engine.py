"""Scoring on Dask: the same scoring, spread over a cluster's workers.

INPUT may be a file, a glob of files or a folder; each input file is one task, read and
scored batch by batch by the same code as the local engine, and written as one part of
the output folder (``part-00000.csv``, … in input order; Parquet when OUTPUT ends in
``.parquet``). Duplicate customer ids are found across all the files before scoring, with
rows numbered through the files in order, so the parts, read one after the other, are
row for row what the local engine writes for the files concatenated.

The files are parts of one table: they must have the same header (names and order),
and a part with a header and no rows adds none (its part of the output has the header
only). A file that cannot be read refuses the whole run, in one error naming it (the
first such file in input order): a worker task returns the error instead of raising it,
so it is said once, by the driver, not logged by every worker.

With no scheduler address a LocalCluster starts on this machine (bound to 127.0.0.1);
with one, the address is checked, asked within the connection timeout whether it is a
Dask scheduler, and then used. Every worker needs custseg installed and must see the
input and output paths (a shared file system).
"""

from __future__ import annotations

import functools
import glob as globlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
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


#: What a worker task gives back instead of raising, so that a bad file is said once, by
#: the driver, in custseg's words (a raising task is logged by the worker, traceback and
#: all, and retried on another when its worker dies).
_BAD_INPUT = (CustsegError, OSError, MemoryError)


def _guarded(task):
    """The task, returning (not raising) the errors bad input causes."""

    @functools.wraps(task)
    def run(*args: Any) -> Any:
        try:
            return task(*args)
        except _BAD_INPUT as exc:
            return exc

    return run


@_guarded
def _count_part(path: str, name: str, options: dict[str, Any]) -> Counted:
    """First pass over one file (on a worker): its header, its rows, its shape and its ids
    counted — a hash per distinct id, never the ids themselves — and how it writes
    numbers."""
    source = _source(path, name, options)
    try:
        n_rows, counts = count_ids(source, options["batch_rows"])
    finally:
        source.close()
    counts.repeated()  # compacted before it travels
    return Counted(n_rows, bool(source.well_formed), counts, tuple(source.header),
                   source.number_format)


@_guarded
def _group_part(path: str, name: str, start: int, repeated: np.ndarray, well_formed: bool,
                options: dict[str, Any]) -> RepeatedIds:
    """Second pass over one file (on a worker): the groups of its rows whose id hash
    repeats somewhere in the input, numbered from ``start``."""
    source = _source(path, name, options, well_formed)
    try:
        return group_repeats(source, repeated, options["batch_rows"], start)
    finally:
        source.close()


def _source(path: str, name: str, options: dict[str, Any], well_formed: bool | None = None,
            number_format: NumberFormat | None = None) -> TableSource:
    source = TableSource(path, name=name, mapping=options["mapping"],
                         income_unit=options["income_unit"], limits=options["limits"],
                         well_formed=well_formed, number_format=number_format)
    try:
        source.expect(options["needs"], options["spec"])  # the columns the model reads
    except BaseException:
        source.close()
        raise
    return source


@_guarded
def _score_part(
    model: SegmentationModel, path: str, name: str, index: int, n_rows: int, start: int,
    well_formed: bool, repeats: RepeatedIds | None, folder: str, fmt: str,
    options: dict[str, Any],
) -> dict[str, Any]:
    """Last pass over one file: score it into its part of the output (on a worker), with
    the number format decided over all the files. A
    file with a header and no rows is a part with the header and no rows."""
    source = _source(path, name, options, well_formed, options["number_format"])
    report = ScoreReport()
    target = Path(folder) / f"part-{index:05d}.{fmt}"
    try:
        write_scored(model, source, target, fmt, report, batch_rows=options["batch_rows"],
                     facts=Scan(n_rows, repeats, start, number_format=options["number_format"]),
                     empty_ok=True)
    finally:
        source.close()
    return {**report.to_dict(), "drift_counts": report.drift}


@dataclass(frozen=True)
class Counted:
    """What the first pass found in one file."""

    n_rows: int
    well_formed: bool
    counts: IdCounts
    header: tuple[str, ...]
    number_format: NumberFormat


# ---------------------------------------------------------------------- driver


#: How long to wait for a scheduler to answer, unless the caller says otherwise: long
#: enough for any network a cluster runs on, short enough that a wrong address is said
#: at once rather than after Dask's 30 s.
CONNECT_TIMEOUT = "5s"


@contextmanager
def _client(scheduler: str | None, connect_timeout: str | float = CONNECT_TIMEOUT):
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise CustsegError(
            "the Dask engine needs dask[distributed]: pip install 'custseg[dask]'."
        ) from None
    if scheduler is not None:
        from dask.utils import parse_timedelta

        seconds = float(parse_timedelta(connect_timeout, default="seconds"))
        security = _check_scheduler(scheduler, seconds)
        with dask.config.set({"distributed.comm.timeouts.connect": seconds}):
            try:
                client = Client(scheduler, timeout=seconds, security=security)
            except (OSError, TimeoutError) as exc:
                raise CustsegError(
                    f"cannot reach the Dask scheduler at {shown(scheduler)} ({_reason(exc)}); "
                    "check the address (tcp://host:8786) and that the scheduler is running."
                ) from None
        with client:
            _require_workers(client, scheduler, seconds)
            yield client
        return
    workers = max(1, min(4, os.cpu_count() or 1))
    # CRITICAL: a failing task is reported once, by the driver, not logged by each worker
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None,
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        yield client


def _check_scheduler(address: str, seconds: float):
    """The security settings to reach ``address``, once it has answered as a Dask
    scheduler within ``seconds``; a CustsegError otherwise.

    Dask's Client is not enough on its own: it reads whatever a server sends first as a
    message length (an HTTP server's ``HTTP/1.1`` is a 3 EiB allocation), and waits for a
    silent server's handshake without a time limit. So the address is checked first, then
    asked who it is (Dask's own ``identity`` call) under a deadline, and any failure is
    one message.
    """
    from distributed.comm import registry
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.security import Security

    example = "give one such as tcp://host:8786"
    try:
        scheme, location = parse_address(address)
    except (ValueError, TypeError):
        raise CustsegError(f"{shown(address)} is not a Dask scheduler address; {example}",
                           parameter="scheduler") from None
    try:
        registry.get_backend(scheme)
    except (ValueError, ImportError):
        raise CustsegError(
            f"{shown(address)} is not a Dask scheduler address: Dask does not speak "
            f"{shown(scheme + '://')} (it speaks tcp://, tls://, ws:// and wss://); {example}",
            parameter="scheduler",
        ) from None
    if scheme != "inproc":
        try:
            _, port = parse_host_port(location)
        except (ValueError, TypeError):
            raise CustsegError(
                f"{shown(address)} is not a Dask scheduler address: it needs a port number "
                f"after the host; {example}", parameter="scheduler",
            ) from None
        if not 0 < port < 65_536:
            raise CustsegError(
                f"{shown(address)} is not a Dask scheduler address: port {port} is outside "
                f"1-65535; {example}", parameter="scheduler",
            )
    security = Security()  # certificates from Dask's configuration, as Client would take
    args = security.get_connection_args("client")
    if scheme in ("tls", "wss") and args.get("ssl_context") is None:
        raise CustsegError(
            f"the scheduler address {shown(address)} uses TLS, and no TLS certificates are "
            "configured for Dask: set distributed.comm.tls.ca-file, .client.cert and "
            ".client.key in Dask's configuration (or the variables "
            "DASK_DISTRIBUTED__COMM__TLS__CA_FILE, DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT "
            "and DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY), or use a tcp:// address."
        )
    who = _identity(address, args, seconds)
    kind = who.get("type") if isinstance(who, dict) else None
    if kind != "Scheduler":
        what = f"a Dask {kind.lower()}" if kind in ("Worker", "Nanny") else "something else"
        raise CustsegError(
            f"{shown(address)} is {what}, not a Dask scheduler; give the scheduler's "
            "address (tcp://host:8786 by default)."
        )
    return security


def _identity(address: str, args: dict[str, Any], seconds: float) -> Any:
    """What the server at ``address`` says it is, asked and answered within ``seconds``.

    Run on an event loop of its own, in a thread, so that a caller that has a loop
    running (a notebook) can use it too.
    """
    import asyncio
    import concurrent.futures

    from distributed.core import rpc

    async def ask() -> Any:
        remote = rpc(address, timeout=seconds, connection_args=args)
        try:
            return await remote.identity()  # a worker's takes no n_workers
        finally:
            await remote.close_rpc()

    def run() -> Any:
        # a second more than the connection's own timeout, so that its reason (a refusal)
        # is the one said; past it the handshake, which has no timeout of its own
        return asyncio.run(asyncio.wait_for(ask(), seconds + 1))

    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="custseg-probe")
    try:
        return pool.submit(run).result(timeout=seconds + 5)  # a last resort
    except (OSError, TimeoutError, concurrent.futures.TimeoutError) as exc:
        reason = _reason(exc)
        if reason == "no answer" and _refused(address, seconds):
            # on a loaded machine our own deadline can fire while Dask still retries a
            # refused connection: the port itself says why
            reason = "connection refused"
        raise CustsegError(
            f"cannot reach the Dask scheduler at {shown(address)} within {seconds:g} s "
            f"({reason}); check the address (tcp://host:8786) and that the "
            "scheduler is running."
        ) from None
    except Exception as exc:  # it answered, in another protocol: what it sent is not Dask's
        # (a length of exabytes is a MemoryError or a ValueError, garbage a decoding
        # error, a close mid-message a CommClosedError: any of them means the same)
        raise CustsegError(
            f"{shown(address)} does not answer as a Dask scheduler (it sent something "
            f"else: {type(exc).__name__}); check the address and port: a scheduler "
            "listens on tcp://host:8786 by default (8787 is its dashboard, not the "
            "scheduler)."
        ) from None
    finally:
        pool.shutdown(wait=False)


def _require_workers(client, address: str, seconds: float) -> None:
    """A scheduler with no workers would take the tasks and never run them: wait for one
    for as long as a connection may take, then say so."""
    if client.scheduler_info(n_workers=1).get("workers"):
        return
    try:
        client.wait_for_workers(1, timeout=seconds)
    except (TimeoutError, OSError):
        raise CustsegError(
            f"the Dask scheduler at {shown(address)} has no workers (none joined within "
            f"{seconds:g} s); start some (dask worker ADDRESS) and try again."
        ) from None


def _refused(address: str, seconds: float) -> bool:
    """Whether a TCP connection to ``address`` (tcp:// or tls://) is refused right now."""
    import socket

    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme not in ("tcp", "tls"):
            return False
        host, port = parse_host_port(location)
        socket.create_connection((host, port), timeout=seconds).close()
    except ConnectionRefusedError:
        return True
    except (OSError, ValueError, TypeError):
        return False
    return False


def _reason(exc: BaseException) -> str:
    """A short cause for a connection failure (Dask's own texts repeat the address)."""
    cause = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, TimeoutError):  # asyncio's too, since Python 3.11
        return "no answer"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror.lower()
    return "no answer"


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
    connect_timeout: str | float = CONNECT_TIMEOUT,
) -> ScoreReport:
    """Score every input file on Dask into a new folder of parts (see the module)."""
    started = time.perf_counter()
    files = expand_inputs(inputs)
    out, fmt = _output_folder(output)
    options = {"mapping": {**model.config.spec.mapping, **(mapping or {})} or None,
               "income_unit": income_unit,
               "limits": limits or ReadLimits(), "batch_rows": batch_rows,
               "needs": model.encoding.needs, "spec": model.config.spec}
    # a short name of its own, whatever the length of the output's
    tmp = Path(tempfile.mkdtemp(prefix=".custseg-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp's folder is private; the output's is not
    report = ScoreReport(output=str(out))
    names = _display_names(files)
    try:
        with _client(scheduler, connect_timeout) as client:
            sizes, well, offsets, repeats, warnings, numbers = _global_duplicates(
                client, files, names, _first_pass(client, files, names, options), options)
            options = {**options, "number_format": numbers}
            total = int(sum(sizes))
            if total == 0:
                raise InputFileError("the input files have headers but no data rows.")
            report.warnings.extend(warnings)
            remote_model = client.scatter(model, broadcast=True)
            remote_repeats = (client.scatter(repeats, broadcast=True)
                              if repeats is not None else None)
            futures = [client.submit(_score_part, remote_model, str(f), names[i], i,
                                     int(sizes[i]), int(offsets[i]), bool(well[i]),
                                     remote_repeats, str(tmp), fmt, options, pure=False)
                       for i, f in enumerate(files)]
            done = 0
            if progress:
                progress(0, total)
            from distributed import as_completed

            for future in as_completed(futures):
                part = _result(future, names[futures.index(future)])
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


def _display_names(files: list[Path]) -> list[str]:
    """How messages name each input: its file name, or as much of its path as tells it
    from the others where two share a file name (a glob over several folders)."""
    names = [f.name for f in files]
    depth = 1
    while len(set(names)) < len(names) and depth < 64:
        depth += 1  # the last parts of the paths, as few as tell them apart
        names = [str(Path(*f.parts[-depth:])) for f in files]
    return names


def _result(future, name: str) -> Any:
    """A task's value; the bad-input error it returned, raised; a worker that died, said."""
    from distributed.scheduler import KilledWorker

    try:
        value = future.result()
    except KilledWorker:
        raise CustsegError(
            f"the Dask workers kept dying while reading {shown(name)} (out of memory, or "
            "stopped); nothing was written. Give the workers more memory, or score that "
            "file on its own."
        ) from None
    if isinstance(value, BaseException):
        raise value
    return value


def _results(client, futures, names: list[str]) -> list[Any]:
    """Every task's value, in input order; the first file's error (in input order, so
    the same file is named however the tasks finish) raised."""
    from distributed import wait

    wait(futures)
    return [_result(future, names[i]) for i, future in enumerate(futures)]


def _first_pass(client, files: list[Path], names: list[str],
                options: dict[str, Any]) -> list[Counted]:
    """Every file counted; files whose headers differ from the first's refused."""
    counted = _results(client, [client.submit(_count_part, str(f), names[i], options,
                                              pure=False) for i, f in enumerate(files)],
                       names)
    first = counted[0].header
    for name, part in zip(names[1:], counted[1:], strict=True):
        if part.header != first:
            raise InputFileError(
                f"{_header_difference(name, part.header, names[0], first)}; the files "
                "scored together are parts of one table and need the same header (the "
                "same column names, in the same order). Score the files that differ on "
                "their own."
            )
    return counted


def _header_difference(name: str, header: tuple[str, ...], first_name: str,
                       first: tuple[str, ...]) -> str:
    """How a part's header differs from the first part's, in a few words."""
    widths = "" if len(header) == len(first) else f" (and {len(header):,} columns, not {len(first):,})"
    for i, (ours, theirs) in enumerate(zip(header, first, strict=False)):
        if ours != theirs:
            return (f"column {i + 1} of {shown(name)} is {shown(ours)} where "
                    f"{shown(first_name)} has {shown(theirs)}{widths}")
    return f"{shown(name)} has {len(header):,} columns where {shown(first_name)} has {len(first):,}"


def _global_duplicates(
    client, files: list[Path], names: list[str], counted: list[Counted],
    options: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, RepeatedIds | None, list[str], NumberFormat]:
    """Rows, shape and first-row position of each file, the repeated ids of all the files
    together (their rows numbered through the files in order), the search's warnings and
    the number format of all the files together (as of the files concatenated).

    Workers count ids into hashes (8 bytes a distinct id); the driver combines the
    counts, then the workers group the rows of the repeated hashes, and the driver
    combines the groups in file order. No per-row object travels.
    """
    sizes = np.array([c.n_rows for c in counted], dtype=np.int64)
    well = np.array([c.well_formed for c in counted], dtype=bool)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    counts = IdCounts()
    numbers = NumberFormat()
    for part in counted:  # in file order: the first example is the first
        counts.merge(part.counts)
        numbers = numbers.merged(part.number_format)
    repeated, warnings = counts.repeated(), counts.warnings()
    counted.clear()  # the distinct ids' hashes (the caller's list too): not needed any more
    del counts
    if not len(repeated):
        return sizes, well, offsets, None, warnings, numbers
    remote = client.scatter(repeated, broadcast=True)
    seconds = [client.submit(_group_part, str(f), names[i], int(offsets[i]), remote,
                             bool(well[i]), options, pure=False) for i, f in enumerate(files)]
    groups = None
    for part in _results(client, seconds, names):
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
    # each part says what it read alike (an income read in dollars): once is enough
    report.warnings.extend(w for w in part["warnings"] if w not in report.warnings)
    report.segments.update({int(k): v for k, v in part["segments"].items()})
    report.add_drift(part.get("drift_counts"))
