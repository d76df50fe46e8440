"""aiohttp tests: a clean outbound state after each test (servers: ``aiohttp_support.serving``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("aiohttp")

from tracing_middleware import get_runtime, use_runtime
from tracing_middleware.transports.instrument import uninstrument


@pytest.fixture(autouse=True)
def _clean_outbound() -> Iterator[None]:
    """Each test's outbound options and excluded URLs in a runtime of its own; patches taken out after."""
    with use_runtime(get_runtime().copy(outbound_options=None, excluded_urls=())):
        yield
    uninstrument()
