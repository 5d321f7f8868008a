"""Playwright driving Debian's Chromium (never a downloaded browser) against the live server.

Without Chromium or Playwright the browser tests skip with the reason; with ``CI=true`` they
fail instead, so CI cannot skip them unnoticed (``.ci/run`` installs the ``chromium`` package).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from django.db import connections

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling Google's services, which
# floods a closed network with failing connections.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
# Every Playwright wait (click, fill, expect) gives up after this long unless told otherwise.
DEFAULT_TIMEOUT_MS = 15_000
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def unavailable(reason: str) -> NoReturn:
    """Skip on a developer machine; fail in CI, where the browser test must run."""
    if os.environ.get("CI", "").strip().lower() in {"true", "1"}:
        pytest.fail(f"{reason} — CI=true, so the browser test may not be skipped", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def chromium() -> Iterator[Any]:
    """A headless Debian Chromium launched by Playwright; closed afterwards."""
    if not Path(CHROMIUM_PATH).is_file() or not os.access(CHROMIUM_PATH, os.X_OK):
        unavailable(
            f"Chromium not found at {CHROMIUM_PATH} (install the Debian package `chromium` "
            "or set CHROMIUM_PATH)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (pip install -e '.[dev]')")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # While Playwright runs, the test sees another contextvars context, so Django
            # opened it a connection of its own that pytest-django's teardown cannot see;
            # left open, it keeps the test database from being dropped.
            connections.close_all()


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    """docs/screenshots with SAVE_SCREENSHOTS=1, so CI does not rewrite them; else a tmp dir."""
    if os.environ.get("SAVE_SCREENSHOTS", "") == "1":
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        return SCREENSHOT_DIR
    return tmp_path
