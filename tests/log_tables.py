"""Small transaction logs with known customers, shared by the tests of fitting and scoring
logs (``fit --transactions``, ``score MODEL LOG``, the "Returns only" segment)."""

from __future__ import annotations

import numpy as np

#: The customers with returns only of :func:`write_log` (ids as the log writes them).
RETURNS_ONLY_IDS = ("90001", "90002", "90003")


def log_lines(seed: int = 0, returns_only: int = 3) -> list[str]:
    """A UCI-style log (month-first dates, float ids, "C" cancellations): 20 loyal buyers
    through the year who bought in the last ten days, 20 lapsed buyers of a year ago,
    20 one-off buyers of the last ten days, and ``returns_only`` customers whose only
    lines are cancellations (ids 90001…)."""
    rng = np.random.default_rng(seed)
    lines = ["InvoiceNo,InvoiceDate,CustomerID,Quantity,UnitPrice"]
    invoice, customer = 100_000, 10_000
    end = np.datetime64("2011-12-31")

    def day(d: int) -> str:
        y, m, dd = str(end - int(d)).split("-")
        return f"{m}/{dd}/{y} 10:00"

    for kind, price in (("loyal", 60.0), ("lapsed", 20.0), ("new", 15.0)):
        for _ in range(20):
            customer += 1
            if kind == "loyal":
                days = [*rng.integers(10, 360, size=24), int(rng.integers(0, 10))]
            elif kind == "lapsed":
                days = list(rng.integers(250, 340, size=3))
            else:
                days = [int(rng.integers(0, 10))]
            for d in days:
                invoice += 1
                lines.append(f"{invoice},{day(d)},{customer}.0,{rng.integers(1, 5)},"
                             f"{price * rng.uniform(0.8, 1.2):.2f}")
    for i in range(returns_only):
        invoice += 1
        lines.append(f"C{invoice},{day(int(rng.integers(20, 200)))},{90_001 + i}.0,"
                     f"-{i + 1},{12.5 + i:.2f}")
    return lines


def write_log(path, seed: int = 0, returns_only: int = 3) -> None:
    path.write_text("\n".join(log_lines(seed, returns_only)) + "\n", encoding="utf-8")
