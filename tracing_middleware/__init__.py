"""Distributed tracing for Python web services, wire-compatible with LangSmith and W3C Trace Context.

The public API; importing it loads no framework, client or exporter module.
"""

from __future__ import annotations

from tracing_middleware.core.config import EXPORTERS, configure, flush, get_settings, shutdown
from tracing_middleware.core.context import (
    bind_context,
    get_current_run_tree,
    get_tracing_context,
    suppress_tracing,
    tracing_context,
)
from tracing_middleware.core.pipeline import Exporter
from tracing_middleware.core.propagation import extract, inject
from tracing_middleware.core.run_tree import RUN_TYPES, RunTree
from tracing_middleware.core.runtime import Runtime, get_runtime, set_runtime, use_runtime
from tracing_middleware.core.stats import ExporterStats, exporter_stats
from tracing_middleware.core.traceable import trace, traceable
from tracing_middleware.exporters.memory import InMemoryExporter
from tracing_middleware.logs import instrument_logging
from tracing_middleware.middleware.asgi import TracingMiddleware
from tracing_middleware.middleware.options import MiddlewareOptions, RequestInfo
from tracing_middleware.middleware.wsgi import WSGITracingMiddleware
from tracing_middleware.transports.instrument import instrument, instrument_on_import, uninstrument

# The inbound adapters switch outbound propagation on at their first request (patching each client
# library once the app imports it); the middleware layer reaches the transports above it only
# through this runtime field.
get_runtime().outbound_switch = instrument_on_import

__all__ = [
    "EXPORTERS",
    "RUN_TYPES",
    "Exporter",
    "InMemoryExporter",
    "RunTree",
    "TracingMiddleware",
    "WSGITracingMiddleware",
    "bind_context",
    "configure",
    "extract",
    "flush",
    "get_current_run_tree",
    "get_settings",
    "get_tracing_context",
    "inject",
    "instrument",
    "instrument_logging",
    "shutdown",
    "suppress_tracing",
    "trace",
    "traceable",
    "tracing_context",
    "uninstrument",
    "MiddlewareOptions",
    "RequestInfo",
    "Runtime",
    "get_runtime",
    "set_runtime",
    "use_runtime",
    "ExporterStats",
    "exporter_stats",
]
__version__ = "0.1.0"
