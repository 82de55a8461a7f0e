"""AppTest fixtures: a fresh cache and a way to read what download buttons serve."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest
from streamlit_text import unescape

ENTRY = Path(__file__).resolve().parents[2] / "src" / "custseg" / "app" / "streamlit_app.py"
PAGES = {
    "dashboard": "app_pages/dashboard.py",
    "explore": "app_pages/explore.py",
    "predict": "app_pages/predict.py",
    "batch": "app_pages/batch.py",
    "model_lab": "app_pages/model_lab.py",
}


@pytest.fixture
def app(monkeypatch):
    """A fresh app on demo data, run once, with empty caches."""
    monkeypatch.delenv("CUSTSEG_DATA", raising=False)
    st.cache_data.clear()
    at = AppTest.from_file(str(ENTRY), default_timeout=120)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


@pytest.fixture
def downloads(monkeypatch):
    """file name -> bytes of everything offered for download during the test."""
    served: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        if filename and isinstance(path_or_data, bytes | bytearray):
            served[filename] = bytes(path_or_data)
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)

    # a download whose data is a callable is generated on click: keep the callable and
    # generate it when the test asks, as the click would
    original_deferred = MediaFileManager.add_deferred

    def record_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        if file_name:
            served[file_name] = _Deferred(data_callable)
        return original_deferred(self, data_callable, mimetype, coordinates, file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record_deferred)
    return served


class _Deferred:
    """Bytes produced on demand, like a deferred download button's."""

    def __init__(self, make) -> None:
        self.make = make

    def generate(self) -> bytes:
        data = self.make()
        return data.encode() if isinstance(data, str) else bytes(data)


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _segment_shown(at) -> dict[str, str]:
    """{"Segment" or "Nearest segment": name} of Predict's segment heading."""
    found = {}
    for heading in at.subheader:
        label, _, name = unescape(heading.value).partition(": ")
        if label in ("Segment", "Nearest segment") and name:
            found[label] = name
    return found


def _go(at, page: str):
    at.switch_page(PAGES[page]).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


@pytest.fixture
def errors():
    """errors(at) -> the st.error messages, as the reader sees them."""
    return lambda at: [unescape(e.value) for e in at.error]


@pytest.fixture
def metrics():
    """metrics(at) -> {label: value} of the st.metric elements shown."""
    return _metrics


@pytest.fixture
def segment_shown():
    """segment_shown(at) -> {"Segment" or "Nearest segment": name} on Predict."""
    return _segment_shown


@pytest.fixture
def go():
    """go(at, page): switch page, run, and check nothing raised."""
    return _go


@pytest.fixture
def new_session():
    """new_session(): another AppTest (another session) sharing this process's caches."""

    def make():
        at = AppTest.from_file(str(ENTRY), default_timeout=120)
        at.run()
        return at

    return make


@pytest.fixture
def fresh_app(monkeypatch):
    """fresh_app(data_path=None): a new AppTest (start-up file when given), run once."""

    def make(data_path=None):
        if data_path is None:
            monkeypatch.delenv("CUSTSEG_DATA", raising=False)
        else:
            monkeypatch.setenv("CUSTSEG_DATA", str(data_path))
        st.cache_data.clear()
        at = AppTest.from_file(str(ENTRY), default_timeout=120)
        at.run()
        return at

    return make
