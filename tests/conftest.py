"""Shared fixtures: small inline data, the demo generator, and the public Mall table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from custseg.io.rulebooks import default_rulebook
from custseg.model.segmentation import ModelConfig, fit_model
from custseg.table.sample import make_customers

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
