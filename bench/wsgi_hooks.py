"""Hooks for an external per-request overhead benchmark: wrap a WSGI app with ``WSGITracingMiddleware``, discard runs.

From the repository root (so ``bench`` is importable)::

    python /work/shared/bench/peer_overhead.py --kinds wsgi \
        --ours bench.wsgi_hooks:wrap --ours-wsgi bench.wsgi_hooks:wrap --ours-setup bench.wsgi_hooks:setup

``wrap`` raises ``TypeError`` for an ASGI app, which such a benchmark skips. Outbound instrumentation is
off (``instrument_outbound=False``): it is a one-time cost, not a per-request one.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import tracing_middleware
from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.middleware.wsgi import WSGITracingMiddleware


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
    if is_asgi(app):
        raise TypeError("WSGITracingMiddleware wraps WSGI apps; this is an ASGI app (use the ASGI middleware)")
    return WSGITracingMiddleware(app, **{"instrument_outbound": False, **options})
