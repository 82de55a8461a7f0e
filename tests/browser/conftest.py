"""A real custseg app on 127.0.0.1 and Debian's Chromium driven by Playwright.

Playwright's own browser download does not work here, so the tests launch
/usr/bin/chromium. Where it is missing they skip with that reason; with
CUSTSEG_REQUIRE_BROWSER=1 (set by .ci/run) they fail instead, so CI never passes
without them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _need_browser() -> None:
    if not Path(CHROMIUM).exists():
        reason = f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CUSTSEG_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(data: Path | None) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    script = shutil.which("custseg") or str(Path(sys.executable).with_name("custseg"))
    cmd = [script, "app", "--port", str(port), "--address", "127.0.0.1"]
    if data is not None:
        cmd += ["--data", str(data)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.read() == b"ok":
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"custseg app did not start: {proc.stdout.read().decode()[-2000:]}")


def _stop(proc: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def server():
    _need_browser()
    proc, url = _start(None)
    yield url
    _stop(proc)


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(viewport={"width": 1440, "height": 2400}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(90_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture(scope="module")
def start_app():
    """start_app(data) -> the URL of another app, on the start-up file ``data``; every app
    started is stopped after the module."""
    _need_browser()
    started: list[subprocess.Popen] = []

    def start(data: Path) -> str:
        proc, url = _start(data)
        started.append(proc)
        return url

    yield start
    for proc in started:
        _stop(proc)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test leaves a screenshot and the page's text (in the report, so
    that a CI log shows what the page said when a wait timed out)."""
    report = yield
    page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and page is not None:
        try:
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SHOTS / f"FAILED-{item.name}.png", full_page=True)
            text = page.locator("body").inner_text(timeout=5_000)
            report.sections.append(("page text at the failure", f"{page.url}\n{text[:4000]}"))
        except Exception as exc:  # the page may be gone; the failure itself matters more
            report.sections.append(("page text at the failure", f"not read: {exc}"))
    return report
