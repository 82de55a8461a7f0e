"""Every registry parameter at its declared minimum, middle and maximum (every choice of
a categorical one), for every algorithm, on two tables: the demo customers and a
shop-like marketing export (an RFM table for the RFM scores).

Issue 14: HDBSCAN's "Merge distance" crashed inside scikit-learn at 0.55 and no test had
tried it. Each fit here must either succeed, with a label for every fitted customer and
segments that hold every one of them, or refuse with a CustsegError that says what to
change; any other exception fails.

The sweep fits 128 models on 300 rows each, with one stability refit
each (a refit scales the parameters that count customers, another place for a bad
value): about 35 s of CPU.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import replace
from functools import cache

import numpy as np
import pytest
from inspect_tables import marketing, rfm

import custseg
from custseg.api import _table, fit_config, fit_table
from custseg.cluster.algorithms import ALGORITHMS, ParamSpec
from custseg.errors import CustsegError

#: Words a refusal uses to say what to change.
ACTION = re.compile(r"\b(raise|lower|use|choose|leave|add|edit|set|try|fit on|name|give|fit)\b")


def sweep_values(p: ParamSpec) -> list:
    """The declared minimum, a middle value and the maximum (each choice of a categorical
    parameter; and 'auto' when allowed)."""
    if p.kind == "choice":
        return list(p.choices)
    middle = (p.low + p.high) / 2
    out = [p.low, middle, p.high]
    if p.kind == "int":
        out = [int(p.low), round(middle), int(p.high)]
    return out + ([None] if p.optional else [])


CASES = [(name, p.name, value) for name, spec in ALGORITHMS.items()
         for p in spec.params for value in sweep_values(p)]
CASES += [(name, None, None) for name, spec in ALGORITHMS.items() if not spec.params]

#: Each table: how to read it, and the fit options that pick its features.
TABLES = {
    "demo": (lambda: custseg.make_customers(300, seed=0), {}),
    "shop": (lambda: marketing(300, seed=0),
             {"features": ["Income", "Recency", "MntWines", "NumWebPurchases"]}),
}
#: The RFM scores need recency, frequency and monetary roles: their second table is one.
RFM_TABLE = (lambda: rfm(300, seed=0),
             {"features": ["recency_days", "frequency", "monetary"]})


@cache
def table(name: str, for_rfm: bool = False):
    make, options = RFM_TABLE if for_rfm else TABLES[name]
    return _table(make(), None, None), options


def fit_one(table_name: str, algorithm: str, params: dict):
    spec = ALGORITHMS[algorithm]
    data, options = table(table_name, for_rfm=spec.scored and table_name != "demo")
    options = dict(options)
    if spec.mixed and table_name == "shop":
        # kmodes loops over the rows in Python: 100 fitted, the assigner places the rest
        options.update(categorical=["Education"], sample_size=100)
    config = fit_config(data, algorithm=algorithm, params=params, **options)
    config = replace(config, stability_resamples=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_table(data, config)


@pytest.mark.parametrize("table_name", list(TABLES))
@pytest.mark.parametrize(("algorithm", "param", "value"), CASES,
                         ids=[f"{a}-{p}={v}" for a, p, v in CASES])
def test_every_parameter_over_its_declared_range(table_name, algorithm, param, value):
    params = {} if param is None else {param: value}
    try:
        model = fit_one(table_name, algorithm, params)
    except CustsegError as refusal:
        message = str(refusal)
        assert ACTION.search(message), f"a refusal that says nothing to do: {message}"
        assert "Traceback" not in message and "internal error" not in message
        return
    if param is not None:
        used = model.config.params[param]
        lowered = (f"The setting {param}={value} is more than the {used} customers fitted; "
                   f"lowered to {used}.")  # and the model says the setting it used
        assert used == value or (value is None and used is None) or (
            used < value and lowered in model.warnings), (used, model.warnings)
    q = model.quality
    fitted = q.n_used
    assert fitted > 0 and q.n_used + q.n_invalid + q.n_returns_only == q.n_input
    assert model.labels is not None and len(model.labels) == fitted
    assert sum(s.size for s in model.segments) == q.n_input - q.n_invalid
    assert {int(x) for x in np.unique(model.labels)} <= {s.id for s in model.segments}
    assert all(s.size > 0 for s in model.segments)
    shares = sum(s.share for s in model.segments)
    assert shares == pytest.approx(1.0, abs=1e-6)
    for s in model.segments:  # every average is a number (JSON holds no NaN)
        assert all(np.isfinite(v) for v in s.means.values()), (s.id, s.means)


def test_the_sweep_covers_every_declared_parameter():
    swept = {(a, p) for a, p, _ in CASES if p}
    declared = {(name, p.name) for name, spec in ALGORITHMS.items() for p in spec.params}
    assert swept == declared
    assert {a for a, _, _ in CASES} == set(ALGORITHMS)
    # a range's ends are tried: one case at each declared bound
    for name, spec in ALGORITHMS.items():
        for p in spec.params:
            tried = [v for a, n, v in CASES if (a, n) == (name, p.name)]
            if p.kind == "choice":
                assert tried == list(p.choices)
            else:
                assert p.low in tried and p.high in tried
