"""Per-session state: defaults, and the current view every page reads.

Everything here lives in ``st.session_state``, which belongs to one browser session:
one analyst's upload or model is never visible to another.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from custseg.errors import InputFileError
from custseg.io.source import CustomerTable, ReadLimits
from custseg.model.segmentation import SegmentationModel
from custseg.table.validate import Validated

DATA_ENV = "CUSTSEG_DATA"
VIEW = "_view"
LOADED = "_loaded_model"
PREDICTION = "_prediction"
BATCH = "_batch_result"
BATCH_FILE = "_batch_file"  # (name, size, bytes) of the last batch upload
EDITS = "_edits"  # {model key: {segment id: {"name", "strategy"}}}
RULES = "_rules_toml"  # an imported rulebook (TOML text), or absent
SUGGESTION = "_suggestion"

DEMO, UPLOAD, STARTUP = "Demo data", "Upload a file", "Start-up file"
#: File types the uploaders accept (compressed ones hold one of the others).
UPLOAD_TYPES = ["csv", "tsv", "txt", "xlsx", "parquet", "gz", "zip", "bz2", "xz"]


@dataclass
class View:
    """What the pages show: the data, its validation, the model and its segments."""

    table_key: str
    table: CustomerTable
    validated: Validated
    values: pd.DataFrame  # valid rows, typed canonical fields
    model: SegmentationModel
    model_key: str
    labels: np.ndarray  # segment of each valid row
    loaded_name: str | None = None
    #: The model as fitted (or loaded), before the analyst's names and strategies.
    base_model: SegmentationModel | None = None

    @property
    def names(self) -> dict[int, str]:
        return self.model.names


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
        st.info("Choose a data source in the sidebar to see segments.", icon=":material/info:")
        st.stop()
    return current
