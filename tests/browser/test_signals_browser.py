"""Honest signals in a real Chromium: an atypical customer on Predict, a drifted batch on
Batch, and no headline figure cut at 1024, 1280 or 1440 px."""

from __future__ import annotations

import pytest
from browser_pages import WIDTHS, open_batch, wait_ready

import custseg

pytestmark = pytest.mark.browser


#: Each metric shown, and how many of its elements hold more than they show (text cut
#: with an ellipsis): the rendered width against the content's, not a screenshot.
CUT = """() => Array.from(document.querySelectorAll('[data-testid="stMetric"]')).map(m => [
  m.innerText.split(String.fromCharCode(10)).filter(t => t).join(' | '),
  [m, ...m.querySelectorAll('*')].filter(
    e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1).length])"""


def _uncut_at_every_width(page, shots, name: str) -> list[str]:
    """The metrics shown; fails naming any cut at one of the widths."""
    shown = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 2000})
        page.wait_for_function("w => window.innerWidth === w", arg=width)
        wait_ready(page)
        page.screenshot(path=shots / f"{name}-{width}.png", full_page=True)
        metrics = page.evaluate(CUT)
        assert metrics, f"no metric on the page at {width} px"
        assert [text for text, cut in metrics if cut] == [], f"cut at {width} px"
        shown = [text for text, _ in metrics]
    return shown


def test_atypical_customer_and_drifted_batch(server, page, shots, tmp_path):
    page.goto(f"{server}/predict")
    page.get_by_role("heading", name="Predict a customer").wait_for()
    main = page.get_by_test_id("stMain")
    main.get_by_label("Age (years)", exact=True).fill("95")
    main.get_by_label("Annual income (k$)", exact=True).fill("500")
    main.get_by_label("Spending score (points)", exact=True).fill("100")
    page.get_by_role("button", name="Predict").click()
    main.get_by_text("Low confidence: atypical customer").wait_for()
    page.locator(".js-plotly-plot").nth(2).wait_for()
    wait_ready(page)
    assert main.get_by_text("High confidence").count() == 0
    shown = _uncut_at_every_width(page, shots, "predict-atypical")
    assert "Confidence | Low" in shown and "Typicality | Atypical" in shown
    nearest = next(t for t in shown if t.startswith("Nearest customer | "))
    assert nearest.endswith("× typical") and float(nearest.split(" | ")[1].split("×")[0]) > 20
    assert main.get_by_text("This customer is unlike any known customer. Its nearest known "
                            "customer is").count() == 1
    assert main.get_by_text("Age (years) 95 is above every customer of this segment",
                            exact=False).count() == 1

    # an invalid value: the result goes, the message is in the main area
    main.get_by_label("Age (years)", exact=True).fill("-5")
    page.get_by_role("button", name="Predict").click()
    error = main.get_by_text("cannot place this customer: age: -5 years is outside 16–100 years.")
    error.wait_for()
    wait_ready(page)
    assert page.get_by_test_id("stMetric").count() == 0
    assert page.get_by_test_id("stSidebar").get_by_text("cannot place").count() == 0

    older = custseg.make_customers(800, seed=8)
    older["age"] = older["age"].clip(upper=60) + 35
    path = tmp_path / "older customers.csv"
    older.to_csv(path, index=False)
    open_batch(page, server, path)
    warning = main.get_by_text("These customers differ from the ones the model was fitted on: "
                               "Age (years) (PSI ")
    assert warning.count() == 1
    assert main.get_by_text("Population stability index per feature").count() == 1
    shown = _uncut_at_every_width(page, shots, "batch-drift")
    assert "Scored | 800" in shown and "Duplicate ids | 0" in shown
