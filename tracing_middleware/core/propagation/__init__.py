"""Header propagation: ``extract`` the caller's run from any carrier, ``inject`` ours into one."""

from __future__ import annotations

from typing import Any

from tracing_middleware.core import destinations
from tracing_middleware.core.propagation import baggage
from tracing_middleware.core.propagation.carriers import BAGGAGE, read_headers, write_headers

__all__ = ["extract", "inject"]


def extract(carrier: Any) -> Any:
    """The caller's run (a ``RunTree`` standing for the remote run) from ``carrier``, or None. Never raises."""
    from tracing_middleware.core.run_tree import RunTree

    return RunTree.from_headers(carrier)


def inject(carrier: Any, run: Any = None, *, w3c: bool | None = None, url: str | None = None) -> None:
    """Write ``run``'s headers (default: the current run) into ``carrier``; nothing when there is no run.

    Where the carrier goes decides what it gets, by the rule outbound calls follow (see
    ``core.destinations``): ``url``, else the URL of a request object passed as ``carrier`` (an httpx or
    requests request, a ``urllib.request.Request``), else a ``host``/``:authority`` header in it. A
    well-known AI or cloud API then gets nothing, another public host trace ids without our baggage.
    With no destination known, everything is written: the caller asked for these headers.
    An existing ``baggage`` keeps the other vendors' members; ours replace any earlier ones.
    """
    if run is None:
        from tracing_middleware.core.context import get_current_run_tree

        run = get_current_run_tree()
        if run is None:
            return
    carrier, named = destinations.named_destination(carrier)
    destination = url if url is not None else named
    level = None
    if destination is not None:
        level = destinations.level_for(destination)
        if level == destinations.NOTHING:
            return
    headers = run.to_headers(w3c=w3c)
    if level is not None and level != destinations.FULL:
        headers.pop(BAGGAGE, None)  # trace ids only: no metadata, tags or project for this host
    existing = read_headers(carrier).get(BAGGAGE)
    if existing:
        merged = baggage.merge(existing, headers.get(BAGGAGE, ""))
        if merged:
            headers[BAGGAGE] = merged
        else:
            headers.pop(BAGGAGE, None)
    write_headers(carrier, headers)
