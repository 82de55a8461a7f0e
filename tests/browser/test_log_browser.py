"""A transaction log in a real headless Chromium at 1280 px (issue 17): uploaded, said to
be a log, aggregated, segmented, with the recency x frequency grid, then Predict and a
Batch of the same log. Screenshots under test-output/screenshots/log-*.png."""

from __future__ import annotations

import pytest
from browser_pages import score_and_download, wait_ready

from custseg.table.sample_log import make_transactions

pytestmark = pytest.mark.browser


@pytest.fixture
def narrow(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1800},
                                  accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(90_000)
    yield page
    context.close()


def test_a_log_upload_to_segments_predict_and_batch(server, narrow, shots, tmp_path):
    page = narrow
    log, _ = make_transactions(6_000, seed=1)
    path = tmp_path / "orders.csv"
    log.to_csv(path, index=False)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server)
    wait_ready(page)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Upload a file", exact=True).click()
    wait_ready(page)
    sidebar.locator('input[type="file"]').set_input_files(str(path))
    sidebar.get_by_text("A transaction log", exact=False).wait_for()
    main = page.get_by_test_id("stMain")
    main.get_by_text("Lines read", exact=True).wait_for()
    main.get_by_text("Recency × frequency", exact=False).first.wait_for()
    wait_ready(page)
    page.screenshot(path=shots / "log-dashboard.png", full_page=True)
    assert main.get_by_text("6,000", exact=True).count() >= 1  # lines read, and used
    assert sidebar.get_by_text("Columns taken", exact=False).count() == 0
    assert main.get_by_text("Columns taken: customer CustomerID", exact=False).count() == 1
    grid = page.locator(".js-plotly-plot").first
    grid.screenshot(path=shots / "log-rfm-grid.png")

    sidebar.get_by_role("link", name="Predict").click()
    wait_ready(page)
    page.get_by_role("heading", name="Predict a customer").wait_for()
    main.get_by_label("recency_days (days)", exact=True).fill("4")
    main.get_by_label("frequency", exact=True).fill("45")
    main.get_by_label("monetary", exact=True).fill("6000")
    main.get_by_role("button", name="Predict").click()
    page.get_by_text("Against the segment's averages").wait_for()
    wait_ready(page)
    page.screenshot(path=shots / "log-predict.png", full_page=True)

    sidebar.get_by_role("link", name="Batch").click()
    wait_ready(page)
    file_input = main.locator('input[type="file"]')
    scored, name = score_and_download(page, file_input, path, shots / "log-batch.png")
    customers = log["CustomerID"].nunique()
    assert len(scored) == customers and name == "orders_scored.csv"
    assert set(scored["row_status"]) == {"ok"}
    assert scored["segment_name"].str.len().gt(0).all()
    assert not errors, errors
