"""Per-session state: defaults, and the current view every page reads.

Everything here lives in ``st.session_state``, which belongs to one browser session:
one analyst's upload or model is never visible to another. (What must outlive a refresh,
the analyst's names and a loaded model, is also kept by :mod:`custseg.app.links`, found
only through the session's own URL: its workspace id, the model file's digest.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import streamlit as st

from custseg.cluster.suggestions import Suggestion
from custseg.errors import InputFileError
from custseg.io.rfm import LogSummary
from custseg.io.source import CustomerTable, ReadLimits
from custseg.model.segmentation import ModelConfig, SegmentationModel
from custseg.table.transactions import LogSpec
from custseg.table.validate import Validated

DATA_ENV = "CUSTSEG_DATA"

# Session keys (widget keys are given where the widget is drawn).
VIEW = "_view"  # View: what the pages show
LAST_TABLE = "_last_table"  # KeyedTable: the data source that last read well
#: This run's settings wait for Apply: the view shown, if any, is of others.
FIT_WAITS = "_fit_waits"
LOADED = "_loaded_model"  # LoadedModel, or None: fit from the controls
MODEL_UPLOADED = "_model_uploaded"  # digest of the model file last loaded from the uploader
PREDICTION = "_prediction"  # {"gender", field: value}: the last customer predicted
BATCH_FILE = "_batch_file"  # Upload: the last batch upload, or None
BATCH = "_batch_result"  # BatchResult: that upload scored by one model
EDITS = "_edits"  # {ModelKey (unedited): {segment id: {"name", "strategy"}}}
RULES = "_rules_toml"  # an imported rulebook (TOML text), or absent
SUGGESTION = "_suggestion"  # Suggested: the last suggestion asked for
APPLIED = "_applied_fit"  # (table key, config key, rulebook digest) of the fit shown
FIT_JOB = "_fit_job"  # work.Job: a long fit running in a worker thread, or absent
FIT_NOTICE = "_fit_notice"  # a line for the main area about a long fit (cancelled…)
#: (what, name) of what failed in this run and left the previous view on screen:
#: ("upload", file name), ("file", file name) or ("fit", None); absent when nothing did.
FAILED = "_failed"
#: {ModelKey: Stability}: stability measured in this session (the Model Lab's tab).
MEASURED = "_measured_stability"

DEMO, UPLOAD, STARTUP = "Demo data", "Upload a file", "Start-up file"
#: File types the uploaders accept (compressed ones hold one of the others).
UPLOAD_TYPES = ["csv", "tsv", "txt", "xlsx", "parquet", "gz", "zip", "bz2", "xz"]


@dataclass(frozen=True)
class KeyedTable:
    """A customer table and a key that changes whenever its content can.

    The key is made where the table is read (from the upload's bytes, the demo's size and
    seed, a file's path and modification time), and the cached functions hash a table by it.
    A table aggregated from a transaction log keeps the aggregation's summary (``log``:
    lines read, used and excluded by reason, the columns taken) and how it was aggregated
    (``log_spec``: kept in the models fitted on it, so they score new logs the same way).
    """

    key: str
    table: CustomerTable
    log: LogSummary | None = None
    log_spec: LogSpec | None = None


@dataclass(frozen=True)
class Upload:
    """An uploaded file kept in the session: its name (which guides parsing) and bytes."""

    name: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def getvalue(self) -> bytes:  # as Streamlit's UploadedFile, for ui.read_upload
        return self.data


@dataclass(frozen=True)
class LoadedModel:
    """A model file loaded in the Model Lab: shown instead of a fit from the controls."""

    name: str
    model: SegmentationModel
    digest: str  # of the file's bytes


@dataclass(frozen=True)
class ModelKey:
    """Identifies a view's model: caches and per-model session values are keyed by it."""

    table: str  # KeyedTable.key
    #: A fit's configuration as canonical JSON, or the digest of a loaded model file.
    model: str
    rules: str | None = None  # digest of an imported rulebook; None: the default one
    edits: str | None = None  # digest of the analyst's names and strategies, if any

    def unedited(self) -> ModelKey:
        return replace(self, edits=None)


@dataclass(frozen=True)
class View:
    """What the pages show: the data, its validation, the model and its segments."""

    data: KeyedTable
    validated: Validated
    values: pd.DataFrame  # valid rows, typed canonical fields
    model: SegmentationModel
    model_key: ModelKey
    labels: np.ndarray  # segment of each valid row
    loaded_name: str | None = None
    #: The model as fitted (or loaded), before the analyst's names and strategies.
    base_model: SegmentationModel | None = None
    #: A loaded model's segments as they hold these customers, with the same edits as
    #: :attr:`model` (see :attr:`shown`).
    placed: SegmentationModel | None = None

    @property
    def shown(self) -> SegmentationModel:
        """The model whose segments the Dashboard and Explore describe: a loaded model's
        segments as they hold these customers (sizes, shares and averages of the data
        placed in them, counted as its members are); a fit's own model otherwise."""
        return self.model if self.placed is None else self.placed

    @property
    def table(self) -> CustomerTable:
        return self.data.table

    @property
    def names(self) -> dict[int, str]:
        return self.model.names

    @property
    def matrix(self) -> np.ndarray:
        """The valid rows as the model's clusterer sees them (encoded, scaled)."""
        return self.model.encoding.transform(self.values)


@dataclass(frozen=True)
class BatchResult:
    """A batch upload scored by one model: the rows for display and the CSV download."""

    table_key: str
    model_key: ModelKey
    scored: pd.DataFrame
    download: bytes

    def is_for(self, table_key: str, model_key: ModelKey) -> bool:
        return (self.table_key, self.model_key) == (table_key, model_key)


@dataclass(frozen=True)
class Suggested:
    """The settings suggested for one table and configuration."""

    table_key: str
    config: ModelConfig
    suggestion: Suggestion

    def is_for(self, table_key: str, config: ModelConfig) -> bool:
        return (self.table_key, self.config) == (table_key, config)


def read_limits() -> ReadLimits:
    """Caps for files read in the dashboard, which holds a table in memory.

    ``CUSTSEG_MAX_DECOMPRESSED_MB`` (default 1024) bounds what a compressed upload may
    expand to; ``CUSTSEG_MAX_ROWS`` (default 5,000,000) bounds the rows of a table. The
    command line streams, and has its own, larger caps.
    """
    return ReadLimits(
        max_decompressed_bytes=_env_int("CUSTSEG_MAX_DECOMPRESSED_MB", 1024) << 20,
        max_rows=_env_int("CUSTSEG_MAX_ROWS", 5_000_000),
    )


def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


def log_limits(limits: ReadLimits) -> ReadLimits:
    """Caps for a transaction log: its lines are aggregated out of core (DuckDB) and never
    held as a table, so the row cap bounds its customers (see ``cached``), not its lines."""
    return replace(limits, max_rows=None)


def check_upload_size(size: int) -> None:
    """Refuse an upload above ``server.maxUploadSize`` with a message naming the limit.

    The browser enforces the same limit; this check also covers uploads that reach the
    app another way.
    """
    limit_mb = int(st.get_option("server.maxUploadSize"))
    if size > limit_mb << 20:
        raise InputFileError(
            f"the file is {size / (1 << 20):,.1f} MB; the upload limit is {limit_mb:,} MB "
            "(server.maxUploadSize). Score larger files with the command line: custseg score."
        )


def startup_file() -> str | None:
    """The file handed over by ``custseg app --data FILE`` (or tests), if any."""
    path = os.environ.get(DATA_ENV, "").strip()
    return path or None


def init() -> None:
    """Session defaults, set once per session."""
    st.session_state.setdefault("data_source", STARTUP if startup_file() else DEMO)
    st.session_state.setdefault("demo_n", 2_000)
    st.session_state.setdefault("demo_seed", 0)
    st.session_state.setdefault("algorithm", "kmeans")
    st.session_state.setdefault("use_gender", False)
    st.session_state.setdefault("n_neighbors", 3)
    st.session_state.setdefault("seed", 0)
    st.session_state.setdefault(LOADED, None)
    st.session_state.setdefault(EDITS, {})


def view() -> View | None:
    return st.session_state.get(VIEW)


def require_view() -> View:
    """The current view, or a short message and stop (a page cannot run without data)."""
    current = view()
    if current is None:
        if st.session_state.get(FIT_JOB) is not None:
            st.info("The segments are being fitted: the progress shows above.",
                    icon=":material/hourglass_top:")
        elif st.session_state.get(APPLIED) is None and st.session_state.get(FIT_WAITS):
            st.info("No segmentation yet: press Apply in the sidebar to fit one.",
                    icon=":material/info:")
        else:
            st.info("Choose a data source in the sidebar to see segments.",
                    icon=":material/info:")
        st.stop()
    return current
