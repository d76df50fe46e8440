"""Shared fixtures: ``memory`` records every finished run in an in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tracing_middleware
from tracing_middleware import InMemoryExporter


@pytest.fixture
def memory() -> Iterator[InMemoryExporter]:
    """An ``InMemoryExporter`` receiving every run finished in the test; tracing is reset to no exporter after."""
    exporter = InMemoryExporter()
    tracing_middleware.configure(exporter=exporter)
    try:
        yield exporter
    finally:
        tracing_middleware.configure(exporter="none")
