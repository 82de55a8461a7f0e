"""The sidebar: data source and the clustering control panel, shared by every page.

It reads the widgets, asks :mod:`custseg.app.cached` for the table and the fit, and
stores the resulting :class:`~custseg.app.state.View` in the session for the pages. A
failing upload or fit shows its message and leaves the previous segmentation in place.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import streamlit as st

from custseg.app import cached, links, state, work
from custseg.app.ui import plain, read_upload, show_error
from custseg.cluster.algorithms import (
    ALGORITHMS,
    AlgorithmSpec,
    ParamSpec,
    get_algorithm,
    time_text,
)
from custseg.errors import CustsegError
from custseg.model import summaries
from custseg.model.segmentation import ModelConfig, SegmentationModel
from custseg.model.summaries import reasons_table
from custseg.table.choices import (
    FeatureChoice,
    assignment_lines,
    chosen_derivations,
    default_features,
    derivation_lines,
    derivation_name,
    feature_choices,
    formats_read,
)
from custseg.table.derive import parse_derivation
from custseg.table.fields import GENDER, ID
from custseg.table.fields import UNITS as FIELD_UNITS
from custseg.table.roles import FIELD_ROLES, ROLES, UNITS, detect_role
from custseg.table.sample import DEMO_MAX_ROWS
from custseg.table.spec import TRANSFORMS, label_of
from custseg.table.transactions import LogColumns


def render() -> None:
    """Draw the sidebar and refresh the session's view; then put the settings in the
    URL (a new session first takes its settings from there, see :mod:`links`)."""
    st.session_state.pop(state.FAILED, None)  # said in the main area (ui.context_banner)
    if not st.session_state.get(links.READ):
        _read_link()
    main = st.container()  # the main area's top, above the page: progress shows there
    _link_messages(main)
    notice = st.session_state.pop(state.FIT_NOTICE, None)
    if notice:
        main.info(plain(notice), icon=":material/info:")
    try:
        _render(main)
    finally:
        links.write(st.session_state.get(state.LOADED))


def _read_link() -> None:
    """A new session's settings from its URL, before any control is drawn."""
    params = links.query()
    st.session_state[links.READ] = True
    said = [("warning", line) for line in links.restore(params)]
    ws, line = links.workspace(params)
    st.session_state[links.WORKSPACE_KEY] = ws
    if line:
        said.append(("warning", line))
    loaded, line = links.loaded_model(params)
    if loaded is not None:
        st.session_state[state.LOADED] = loaded
        said.append(("info", f"Using the model file {loaded.name}, loaded before the page "
                     "was reloaded (this server keeps the last few)."))
    if line:
        said.append(("warning", line))
    if st.session_state.get("data_source") == state.UPLOAD and "source" in params:
        said.append(("info", "This link's data is an uploaded file, which a link cannot "
                     "carry: upload it again in the sidebar. Names and strategies edited on "
                     "the same file with the same settings come back."))
    st.session_state[links.MESSAGES] = said


def _link_messages(main) -> None:
    said = st.session_state.get(links.MESSAGES)
    if not said:
        return
    with main:
        for kind, line in said:
            if kind == "warning":
                st.warning(plain(line), icon=":material/link_off:")
            else:
                st.info(plain(line), icon=":material/link:")
        st.button("Dismiss", key="dismiss_link", icon=":material/close:",
                  on_click=lambda: st.session_state.pop(links.MESSAGES, None))


def _render(main) -> None:
    with st.sidebar:
        st.title("custseg")
        st.caption("Customer segments: cluster, name, explain, assign.")
        source = _data_source(main)
        if source is None:
            return
        loaded = st.session_state.get(state.LOADED)
        try:
            if loaded is not None:
                _abandon(st.session_state.get(state.FIT_JOB))
                view = _loaded_view(source, loaded)
            else:
                view = _fitted_view(source, main)
        except CustsegError as exc:
            show_error(exc)
            st.session_state[state.FAILED] = ("fit", None)
            if state.view() is not None:
                st.caption("Showing the previous segmentation.")
            return
        if view is not None:
            view = _with_edits(view)
            st.session_state[state.VIEW] = view
            _quality(view)


# ------------------------------------------------------------------------- data


def _data_source(main) -> state.KeyedTable | None:
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
    return _date_formats().get(columns.name("date"))


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


def _quality(view: state.View) -> None:
    validated = view.validated
    used = validated.n_rows - validated.n_invalid
    text = f"{used:,} of {validated.n_rows:,} rows used"
    if validated.n_invalid:
        text += f" · {validated.n_invalid:,} invalid"
    st.caption(plain(f"{view.table.name}: {text}"))
    if validated.reasons:
        with st.expander("Data quality", icon=":material/rule:"):
            st.dataframe(reasons_table(validated.reasons), hide_index=True)
            st.caption("Row-by-row details are on the Batch page when you upload a file.")


# ---------------------------------------------------------------------- controls


def _fitted_view(data: state.KeyedTable, main) -> state.View | None:
    mapping, _ = reading()
    # the demo has no reading options to show (or fix) them: a link's date formats, or an
    # upload's left in the session, never apply to it
    formats = {} if st.session_state.get("data_source") == state.DEMO else _date_formats()
    if data.log is not None:  # the log's own date format was used to aggregate it
        formats = {c: f for c, f in formats.items() if c in data.table.header}
    inspection = cached.inspection(data, mapping, formats)
    config = _controls(data, inspection, formats)
    if config is None:  # no feature chosen (said in the main area, see _controls)
        return None
    rules_toml = st.session_state.get(state.RULES)
    model = _model(main, data, config, rules_toml)
    if model is None:  # a long fit waits for Apply, or runs: the previous view stays
        return None
    validated, values = cached.prepared(data, config.needs, config.ranges, config.spec)
    key = state.ModelKey(data.key, cached.config_key(config),
                         rules=cached.digest(rules_toml.encode()) if rules_toml else None)
    view = state.View(data, validated, values, model, key, model.labels)
    _suggest_panel(view, config)
    for message in model.warnings:
        st.warning(plain(message), icon=":material/warning:")
    return view


def _model(main, data: state.KeyedTable, config: ModelConfig,
           rules_toml: str | None) -> SegmentationModel | None:
    """The fit of the controls' settings, or None while it waits for Apply or runs.

    A fit estimated within :func:`work.live_budget` follows every move of a control, as
    before. A longer one waits for the Apply button (which says the estimate) and runs
    in a worker thread, with its progress and a Cancel button in the main area; the
    pages keep showing the previous segmentation until it ends. A new session (a
    refresh, a shared link) starts the fit of its settings at once.
    """
    ident = (data.key, cached.config_key(config),
             cached.digest(rules_toml.encode()) if rules_toml else None)
    job = st.session_state.get(state.FIT_JOB)
    if job is not None and job.done:  # a fit ended since the last run: it is applied
        st.session_state.pop(state.FIT_JOB, None)
        if job.error is not None:
            raise job.error  # said as any failing fit is; the previous view stays
        if job.ident == ident:  # else the controls moved on: the view shown stays
            st.session_state[state.APPLIED] = job.ident
        job = None
    seconds = cached.fit_seconds(data, config)
    budget = work.live_budget()
    applied = st.session_state.get(state.APPLIED)
    st.session_state["_fit_waits"] = False
    if seconds is None or seconds <= budget or applied == ident:
        _abandon(job)  # the settings shown are these: a fit of others is not wanted
        model = cached.fitted(data, config, rules_toml)
        st.session_state[state.APPLIED] = ident
        return model
    if job is None and applied is None and not st.session_state.get(_AUTO_FIT):
        st.session_state[_AUTO_FIT] = True  # a new session: its settings, fitted at once
        job = _start(ident, seconds, data, config, rules_toml)
    elif job is None or job.ident != ident:
        label = f"Apply (about {time_text(seconds)})"
        st.session_state["_fit_waits"] = True
        # started in the button's callback, before this run draws anything: the run
        # then shows the fit's progress, not the button again
        st.button(label, key="apply_fit", type="primary", icon=":material/play_arrow:",
                  on_click=_apply_fit, args=(ident, seconds, data, config, rules_toml),
                  help="A fit of these settings takes longer than a couple of seconds, "
                  "so changes wait for this button (CUSTSEG_LIVE_FIT_SECONDS sets the "
                  f"limit, now {budget:g} s).")
        where = ("Showing the segmentation of the settings applied before."
                 if applied is not None else "No segmentation is shown until then.")
        main.info(plain(f"The settings changed. A fit takes about {time_text(seconds)} "
                        f"here, so it waits for Apply in the sidebar. {where}"),
                  icon=":material/pending:")
    if job is not None:
        with main:
            _fit_progress(job)
    return None


#: Session key: the session's first long fit was started without Apply (once only).
_AUTO_FIT = "_fit_auto_started"


def _start(ident: tuple, seconds: float, data: state.KeyedTable, config: ModelConfig,
           rules_toml: str | None) -> work.Job:
    _, values = cached.prepared(data, config.needs, config.ranges, config.spec)
    job = work.start(ident, seconds, len(values), cached.fitted, data, config, rules_toml)
    st.session_state[state.FIT_JOB] = job
    return job


def _apply_fit(ident: tuple, seconds: float, data: state.KeyedTable, config: ModelConfig,
               rules_toml: str | None) -> None:
    _abandon(st.session_state.get(state.FIT_JOB))
    _start(ident, seconds, data, config, rules_toml)


def _abandon(job: work.Job | None) -> None:
    """Cancel ``job``: its thread ends on its own; its result is never shown."""
    if job is None:
        return
    job.cancelled = True
    if st.session_state.get(state.FIT_JOB) is job:
        st.session_state.pop(state.FIT_JOB, None)


def _cancel(job: work.Job) -> None:
    _abandon(job)
    st.session_state[state.FIT_NOTICE] = (
        "Fit cancelled: the previous segmentation stays. The settings in the sidebar "
        "are still the new ones; press Apply to fit them after all.")


@st.fragment(run_every=0.5)
def _fit_progress(job: work.Job) -> None:
    """The running fit's progress against its estimate, and Cancel; when the fit ends
    (or is cancelled), the whole app runs again to show the outcome."""
    if st.session_state.get(state.FIT_JOB) is not job or job.done:
        st.rerun(scope="app")
    with st.container(border=True):
        st.progress(job.progress(), text=plain(
            f"Fitting the segments of {job.rows:,} customers: {job.elapsed:,.0f} s of about "
            f"{time_text(job.seconds)}…"))
        c1, c2 = st.columns([1, 4], vertical_alignment="center")
        c1.button("Cancel", key="cancel_fit", on_click=_cancel, args=(job,),
                  icon=":material/cancel:")
        c2.caption("The pages show the previous segmentation until the fit ends. Cancel "
                   "keeps it.")


def _date_formats() -> dict[str, str]:
    return assignment_lines(st.session_state.get("date_formats") or "", "the date format",
                            "date_formats")


def _with_edits(view: state.View) -> state.View:
    """The view with the analyst's names and strategies for this model, if any."""
    edits = st.session_state.get(state.EDITS, {}).get(view.model_key)  # keyed by the fit
    ws = st.session_state.get(links.WORKSPACE_KEY)
    if ws and edits:  # kept on the server too, so that a refresh finds them
        links.keep_edits(ws, view.model_key, edits)
    elif ws:
        edits = links.kept_edits(ws, view.model_key)
        if edits:
            st.session_state.setdefault(state.EDITS, {})[view.model_key] = edits
    base = view.model
    if not edits:
        return replace(view, base_model=base)
    try:
        key = replace(view.model_key,
                      edits=cached.digest(json.dumps(edits, sort_keys=True).encode()))
        return replace(view, model=base.with_edits(edits), base_model=base, model_key=key)
    except CustsegError as exc:
        show_error(exc)
        return replace(view, base_model=base)


def _suggest_panel(view: state.View, config: ModelConfig) -> None:
    """A button that tries settings on a sample, says why, and applies them in one click."""
    if st.button("Suggest settings", icon=":material/auto_fix_high:", key="suggest_button",
                 help="Try this algorithm's main setting on a sample and recommend a value."):
        st.session_state[state.SUGGESTION] = state.Suggested(view.data.key, config,
                                                             cached.suggestion(view))
    stored = st.session_state.get(state.SUGGESTION)
    if stored is None or not stored.is_for(view.data.key, config):
        return
    result = stored.suggestion
    settings = ", ".join(f"{k} = {v}" for k, v in result.recommended.items())
    st.info(plain(f"Suggested: {settings}. {result.reason[:1].upper()}{result.reason[1:]}"),
            icon=":material/lightbulb:")
    for warning in result.warnings:
        st.warning(plain(warning), icon=":material/warning:")
    if any(config.params.get(k) != v for k, v in result.recommended.items()):
        st.button("Apply the suggestion", key="apply_suggestion", on_click=_apply,
                  args=(config.algorithm, dict(result.recommended)), type="primary")


def _apply(algorithm: str, values: dict) -> None:
    for name, value in values.items():
        st.session_state[_param_key(algorithm, name)] = value
        st.session_state.pop(_param_key(algorithm, name) + "_auto", None)


def _loaded_view(data: state.KeyedTable, loaded: state.LoadedModel) -> state.View:
    model = loaded.model
    st.subheader("Segmentation", divider="gray")
    st.info(plain(f"Using the model file {loaded.name}."), icon=":material/upload_file:")
    st.caption(plain(f"Features ({len(model.config.features)}): "
                     + ", ".join(model.config.features)))
    with st.expander("Its features", icon=":material/view_column:"):
        st.dataframe(summaries.features_table(model), hide_index=True)
    st.button("Fit from the controls instead", key="unload_model", on_click=_unload,
              args=(loaded, data.key),
              help="The controls start from this model's features and settings.")
    data.table.expect(model.encoding.needs, model.config.spec)
    validated, values = cached.prepared(data, model.encoding.needs, model.config.ranges,
                                        model.config.spec)
    labels = cached.assigned(data, loaded)
    return state.View(data, validated, values, model, state.ModelKey(data.key, loaded.digest),
                      labels, loaded_name=loaded.name)


def _unload(loaded: state.LoadedModel, table_key: str) -> None:
    """Back to a fit from the controls, which start from the model's settings. Set in the
    button's callback, before any widget of the run is drawn: set while the model was
    shown (its controls not drawn), the browser sent the controls' old values back over
    them, so on the Model Lab the fit started from the earlier settings."""
    st.session_state[state.LOADED] = None
    restore_controls(loaded.model, table_key)
    said = st.session_state.get(links.MESSAGES)
    if said:  # "Using the model file …, loaded before the reload" no longer holds
        st.session_state[links.MESSAGES] = [m for m in said if m[0] != "info"
                                            or not m[1].startswith("Using the model file")]


#: Session key: the table whose defaults the feature controls were last set from.
FEATURES_FOR = "_features_for"
TRANSFORM_CHOICES = ("auto", *TRANSFORMS)


def _feature_label(choices: dict[str, FeatureChoice], derived: set[str]):
    def label(name: str) -> str:
        choice = choices.get(name)
        if name in derived:
            return f"{label_of(name)} (derived)"
        unit = choice.unit if choice is not None else ""
        return f"{label_of(name)} ({unit})" if unit else label_of(name)
    return label


def _start_from(data: state.KeyedTable, match, inspection) -> None:
    """A new table's defaults for the feature controls (as ``custseg fit`` would choose),
    once per table: what the analyst changes afterwards stays."""
    if st.session_state.get(FEATURES_FOR) == data.key:
        return
    features, derivations = default_features(match, inspection)
    kept = st.session_state.get(FEATURES_FOR) is None and st.session_state.get("features")
    st.session_state[FEATURES_FOR] = data.key
    if kept:  # the session's own choice (set before the first table, as a test may)
        return
    st.session_state["features"] = list(features)
    st.session_state["derivations"] = "\n".join(derivations)


def _controls(data: state.KeyedTable, inspection, formats: dict[str, str]) -> ModelConfig | None:
    table = data.table
    st.subheader("Segmentation", divider="gray")
    choices = {c.name: c for c in feature_choices(table.match, inspection)}
    _start_from(data, table.match, inspection)
    lines = derivation_lines(st.session_state.get("derivations") or "")
    derived = {derivation_name(line) for line in lines}
    options = list(choices) + [n for n in dict.fromkeys(map(derivation_name, lines))
                               if n and n not in choices]
    current = st.session_state.get("features") or []
    asked = st.session_state.pop(links.ASKED_FEATURES, None)  # by a link, once
    dropped = [f for f in current if f not in options]
    if dropped:
        st.session_state["features"] = [f for f in current if f in options]
    if asked and set(dropped) & set(asked):
        kept = st.session_state["features"]
        if not kept:
            st.session_state["features"] = list(default_features(table.match, inspection)[0])
        st.warning(plain(f"The link's features {', '.join(dropped)} are not columns of this "
                         "table: left out" + ("." if kept else "; using the table's default "
                                              "features.")), icon=":material/link_off:")
    features = st.multiselect(
        "Features", options, format_func=_feature_label(choices, derived),
        key="features", persist_state="session",
        placeholder="Choose the columns to cluster on",
        help="Numeric columns of the table and the derived features defined under "
        "Advanced. Standardised before clustering, so units do not weigh; skewed ones are "
        "logged first (auto).",
    )
    settings = _feature_settings(features, choices, derived, inspection, lines)
    st.session_state[links.OVERRIDES] = settings  # what the URL carries of them
    if not features and not options:
        st.warning(plain(f"{table.name} has no numeric column to segment on (Reading the "
                         "file, above, shows how each column was read). Upload a table "
                         "with at least one, or a transaction log."), icon=":material/warning:")
        st.session_state[state.FAILED] = ("no_features", table.name)
        return None
    if not features:
        st.warning("Choose at least one feature to cluster on.", icon=":material/warning:")
        st.session_state[state.FAILED] = ("features", table.name)
        return None
    categorical = _categorical_picker(table, inspection, features)
    has_gender = GENDER in table.match.fields
    use_gender = st.toggle(
        "Use gender", key="use_gender", disabled=not has_gender,
        help="Off by default: a binary column tends to split every segment by gender. "
        "When on, gender is one-hot encoded.",
    ) and has_gender
    algorithm = st.selectbox(
        "Algorithm", list(ALGORITHMS), key="algorithm",
        format_func=lambda name: ALGORITHMS[name].label,
    )
    spec = get_algorithm(algorithm)
    st.caption(spec.summary)
    params = {p.name: _param_widget(spec, p) for p in spec.params}
    with st.expander("Advanced", icon=":material/tune:"):
        n_neighbors = st.number_input("Neighbours in the assigner's vote", min_value=1,
                                      max_value=25, step=1, key="n_neighbors")
        seed = st.number_input("Random seed", min_value=0, max_value=1_000_000, step=1, key="seed")
        cap = spec.fit_sample
        sample = st.number_input(
            "Rows the clusterer sees (0 = the algorithm's default)", min_value=0,
            max_value=5_000_000, step=1_000, value=0, key=f"sample_{algorithm}",
            persist_state="session",
            help=f"Default for {spec.label}: " + (f"{cap:,} rows" if cap else "every row") +
            ". The assigner extends the segments to everyone else.",
        )
    derive = chosen_derivations(lines, features)
    asked = {
        "features": list(features), "derive": list(derive), **settings,
        "categorical": categorical or None,
        "date_formats": formats_read(derive, formats, table.header),
        "algorithm": algorithm, "params": params, "use_gender": use_gender,
        "n_neighbors": int(n_neighbors), "sample_size": int(sample) if sample else None,
        "random_state": int(seed),
        "stability_resamples": 0,  # measured on demand in the Model Lab, not on every move
    }
    return cached.fit_config(data, json.dumps(asked, sort_keys=True))


def _categorical_picker(table, inspection, features) -> list[str]:
    """The categorical columns to cluster on beside the features: the table's categorical
    and 0/1 columns of at most :data:`MAX_CATEGORIES` values, but the gender column (its
    own switch) and columns already chosen as features."""
    from custseg.table.spec import MAX_CATEGORIES

    gender = table.match.source(GENDER) if GENDER in table.match.fields else None
    options = [c.name for c in inspection.columns
               if c.kind in ("categorical", "flag") and 1 < c.distinct <= MAX_CATEGORIES
               and c.name != gender and c.name not in features]
    current = st.session_state.get("categorical") or []
    asked = st.session_state.pop(links.ASKED_CATEGORICAL, None)  # by a link, once
    dropped = [c for c in current if c not in options]
    if dropped:
        st.session_state["categorical"] = [c for c in current if c in options]
    if asked and set(dropped) & set(asked):  # never silently: a link's choice is refused
        st.warning(plain(f"The link's categorical columns {', '.join(dropped)} are left out: "
                         "the categorical columns are this table's columns of 2 to "
                         f"{MAX_CATEGORIES} categories, except the gender column (its own "
                         "switch) and the features."), icon=":material/link_off:")
    if not options:
        return []
    return list(st.multiselect(
        "Categorical columns", options, key="categorical", persist_state="session",
        placeholder="None: numbers only",
        help="Columns of categories to cluster on too (Geography, Education…): each is "
        "one-hot encoded and weighs as much as one numeric feature. K-Prototypes is made "
        "for numbers and categories together. A category not seen here makes a scored "
        "row invalid.",
    ))


def _feature_settings(features, choices: dict[str, FeatureChoice], derived: set[str],
                      inspection, lines) -> dict[str, dict[str, str]]:
    """Derivations, then each chosen feature's role, unit and transform, under an
    expander: ``{"transforms", "roles", "units"}`` as set (only what differs from the
    default is passed on)."""
    out: dict[str, dict[str, str]] = {"transforms": {}, "roles": {}, "units": {}}
    with st.expander("Derived features, roles, transforms", icon=":material/functions:"):
        st.text_area(
            "Derived features", key="derivations", persist_state="session", height=100,
            placeholder="age = years_since(Year_Birth)\ntotal_spend = sum(`Mnt*`)",
            help="One NAME = EXPR per line: + - * /, sum(...), mean(...) (also over a glob "
            "such as `Mnt*`), log1p(x), years_since(col), days_since(col). A header with "
            "spaces goes in backticks. Then choose NAME among the features.")
        for line in lines:
            try:
                parse_derivation(line)
            except CustsegError as exc:
                show_error(exc)
        if not features:
            return out
        rows = []
        for name in features:
            choice = choices.get(name)
            default_role, default_unit = _default_role(name, choice)
            fixed = name in FIELD_ROLES
            role = default_role if fixed else st.session_state.get(f"role|{name}", default_role)
            unit = default_unit if fixed else st.session_state.get(f"unit|{name}", default_unit)
            transform = st.session_state.get(f"transform|{name}", "auto")
            if role != default_role:
                out["roles"][name] = role
            if unit != default_unit:
                out["units"][name] = unit
            if transform != "auto":
                out["transforms"][name] = transform
            auto = choice.transform if choice is not None else "decided at fit"
            rows.append({"feature": name,
                         "transform": f"auto ({auto})" if transform == "auto" else transform,
                         "role": role, "unit": unit,
                         "source": "derived" if name in derived else (
                             choice.source if choice else "")})
        st.dataframe(rows, hide_index=True, width="stretch",
                     column_config={"feature": st.column_config.TextColumn(width="small")})
        name = st.selectbox("Adjust a feature", features, key="adjust_feature",
                            format_func=label_of)
        choice = choices.get(name)
        default_role, default_unit = _default_role(name, choice)
        fixed = name in FIELD_ROLES
        c1, c2 = st.columns(2)
        c1.selectbox("Role", ROLES, index=ROLES.index(default_role), key=f"role|{name}",
                     persist_state="session", disabled=fixed,
                     help="What the column means, for names and strategies (recency: days "
                     "since the last purchase, low is good). The well-known fields keep theirs.")
        units = ["", *UNITS]
        c2.selectbox("Unit", units, index=units.index(default_unit) if default_unit in units
                     else 0, key=f"unit|{name}", persist_state="session", disabled=fixed,
                     format_func=lambda u: u or "none")
        st.selectbox("Transform", TRANSFORM_CHOICES, key=f"transform|{name}",
                     persist_state="session",
                     format_func=lambda t: ("auto: log1p when skewed (skew > 1), signed for "
                                            "negative values") if t == "auto" else t,
                     help="Applied before scaling; profiles and charts stay in the column's "
                     "own units.")
    return out


def _default_role(name: str, choice: FeatureChoice | None) -> tuple[str, str]:
    if name in FIELD_ROLES:
        return FIELD_ROLES[name], FIELD_UNITS.get(name, "")
    if choice is not None:
        return choice.role, choice.unit
    guess = detect_role(name)  # a derived feature: as fitting names it
    return guess.role, guess.unit or ""


def restore_controls(model: SegmentationModel, table_key: str) -> None:
    """Set the sidebar's controls to a loaded model's features and settings, so that
    "Fit from the controls instead" starts from it."""
    cfg = model.config
    st.session_state[FEATURES_FOR] = table_key
    st.session_state["features"] = list(cfg.features)
    st.session_state["categorical"] = list(cfg.categorical)
    st.session_state["derivations"] = "\n".join(
        f"{f.name} = {f.expr}" for f in cfg.spec.extra if f.source == "derived")
    for feature in cfg.spec.extra:
        st.session_state[f"role|{feature.name}"] = feature.role
        st.session_state[f"unit|{feature.name}"] = feature.unit
    for name in cfg.features:
        st.session_state[f"transform|{name}"] = cfg.transforms.get(name, "auto")
    if cfg.spec.date_formats:
        st.session_state["date_formats"] = "\n".join(
            f"{c}={f}" for c, f in cfg.spec.date_formats.items() if "|" not in f)
    st.session_state["use_gender"] = cfg.use_gender
    st.session_state["n_neighbors"] = cfg.n_neighbors
    st.session_state["seed"] = cfg.random_state
    if cfg.algorithm in ALGORITHMS:
        st.session_state["algorithm"] = cfg.algorithm
        for p in get_algorithm(cfg.algorithm).params:
            value = cfg.params.get(p.name)
            if p.optional:
                st.session_state[_param_key(cfg.algorithm, p.name) + "_auto"] = value is None
            if value is not None:
                st.session_state[_param_key(cfg.algorithm, p.name)] = value


def _param_key(algorithm: str, name: str) -> str:
    """The widget key of an algorithm's parameter (the suggestion sets it)."""
    return f"param_{algorithm}_{name}"


def _param_widget(spec: AlgorithmSpec, p: ParamSpec):
    key = _param_key(spec.name, p.name)
    if p.kind == "choice":
        return st.selectbox(p.label, p.choices, index=p.choices.index(p.default), key=key,
                            help=p.help, persist_state="session")
    if p.optional:
        auto = st.checkbox(f"{p.label}: automatic", value=p.default is None, key=key + "_auto",
                           help=p.help, persist_state="session")
        if auto:
            return None
    start = p.default if p.default is not None else int(p.low)
    if p.kind == "int":
        if p.high - p.low <= 100:
            return st.slider(p.label, int(p.low), int(p.high), int(start), step=int(p.step or 1),
                             key=key, help=p.help, persist_state="session")
        return st.number_input(p.label, int(p.low), int(p.high), int(start), step=int(p.step or 1),
                               key=key, help=p.help, persist_state="session")
    return st.slider(p.label, float(p.low), float(p.high), float(start), step=float(p.step or 0.01),
                     key=key, help=p.help, persist_state="session")
