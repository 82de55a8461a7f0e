"""A table of wide figures in a real Chromium at 1024, 1280 and 1440 px. Predict: every
number input shows its whole start value (a balance of 9190718.76 showed "91907" in a
quarter of the main area, and ``%g`` kept six of its digits), and the segment's name is
a heading that wraps (a metric cut long names with an ellipsis). Dashboard: the
headline averages are whole ("14.7 years" and "tenure_years (average)" were cut)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from browser_pages import WIDTHS, cut, open_at, wait_ready

pytestmark = pytest.mark.browser

#: [label, value shown, scrollWidth, clientWidth] of each number input in the main area.
FIELDS = '[data-testid="stMain"] input[data-testid="stNumberInputField"]'
INPUTS = f"""() => Array.from(document.querySelectorAll('{FIELDS}')).map(i => [
  i.getAttribute('aria-label'), i.value, i.scrollWidth, i.clientWidth])"""


@pytest.fixture(scope="module")
def wide_app(start_app, tmp_path_factory) -> str:
    rng = np.random.default_rng(4)
    n = 600
    frame = pd.DataFrame({"customer": [f"W{i:04d}" for i in range(n)],
                          "balance": rng.normal(9_000_000, 1_500_000, n).round(2),
                          "visits": rng.normal(6, 2, n).round(1).clip(0),
                          "tenure_years": rng.integers(1, 30, n)})
    path = tmp_path_factory.mktemp("wide") / "wide balances.csv"
    frame.to_csv(path, index=False)
    return start_app(path)


def test_wide_values_and_the_segment_name_are_whole_at_every_width(wide_app, browser, shots):
    for width in WIDTHS:
        context, page = open_at(browser, wide_app.rstrip("/") + "/predict", width,
                                "Predict a customer's segment")
        try:
            main = page.get_by_test_id("stMain")
            page.wait_for_function(f"() => document.querySelectorAll('{FIELDS}').length === 3")
            wait_ready(page)
            inputs = page.evaluate(INPUTS)
            page.screenshot(path=shots / f"predict-wide-form-{width}.png", full_page=True)
            assert len(inputs) == 3, inputs
            assert [i for i in inputs if i[2] > i[3]] == [], f"input cut at {width} px"
            balance = next(i[1] for i in inputs if i[0].startswith("balance"))
            assert re.fullmatch(r"\d{7}\.\d{2}", balance), balance  # every digit, 2 places
            main.get_by_role("button", name="Predict").click()
            page.get_by_text("Against the segment's averages").wait_for()
            page.locator(".js-plotly-plot").nth(2).wait_for()  # the last of the results
            page.get_by_test_id("stMetric").nth(3).wait_for()
            wait_ready(page)
            heading = main.get_by_role("heading", name=re.compile(r"^(Nearest s|S)egment: "))
            assert heading.count() == 1
            assert cut(heading) == [], f"segment name cut at {width} px"
            assert cut(page.get_by_test_id("stMetric")) == [], f"metric cut at {width} px"
            page.screenshot(path=shots / f"predict-wide-{width}.png", full_page=True)
        finally:
            context.close()


def test_the_dashboard_headline_is_whole_at_every_width(wide_app, browser, shots):
    for width in WIDTHS:
        context, page = open_at(browser, wide_app, width, "Customer segments")
        try:
            page.get_by_text("All segments at a glance").wait_for()
            metrics = page.get_by_test_id("stMetric")
            metrics.nth(5).wait_for()
            wait_ready(page)
            assert metrics.count() == 6  # customers, segments, outliers; three averages
            assert cut(metrics) == [], f"headline cut at {width} px"
            assert page.get_by_test_id("stMetric").filter(
                has_text="tenure_years (average)").inner_text().endswith("years")
            page.screenshot(path=shots / f"dashboard-wide-{width}.png")
        finally:
            context.close()
