"""Hooks for an external per-request overhead benchmark: wrap a WSGI app with ``WSGITracingMiddleware``, discard runs.

From the repository root (so ``bench`` is importable)::

    python path/to/peer_overhead.py --kinds wsgi \
        --ours bench.wsgi_hooks:wrap --ours-wsgi bench.wsgi_hooks:wrap --ours-setup bench.wsgi_hooks:setup

``wrap`` raises ``TypeError`` for an ASGI app, which such a benchmark skips. Outbound instrumentation is
off (``instrument_outbound=False``): it is a one-time cost, not a per-request one.
"""

from __future__ import annotations

from typing import Any

from bench.asgi_hooks import DiscardExporter, is_asgi, setup
from tracing_middleware.middleware.wsgi import WSGITracingMiddleware

__all__ = ["DiscardExporter", "setup", "wrap"]


def wrap(app: Any, **options: Any) -> Any:
    if is_asgi(app):
        raise TypeError("WSGITracingMiddleware wraps WSGI apps; this is an ASGI app (use the ASGI middleware)")
    return WSGITracingMiddleware(app, **{"instrument_outbound": False, **options})
