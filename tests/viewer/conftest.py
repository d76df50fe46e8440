"""Fixtures for the viewer: one Chromium per session (installed with apt-get when missing), a sample store."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from viewer_support import CHROMIUM, CHROMIUM_ARGS, child, ensure_chromium, root, store

HOSTILE_NAME = "<img src=x onerror=window.__pwned=1>"
HOSTILE_INPUT = "<script>window.__pwned=2</script>"


@pytest.fixture(scope="session")
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


@pytest.fixture
def sample_store(tmp_path: pathlib.Path) -> dict[str, Any]:
    """A store with a cross-service trace (known timings), an error trace, a hostile one and tagged ones."""
    db = tmp_path / "traces.sqlite3"
    checkout = root("POST /checkout", 0, 200, inputs={"order": "A1"}, project_name="shop", tags=["prod"],
                    metadata={"customer": "c42"})  # fmt: skip
    verify = child(checkout, "verify_session", 5, 25, "tool")
    client = child(checkout, "POST payments/charge", 40, 190)
    callee = child(client, "POST /charge", 60, 170)  # 20 ms on the wire before the callee starts
    score = child(callee, "fraud_score", 65, 120, "llm", outputs={"score": 0.1})
    fail = child(callee, "gateway.authorize", 125, 165, "tool", error="GatewayTimeout: no answer\nTraceback: ...")
    store(db, [verify, client, checkout], service="shop-api")
    store(db, [score, fail, callee], service="payments")
    health = root("GET /health", 1000, 1002, project_name="default")
    store(db, [health], service="shop-api")
    hostile = root(HOSTILE_NAME, 2000, 2050, inputs={"text": HOSTILE_INPUT}, tags=[HOSTILE_INPUT],
                   metadata={"note": HOSTILE_NAME})  # fmt: skip
    store(db, [hostile], service="<b>svc</b>")
    # In progress: a child stored whose parent has not finished (so is not stored) yet.
    unfinished = root("long job", 3000, None)
    step = child(unfinished, "step one", 3010, 3020)
    store(db, [step], service="worker")
    return {
        "db": db, "checkout": checkout, "client": client, "callee": callee, "fail": fail, "health": health,
        "hostile": hostile, "unfinished": unfinished, "step": step,
    }  # fmt: skip
