"""Hooks for path/to/peer_overhead.py's outbound (``httpx``) case.

    python path/to/peer_overhead.py --kinds httpx --ours bench.hooks:no_app \
        --ours-setup bench.hooks:setup --ours-httpx bench.hooks:instrument_client --ours-span bench.hooks:parent_span

(``bench`` is importable when the package is installed editable; otherwise add ``PYTHONPATH=.``.)
``setup`` configures a discarding exporter; ``instrument_client`` takes the zero-code path
(``instrument()``, which also covers the benchmark's ``MockTransport`` client); ``parent_span`` opens
the parent run. ``no_app`` only satisfies ``--ours`` (needed to enable our family) and skips the
inbound kinds, which have hooks of their own.
"""

from __future__ import annotations

from typing import Any

import tracing_middleware as tm
from bench.asgi_hooks import DiscardExporter, setup
from tracing_middleware.transports.instrument import instrument

__all__ = ["DiscardExporter", "instrument_client", "setup"]


def instrument_client(client: Any) -> Any:
    instrument()
    return client


def instrument_client_explicit(client: Any) -> Any:
    """The explicit path: the client's transport wrapped in a TracingTransport."""
    from tracing_middleware.transports.httpx import TracingTransport

    client._transport = TracingTransport(client._transport)
    return client


def parent_span(name: str) -> Any:
    return tm.trace(name)


def no_app(app: Any) -> Any:
    raise NotImplementedError("bench.hooks covers the outbound case only")
