"""Reading the SQLite trace store back: trace lists, whole traces, new runs (for ``tail``) and exports.

``TraceStore`` opens the file read-only, so it can run beside the apps that write it.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tracing_middleware.exporters.sqlite_schema import COLUMNS, StoreError, connect_reader, default_path

__all__ = ["StoreError", "StoredRun", "TraceStore", "TraceSummary"]

_SELECT = f"SELECT rowid, {', '.join(COLUMNS)} FROM runs"
_HEX32 = re.compile(r"[0-9a-f]{32}")
_LIKE_SPECIAL = re.compile(r"[\\%_]")


def _contains(text: str, part: str) -> bool:
    """``part`` in ``text``, ASCII letters in any case: what SQLite's LIKE matches."""
    return part.translate(_ASCII_LOWER) in text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _decode(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:  # edited by hand: show what is there rather than fail the whole listing
        return text


def _us_to_iso(us: int | None) -> str | None:
    if us is None:
        return None
    return datetime.fromtimestamp(us / 1_000_000, tz=timezone.utc).isoformat()


@dataclass(frozen=True)
class StoredRun:
    """One run as stored: every column, JSON columns decoded. ``rowid`` grows with each write."""

    rowid: int
    id: str
    trace_id: str
    parent_run_id: str | None
    dotted_order: str
    depth: int
    name: str
    run_type: str
    start_us: int
    end_us: int | None
    inputs: Any
    outputs: Any
    error: str | None
    tags: Any
    metadata: Any
    events: Any
    project: str | None
    service: str | None
    span_id: str | None
    parent_span_id: str | None
    tracestate: str | None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> StoredRun:
        """Build from a ``SELECT rowid, <COLUMNS>`` row."""
        (rowid, id_, trace_id, parent, order, depth, name, run_type, start, end,
         inputs, outputs, error, tags, metadata, events, project, service, span, parent_span, state) = row  # fmt: skip
        return cls(
            rowid, id_, trace_id, parent, order, depth, name, run_type, start, end,
            _decode(inputs), _decode(outputs), error, _decode(tags), _decode(metadata), _decode(events),
            project, service, span, parent_span, state,
        )  # fmt: skip

    @property
    def duration_us(self) -> int | None:
        """End minus start, or None for a run stored unfinished."""
        return None if self.end_us is None else self.end_us - self.start_us

    @property
    def status(self) -> str:
        """``"error"`` or ``"success"``."""
        return "error" if self.error is not None else "success"

    def to_dict(self) -> dict[str, Any]:
        """The run in LangSmith's run schema, plus ``service``, ``span_id`` and ``parent_span_id``."""
        return {
            "id": self.id,
            "trace_id": self.trace_id,
            "parent_run_id": self.parent_run_id,
            "dotted_order": self.dotted_order,
            "name": self.name,
            "run_type": self.run_type,
            "start_time": _us_to_iso(self.start_us),
            "end_time": _us_to_iso(self.end_us),
            "inputs": self.inputs,
            "outputs": self.outputs,
            "error": self.error,
            "tags": self.tags,
            "extra": {"metadata": self.metadata},
            "events": self.events,
            "session_name": self.project,
            "service": self.service,
            "span_id": self.span_id,
            "parent_span_id": self.parent_span_id,
        }


@dataclass(frozen=True)
class TraceSummary:
    """One trace as a line of a listing. The root is the stored run nearest the top of the trace."""

    trace_id: str
    root_name: str
    project: str | None
    services: list[str] = field(default_factory=list)
    run_count: int = 0
    error_count: int = 0
    start_us: int = 0
    end_us: int = 0
    root_parent_id: str | None = None
    unfinished_count: int = 0

    @property
    def duration_us(self) -> int:
        """From the first run's start to the last run's end."""
        return self.end_us - self.start_us

    @property
    def in_progress(self) -> bool:
        """The trace's root run is not stored yet (its top stored run has a parent), or a run is unfinished."""
        return self.root_parent_id is not None or self.unfinished_count > 0


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}")
    return value


def _optional_int(name: str, value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{name} must be an int (epoch microseconds) or None; got {type(value).__name__}")
    return value


class TraceStore:
    """Read-only access to a trace store file; ``StoreError`` if it is missing, corrupt or not a store."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = pathlib.Path(path).expanduser() if path is not None else default_path()
        self._conn = connect_reader(self.path)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> TraceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot read the trace store {self.path}: {error}") from error

    def count_runs(self) -> int:
        """How many runs the store holds."""
        return int(self._query("SELECT COUNT(*) FROM runs")[0][0])

    def last_rowid(self) -> int:
        """The newest run's ``rowid`` (0 when empty): where ``tail`` starts."""
        return int(self._query("SELECT COALESCE(MAX(rowid), 0) FROM runs")[0][0])

    def list_traces(
        self,
        project: str | None = None,
        service: str | None = None,
        root_name: str | None = None,
        errors_only: bool = False,
        since_us: int | None = None,
        until_us: int | None = None,
        limit: int = 50,
        *,
        name_contains: str | None = None,
    ) -> list[TraceSummary]:
        """The ``limit`` most recently active traces that match, newest start first.

        ``project``/``service``: some run of the trace has it. ``root_name``: the trace's root run has
        that name. ``name_contains``: the root run's name holds this text (ASCII letters in any case).
        ``errors_only``: some run failed. ``since_us``/``until_us``: the trace started in
        ``[since_us, until_us)`` (epoch microseconds).
        """
        limit = _positive("limit", limit)
        since_us, until_us = _optional_int("since_us", since_us), _optional_int("until_us", until_us)
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("project", project), ("service", service), ("name", root_name)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if name_contains is not None:
            where.append("name LIKE ? ESCAPE '\\'")
            params.append("%" + _LIKE_SPECIAL.sub(r"\\\g<0>", name_contains) + "%")
        if errors_only:
            where.append("error IS NOT NULL")
        if since_us is not None:
            where.append("start_us >= ?")
            params.append(since_us)
        if until_us is not None:
            where.append("start_us < ?")
            params.append(until_us)
        # Each condition holds for at least one run of every matching trace, so newest matching runs
        # lead to the candidate traces; each candidate is then checked as a whole.
        sql = "SELECT trace_id FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY start_us DESC"
        seen: set[str] = set()
        found: list[TraceSummary] = []
        try:
            cursor = self._conn.execute(sql, params)
            for (trace_id,) in cursor:
                if trace_id in seen:
                    continue
                seen.add(trace_id)
                summary = self._summary(trace_id)
                if summary is None or (root_name is not None and summary.root_name != root_name):
                    continue
                if name_contains is not None and not _contains(summary.root_name, name_contains):
                    continue
                if (since_us is not None and summary.start_us < since_us) or (
                    until_us is not None and summary.start_us >= until_us
                ):
                    continue
                found.append(summary)
                if len(found) >= limit:
                    break
            cursor.close()
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot read the trace store {self.path}: {error}") from error
        found.sort(key=lambda s: s.start_us, reverse=True)
        return found

    def _summary(self, trace_id: str) -> TraceSummary | None:
        count, start, end, errors, unfinished = self._conn.execute(
            "SELECT COUNT(*), MIN(start_us), MAX(COALESCE(end_us, start_us)), SUM(error IS NOT NULL),"
            " SUM(end_us IS NULL) FROM runs WHERE trace_id = ?",
            (trace_id,),
        ).fetchone()
        if not count:
            return None
        root = self._conn.execute(
            "SELECT name, project, parent_run_id FROM runs WHERE trace_id = ? ORDER BY depth, start_us LIMIT 1",
            (trace_id,),
        ).fetchone()
        services = self._conn.execute(
            "SELECT DISTINCT service FROM runs WHERE trace_id = ? AND service IS NOT NULL ORDER BY service",
            (trace_id,),
        ).fetchall()
        return TraceSummary(
            trace_id, root[0], root[1], [s for (s,) in services], int(count), int(errors or 0), int(start), int(end),
            root[2], int(unfinished or 0),
        )  # fmt: skip

    def resolve_trace_id(self, trace_id: str) -> str | None:
        """The full trace id for a full id, a 32-hex W3C trace id or a unique prefix; None if none matches."""
        if not isinstance(trace_id, str) or not trace_id.strip():
            raise ValueError("trace_id must be a non-empty str: a trace id or a unique prefix of one")
        wanted = trace_id.strip().lower()
        if _HEX32.fullmatch(wanted):
            wanted = f"{wanted[:8]}-{wanted[8:12]}-{wanted[12:16]}-{wanted[16:20]}-{wanted[20:]}"
        if len(wanted) == 36:
            hit = self._query("SELECT 1 FROM runs WHERE trace_id = ? LIMIT 1", (wanted,))
            return wanted if hit else None
        upper = wanted[:-1] + chr(ord(wanted[-1]) + 1)
        first = self._query(
            "SELECT trace_id FROM runs WHERE trace_id >= ? AND trace_id < ? ORDER BY trace_id LIMIT 1", (wanted, upper)
        )
        if not first:
            return None
        other = self._query(
            "SELECT trace_id FROM runs WHERE trace_id > ? AND trace_id < ? ORDER BY trace_id LIMIT 1",
            (first[0][0], upper),
        )
        if other:
            raise StoreError(
                f"trace id prefix {trace_id!r} matches several traces ({first[0][0]}, {other[0][0]}, ...): give more"
            )
        return str(first[0][0])

    def get_trace(self, trace_id: str) -> list[StoredRun]:
        """Every stored run of the trace, parents before children (dotted order); [] if unknown."""
        full = self.resolve_trace_id(trace_id)
        if full is None:
            return []
        rows = self._query(f"{_SELECT} WHERE trace_id = ? ORDER BY dotted_order", (full,))
        return [StoredRun.from_row(row) for row in rows]

    def runs_since(self, after_rowid: int = 0, *, since_us: int | None = None, limit: int = 1000) -> list[StoredRun]:
        """Runs written after ``after_rowid`` (and started at or after ``since_us``), oldest write first."""
        if isinstance(after_rowid, bool) or not isinstance(after_rowid, int):
            raise TypeError(f"after_rowid must be an int (a StoredRun.rowid); got {type(after_rowid).__name__}")
        limit = _positive("limit", limit)
        since_us = _optional_int("since_us", since_us)
        sql, params = f"{_SELECT} WHERE rowid > ?", [after_rowid]
        if since_us is not None:
            sql += " AND start_us >= ?"
            params.append(since_us)
        rows = self._query(sql + " ORDER BY rowid LIMIT ?", [*params, limit])
        return [StoredRun.from_row(row) for row in rows]

    def iter_runs(self, trace_id: str | None = None, since_us: int | None = None) -> Iterator[StoredRun]:
        """Every run (of one trace, or started at or after ``since_us``), streamed in write order."""
        since_us = _optional_int("since_us", since_us)
        where: list[str] = []
        params: list[Any] = []
        if trace_id is not None:
            full = self.resolve_trace_id(trace_id)
            if full is None:
                return
            where.append("trace_id = ?")
            params.append(full)
        if since_us is not None:
            where.append("start_us >= ?")
            params.append(since_us)
        sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY dotted_order" if trace_id is not None else " ORDER BY rowid"
        try:
            cursor = self._conn.execute(sql, params)
            while True:
                batch = cursor.fetchmany(500)
                if not batch:
                    break
                for row in batch:
                    yield StoredRun.from_row(row)
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot read the trace store {self.path}: {error}") from error
