"""aiohttp tests: a clean outbound state after each test (servers: ``aiohttp_support.serving``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("aiohttp")

from tracing_middleware.instrument import uninstrument
from tracing_middleware.transports import client_run, targets


@pytest.fixture(autouse=True)
def _clean_outbound() -> Iterator[None]:
    yield
    uninstrument()
    client_run.set_global_options(client_run.Options(True, targets.PropagationTargets(None)))
