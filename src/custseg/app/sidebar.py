"""The sidebar: data source and the clustering control panel, shared by every page.

The data source is :mod:`custseg.app.source`, the controls :mod:`custseg.app.controls`;
this module fits their settings (at once, or on Apply in a worker thread when the fit is
long) or shows a loaded model, through :mod:`custseg.app.cached`, and stores the
resulting :class:`~custseg.app.state.View` in the session for the pages. A failing
upload or fit shows its message and leaves the previous segmentation in place.
"""

from __future__ import annotations

import json
from dataclasses import replace

import streamlit as st

from custseg.app import cached, controls, links, source, state, work
from custseg.app.ui import plain, show_error
from custseg.cluster.algorithms import time_text
from custseg.errors import CustsegError
from custseg.model import summaries
from custseg.model.segmentation import ModelConfig, SegmentationModel
from custseg.model.summaries import reasons_table


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
    st.session_state[state.FIT_WAITS] = False
    try:
        _render(main)
    finally:
        # while a fit waits for Apply, runs or was cancelled, the page shows the settings
        # applied before: the URL keeps those, so that a refresh or a shared link shows
        # the segmentation on screen (it took the sidebar's, never applied)
        if not st.session_state.get(state.FIT_WAITS) and state.FIT_JOB not in st.session_state:
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
        data = source.data_source(main)
        if data is None:
            return
        loaded = st.session_state.get(state.LOADED)
        try:
            if loaded is not None:
                _abandon(st.session_state.get(state.FIT_JOB))
                view = _loaded_view(data, loaded)
            else:
                view = _fitted_view(data, main)
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
    mapping, _ = source.reading()
    # the demo has no reading options to show (or fix) them: a link's date formats, or an
    # upload's left in the session, never apply to it
    formats = {} if st.session_state.get("data_source") == state.DEMO else source.date_formats()
    if data.log is not None:  # the log's own date format was used to aggregate it
        formats = {c: f for c, f in formats.items() if c in data.table.header}
    inspection = cached.inspection(data, mapping, formats)
    config = controls.controls(data, inspection, formats)
    if config is None:  # no feature chosen (said in the main area, see controls.controls)
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
        st.session_state[state.FIT_WAITS] = True
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
                        f"here, so it waits for Apply in the sidebar. {where} The page's "
                        "link keeps the settings shown until then."),
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
        placed = None if view.placed is None else view.placed.with_edits(edits)
        return replace(view, model=base.with_edits(edits), placed=placed, base_model=base,
                       model_key=key)
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
        st.button("Apply the suggestion", key="apply_suggestion", on_click=controls.apply_params,
                  args=(config.algorithm, dict(result.recommended)), type="primary")


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
                      labels, loaded_name=loaded.name, placed=cached.placed(data, loaded))


def _unload(loaded: state.LoadedModel, table_key: str) -> None:
    """Back to a fit from the controls, which start from the model's settings. Set in the
    button's callback, before any widget of the run is drawn: set while the model was
    shown (its controls not drawn), the browser sent the controls' old values back over
    them, so on the Model Lab the fit started from the earlier settings."""
    st.session_state[state.LOADED] = None
    controls.restore_controls(loaded.model, table_key)
    said = st.session_state.get(links.MESSAGES)
    if said:  # "Using the model file …, loaded before the reload" no longer holds
        st.session_state[links.MESSAGES] = [m for m in said if m[0] != "info"
                                            or not m[1].startswith("Using the model file")]
