"""Realistic synthetic customer tables for the inspection tests (no download): shaped like
three public tables analysts segment — a marketing-campaign export, a credit-card usage
table and a bank's churn table — with their headers, kinds of values and skews.

Every builder is deterministic (a fixed seed) and returns text, as a file holds it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa


def _text(values) -> list[str]:
    return [str(v) for v in values]


def marketing(n: int = 2_240, seed: int = 0) -> pd.DataFrame:
    """A marketing-campaign export: ids, birth years, education with rare odd answers,
    incomes in dollars with blanks, children at home, signup dates as dd-mm-yyyy,
    recency, six skewed amounts spent (Mnt*), purchases per channel, 0/1 campaign flags
    and two constant columns."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(11_192, size=n, replace=False)
    birth = np.clip(rng.normal(1969, 12, n).round(), 1940, 1996).astype(int)
    birth[:3] = (1893, 1899, 1900)
    education = rng.choice(["Graduation", "PhD", "Master", "2n Cycle", "Basic"], size=n,
                           p=[0.5, 0.22, 0.17, 0.09, 0.02]).astype(object)
    education[[10, 20]] = "Absurd"
    education[[30, 40]] = "YOLO"
    marital = rng.choice(["Married", "Together", "Single", "Divorced", "Widow", "Alone"],
                         size=n, p=[0.39, 0.26, 0.21, 0.1, 0.035, 0.005])
    income = np.clip(rng.normal(52_000, 21_000, n).round(), 1_730, 160_000).astype(int)
    income = income.astype(object)
    income[5] = 666_666
    income[rng.choice(np.arange(10, n), size=24, replace=False)] = ""
    kids = rng.choice([0, 1, 2], size=n, p=[0.58, 0.40, 0.02])
    teens = rng.choice([0, 1, 2], size=n, p=[0.52, 0.46, 0.02])
    start = np.datetime64("2012-07-30")
    joined = start + rng.integers(0, 700, n).astype("timedelta64[D]")
    dates = pd.Series(joined).dt.strftime("%d-%m-%Y")
    recency = rng.integers(0, 100, n)
    frame = {
        "ID": _text(ids), "Year_Birth": _text(birth), "Education": list(education),
        "Marital_Status": list(marital), "Income": _text(income), "Kidhome": _text(kids),
        "Teenhome": _text(teens), "Dt_Customer": list(dates), "Recency": _text(recency),
    }
    for name, scale in [("MntWines", 300), ("MntFruits", 26), ("MntMeatProducts", 170),
                        ("MntFishProducts", 38), ("MntSweetProducts", 27),
                        ("MntGoldProds", 44)]:
        spent = np.floor(rng.lognormal(np.log(scale), 1.3, n))
        spent[rng.random(n) < 0.15] = 0
        frame[name] = _text(spent.astype(int))
    deals = rng.poisson(2.0, n)
    deals[rng.random(n) < 0.01] = 15
    frame["NumDealsPurchases"] = _text(deals)
    frame["NumWebPurchases"] = _text(rng.poisson(4.1, n))
    frame["NumCatalogPurchases"] = _text(rng.geometric(0.3, n) - 1)
    frame["NumStorePurchases"] = _text(rng.poisson(5.8, n))
    frame["NumWebVisitsMonth"] = _text(rng.poisson(5.3, n))
    for name, share in [("AcceptedCmp3", 0.07), ("AcceptedCmp4", 0.07), ("AcceptedCmp5", 0.07),
                        ("AcceptedCmp1", 0.06), ("AcceptedCmp2", 0.015), ("Complain", 0.01)]:
        frame[name] = _text((rng.random(n) < share).astype(int))
    frame["Z_CostContact"] = ["3"] * n
    frame["Z_Revenue"] = ["11"] * n
    frame["Response"] = _text((rng.random(n) < 0.15).astype(int))
    return pd.DataFrame(frame)


def credit_card(n: int = 2_000, seed: int = 1) -> pd.DataFrame:
    """A credit-card usage table: CUST_ID C10001…, 17 numeric columns, most skewed with
    many zeros, and TENURE at 12 months for 85% of the customers."""
    rng = np.random.default_rng(seed)

    def money(median: float, zeros: float, sigma: float = 1.2) -> np.ndarray:
        out = rng.lognormal(np.log(median), sigma, n)
        out[rng.random(n) < zeros] = 0.0
        return out.round(6)

    def share(zeros: float, ones: float) -> np.ndarray:
        out = rng.random(n)
        pick = rng.random(n)
        out[pick < zeros] = 0.0
        out[(pick >= zeros) & (pick < zeros + ones)] = 1.0
        return out.round(6)

    balance_frequency = np.where(rng.random(n) < 0.7, 1.0, rng.random(n).round(6))
    tenure = np.where(rng.random(n) < 0.85, 12, rng.integers(6, 12, n))
    cash_trx = rng.geometric(0.25, n)
    cash_trx[rng.random(n) < 0.52] = 0
    purchases_trx = rng.geometric(0.07, n)
    purchases_trx[rng.random(n) < 0.23] = 0
    minimum = money(300, 0.0).astype(object)
    minimum[rng.random(n) < 0.035] = ""
    limit = (np.round(rng.lognormal(np.log(3_500), 0.75, n) / 50) * 50).astype(object)
    limit[7] = ""
    oneoff_frequency = np.where(rng.random(n) < 0.5, 0.0, rng.beta(1.0, 4.0, n)).round(6)
    cash_frequency = np.where(rng.random(n) < 0.52, 0.0, rng.beta(1.0, 5.0, n)).round(6)
    full = np.where(rng.random(n) < 0.66, 0.0, rng.beta(0.7, 1.5, n)).round(6)
    columns = {
        "CUST_ID": [f"C{10_001 + i}" for i in range(n)],
        "BALANCE": money(870, 0.03),
        "BALANCE_FREQUENCY": balance_frequency,
        "PURCHASES": money(360, 0.23),
        "ONEOFF_PURCHASES": money(300, 0.48),
        "INSTALLMENTS_PURCHASES": money(250, 0.44),
        "CASH_ADVANCE": money(900, 0.52),
        "PURCHASES_FREQUENCY": share(0.23, 0.25),
        "ONEOFF_PURCHASES_FREQUENCY": oneoff_frequency,
        "PURCHASES_INSTALLMENTS_FREQUENCY": share(0.44, 0.15),
        "CASH_ADVANCE_FREQUENCY": cash_frequency,
        "CASH_ADVANCE_TRX": cash_trx,
        "PURCHASES_TRX": purchases_trx,
        "CREDIT_LIMIT": limit,
        "PAYMENTS": money(860, 0.02),
        "MINIMUM_PAYMENTS": minimum,
        "PRC_FULL_PAYMENT": full,
        "TENURE": tenure,
    }
    return pd.DataFrame({k: _text(v) for k, v in columns.items()})


_SYLLABLES = ["Har", "ri", "son", "Mc", "Don", "ald", "Ken", "ne", "dy", "Li", "u", "Chen",
              "Bo", "ni", "fa", "ce", "Ob", "ine", "Ma", "rt", "Ter", "ry", "Wu", "Hill"]


def bank(n: int = 2_000, seed: int = 2) -> pd.DataFrame:
    """A bank's churn table: RowNumber 1..n, CustomerId, Surname, CreditScore, Geography,
    Gender, Age, Tenure, Balance (many zeros), NumOfProducts, HasCrCard,
    IsActiveMember, EstimatedSalary and the Exited flag."""
    rng = np.random.default_rng(seed)
    parts = rng.choice(_SYLLABLES, size=(n, 3))
    surnames = ["".join(p).capitalize() for p in parts]
    balance = rng.normal(120_000, 30_000, n).round(2)
    balance[rng.random(n) < 0.36] = 0.0
    columns = {
        "RowNumber": np.arange(1, n + 1),
        "CustomerId": rng.choice(np.arange(15_565_701, 15_815_691), size=n, replace=False),
        "Surname": surnames,
        "CreditScore": np.clip(rng.normal(650, 96, n).round(), 350, 850).astype(int),
        "Geography": rng.choice(["France", "Germany", "Spain"], size=n, p=[0.5, 0.25, 0.25]),
        "Gender": rng.choice(["Male", "Female"], size=n, p=[0.55, 0.45]),
        "Age": np.clip(rng.normal(39, 10, n).round(), 18, 92).astype(int),
        "Tenure": rng.integers(0, 11, n),
        "Balance": balance,
        "NumOfProducts": rng.choice([1, 2, 3, 4], size=n, p=[0.5, 0.46, 0.034, 0.006]),
        "HasCrCard": (rng.random(n) < 0.7).astype(int),
        "IsActiveMember": (rng.random(n) < 0.51).astype(int),
        "EstimatedSalary": rng.uniform(11.58, 199_992.48, n).round(2),
        "Exited": (rng.random(n) < 0.2).astype(int),
    }
    return pd.DataFrame({k: _text(v) for k, v in columns.items()})


def rfm(n: int = 1_200, seed: int = 3) -> pd.DataFrame:
    """What ``custseg rfm`` writes for a shop's log: customer_id, recency_days (low is
    recent), frequency, monetary and tenure_days, from four kinds of customers in equal
    parts (recent big spenders, recent first-timers, lapsed regulars, long-gone
    one-offs), plus a 0/1 newsletter flag the recent big spenders mostly hold."""
    rng = np.random.default_rng(seed)
    kind = np.arange(n) % 4
    recency = np.choose(kind, [rng.integers(1, 20, n), rng.integers(1, 25, n),
                               rng.integers(200, 320, n), rng.integers(300, 400, n)])
    frequency = np.choose(kind, [rng.integers(18, 30, n), rng.integers(1, 3, n),
                                 rng.integers(10, 20, n), rng.integers(1, 3, n)])
    monetary = np.choose(kind, [rng.normal(3_000, 300, n), rng.normal(120, 30, n),
                                rng.normal(1_500, 200, n), rng.normal(60, 20, n)]).round(2)
    tenure = np.choose(kind, [rng.integers(600, 900, n), rng.integers(1, 40, n),
                              rng.integers(500, 800, n), rng.integers(400, 700, n)])
    newsletter = np.where(kind == 0, rng.random(n) < 0.9, rng.random(n) < 0.2).astype(int)
    return pd.DataFrame({
        "customer_id": [f"K{i:05d}" for i in range(n)], "recency_days": _text(recency),
        "frequency": _text(frequency), "monetary": _text(np.abs(monetary)),
        "tenure_days": _text(tenure), "newsletter": _text(newsletter),
    })


def aged_enthusiasts(seed: int = 0) -> pd.DataFrame:
    """A shop's customers in three groups of 100 on income and spending; the
    enthusiastic one (mid income, high spending) is also about 80 years old, which no
    income-spending rule says (issue 14's "Enthusiastic Middle" aged 78)."""
    rng = np.random.default_rng(seed)
    parts = []
    for income, spending, age in [(60, 85, 80), (60, 20, 35), (110, 50, 35)]:
        parts.append(pd.DataFrame({
            "annual_income": rng.normal(income, 4, 100).round(),
            "spending_score": rng.normal(spending, 4, 100).round().clip(1, 100),
            "age": rng.normal(age, 3, 100).round(),
        }))
    frame = pd.concat(parts, ignore_index=True).astype(int)
    frame.insert(0, "customer_id", [f"C{i:04d}" for i in range(len(frame))])
    return frame


def columns_of(frame: pd.DataFrame) -> list[pa.Array]:
    """A text frame as the readers give it: one arrow string column per header."""
    return [pa.array(frame[c].tolist(), type=pa.string()) for c in frame.columns]
