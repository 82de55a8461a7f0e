"""Built-in demo data: a deterministic, mall-like customer base.

Five latent groups on the income × spending plane, each with its own age profile, in
roughly the proportions of the public "Mall Customers" table, so that every part of
custseg runs, and shows recognisable segments, with no file at all. The groups are
separated enough that K-Means with 5 segments on the three default features finds them
(adjusted Rand index about 0.9 against the generating groups).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from custseg.errors import ParameterError

if TYPE_CHECKING:
    import pandas as pd

#: Most demo customers made at once, by every face (the command line's ``demo-data -n``,
#: the dashboard's demo size): the table is built in memory, about 300 bytes a customer,
#: so a million stays within a few hundred MB. Here, below the faces, so both import it,
#: and light to import (numpy and pandas load when customers are made), for the command
#: line's start-up.
DEMO_MAX_ROWS = 1_000_000

# share, income mean/sd (k$), score mean/sd, age mean/sd, share female
_GROUPS = (
    (0.40, 55.0, 8.0, 50.0, 6.0, 42.0, 8.0, 0.58),  # balanced core
    (0.19, 87.0, 10.0, 82.0, 8.0, 32.0, 4.0, 0.54),  # affluent spenders, young adults
    (0.18, 88.0, 12.0, 18.0, 9.0, 41.0, 9.0, 0.46),  # cautious affluent
    (0.11, 26.0, 6.0, 79.0, 9.0, 25.0, 4.0, 0.59),  # budget trend-driven, young
    (0.12, 26.0, 6.0, 20.0, 9.0, 46.0, 9.0, 0.60),  # frugal, older
)


def make_customers(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """Return ``n`` synthetic customers with the canonical columns.

    Same ``n`` and ``seed`` give the same table. Values are whole numbers in the
    canonical units: age 18–70 years, income 15–150 k$, spending score 1–99.
    """
    import numpy as np
    import pandas as pd

    if not 1 <= n <= DEMO_MAX_ROWS:
        raise ParameterError(
            f"the demo table takes 1 to {DEMO_MAX_ROWS:,} customers, got {n:,}", parameter="n")
    rng = np.random.default_rng(seed)
    params = np.array(_GROUPS)
    group = rng.choice(len(_GROUPS), size=n, p=params[:, 0] / params[:, 0].sum())
    p = params[group]
    income = np.clip(rng.normal(p[:, 1], p[:, 2]), 15, 150).round()
    score = np.clip(rng.normal(p[:, 3], p[:, 4]), 1, 99).round()
    age = np.clip(rng.normal(p[:, 5], p[:, 6]), 18, 70).round()
    female = rng.random(n) < p[:, 7]
    width = max(6, len(str(n)))
    ids = pd.Series(np.arange(1, n + 1)).astype("str").str.zfill(width)
    return pd.DataFrame(
        {
            "customer_id": "C" + ids,
            "gender": np.where(female, "Female", "Male"),
            "age": age.astype("int64"),
            "annual_income": income.astype("int64"),
            "spending_score": score.astype("int64"),
        }
    )
