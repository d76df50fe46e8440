"""FastAPI adapter: the same middleware and helpers as the Starlette adapter.

FastAPI 0.142 and later also trace themselves with OpenTelemetry when a global tracer provider is
set. FastAPI's server span wraps the whole app and our middleware sits inside it; with the
OpenTelemetry bridge (``tracing_middleware.bridges``, on by default) the request run goes under that
span and FastAPI's operation spans under the request run: one trace per request. With the bridges
off (``TRACING_MIDDLEWARE_BRIDGES=none``) the two run side by side, each following the headers.
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401  (the adapter is for FastAPI apps; fail early with the extra's name)
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError("the FastAPI adapter needs FastAPI: pip install 'tracing-middleware[fastapi]'") from None

from tracing_middleware.adapters.starlette import TracingMiddleware, add_tracing, request_run

__all__ = ["TracingMiddleware", "add_tracing", "request_run"]
