"""aiohttp servers on 127.0.0.1 in the test's own event loop, and a clean outbound state after each test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest

pytest.importorskip("aiohttp")

from aiohttp import web
from netutil import free_port

from tracing_middleware.instrument import uninstrument
from tracing_middleware.transports import client_run, targets


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` with aiohttp's own server on 127.0.0.1; yields its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture(autouse=True)
def _clean_outbound() -> Iterator[None]:
    yield
    uninstrument()
    client_run.set_global_options(client_run.Options(True, targets.PropagationTargets(None)))
