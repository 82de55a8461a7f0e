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


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, when it is loaded
def pytest_xdist_make_scheduler(config, log):
    """Under pytest-xdist (``make test`` runs two workers): a module's tests run in one
    worker, so its module fixtures (an app server, a fitted model) are built once, and
    every browser test runs in the same worker, so that one Chromium and one app server
    load the machine at a time. (xdist's own ``--dist loadgroup`` marks no longer group
    under pytest 9.2, whose node ids xdist 3.8 cannot rename.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ModulesApartBrowsersTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "browser" if path.startswith("tests/browser/") else path

    return ModulesApartBrowsersTogether(config, log)
