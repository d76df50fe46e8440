"""Fixtures for the viewer: one Chromium per browser-test module (apt-get installs it when missing), fresh pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from viewer_support import CHROMIUM, CHROMIUM_ARGS, ensure_chromium


# Module scope, not session: playwright's sync API keeps an asyncio loop running in the main thread for as
# long as ``sync_playwright()`` is open, so a session-wide browser would make every later ``asyncio.run()``
# (aiohttp, ASGI, celery tests collected after this directory) fail with "cannot be called from a running
# event loop". Only test_viewer_browser.py drives the browser, so this still launches Chromium once.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, driven by playwright (no browser download)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    reason = ensure_chromium()
    if reason is not None:
        pytest.skip(reason)
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page that records script errors and dialogs; the test fails on either."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.problems = problems
    try:
        yield page
    finally:
        context.close()
    assert not problems, problems
