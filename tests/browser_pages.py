"""Steps the browser tests share: waiting for a Streamlit run, and scoring a file on the
Batch page and downloading what it offers."""

from __future__ import annotations

import pandas as pd


def wait_ready(page) -> None:
    """Streamlit has finished its run: no 'Running...' status, no spinner."""
    page.wait_for_load_state("networkidle")
    page.get_by_text("Running...").wait_for(state="detached", timeout=120_000)


def score_and_download(page, file_input, path, shot) -> tuple[pd.DataFrame, str]:
    """On the Batch page: give ``path`` to ``file_input``, wait for the scored file,
    take ``shot``, download it; the scored rows (text) and the file's suggested name."""
    page.get_by_role("heading", name="Score a batch").wait_for()
    file_input.set_input_files(str(path))
    button = page.get_by_role("button", name="Download scored CSV")
    button.wait_for()
    wait_ready(page)
    page.screenshot(path=shot, full_page=True)
    with page.expect_download() as info:
        button.click()
    scored = pd.read_csv(info.value.path(), dtype=str, keep_default_na=False)
    return scored, info.value.suggested_filename
