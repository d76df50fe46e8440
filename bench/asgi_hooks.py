"""Hooks for an external per-request overhead benchmark: wrap an app with ``TracingMiddleware``, discard runs.

``--ours bench.asgi_hooks:wrap --ours-setup bench.asgi_hooks:setup`` (run from the repository root, so
``bench`` is importable). ``wrap`` raises ``TypeError`` for a WSGI app, which such a benchmark skips.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import tracing_middleware
from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.middleware.asgi import TracingMiddleware


class DiscardExporter:
    """Takes every finished run and keeps nothing: measures the request path, not storage."""

    def __init__(self) -> None:
        self.count = 0

    def export(self, runs: Sequence[RunTree]) -> None:
        self.count += len(runs)

    def shutdown(self) -> None:
        pass


def setup() -> None:
    tracing_middleware.configure(exporter=DiscardExporter())


def is_asgi(app: Any) -> bool:
    if inspect.isfunction(app) or inspect.ismethod(app):
        return inspect.iscoroutinefunction(app)
    return inspect.iscoroutinefunction(type(app).__call__)


def wrap(app: Any, **options: Any) -> Any:
    if not is_asgi(app):
        raise TypeError("TracingMiddleware wraps ASGI apps; this is a WSGI app (use the WSGI middleware)")
    return TracingMiddleware(app, **options)
