"""Starlette (and everything built on it) adapter: the pure ASGI ``TracingMiddleware`` plus two helpers.

``app.add_middleware(TracingMiddleware, **options)`` is all an application needs. ``add_tracing``
does the same but checks the options at once (Starlette builds middleware lazily, at the first
request), and ``request_run`` returns the request's run from a ``Request`` or ``WebSocket``.
"""

from __future__ import annotations

from typing import Any, TypeVar

try:
    import starlette  # noqa: F401  (the adapter is for Starlette apps; fail early with the extra's name)
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError("the Starlette adapter needs Starlette: pip install 'tracing-middleware[fastapi]'") from None

from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.middleware.asgi import SCOPE_KEY, TracingMiddleware
from tracing_middleware.middleware.options import options_from

__all__ = ["TracingMiddleware", "add_tracing", "request_run"]

A = TypeVar("A")


def add_tracing(app: A, **options: Any) -> A:
    """Add ``TracingMiddleware`` to a Starlette/FastAPI ``app``, validating ``options`` now; returns ``app``."""
    add = getattr(app, "add_middleware", None)
    if not callable(add):
        raise TypeError(f"add_tracing takes a Starlette or FastAPI application; got {type(app).__name__}")
    options_from(dict(options))  # raises TypeError/ValueError for a bad option before the first request
    add(TracingMiddleware, **options)
    return app


def request_run(connection: Any) -> RunTree | None:
    """The run of this ``Request``/``WebSocket`` (None when untraced or with ``request_run=False``)."""
    scope = getattr(connection, "scope", connection)
    run = scope.get(SCOPE_KEY) if hasattr(scope, "get") else None
    return run if isinstance(run, RunTree) else None
