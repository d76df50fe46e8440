"""The viewer's reads of the SQLite store: filtered, paged trace lists, waterfalls, runs and service calls.

Every query runs on a read-only connection (``mode=ro``) with values bound as parameters. A trace is
placed in the list by its *anchor*: its first run in dotted order, which is the root for a complete
trace, the top stored run for a trace that continues a caller outside the store, and the earliest
stored run for a trace still being written. ``MIN(dotted_order)`` per trace is one lookup in the
``(trace_id, dotted_order)`` index, so the list stays fast on large stores.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from typing import Any

from tracing_middleware.exporters.sqlite_read import StoredRun
from tracing_middleware.exporters.sqlite_schema import COLUMNS, connect_reader
from tracing_middleware.viewer.service_map import service_calls

__all__ = ["ListFilter", "ViewerQueries", "parse_cursor"]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_ANCHOR = (
    "SELECT id, name, project, start_us, depth, parent_run_id FROM runs WHERE trace_id = ?"
    " ORDER BY dotted_order LIMIT 1"
)
_TAGS = "EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(tags) THEN tags ELSE '[]' END) WHERE value = ?)"
_META = (
    "EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(metadata) THEN metadata ELSE '{}' END)"
    " WHERE key = ? AND (CASE WHEN type IN ('true', 'false') THEN type ELSE CAST(value AS TEXT) END) = ?)"
)


@dataclass(frozen=True)
class ListFilter:
    """What the trace list shows. Run-level conditions hold when *some* run of the trace matches."""

    text: str | None = None  # substring of a run name, any case
    service: str | None = None
    project: str | None = None
    errors: bool = False
    tag: str | None = None
    meta_key: str | None = None
    meta_value: str | None = None
    since_us: int | None = None  # the trace started in [since_us, until_us)
    until_us: int | None = None

    def run_conditions(self) -> list[tuple[str, tuple[Any, ...]]]:
        """SQL conditions on one run, each with its parameters; most selective (indexed) first."""
        found: list[tuple[str, tuple[Any, ...]]] = []
        if self.service is not None:
            found.append(("service = ?", (self.service,)))
        if self.project is not None:
            found.append(("project = ?", (self.project,)))
        if self.errors:
            found.append(("error IS NOT NULL", ()))
        if self.tag is not None:
            found.append((_TAGS, (self.tag,)))
        if self.meta_key is not None:
            found.append((_META, (self.meta_key, self.meta_value or "")))
        if self.text:
            found.append(("instr(lower(name), ?) > 0", (self.text.lower(),)))
        return found


def parse_cursor(text: str | None) -> tuple[int, str] | None:
    """``"<start_us>.<run id>"`` (the last anchor of the previous page) as a key; ValueError if malformed."""
    if not text:
        return None
    start, _, run_id = text.partition(".")
    if not start.isdigit() or not run_id or len(run_id) > 64 or len(start) > 20:
        raise ValueError("cursor must be the 'next' value of a previous page")
    return int(start), run_id


def normalize_trace_id(text: str) -> str | None:
    """A trace id in its stored form (36-char UUID), from that or 32 hex digits; None if neither."""
    wanted = text.strip().lower()
    if _HEX32.fullmatch(wanted):
        wanted = f"{wanted[:8]}-{wanted[8:12]}-{wanted[12:16]}-{wanted[16:20]}-{wanted[20:]}"
    return wanted if _UUID.fullmatch(wanted) else None


class ViewerQueries:
    """One read-only connection to the store; open per request (cheap) so a store made later is found."""

    def __init__(self, path: Any) -> None:
        self._conn = connect_reader(path)
        self.path = path

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ViewerQueries:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the trace list ----------------------------------------------------------------------------------

    def list_traces(
        self, flt: ListFilter, limit: int = 50, cursor: tuple[int, str] | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of matching traces, newest anchor first, and the cursor of the next page (or None)."""
        conditions = flt.run_conditions()
        keys = (
            self._anchored_keys(flt, limit + 1, cursor)
            if not conditions
            else self._driven_keys(flt, conditions, limit + 1, cursor)
        )
        page = keys[:limit]
        more = len(keys) > limit
        items = [self._summary(trace_id, anchor) for (_, _, trace_id, anchor) in page]
        next_cursor = f"{page[-1][0]}.{page[-1][1]}" if more and page else None
        return items, next_cursor

    def _anchored_keys(
        self, flt: ListFilter, want: int, cursor: tuple[int, str] | None
    ) -> list[tuple[int, str, str, tuple[Any, ...]]]:
        # No run-level filter: walk the anchors themselves, newest first, straight from the cursor.
        where = ["r.dotted_order = (SELECT MIN(m.dotted_order) FROM runs m WHERE m.trace_id = r.trace_id)"]
        params: list[Any] = []
        if flt.since_us is not None:
            where.append("r.start_us >= ?")
            params.append(flt.since_us)
        if flt.until_us is not None:
            where.append("r.start_us < ?")
            params.append(flt.until_us)
        if cursor is not None:
            where.append("(r.start_us < ? OR (r.start_us = ? AND r.id < ?))")
            params += [cursor[0], cursor[0], cursor[1]]
        sql = (
            "SELECT r.start_us, r.id, r.trace_id, r.name, r.project, r.depth, r.parent_run_id FROM runs r"
            f" WHERE {' AND '.join(where)} ORDER BY r.start_us DESC, r.id DESC LIMIT ?"
        )
        rows = self._conn.execute(sql, [*params, want]).fetchall()
        return [
            (start, id_, trace, (id_, name, project, start, depth, parent))
            for (start, id_, trace, name, project, depth, parent) in rows
        ]

    def _driven_keys(
        self, flt: ListFilter, conditions: list[tuple[str, tuple[Any, ...]]], want: int, cursor: tuple[int, str] | None
    ) -> list[tuple[int, str, str, tuple[Any, ...]]]:
        # Walk the runs that meet the first condition, newest first; check each new trace as a whole. A
        # trace's anchor never starts after its runs, so once ``want`` traces are kept whose anchors
        # are newer than the run being read, no later trace can enter the page.
        first_sql, first_params = conditions[0]
        sql = f"SELECT trace_id, start_us FROM runs WHERE {first_sql}"
        params: list[Any] = list(first_params)
        if flt.since_us is not None:
            sql += " AND start_us >= ?"
            params.append(flt.since_us)
        check = "SELECT " + ", ".join(f"MAX({c})" for c, _ in conditions) + " FROM runs WHERE trace_id = ?"
        check_params = [p for _, ps in conditions for p in ps]
        kept: list[tuple[int, str, str, tuple[Any, ...]]] = []  # a min-heap on the anchor key
        seen: set[str] = set()
        cursor_rows = self._conn.execute(sql + " ORDER BY start_us DESC", params)
        try:
            for trace_id, start_us in cursor_rows:
                if len(kept) >= want and start_us < kept[0][0]:
                    break
                if trace_id in seen:
                    continue
                seen.add(trace_id)
                anchor = self._conn.execute(_ANCHOR, (trace_id,)).fetchone()
                if anchor is None:
                    continue
                key = (anchor[3], anchor[0])
                if cursor is not None and key >= cursor:
                    continue
                if (flt.since_us is not None and key[0] < flt.since_us) or (
                    flt.until_us is not None and key[0] >= flt.until_us
                ):
                    continue
                flags = self._conn.execute(check, [*check_params, trace_id]).fetchone()
                if not all(flags):
                    continue
                entry = (key[0], key[1], trace_id, tuple(anchor))
                if len(kept) < want:
                    heapq.heappush(kept, entry)
                elif entry[:2] > kept[0][:2]:
                    heapq.heapreplace(kept, entry)
        finally:
            cursor_rows.close()
        return sorted(kept, key=lambda e: (e[0], e[1]), reverse=True)

    def _summary(self, trace_id: str, anchor: tuple[Any, ...]) -> dict[str, Any]:
        _, name, project, anchor_start, _, _ = anchor
        count, start, end, errors, unfinished = self._conn.execute(
            "SELECT COUNT(*), MIN(start_us), MAX(COALESCE(end_us, start_us)), SUM(error IS NOT NULL),"
            " SUM(end_us IS NULL) FROM runs WHERE trace_id = ?",
            (trace_id,),
        ).fetchone()
        services = [s for (s,) in self._conn.execute(
            "SELECT DISTINCT service FROM runs WHERE trace_id = ? AND service IS NOT NULL ORDER BY service", (trace_id,)
        )]  # fmt: skip
        waiting = self._orphans(trace_id)
        return {
            "trace_id": trace_id,
            "name": name,
            "project": project,
            "services": services,
            "run_count": int(count),
            "error_count": int(errors or 0),
            "start_us": int(anchor_start),
            "duration_us": int(end) - int(min(start, anchor_start)),
            "status": "error" if errors else "success",
            # A run whose parent is not stored: the parent is still running, or records elsewhere.
            "in_progress": bool(unfinished) or waiting > 0,
            "waiting_runs": waiting,
        }

    def _orphans(self, trace_id: str) -> int:
        row = self._conn.execute(
            "SELECT COUNT(*) FROM runs r WHERE r.trace_id = ? AND r.parent_run_id IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM runs p WHERE p.id = r.parent_run_id)",
            (trace_id,),
        ).fetchone()
        return int(row[0])

    def options(self) -> dict[str, list[str]]:
        """The services and projects in the store, for the filter pickers."""

        def distinct(column: str) -> list[str]:
            # A skip-scan over the (column, start_us) index: one seek per distinct value.
            out: list[str] = []
            row = self._conn.execute(f"SELECT MIN({column}) FROM runs").fetchone()
            while row is not None and row[0] is not None and len(out) < 500:
                out.append(row[0])
                row = self._conn.execute(f"SELECT MIN({column}) FROM runs WHERE {column} > ?", (row[0],)).fetchone()
            return out

        return {"services": distinct("service"), "projects": distinct("project")}

    # -- one trace --------------------------------------------------------------------------------------

    def has_trace(self, trace_id: str) -> bool:
        """True when some run of the trace is stored."""
        return self._conn.execute("SELECT 1 FROM runs WHERE trace_id = ? LIMIT 1", (trace_id,)).fetchone() is not None

    def waterfall(self, trace_id: str) -> dict[str, Any] | None:
        """The trace's runs as compact rows for the waterfall; None if no run of it is stored."""
        rows = self._conn.execute(
            "SELECT id, parent_run_id, name, run_type, start_us, end_us, error IS NOT NULL, service"
            " FROM runs WHERE trace_id = ? ORDER BY dotted_order",
            (trace_id,),
        ).fetchall()
        if not rows:
            return None
        return {
            "trace_id": trace_id,
            "columns": ["id", "parent_run_id", "name", "run_type", "start_us", "end_us", "error", "service"],
            "runs": [[r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7]] for r in rows],
        }

    def trace_runs(self, trace_id: str) -> list[StoredRun]:
        """Every run of the trace in dotted order (parents first), as ``show --json`` prints them."""
        rows = self._conn.execute(
            f"SELECT rowid, {', '.join(COLUMNS)} FROM runs WHERE trace_id = ? ORDER BY dotted_order", (trace_id,)
        ).fetchall()
        return [StoredRun.from_row(row) for row in rows]

    def run(self, run_id: str) -> StoredRun | None:
        """One run by id, or None."""
        row = self._conn.execute(f"SELECT rowid, {', '.join(COLUMNS)} FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else StoredRun.from_row(row)

    # -- services ---------------------------------------------------------------------------------------

    def service_calls(self, since_us: int | None, until_us: int | None) -> dict[str, Any]:
        """Calls between services (and entries from outside) in the window; see ``service_map``."""
        return service_calls(self._conn, since_us, until_us)
