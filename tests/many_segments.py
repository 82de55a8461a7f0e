"""A customer table of many tight groups, for the dashboard with ~40 segments."""

from __future__ import annotations

import numpy as np
import pandas as pd


def grouped_customers(groups: int = 40, seed: int = 0, scattered: int = 40) -> pd.DataFrame:
    """``groups`` tight, well-apart groups of 20 to 120 customers on a grid of annual
    income (k$) by spending score, each with its own age, and ``scattered`` customers
    spread over the whole range: HDBSCAN finds every group, and the scattered ones are
    its outliers."""
    rng = np.random.default_rng(seed)
    columns = 8
    rows = -(-groups // columns)
    incomes = np.linspace(20, 130, columns)
    scores = np.linspace(8, 92, rows)
    ages = np.linspace(20, 68, groups)
    parts = []
    for g in range(groups):
        n = int(rng.integers(20, 121))
        parts.append(pd.DataFrame({
            "age": np.clip(np.round(rng.normal(ages[g], 0.8, n)), 18, 80).astype(int),
            "annual_income": np.round(rng.normal(incomes[g % columns], 1.2, n), 1),
            "spending_score": np.clip(np.round(rng.normal(scores[g // columns], 1.2, n)),
                                      1, 100).astype(int),
        }))
    parts.append(pd.DataFrame({
        "age": rng.integers(18, 81, scattered),
        "annual_income": np.round(rng.uniform(15, 135, scattered), 1),
        "spending_score": rng.integers(1, 101, scattered),
    }))
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(0, "customer_id", [f"C{i:05d}" for i in range(1, len(frame) + 1)])
    frame.insert(1, "gender", rng.choice(["Female", "Male"], len(frame)))
    return frame
