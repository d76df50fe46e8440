"""FastAPI adapter: the same middleware and helpers as the Starlette adapter.

FastAPI 0.142 and later also trace themselves with OpenTelemetry when a global tracer provider is
set. Both run side by side: FastAPI's server span wraps the whole app, our middleware sits inside it
and makes one request run from the LangSmith/W3C headers; neither reads nor changes the other's
context, so FastAPI's spans are unchanged and handlers see our run via ``get_current_run_tree()``.
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401  (the adapter is for FastAPI apps; fail early with the extra's name)
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError("the FastAPI adapter needs FastAPI: pip install 'tracing-middleware[fastapi]'") from None

from tracing_middleware.adapters.starlette import TracingMiddleware, add_tracing, request_run

__all__ = ["TracingMiddleware", "add_tracing", "request_run"]
