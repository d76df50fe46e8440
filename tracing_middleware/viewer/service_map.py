"""The services view's numbers: calls between services in a time window, with counts and latencies.

A call is a run whose parent is stored with another service (the parent is the caller's client run),
or a run whose parent is not stored at all (an *entry*: the first service of a trace, or a caller that
records elsewhere). Latency is what the caller waited, network included: the client run's duration,
else the callee's own.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any

__all__ = ["service_calls"]

_EDGE_ROWS = 200_000  # at most this many runs of a window are read (newest first)


def service_calls(conn: sqlite3.Connection, since_us: int | None, until_us: int | None) -> dict[str, Any]:
    """Calls between services (and entries from outside) in the window, with counts and latencies."""
    where, params = ["1"], []
    if since_us is not None:
        where.append("c.start_us >= ?")
        params.append(since_us)
    if until_us is not None:
        where.append("c.start_us < ?")
        params.append(until_us)
    rows = conn.execute(
        "SELECT p.service, c.service, p.start_us, p.end_us, c.start_us, c.end_us,"
        " p.error IS NOT NULL OR c.error IS NOT NULL, p.id IS NULL"
        " FROM runs c LEFT JOIN runs p ON p.id = c.parent_run_id"
        f" WHERE {' AND '.join(where)} AND (p.id IS NULL OR p.service IS NOT c.service)"
        " ORDER BY c.start_us DESC LIMIT ?",
        [*params, _EDGE_ROWS],
    ).fetchall()
    edges: dict[tuple[str | None, str | None], list[tuple[int | None, bool]]] = {}
    for caller, callee, p_start, p_end, c_start, c_end, failed, entry in rows:
        # The caller's client run is what the caller waited: network included. Entries have none.
        latency = (p_end - p_start) if not entry and p_end is not None else None
        if latency is None and c_end is not None:
            latency = c_end - c_start
        edges.setdefault((None if entry else caller, callee), []).append((latency, bool(failed)))
    out = []
    for (caller, callee), calls in edges.items():
        times = sorted(t for t, _ in calls if t is not None)
        out.append({
            "caller": caller,
            "callee": callee,
            "count": len(calls),
            "errors": sum(1 for _, f in calls if f),
            "error_rate": sum(1 for _, f in calls if f) / len(calls),
            "p50_us": _percentile(times, 0.50),
            "p95_us": _percentile(times, 0.95),
        })  # fmt: skip
    out.sort(key=lambda e: (-int(e["count"] or 0), str(e["caller"]), str(e["callee"])))
    return {"calls": out, "truncated": len(rows) >= _EDGE_ROWS}


def _percentile(sorted_values: list[int], q: float) -> int | None:
    """Nearest-rank percentile of already sorted values; None when there are none."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(len(sorted_values) * q))
    return sorted_values[rank - 1]
