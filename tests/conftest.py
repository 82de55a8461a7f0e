"""Shared fixtures: small inline data, the demo generator, and the public Mall table."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

from custseg.io.rulebooks import default_rulebook
from custseg.model.segmentation import ModelConfig, fit_model
from custseg.table.sample import make_customers

# CI replays the same examples on every run (HYPOTHESIS_PROFILE=ci in .ci/run), so that a
# submission lands or fails on its code, not on the draw; runs here draw new examples,
# which is how the property tests find what CI would not.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

MALL = Path(__file__).resolve().parents[2] / "shared" / "data" / "Mall_Customers.csv"


@pytest.fixture(scope="session")
def mall_path() -> Path:
    """The public Kaggle Mall Customers table; tests using it skip where it is absent."""
    if not MALL.is_file():
        pytest.skip(f"real data not present at {MALL}")
    return MALL


@pytest.fixture(scope="session")
def rulebook():
    return default_rulebook()


@pytest.fixture(scope="session")
def demo() -> pd.DataFrame:
    return make_customers(600, seed=1)


@pytest.fixture(scope="session")
def demo_model(demo, rulebook):
    return fit_model(demo, ModelConfig(params={"n_clusters": 5}), rulebook)


@pytest.fixture
def write(tmp_path):
    """Write bytes or text to a file in tmp_path and return its path."""

    def _write(name: str, content: bytes | str, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        if isinstance(content, str):
            content = content.encode(encoding)
        path.write_bytes(content)
        return path

    return _write


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist's ``--dist loadgroup`` (``make test``): a module's tests run in
    one worker, so its module fixtures are built once, and every browser test runs in the
    same worker, so that a single Chromium and app server load the machine at a time. The
    group must be set before xdist reads it (hence ``tryfirst``)."""
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        browser = item.get_closest_marker("browser") is not None
        item.add_marker(pytest.mark.xdist_group("browser" if browser else item.module.__name__))
