"""Shared fixtures: ``memory`` records every finished run in an in-memory exporter."""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Iterator

import pytest

import tracing_middleware
from tracing_middleware import InMemoryExporter

# A test run started in the background by a shell inherits SIGINT ignored, and so would every CLI and
# server it starts: Python then installs no KeyboardInterrupt handler, and the tests that stop one with
# Ctrl-C would wait in vain. With a handler here, the children start with the default again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Runs recorded by the default exporter (in subprocess servers too) never land in the user's own store.
os.environ.setdefault("TRACING_MIDDLEWARE_DB", os.path.join(tempfile.mkdtemp(prefix="tm-tests-"), "traces.sqlite3"))


@pytest.fixture
def memory() -> Iterator[InMemoryExporter]:
    """An ``InMemoryExporter`` receiving every run finished in the test; tracing is reset to no exporter after."""
    exporter = InMemoryExporter()
    tracing_middleware.configure(exporter=exporter)
    try:
        yield exporter
    finally:
        tracing_middleware.configure(exporter="none")
