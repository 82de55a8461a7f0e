"""Any customer table in a real headless Chromium (issue 16): a 17-column numeric table
and a mixed marketing table, from feature choice to Predict and Batch, with screenshots
under test-output/screenshots/any-*.png."""

from __future__ import annotations

import pandas as pd
import pytest
from browser_pages import score_and_download, wait_ready
from inspect_tables import credit_card, marketing

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("any-table")
    cards = folder / "cards.csv"
    credit_card(400).to_csv(cards, index=False)
    shop = folder / "marketing.tsv"
    marketing(400).to_csv(shop, index=False, sep="\t")
    return {"cards": cards, "marketing": shop, "folder": folder}


@pytest.fixture(scope="module")
def cards_server(start_app, files):
    return start_app(files["cards"])


@pytest.fixture(scope="module")
def marketing_server(start_app, files):
    return start_app(files["marketing"])


def sidebar(page):
    return page.get_by_test_id("stSidebar")


def choose(page, label: str, option: str, within=None) -> None:
    """Pick ``option`` in the select labelled ``label``."""
    page.wait_for_timeout(500)  # a rerun's stale copy of the select leaves the page
    (within or page).get_by_label(label, exact=True).last.click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_ready(page)


def open_expander(page, title: str) -> None:
    sidebar(page).get_by_text(title, exact=True).click()


def go(page, name: str) -> None:
    """Another page of the same session, through the navigation (a reload would start a
    new session)."""
    sidebar(page).get_by_role("link", name=name).click()
    wait_ready(page)


def batch_and_download(page, path, shot) -> pd.DataFrame:
    go(page, "Batch")
    file_input = page.get_by_test_id("stMain").locator('input[type="file"]')
    return score_and_download(page, file_input, path, shot)[0]


def test_a_17_column_table_in_the_browser(cards_server, page, shots, files):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(cards_server)
    page.get_by_role("heading", name="Customer segments").wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    wait_ready(page)
    page.screenshot(path=shots / "any-cards-dashboard-default.png", full_page=True)
    assert page.get_by_text("BALANCE (average)").count() == 1

    # a derivation and a transform, under the feature expander
    open_expander(page, "Derived features, roles, transforms")
    box = sidebar(page).get_by_label("Derived features", exact=True)
    box.fill("spend_per_purchase = PURCHASES / (PURCHASES_TRX + 1)")
    box.press("Control+Enter")
    wait_ready(page)
    features = sidebar(page).get_by_label("Features", exact=True)
    features.click()
    page.get_by_role("option", name="spend_per_purchase (derived)").click()
    page.keyboard.press("Escape")
    wait_ready(page)
    choose(page, "Adjust a feature", "CASH_ADVANCE", sidebar(page))
    choose(page, "Transform", "none", sidebar(page))
    page.screenshot(path=shots / "any-cards-sidebar.png", full_page=True)
    settings = sidebar(page).get_by_test_id("stDataFrame")
    assert settings.count() >= 1
    page.get_by_text("spend_per_purchase").first.wait_for()
    page.screenshot(path=shots / "any-cards-dashboard.png", full_page=True)

    go(page, "Explore")
    page.locator(".js-plotly-plot").first.wait_for()
    wait_ready(page)
    page.screenshot(path=shots / "any-cards-explore.png", full_page=True)

    go(page, "Predict")
    page.get_by_role("heading", name="Predict a customer").wait_for()
    main = page.get_by_test_id("stMain")
    main.get_by_label("PURCHASES", exact=True).fill("5000")
    main.get_by_label("PURCHASES_TRX", exact=True).fill("49")
    main.get_by_role("button", name="Predict").click()
    page.get_by_text("Against the segment's averages").wait_for()
    wait_ready(page)
    page.screenshot(path=shots / "any-cards-predict.png", full_page=True)
    assert main.locator(".js-plotly-plot").count() == 18  # one gauge per feature

    batch = credit_card(150, seed=9)
    batch.loc[3, "BALANCE"] = "lots"
    path = files["folder"] / "more cards.csv"
    batch.to_csv(path, index=False)
    scored = batch_and_download(page, path, shots / "any-cards-batch.png")
    assert scored["CUST_ID"].tolist() == batch["CUST_ID"].tolist()
    assert scored.loc[3, "row_status"] == "invalid"
    assert page.get_by_text("Traceback").count() == 0
    assert errors == []


def test_a_mixed_table_in_the_browser(marketing_server, page, shots, files):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(marketing_server)
    wait_ready(page)
    # dollar incomes under a bare "Income" header: read in dollars, and said
    page.get_by_text("read as dollars and converted to k$").first.wait_for()
    wait_ready(page)
    page.screenshot(path=shots / "any-marketing-income-read.png", full_page=True)
    page.get_by_role("heading", name="Customer segments").wait_for()
    # and clustered on a categorical column too
    choose(page, "Categorical columns", "Education", sidebar(page))
    page.keyboard.press("Escape")  # close the multiselect's list
    wait_ready(page)
    page.screenshot(path=shots / "any-marketing-categorical.png", full_page=True)
    page.get_by_role("heading", name="Customer segments").wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    wait_ready(page)
    assert page.get_by_text("Average income").count() == 1
    open_expander(page, "Derived features, roles, transforms")
    choose(page, "Adjust a feature", "NumWebVisitsMonth", sidebar(page))
    choose(page, "Role", "frequency", sidebar(page))
    choose(page, "Transform", "log1p", sidebar(page))
    page.screenshot(path=shots / "any-marketing-dashboard.png", full_page=True)

    go(page, "Explore")
    page.locator(".js-plotly-plot").first.wait_for()
    wait_ready(page)
    page.screenshot(path=shots / "any-marketing-explore.png", full_page=True)

    go(page, "Predict")
    main = page.get_by_test_id("stMain")
    main.get_by_label("Year_Birth (year)", exact=True).fill("1990")
    main.get_by_label("Dt_Customer", exact=True).fill("15-06-2013")
    choose(page, "Education", "PhD", main)
    main.get_by_role("button", name="Predict").click()
    page.get_by_text("Against the segment's averages").wait_for()
    wait_ready(page)
    page.screenshot(path=shots / "any-marketing-predict.png", full_page=True)

    batch = marketing(90, seed=4)
    path = files["folder"] / "next.tsv"
    batch.to_csv(path, index=False, sep="\t")
    scored = batch_and_download(page, path, shots / "any-marketing-batch.png")
    assert len(scored) == 90
    assert scored["ID"].tolist() == batch["ID"].tolist()
    assert page.get_by_text("Traceback").count() == 0
    assert errors == []
