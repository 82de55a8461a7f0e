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

from custseg.app import cached, state
from custseg.app.ui import plain, read_upload, show_error
from custseg.cluster.algorithms import ALGORITHMS, AlgorithmSpec, ParamSpec, get_algorithm
from custseg.errors import CustsegError
from custseg.io.source import CustomerTable
from custseg.model.segmentation import ModelConfig
from custseg.model.summaries import reasons_table
from custseg.table.fields import GENDER, LABELS, NUMERIC_FIELDS, Ranges
from custseg.table.sample import DEMO_MAX_ROWS


def render() -> None:
    """Draw the sidebar and refresh the session's view."""
    with st.sidebar:
        st.title("custseg")
        st.caption("Customer segments: cluster, name, explain, assign.")
        source = _data_source()
        if source is None:
            return
        loaded = st.session_state.get(state.LOADED)
        try:
            if loaded is not None:
                view = _loaded_view(source, loaded)
            else:
                view = _fitted_view(source)
        except CustsegError as exc:
            show_error(exc)
            if state.view() is not None:
                st.caption("Showing the previous segmentation.")
            return
        if view is not None:
            view = _with_edits(view)
            st.session_state[state.VIEW] = view
            _quality(view)


# ------------------------------------------------------------------------- data


def _data_source() -> state.KeyedTable | None:
    st.subheader("Data", divider="gray")
    options = [state.DEMO, state.UPLOAD] + ([state.STARTUP] if state.startup_file() else [])
    choice = st.radio("Source", options, key="data_source", horizontal=False,
                      label_visibility="collapsed")
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
            result = cached.path_table(path, os.stat(path).st_mtime_ns, state.read_limits())
        else:
            upload = st.file_uploader("Customer table", type=state.UPLOAD_TYPES, key="data_upload",
                                      help="CSV, TSV, Excel .xlsx or Parquet; headers such as "
                                      "Age, Annual Income (k$), Spending Score (1-100).")
            if upload is None:
                st.caption("Upload a file to segment it.")
                return _previous()
            result = read_upload(upload, cached.uploaded_table, state.read_limits())
            if result is None:
                return _kept()
    except (CustsegError, OSError) as exc:
        show_error(exc)
        return _kept()
    st.session_state[state.LAST_TABLE] = result
    return result


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


def _fitted_view(data: state.KeyedTable) -> state.View | None:
    config = _controls(data.table)
    if config is None:
        return None
    rules_toml = st.session_state.get(state.RULES)
    model = cached.fitted(data, config, rules_toml)
    validated, values = cached.prepared(data, config.needs, config.ranges)
    key = state.ModelKey(data.key, cached.config_key(config),
                         rules=cached.digest(rules_toml.encode()) if rules_toml else None)
    view = state.View(data, validated, values, model, key, model.labels)
    _suggest_panel(view, config)
    for message in model.warnings:
        st.warning(plain(message), icon=":material/warning:")
    return view


def _with_edits(view: state.View) -> state.View:
    """The view with the analyst's names and strategies for this model, if any."""
    edits = st.session_state.get(state.EDITS, {}).get(view.model_key)  # keyed by the fit
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
    if st.button("Fit from the controls instead", key="unload_model"):
        st.session_state[state.LOADED] = None
        st.rerun()
    data.table.expect(model.encoding.needs, model.config.spec)
    validated, values = cached.prepared(data, model.encoding.needs, model.config.ranges,
                                        model.config.spec)
    labels = cached.assigned(data, loaded)
    return state.View(data, validated, values, model, state.ModelKey(data.key, loaded.digest),
                      labels, loaded_name=loaded.name)


def _controls(table: CustomerTable) -> ModelConfig | None:
    st.subheader("Segmentation", divider="gray")
    present = [f for f in NUMERIC_FIELDS if f in table.match.fields]
    features = st.multiselect(
        "Features", present, default=present, format_func=lambda f: LABELS[f],
        key="features", persist_state="session",
        help="Standardised before clustering, so units do not weigh.",
    )
    if not features:
        st.warning("Choose at least one feature to cluster on.", icon=":material/warning:")
        return None
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
    return ModelConfig(
        algorithm=algorithm,
        params=params,
        features=tuple(f for f in NUMERIC_FIELDS if f in features),
        use_gender=use_gender,
        n_neighbors=int(n_neighbors),
        sample_size=int(sample) if sample else None,
        random_state=int(seed),
        ranges=Ranges(),
        stability_resamples=0,  # measured on demand in the Model Lab, not on every move
    ).resolved()


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
