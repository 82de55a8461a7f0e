from __future__ import annotations

import numpy as np
import pytest

from custseg.table.sample import make_customers


def test_deterministic_for_a_seed():
    a, b = make_customers(300, seed=4), make_customers(300, seed=4)
    assert a.equals(b)
    assert not a.equals(make_customers(300, seed=5))


def test_columns_units_and_ranges():
    df = make_customers(5_000, seed=0)
    assert list(df.columns) == ["customer_id", "gender", "age", "annual_income", "spending_score"]
    assert df["customer_id"].is_unique
    assert df["customer_id"].iloc[0] == "C000001"
    assert df["age"].between(18, 70).all()
    assert df["annual_income"].between(15, 150).all()
    assert df["spending_score"].between(1, 99).all()
    assert set(df["gender"]) == {"Female", "Male"}
    assert 0.5 < (df["gender"] == "Female").mean() < 0.62


def test_has_the_mall_like_groups():
    df = make_customers(20_000, seed=0)
    rich_spenders = (df["annual_income"] > 70) & (df["spending_score"] > 65)
    rich_savers = (df["annual_income"] > 70) & (df["spending_score"] < 35)
    poor_spenders = (df["annual_income"] < 40) & (df["spending_score"] > 65)
    for mask, share in ((rich_spenders, 0.19), (rich_savers, 0.18), (poor_spenders, 0.11)):
        assert mask.mean() == pytest.approx(share, abs=0.04)
    # the affluent spenders are younger than the cautious affluent
    assert df.loc[rich_spenders, "age"].mean() < df.loc[rich_savers, "age"].mean() - 4


def test_rejects_non_positive_n():
    with pytest.raises(ValueError, match="takes 1 to 1,000,000 customers"):
        make_customers(0)


def test_default_kmeans_recovers_the_generating_groups():
    from sklearn.metrics import adjusted_rand_score

    import custseg
    from custseg.table.sample import _GROUPS

    df = make_customers(2_000, seed=0)
    shares = [g[0] for g in _GROUPS]
    groups = np.random.default_rng(0).choice(len(_GROUPS), size=2_000, p=shares)
    model = custseg.fit(df)
    assert adjusted_rand_score(groups, model.labels) > 0.85
    assert sorted(s.name for s in model.segments) == sorted(
        ["Balanced Shoppers", "Affluent Spenders", "Cautious Affluent",
         "Trend-Driven Budget Spenders", "Frugal Shoppers"])
