"""What the dashboard says in words (issue 14): names that do not hide a segment's
strongest trait, rules in labels and units, p-values as "< 0.001", the algorithm's label
with 'auto' for a setting left to it."""

from __future__ import annotations

import re

from inspect_tables import aged_enthusiasts
from streamlit_text import unescape


def _texts(at) -> list[str]:
    """Markdown and captions as a reader sees them (the pages escape user text)."""
    return [unescape(m.value) for m in at.markdown] + [unescape(c.value) for c in at.caption]


def test_the_dashboard_says_the_age_the_name_hides(fresh_app, tmp_path):
    path = tmp_path / "shop.csv"
    aged_enthusiasts().to_csv(path, index=False)
    at = fresh_app(path)
    assert not at.exception, [e.message for e in at.exception]
    model = at.session_state["_view"].model
    old = [s for s in model.segments if s.means["age"] > 70]
    assert old and all("Also notable: Age" in s.description for s in old)
    assert all("Also notable" not in s.description for s in model.segments if s not in old)
    shown = [t for t in _texts(at) if "Also notable: Age" in t]
    assert sorted(shown) == sorted(s.description for s in old)  # each on its card
    assert all("well above the base's" in t for t in shown)


def test_rules_headers_and_p_values_read_as_people_write_them(app, go):
    texts = _texts(app)
    header = next(t for t in texts if t.startswith("K-Means ("))
    assert header.startswith("K-Means (n_clusters=5, n_init=10) on age, annual income")
    rules = [t for t in texts if t.startswith("- ") and "precision" in t]
    assert rules, texts
    for rule in rules:  # "- Annual income ≥ 55 k$ and … — precision 100%, coverage 98%"
        assert "_" not in rule.split(" — ")[0] and "<=" not in rule, rule
        assert re.search(r"(≥|≤|from) [\d,]+( to [\d,]+)? (k\$|years|points)", rule), rule
    app.selectbox(key="algorithm").set_value("hdbscan").run()
    header = next(t for t in _texts(app) if t.startswith("HDBSCAN ("))
    assert "min_samples=auto" in header and "None" not in header
    go(app, "explore")
    compared = next(f.value for f in app.dataframe if "p-value" in f.value.columns)
    assert "Annual income (k$)" in set(compared["feature"])
    assert "< 0.001" in set(compared["p-value"])  # the demo's segments differ strongly
    assert "p_value" not in compared.columns


def test_headline_and_overview_say_millions_short_enough_to_read_whole():
    """Balances of 13,680,295.5 $ were cut to "13,680,…" in the headline at 1024 px, and
    to ",876,755.9" (read as another number) in the overview's cells."""
    import re

    import numpy as np
    import pandas as pd

    from custseg import api
    from custseg.app.glance import _shown
    from custseg.io.source import table_from_frame
    from custseg.model import summaries

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"customer_id": range(400),
                          "balance_usd": rng.lognormal(16.4, 0.3, 400).round(1),
                          "visits": rng.integers(1, 60, 400)})
    model = api.fit(frame, features=["balance_usd", "visits"])
    figures = {label: value for label, value, _ in summaries.headline_figures(model)}
    balance = next(v for k, v in figures.items() if k.startswith("balance"))
    assert re.fullmatch(r"\d{1,3}\.\dM \$", balance), figures
    valid = table_from_frame(frame).validated(model.config.needs, model.config.ranges,
                                              model.config.spec).valid_values()
    cells = _shown(summaries.overview(model, valid, model.labels))
    column = next(c for c in cells if c.lower().startswith("balance"))
    assert all(re.fullmatch(r"\d{1,3}\.\dM", v) for v in cells[column]), cells[column]
