"""Steps the browser tests share: waiting for a Streamlit run, scoring a file on the
Batch page (and downloading what it offers), and measuring text cut by its element."""

from __future__ import annotations

import pandas as pd
from playwright.sync_api import TimeoutError as PlaywrightTimeout


def wait_ready(page) -> None:
    """Streamlit has finished its run: no 'Running...' status, no spinner."""
    page.wait_for_load_state("networkidle")
    page.get_by_text("Running...").wait_for(state="detached", timeout=120_000)


def shown_in_tab(page, tab: str, locator, tries: int = 4) -> None:
    """``locator`` visible on the tab named ``tab``. The tab is clicked again when the
    locator stays hidden: a click that lands while a rerun is still drawing the page can
    be undone by it, on a loaded machine."""
    for attempt in range(tries):
        page.get_by_role("tab", name=tab).click()
        try:
            locator.wait_for(timeout=30_000)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise
            wait_ready(page)


def download(page, button, tries: int = 3, timeout_ms: int = 30_000):
    """The file ``button`` downloads. Clicked again when nothing comes: a click that lands
    while a rerun redraws the button (a tab switch reruns the page) asks for data the new
    run has already replaced, and the browser gets nothing, on a loaded machine."""
    for attempt in range(tries):
        wait_ready(page)
        try:
            with page.expect_download(timeout=timeout_ms) as info:
                button.click()
            return info.value
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise


#: The widths issue 14 asks every page to be read at.
WIDTHS = (1024, 1280, 1440)

#: [text, scrollWidth, clientWidth] of each element matched and of every element inside
#: it (the inner one is the one Streamlit cuts with an ellipsis).
MEASURE = """els => els.flatMap(e => [e, ...e.querySelectorAll('*')].map(
    c => [e.innerText, c.scrollWidth, c.clientWidth]))"""


def open_at(browser, url: str, width: int, heading: str, timeout_ms: int = 90_000):
    """A new context ``width`` px wide (downloads accepted) on ``url``, once ``heading``
    shows and the run has ended: (context, page); the caller closes the context."""
    context = browser.new_context(viewport={"width": width, "height": 1400},
                                  accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    page.goto(url)
    page.get_by_role("heading", name=heading).wait_for()
    wait_ready(page)
    return context, page


def cut(locator) -> list:
    """The elements of ``locator`` (or inside them) whose content is wider than they
    are, as [text, scrollWidth, clientWidth]; fails when nothing was measured."""
    measured = locator.evaluate_all(MEASURE)
    assert measured
    return [m for m in measured if m[1] > m[2]]


def open_batch(page, server: str, path) -> None:
    """The Batch page with ``path`` uploaded and scored (its download offered)."""
    page.goto(f"{server}/batch")
    upload_batch(page, page.locator('input[type="file"]').last, path)


def upload_batch(page, file_input, path):
    """On the Batch page: give ``path`` to ``file_input`` and wait for the scored file;
    the download button."""
    page.get_by_role("heading", name="Score a batch").wait_for()
    file_input.set_input_files(str(path))
    button = page.get_by_role("button", name="Download scored CSV")
    button.wait_for()
    wait_ready(page)
    return button


def score_and_download(page, file_input, path, shot) -> tuple[pd.DataFrame, str]:
    """On the Batch page: give ``path`` to ``file_input``, wait for the scored file,
    take ``shot``, download it; the scored rows (text) and the file's suggested name."""
    button = upload_batch(page, file_input, path)
    page.screenshot(path=shot, full_page=True)
    got = download(page, button)
    scored = pd.read_csv(got.path(), dtype=str, keep_default_na=False)
    return scored, got.suggested_filename
