"""Header propagation: ``extract`` the caller's run from any carrier, ``inject`` ours into one."""

from __future__ import annotations

from typing import Any

from tracing_middleware.core.propagation import baggage
from tracing_middleware.core.propagation.carriers import BAGGAGE, read_headers, write_headers

__all__ = ["extract", "inject"]


def extract(carrier: Any) -> Any:
    """The caller's run (a ``RunTree`` standing for the remote run) from ``carrier``, or None. Never raises."""
    from tracing_middleware.core.run_tree import RunTree

    return RunTree.from_headers(carrier)


def inject(carrier: Any, run: Any = None, *, w3c: bool | None = None) -> None:
    """Write ``run``'s headers (default: the current run) into ``carrier``; nothing when there is no run.

    An existing ``baggage`` keeps the other vendors' members; ours replace any earlier ones.
    """
    if run is None:
        from tracing_middleware.core.context import get_current_run_tree

        run = get_current_run_tree()
        if run is None:
            return
    headers = run.to_headers(w3c=w3c)
    existing = read_headers(carrier).get(BAGGAGE)
    if existing:
        merged = baggage.merge(existing, headers.get(BAGGAGE, ""))
        if merged:
            headers[BAGGAGE] = merged
        else:
            headers.pop(BAGGAGE, None)
    write_headers(carrier, headers)
