"""All of the dashboard's caching, in one place.

Data and fits use ``st.cache_data`` with bounded ``max_entries``. Every argument is part
of the key: a table is hashed by its content key (:class:`~custseg.app.state.KeyedTable`,
made where the table is read), a configuration by its canonical JSON, a view by its
model's key and a loaded model by its file's digest (``hash_funcs``). No argument is left
out of the key, so a cache can only answer with what was computed from exactly the same
data and settings: switching pages or touching an unrelated widget never refits, and a
changed table or setting never meets a stale result. Nothing user-specific is kept in
``st.cache_resource``; the only cached resource is the packaged, read-only default
rulebook. The one process-wide store of user work is :mod:`custseg.app.links`' (edited
names by workspace, loaded models by digest, both bounded), which a refresh needs. No
widget is created inside a cached function.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from custseg import api
from custseg.app.state import KeyedTable, LoadedModel, View
from custseg.cluster.algorithms import get_algorithm
from custseg.cluster.evaluate import KCurve, k_curve, k_distance
from custseg.cluster.stability import Stability, stability
from custseg.cluster.suggestions import Suggestion, suggest
from custseg.errors import CustsegError, InputFileError
from custseg.io import uploads
from custseg.io.logs import log_spec
from custseg.io.rfm import aggregate_log
from custseg.io.rulebooks import default_rulebook
from custseg.io.source import ReadLimits, read_table, table_from_frame
from custseg.model import drift
from custseg.model.drift import DriftCounts
from custseg.model.segmentation import ModelConfig, SegmentationModel, fit_model
from custseg.segments.profile import Rulebook
from custseg.table.fields import Ranges
from custseg.table.inspect import Inspection
from custseg.table.sample import make_customers
from custseg.table.spec import InputSpec
from custseg.table.transactions import LogSpec
from custseg.table.validate import Validated


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def config_key(config: ModelConfig) -> str:
    """A configuration as canonical JSON: equal settings, equal text."""
    return json.dumps(config.to_dict(), sort_keys=True)


@dataclass(frozen=True, eq=False)
class Matrix:
    """Customers as a clusterer sees them (encoded, scaled), keyed by their content.

    The curves that help choose settings depend on these numbers only, so a model loaded
    from a file and the fit it was saved from share them: keyed by the view's model,
    loading a model saved from the current fit drew the 200,000-customer k-curve again
    (3.9 s of the load's 6.5 s, measured).
    """

    key: str
    X: np.ndarray


def matrix(view: View) -> Matrix:
    X = np.ascontiguousarray(view.matrix)
    return Matrix(f"{X.shape}:{X.dtype}:{digest(X.tobytes())}", X)


#: How the cached functions key their arguments that are not plain values.
KEYS = {
    Matrix: lambda m: m.key,
    KeyedTable: lambda data: data.key,
    ModelConfig: config_key,
    View: lambda view: view.model_key,
    LoadedModel: lambda loaded: loaded.digest,
}


@st.cache_resource
def rulebook() -> Rulebook:
    """The packaged default rulebook: read-only, the same for everyone."""
    return default_rulebook()


@st.cache_data(max_entries=4, show_spinner="Making demo customers…")
def demo_table(n: int, seed: int) -> KeyedTable:
    table = table_from_frame(make_customers(n, seed), name=f"demo data ({n:,} customers)")
    return KeyedTable(f"demo:{n}:{seed}", table)


def _options_key(mapping: Mapping[str, str] | None, income_unit: str | None) -> str:
    """The reading options as part of a table's key (empty when there are none)."""
    if not mapping and income_unit is None:
        return ""
    return ":" + json.dumps([sorted((mapping or {}).items()), income_unit])


@st.cache_data(max_entries=4, show_spinner="Reading the file…")
def uploaded_table(name: str, data: bytes, limits: ReadLimits,
                   mapping: Mapping[str, str] | None = None,
                   income_unit: str | None = None) -> KeyedTable:
    """An uploaded file, keyed by its bytes and its name (which guides parsing), and by
    the reading options (the id column, the income unit)."""
    table = uploads.table(name, data, limits, mapping=dict(mapping or {}) or None,
                          income_unit=income_unit)
    return KeyedTable(f"upload:{digest(data)}:{name}{_options_key(mapping, income_unit)}", table)


@st.cache_data(max_entries=2, show_spinner="Reading the file…")
def path_table(path: str, mtime_ns: int, limits: ReadLimits,
               mapping: Mapping[str, str] | None = None,
               income_unit: str | None = None) -> KeyedTable:
    table = read_table(path, limits=limits, mapping=dict(mapping or {}) or None,
                       income_unit=income_unit)
    return KeyedTable(f"file:{path}:{mtime_ns}{_options_key(mapping, income_unit)}", table)


#: What a file that is no table at all raises while its header is read: the table reader
#: then says why it is refused, in its own words.
_NOT_READ = (CustsegError, OSError, *uploads.BAD_INPUT)


@st.cache_data(max_entries=8, show_spinner=False)
def upload_log_columns(name: str, data: bytes, limits: ReadLimits):
    """The columns of an uploaded transaction log, or None when the file is no log
    (a customer table, or a file the table reader will refuse)."""
    try:
        return api.log_columns(data, name=name, limits=limits)
    except _NOT_READ:
        return None


@st.cache_data(max_entries=4, show_spinner=False)
def path_log_columns(path: str, mtime_ns: int, limits: ReadLimits):
    try:
        return api.log_columns(path, limits=limits)
    except _NOT_READ:
        return None


@st.cache_data(max_entries=4, show_spinner=False)
def upload_log(name: str, data: bytes, limits: ReadLimits,
               date_format: str | None = None, spec: LogSpec | None = None) -> KeyedTable:
    """An uploaded transaction log aggregated to one row per customer (``spec``: as a
    model fitted on a log aggregated its own, for a batch scored with it)."""
    spec_key = "" if spec is None else repr(sorted(spec.to_dict().items()))
    return _log_table(data, name, limits, date_format,
                      f"log:{digest(data)}:{name}:{date_format or ''}:{spec_key}", spec)


@st.cache_data(max_entries=2, show_spinner=False)
def path_log(path: str, mtime_ns: int, limits: ReadLimits,
             date_format: str | None = None) -> KeyedTable:
    from pathlib import Path

    return _log_table(path, Path(path).name, limits, date_format,
                      f"logfile:{path}:{mtime_ns}:{date_format or ''}")


def _log_table(source: str | bytes, name: str, limits: ReadLimits, date_format: str | None,
               key: str, spec: LogSpec | None = None) -> KeyedTable:
    """The one place the dashboard aggregates a log (:func:`custseg.api.rfm`); its
    customers are then segmented like any customer table's. ``limits``' row cap bounds
    the customers, who are held in memory; the lines are not."""
    from custseg.app.state import log_limits

    if spec is None:
        result = api.rfm(source, name=name, limits=log_limits(limits), date_format=date_format)
    else:
        result = aggregate_log(source, name=name, columns=dict(spec.columns),
                               date_format=spec.date_format or date_format,
                               limits=log_limits(limits), date_fallback=spec.date_read)
    summary = result.summary
    if summary.customers > limits.table_rows():
        raise InputFileError(
            f"{name} has {summary.customers:,} customers; the dashboard holds at most "
            f"{limits.table_rows():,} (CUSTSEG_MAX_ROWS). Aggregate it with custseg rfm and "
            "segment it with custseg fit.")
    table = api.log_customers(
        result, name=f"{name} ({summary.customers:,} customers from {summary.used:,} lines)")
    return KeyedTable(key, table, log=summary, log_spec=log_spec(result, date_format))


@st.cache_data(max_entries=8, show_spinner="Inspecting the columns…", hash_funcs=KEYS)
def inspection(data: KeyedTable, mapping: Mapping[str, str] | None = None,
               date_formats: Mapping[str, str] | None = None) -> Inspection:
    """What each column of the table is, as ``custseg inspect`` says."""
    return api.inspect(data.table, mapping=dict(mapping or {}) or None,
                       date_formats=dict(date_formats or {}) or None)


@st.cache_data(max_entries=16, show_spinner=False, hash_funcs=KEYS)
def fit_config(data: KeyedTable, settings: str) -> ModelConfig:
    """The configuration of the sidebar's settings (:func:`custseg.api.fit_config`'s
    keywords as canonical JSON), checked on the table; cached since it reads the date
    columns a derivation uses over the whole table."""
    values = json.loads(settings)
    values["ranges"] = Ranges()
    return api.fit_config(data.table, **values)


@st.cache_data(max_entries=16, show_spinner=False, hash_funcs=KEYS)
def prepared(
    data: KeyedTable, needs: tuple[str, ...], ranges: Ranges, spec: InputSpec | None = None,
) -> tuple[Validated, pd.DataFrame]:
    """The table validated for ``needs`` (and a model's other features, ``spec``), and
    its valid rows as typed values."""
    validated = data.table.validated(needs, ranges, spec)
    return validated, validated.valid_values()


@st.cache_data(max_entries=16, show_spinner=False, hash_funcs=KEYS)
def fit_seconds(data: KeyedTable, config: ModelConfig) -> float | None:
    """Seconds a fit of ``config`` on the table is estimated to take (see
    :func:`custseg.app.work.estimate`), or None when it cannot be told."""
    from custseg.app.work import estimate

    try:
        _, values = prepared(data, config.needs, config.ranges, config.spec)
    except CustsegError:
        return None
    return estimate(values, config)


@st.cache_data(max_entries=16, show_spinner="Fitting the segments…", hash_funcs=KEYS)
def fitted(data: KeyedTable, config: ModelConfig, rules_toml: str | None) -> SegmentationModel:
    """A fit of the whole configuration, named by the rulebook (None: the default one),
    its segments profiled by the spec's columns (by default the table's categorical and
    flag columns, as the command line does)."""
    from dataclasses import replace

    from custseg.api import profile_cells, profile_columns

    validated, _ = prepared(data, config.needs, config.ranges, config.spec)
    book = rulebook() if rules_toml is None else Rulebook.from_toml(rules_toml)
    if not config.spec.profile_by:
        config = replace(config, spec=replace(config.spec,
                                              profile_by=profile_columns(data.table)))
    model = fit_model(data.table.fields_frame(), config, book, validated=validated,
                      cells=profile_cells(data.table, config.spec.profile_by))
    if data.log_spec is not None:  # it scores new logs as its own was aggregated
        model = replace(model, log=data.log_spec)
    notes = api.reading_notes(data.table, config)
    return replace(model, warnings=(*notes, *model.warnings)) if notes else model


@st.cache_data(max_entries=8, show_spinner="Assigning customers to the loaded model…",
               hash_funcs=KEYS)
def assigned(data: KeyedTable, loaded: LoadedModel) -> np.ndarray:
    """Segments of the current customers under a loaded model."""
    model = loaded.model
    _, values = prepared(data, model.encoding.needs, model.config.ranges, model.config.spec)
    return model.assign(values).labels


@st.cache_data(max_entries=8, show_spinner="Profiling the segments on these customers…",
               hash_funcs=KEYS)
def placed(data: KeyedTable, loaded: LoadedModel) -> SegmentationModel:
    """A loaded model's segments as they hold the current customers (see
    :meth:`SegmentationModel.placed_on`): what the Dashboard counts, as the members do."""
    model = loaded.model
    validated, values = prepared(data, model.encoding.needs, model.config.ranges,
                                 model.config.spec)
    cells = None
    if model.config.spec.profile_by:  # the columns the fit profiled by, where the data has them
        cells = api.profile_cells(data.table, model.config.spec.profile_by)
        cells = cells.loc[validated.valid].reset_index(drop=True)
    return model.placed_on(values, assigned(data, loaded), cells=cells,
                           returns_only=validated.n_apart)


@st.cache_data(max_entries=8, show_spinner="Comparing with the customers fitted…",
               hash_funcs=KEYS)
def batch_drift(data: KeyedTable, view: View) -> DriftCounts:
    """The Batch page's drift of an uploaded batch's valid rows against the view's model,
    keyed by the batch's content key and the view's model key: measured once per file
    and model, not on every click on the page."""
    model = view.model
    _, values = prepared(data, model.encoding.needs, model.config.ranges, model.config.spec)
    return drift.measure(model, values)


@st.cache_data(max_entries=8, show_spinner="Trying settings on a sample…", hash_funcs=KEYS)
def suggestion(view: View) -> Suggestion:
    """Settings for the view's algorithm, tried on its customers."""
    cfg = view.model.config
    rows = len(view.values)
    fitted_rows = min(rows, get_algorithm(cfg.algorithm).fit_sample or rows)
    return suggest(view.matrix, cfg.algorithm, cfg.params, feature_names=cfg.features,
                   fitted_rows=fitted_rows, seed=cfg.random_state)


@st.cache_data(max_entries=8, show_spinner="Refitting on resamples…", hash_funcs=KEYS)
def model_stability(view: View) -> Stability:
    model = view.model
    cfg = model.config
    return stability(view.matrix, view.labels, cfg.algorithm, cfg.params,
                     fitted_rows=model.segmenter.n_fit_rows_, seed=cfg.random_state)


@st.cache_data(max_entries=8, show_spinner="Fitting a range of segment counts…",
               hash_funcs=KEYS)
def curve(data: Matrix, algorithm: str, params: Mapping[str, Any]) -> KCurve:
    return k_curve(data.X, algorithm, params=dict(params))


@st.cache_data(max_entries=8, show_spinner=False, hash_funcs=KEYS)
def distances(data: Matrix, k: int) -> np.ndarray:
    return k_distance(data.X, k)


@st.cache_data(max_entries=8, show_spinner=False, hash_funcs=KEYS)
def typical_inputs(view: View) -> dict[str, Any]:
    """Predict-form values to start from: a real customer near the middle of the base."""
    return api.typical_inputs(view.model, view.table)


@st.cache_data(max_entries=8, show_spinner="Gathering the segment's customers…",
               hash_funcs=KEYS)
def members(view: View, segment_id: int | None) -> tuple[pd.DataFrame, bytes]:
    """A segment's customers (every one with None) for the Dashboard and Explore: the
    rows for display (distinct column names) and the CSV download (the original
    headers), every original column kept (see :func:`custseg.model.summaries.segment_members`)."""
    from custseg.io.writers import as_frame, csv_bytes
    from custseg.model.summaries import segment_members

    table = segment_members(view.model, view.table.data, view.table.header, view.validated,
                            view.values, view.labels, segment_id)
    return as_frame(table), csv_bytes(table)
