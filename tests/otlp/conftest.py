"""Fixtures for the OTLP tests: a local OTLP/HTTP receiver (subprocess) and a clean tracing setup.

Only the standard library is imported here: each test module skips itself with
``pytest.importorskip`` when OpenTelemetry is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from otlp_support import Receiver, receiver_process

import tracing_middleware


@pytest.fixture(scope="module")
def otlp_receiver_module() -> Iterator[Receiver]:
    with receiver_process() as receiver:
        yield receiver


@pytest.fixture
def otlp_receiver(otlp_receiver_module: Receiver) -> Receiver:
    """A running OTLP receiver, emptied and accepting, for one test."""
    otlp_receiver_module.clear()
    return otlp_receiver_module


@pytest.fixture
def no_tracing_after() -> Iterator[None]:
    """Whatever the test configures, tracing goes back to no exporter afterwards."""
    try:
        yield
    finally:
        tracing_middleware.configure(exporter="none")
