"""The sidebar's data source: the demo, an upload or the startup file, read or
aggregated (a transaction log), with the options that say how to read it.

:func:`data_source` returns the table the controls segment, or the previous one (said
so) when the new source is refused; the refusal is recorded for the main area
(:data:`state.FAILED`).
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from custseg.app import cached, state
from custseg.app.ui import plain, read_upload, show_error
from custseg.errors import CustsegError
from custseg.table.choices import assignment_lines
from custseg.table.fields import ID
from custseg.table.sample import DEMO_MAX_ROWS
from custseg.table.transactions import LogColumns


def data_source(main) -> state.KeyedTable | None:
    st.subheader("Data", divider="gray")
    options = [state.DEMO, state.UPLOAD] + ([state.STARTUP] if state.startup_file() else [])
    choice = st.radio("Source", options, key="data_source", horizontal=False,
                      label_visibility="collapsed")
    result = failure = log = None
    try:
        if choice == state.DEMO:
            c1, c2 = st.columns(2)
            n = c1.number_input("Customers", min_value=100, max_value=DEMO_MAX_ROWS, step=500,
                                key="demo_n")
            seed = c2.number_input("Seed", min_value=0, max_value=10_000, step=1, key="demo_seed")
            result = cached.demo_table(int(n), int(seed))
        elif choice == state.STARTUP:
            path = state.startup_file()
            st.caption(plain(f"File: {Path(path).name}"))
            mtime, limits = os.stat(path).st_mtime_ns, state.read_limits()
            log = _as_log(cached.path_log_columns(path, mtime, limits), (path, mtime))
            if log is not None:
                result = _aggregated(main, Path(path).name, log, (path, mtime),
                                     lambda fmt: cached.path_log(path, mtime, limits, fmt))
            else:
                result = cached.path_table(path, mtime, limits, *reading())
        else:
            upload = st.file_uploader("Customer table or transaction log",
                                      type=state.UPLOAD_TYPES, key="data_upload",
                                      help="CSV, TSV, Excel .xlsx or Parquet; any customer "
                                      "table (choose its features below), or a log of orders "
                                      "or invoice lines (aggregated to one row per customer).")
            if upload is None:
                st.caption("Upload a file to segment it.")
                return _previous()
            limits = state.read_limits()
            if upload.size <= int(st.get_option("server.maxUploadSize")) << 20:
                log = _as_log(cached.upload_log_columns(upload.name, upload.getvalue(), limits),
                              (upload.name, upload.size))
            if log is not None:
                name, data = upload.name, upload.getvalue()
                result = _aggregated(main, name, log, (name, len(data), cached.digest(data)),
                                     lambda fmt: cached.upload_log(name, data, limits, fmt))
            else:
                result = read_upload(upload, cached.uploaded_table, limits, *reading())
                if result is None:
                    failure = True
    except (CustsegError, OSError) as exc:
        show_error(exc)
        failure = exc
    if failure is not None:
        st.session_state[state.FAILED] = _failed_source(choice)
    if choice != state.DEMO:
        _reading_options(result, expanded=failure is not None, log=log)
    if result is None:
        return _kept()
    st.session_state[state.LAST_TABLE] = result
    return result


#: Session key: the log last aggregated in this session (its name, size or time, digest
#: and date format), so that the progress shows when an aggregation runs, not on reruns.
AGGREGATED = "_aggregated_log"


#: Session key: the file the "Treat as a customer table" switch was last set for.
AS_TABLE_FOR = "_as_table_for"


def _as_log(columns: LogColumns | None, identity: tuple) -> LogColumns | None:
    """A transaction log's columns, said in the sidebar, unless the analyst treats the
    file as a customer table (then None). The switch starts off for every new file."""
    if columns is None:
        return None
    if st.session_state.get(AS_TABLE_FOR) != identity:
        st.session_state[AS_TABLE_FOR] = identity
        st.session_state["log_as_table"] = False
    taken = columns.taken()
    said = ", ".join(f"{role} {name}" for role, name in taken.items() if name)
    st.info(plain(f"A transaction log ({said}): aggregated to one row per customer, "
                  "with recency, frequency and monetary value."),
            icon=":material/receipt_long:")
    if st.toggle("Treat as a customer table", key="log_as_table",
                 help="Read the file as it is, one customer per row, if it is not a log."):
        return None
    return columns


def _aggregated(main, name: str, columns: LogColumns, identity: tuple, run
                ) -> state.KeyedTable:
    """The log aggregated by ``run(date_format)``, with its progress in the main area
    when it runs (not on the reruns that find it cached)."""
    fmt = log_date_format(columns)
    marker = (*identity, fmt)
    if st.session_state.get(AGGREGATED) == marker:
        data = run(fmt)
    else:
        with main, st.status(plain(f"Aggregating {name}: reading its lines and grouping them "
                                   "by customer…"), expanded=False) as status:
            try:
                data = run(fmt)
            except CustsegError:
                status.update(label=plain(f"{name} could not be aggregated: see the sidebar."),
                              state="error")
                raise
            status.update(label=plain(log_line(data.log)), state="complete")
        st.session_state[AGGREGATED] = marker
    st.caption(plain(log_line(data.log)))
    return data


def log_date_format(columns: LogColumns) -> str | None:
    """The date format set for a log's date column under Reading the file, if any."""
    return date_formats().get(columns.name("date"))


def log_line(summary) -> str:
    """A log's aggregation in one line."""
    excluded = sum(summary.excluded.values())
    return (f"Transaction log: {summary.read:,} lines read, {summary.used:,} used, "
            f"{excluded:,} excluded; {summary.customers:,} customers.")


#: The id column select's first option: what the reader found, or nothing to map.
AUTO_ID = "(as detected)"
#: Income unit options: the header's or custseg's reading, or the one stated.
INCOME_UNITS = {"from the file": None, "k$ (thousands of dollars)": "k$", "$ (dollars)": "$"}


def reading() -> tuple[dict[str, str] | None, str | None]:
    """The reading options as set (``(mapping, income unit)``): what the file is read with."""
    column = st.session_state.get("id_column", AUTO_ID)
    mapping = None if column in (None, AUTO_ID) else {ID: column}
    unit = INCOME_UNITS.get(st.session_state.get("income_unit", "from the file"))
    return mapping, unit


def _reading_options(data: state.KeyedTable | None, expanded: bool,
                     log: LogColumns | None = None) -> None:
    """The file's reading options: the customer id column (when the headers do not name
    one), the income unit, and date formats; shown open when the file needs one. A
    transaction log has only its date format to set."""
    with st.expander("Reading the file", icon=":material/table_view:", expanded=expanded):
        if log is not None:
            date = log.name("date")
            st.text_area("Date formats", key="date_formats", persist_state="session",
                         placeholder=f"{date}=%d/%m/%Y", height=68,
                         help="COLUMN=FORMAT (strftime codes), for the log's date column "
                         "when its day/month order cannot be told from its cells.")
            return
        st.selectbox("Income unit", list(INCOME_UNITS), key="income_unit",
                     persist_state="session",
                     help="How the income column is written. From the file: the header's unit "
                     "(k$ for 'Annual Income (k$)'), else k$ — but incomes mostly above 1,000 under "
                     "a header with no unit are read as dollars, and said.")
        if data is not None:
            header = list(data.table.header)
            if st.session_state.get("id_column", AUTO_ID) not in [AUTO_ID, *header]:
                st.session_state["id_column"] = AUTO_ID
            found = data.table.match.source(ID) if ID in data.table.match.fields else None
            st.selectbox(
                "Customer id column", [AUTO_ID, *header], key="id_column",
                persist_state="session",
                format_func=lambda c: (f"{c}: {found}" if found else f"{c}: none")
                if c == AUTO_ID else c,
                help="Kept byte for byte in the scored file and never clustered on; choose it "
                "when its header is not one custseg knows (CustomerID, CUST_ID, ID…).")
        st.text_area("Date formats", key="date_formats", persist_state="session",
                     placeholder="Dt_Customer=%d-%m-%Y", height=68,
                     help="One COLUMN=FORMAT per line (strftime codes), for a date column whose "
                     "day/month order cannot be told from its cells.")


def _failed_source(choice: str) -> tuple[str, str | None]:
    """What a refused data source was, for the main area: the upload's or file's name."""
    if choice == state.UPLOAD:
        upload = st.session_state.get("data_upload")
        return "upload", getattr(upload, "name", None)
    if choice == state.STARTUP:
        return "file", Path(state.startup_file() or "").name or None
    return "demo", None


def _kept() -> state.KeyedTable | None:
    """After a refused source: the previous data, said so."""
    previous = _previous()
    if previous is not None:
        st.caption("Keeping the previous data.")
    return previous


def _previous() -> state.KeyedTable | None:
    return st.session_state.get(state.LAST_TABLE)


def date_formats() -> dict[str, str]:
    """The date formats set under Reading the file, ``{column: format}``."""
    return assignment_lines(st.session_state.get("date_formats") or "", "the date format",
                            "date_formats")
