"""Outbound propagation: tracing headers (and a client run) on httpx and requests calls made inside a run.

Explicit: ``TracingTransport`` / ``AsyncTracingTransport`` (httpx, any inner transport) and
``TracingAdapter`` (requests). Zero-code: ``tracing_middleware.instrument()``. Which hosts may
receive headers: ``PropagationTargets`` and ``exclude_urls`` (see ``targets``).

Importing this package imports neither httpx nor requests and patches nothing; the client classes
load their library on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

from tracing_middleware.core.destinations import (
    PropagationTargets,
    exclude_urls,
    excluded_urls,
    include_urls,
    is_excluded,
)

__all__ = [
    "AsyncTracingTransport",
    "PropagationTargets",
    "TracingAdapter",
    "TracingTransport",
    "exclude_urls",
    "excluded_urls",
    "include_urls",
    "is_excluded",
]

_LAZY = {
    "TracingTransport": "tracing_middleware.transports.httpx",
    "AsyncTracingTransport": "tracing_middleware.transports.httpx",
    "TracingAdapter": "tracing_middleware.transports.requests",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
