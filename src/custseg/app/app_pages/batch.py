"""Batch: upload a file, see its data quality, score every row, download the result."""

from pathlib import Path

import pyarrow as pa
import streamlit as st

from custseg.app import cached, source, state
from custseg.app.ui import chart, confidence_shown, filled, log_panel, plain, read_upload, show_error
from custseg.errors import CustsegError
from custseg.io.score_files import score_table_batches
from custseg.io.writers import as_frame, csv_bytes
from custseg.model import drift, summaries
from custseg.segments import charts
from custseg.table.spec import with_unit

view = state.require_view()
model = view.model

st.title("Score a batch of customers")
st.caption("Every uploaded row comes back in the download, in order, with its segment, "
           "confidence, atypical flag, row status and the reason for any problem.")
upload = st.file_uploader("Customers to score", type=state.UPLOAD_TYPES, key="batch_upload",
                          help="CSV, TSV, Excel .xlsx or Parquet, or one of them compressed "
                          "(.gz, .zip, .bz2, .xz).")
if upload is not None:
    # kept for this session, so the file is still here after a visit to another page
    st.session_state[state.BATCH_FILE] = state.Upload(upload.name, upload.getvalue())
elif (earlier := st.session_state.get(state.BATCH_FILE)) is not None:
    c1, c2 = st.columns([4, 1], vertical_alignment="center")
    c1.caption(plain(f"Scoring {earlier.name}, uploaded earlier in this session."))
    if c2.button("Forget it", key="batch_forget"):
        st.session_state[state.BATCH_FILE] = None
        st.rerun()
else:
    st.info("Upload a CSV, TSV, Excel or Parquet file with the same kind of columns as the "
            "data the model was fitted on.", icon=":material/upload_file:")
    st.stop()

batch = st.session_state[state.BATCH_FILE]
# read as the data is: the income unit stated in the sidebar holds for its batches too
income_unit = source.reading()[1]
limits = state.read_limits()
log = None
if batch.size <= int(st.get_option("server.maxUploadSize")) << 20:
    log = cached.upload_log_columns(batch.name, batch.data, limits)
if log is not None and not st.toggle(
        "Treat as a customer table", key="batch_log_as_table",
        help="This file reads as a transaction log (a customer, a date and a value per line); "
        "turn on to score its rows as customers instead."):
    st.info(plain("A transaction log: its lines are aggregated to one row per customer "
                  "(recency, frequency, monetary value, counted to the day after its last "
                  "purchase), as custseg rfm does"
                  + (" with the model's columns and date format" if model.log else "")
                  + ", and those customers are scored."),
            icon=":material/receipt_long:")
    try:
        with st.spinner(plain(f"Aggregating {batch.name}: reading its lines and grouping "
                              "them by customer…")):
            uploaded = cached.upload_log(batch.name, batch.data, limits,
                                         source.log_date_format(log), model.log)
    except CustsegError as exc:
        show_error(exc)
        st.stop()
    log_panel(uploaded.log)
else:
    uploaded = read_upload(batch, cached.uploaded_table, limits, None, income_unit)
    if income_unit is not None:
        st.caption(plain(f"Incomes read in {income_unit}, as set in the sidebar "
                         "(Reading the file)."))
if uploaded is None:
    st.stop()
table = uploaded.table
try:
    table = table.expect(model.encoding.needs, model.config.spec)
except CustsegError as exc:
    show_error(exc)
    st.stop()

# ---- data quality
validated = table.validated(model.encoding.needs, model.config.ranges, model.config.spec)
st.subheader("Data quality", divider="gray")
c = st.columns(4)
c[0].metric("Rows", f"{validated.n_rows:,}")
c[1].metric("Ready to score", f"{validated.n_rows - validated.n_invalid:,}")
c[2].metric("Invalid", f"{validated.n_invalid:,}")
dupes = validated.notes.get("duplicate customer_id", 0)
c[3].metric("Duplicate ids", f"{dupes:,}",
            help="Rows whose customer id is also on another row (they are scored, with a note).")
with st.expander("Columns recognised and ignored", icon=":material/view_column:"):
    st.dataframe(table.match.describe(), hide_index=True)
    if table.dialect is not None:
        st.caption(plain(f"Read as {table.dialect.describe()}."))
if validated.n_invalid:
    with st.expander(f"Invalid rows ({validated.n_invalid:,})", icon=":material/error:",
                     expanded=True):
        st.dataframe(summaries.reasons_table(validated.reasons), hide_index=True)
        st.dataframe(summaries.invalid_rows(validated), hide_index=True)
notes = summaries.noted_rows(validated)
if len(notes):
    with st.expander(f"Rows with notes ({len(notes):,}): duplicate ids and other remarks",
                     icon=":material/info:"):
        st.dataframe(notes, hide_index=True)

# ---- like the customers fitted? the population stability index of each feature
measured = cached.batch_drift(uploaded, view)
st.subheader("Compared with the customers fitted", divider="gray")
message = drift.drift_message(measured, lambda f: with_unit(f, model.config.spec))
if message:
    st.warning(plain(message[:1].upper() + message[1:] + "."), icon=":material/compare_arrows:")
elif measured.n_rows < drift.MIN_ROWS:
    st.caption(f"Too few valid rows (under {drift.MIN_ROWS}) to compare with the customers "
               "fitted.")
else:
    st.caption("Every feature is distributed as among the customers the model was fitted on "
               f"(population stability index at most {drift.PSI_FLAG}).")
with st.expander("Population stability index per feature", icon=":material/table_chart:",
                 expanded=bool(message)):
    table_drift = drift.drift_frame(measured, model.config.spec)
    st.dataframe(
        table_drift.style.apply(lambda row: ["background-color: rgba(255, 75, 75, 0.25)"
                                             if row["flagged"] else ""] * len(row), axis=1),
        hide_index=True, key="batch_drift",
        column_config={"PSI": st.column_config.NumberColumn(format="%.3f"),
                       "flagged": st.column_config.CheckboxColumn(
                           f"above {drift.PSI_FLAG}")})
    st.caption(f"Each feature cut at the deciles of the known customers the model holds "
               f"(a bin per category); PSI = Σ (batch share − fitted share) × ln(batch share "
               f"/ fitted share), an empty bin counted as {drift.EPSILON}. Below 0.1: "
               f"stable; 0.1 to {drift.PSI_FLAG}: a moderate shift; above: these customers "
               "differ from the ones fitted, and their segments may not mean what they "
               "meant.")

# ---- scoring, with progress, kept for this upload and model
stored = st.session_state.get(state.BATCH)
if stored is None or not stored.is_for(uploaded.key, view.model_key):
    progress = st.progress(0.0, text="Scoring…")
    parts = []
    try:
        for done, total, part in score_table_batches(model, table, batch_rows=50_000):
            parts.append(part)
            progress.progress(done / max(total, 1), text=f"Scoring… {done:,} of {total:,} rows")
    except CustsegError as exc:
        show_error(exc)
        st.stop()
    progress.empty()
    whole = pa.concat_tables(parts)
    # distinct names for display; the download keeps the header
    stored = state.BatchResult(uploaded.key, view.model_key, as_frame(whole), csv_bytes(whole))
    st.session_state[state.BATCH] = stored
scored = stored.scored

st.subheader("Scored rows", divider="gray")
counts = summaries.scored_counts(scored)
c = st.columns([2, 1])
with c[0]:
    chart(charts.batch_distribution(counts.per_segment, view.names), key="batch_distribution")
with c[1]:
    st.metric("Scored", f"{counts.scored:,}")
    st.metric("Atypical", f"{counts.atypical:,}")
    stem = Path(table.name).stem  # the table's own name (inside a .gz or .zip)
    st.download_button("Download scored CSV", stored.download, file_name=f"{stem}_scored.csv",
                       mime="text/csv", type="primary", icon=":material/download:",
                       key="batch_download")
limit = 5_000
shown, percent = confidence_shown(scored.head(limit))
st.dataframe(filled(shown), hide_index=True,  # invalid rows: empty, not "None"
             column_config=percent)
if len(scored) > limit:
    st.caption(f"Showing the first {limit:,} of {len(scored):,} rows; the download has them all.")
