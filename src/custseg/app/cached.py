"""All of the dashboard's caching, in one place.

Data and fits use ``st.cache_data`` with bounded ``max_entries``: results are keyed by
content (a digest of the uploaded bytes, the demo's size and seed, a file's path and
modification time) and by the full fit configuration, so switching pages or touching an
unrelated widget never refits, and one session can only meet a cached result by asking
for exactly the same data and settings. Nothing user-specific is kept in
``st.cache_resource`` or in module globals; the only cached resource is the packaged,
read-only default rulebook. No widget is created inside a cached function.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import streamlit as st

from custseg.cluster.evaluate import KCurve, k_curve, k_distance
from custseg.cluster.stability import Stability, stability
from custseg.cluster.suggestions import Suggestion, suggest
from custseg.io.rulebooks import default_rulebook
from custseg.io.source import CustomerTable, ReadLimits, read_table, table_from_frame
from custseg.model.segmentation import ModelConfig, SegmentationModel, fit_model
from custseg.segments.profile import Rulebook
from custseg.table.fields import Ranges
from custseg.table.sample import make_customers
from custseg.table.validate import Validated


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@st.cache_resource
def rulebook() -> Rulebook:
    """The packaged default rulebook: read-only, the same for everyone."""
    return default_rulebook()


@st.cache_data(max_entries=4, show_spinner="Making demo customers…")
def demo_table(n: int, seed: int) -> CustomerTable:
    return table_from_frame(make_customers(n, seed), name=f"demo data ({n:,} customers)")


@st.cache_data(max_entries=4, show_spinner="Reading the file…")
def uploaded_table(key: str, name: str, limits: ReadLimits, _data: bytes) -> CustomerTable:
    return read_table(_data, name=name, limits=limits)


@st.cache_data(max_entries=2, show_spinner="Reading the file…")
def path_table(path: str, mtime_ns: int, limits: ReadLimits) -> CustomerTable:
    return read_table(path, limits=limits)


@st.cache_data(max_entries=16, show_spinner=False)
def prepared(
    table_key: str, needs: tuple[str, ...], ranges: str, _table: CustomerTable
) -> tuple[Validated, pd.DataFrame]:
    """The table validated for ``needs``, and its valid rows as typed values."""
    validated = _table.validated(needs, Ranges.from_dict(json.loads(ranges)))
    return validated, validated.valid_values()


@st.cache_data(max_entries=16, show_spinner="Fitting the segments…")
def fitted(
    table_key: str, config: str, rules_toml: str | None, _table: CustomerTable
) -> SegmentationModel:
    """A fit, keyed by the data, the whole configuration (canonical JSON) and the
    rulebook (None: the default one)."""
    cfg = ModelConfig.from_dict(json.loads(config))
    validated, _ = prepared(table_key, cfg.needs, json.dumps(cfg.ranges.to_dict()), _table)
    book = rulebook() if rules_toml is None else Rulebook.from_toml(rules_toml)
    return fit_model(_table.fields_frame(), cfg, book, validated=validated)


@st.cache_data(max_entries=8, show_spinner="Trying settings on a sample…")
def suggestion(table_key: str, config: str, _X: np.ndarray, fitted_rows: int) -> Suggestion:
    cfg = ModelConfig.from_dict(json.loads(config))
    return suggest(_X, cfg.algorithm, cfg.params, feature_names=cfg.features,
                   fitted_rows=fitted_rows, seed=cfg.random_state)


@st.cache_data(max_entries=8, show_spinner="Refitting on resamples…")
def model_stability(table_key: str, model_key: str, _model: SegmentationModel,
                    _X: np.ndarray, _labels: np.ndarray) -> Stability:
    cfg = _model.config
    return stability(_X, _labels, cfg.algorithm, cfg.params,
                     fitted_rows=_model.segmenter.n_fit_rows_, seed=cfg.random_state)


@st.cache_data(max_entries=8, show_spinner="Assigning customers to the loaded model…")
def assigned(table_key: str, model_key: str, _values: pd.DataFrame, _model: SegmentationModel) -> np.ndarray:
    """Segments of the current customers under a loaded model."""
    return _model.assign(_values).labels


@st.cache_data(max_entries=8, show_spinner="Fitting a range of segment counts…")
def curve(
    table_key: str, model_key: str, algorithm: str, params: str, _X: np.ndarray
) -> KCurve:
    return k_curve(_X, algorithm, params=json.loads(params))


@st.cache_data(max_entries=8, show_spinner=False)
def distances(table_key: str, model_key: str, k: int, _X: np.ndarray) -> np.ndarray:
    return k_distance(_X, k)


def config_key(config: ModelConfig) -> str:
    return json.dumps(config.to_dict(), sort_keys=True)


