"""Keeping the SQLite trace store's size in check: its numbers (``store_stats``) and retention (``prune``).

``prune`` deletes whole traces older than a cutoff, then gives the space back.

A trace is old when its newest run (its latest start or end) is older than the cutoff, so a trace still
being written is never cut in half. Apps may keep writing while this runs: the old traces are found
without a lock, then deleted a few hundred at a time, each chunk in its own short write transaction that
checks the age again (a run that arrived meanwhile keeps its trace whole). Writers wait for each chunk
within their busy timeout rather than for the whole prune.

``VACUUM`` then rewrites the file without the freed pages. It holds the write lock for as long as the
copy takes (about a second per few hundred MB); writers that wait longer than their busy timeout retry
their batch. Pass ``vacuum=False`` to leave the free pages for new runs instead.
"""

from __future__ import annotations

import contextlib
import math
import os
import pathlib
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tracing_middleware.exporters.sqlite_schema import StoreError, connect_reader, connect_writer, is_busy

__all__ = ["PruneResult", "StoreStats", "file_size", "old_traces", "prune", "store_stats"]

CHUNK = 200  # traces per write transaction: short enough that writers never wait long
_AGE = "MAX(COALESCE(end_us, start_us), start_us)"


@dataclass(frozen=True)
class PruneResult:
    """What a prune did (or, with ``dry_run``, would do)."""

    traces: int
    runs: int
    size_before: int
    size_after: int
    vacuumed: bool

    @property
    def freed(self) -> int:
        """Bytes the store's files shrank by (0 when nothing was given back)."""
        return max(0, self.size_before - self.size_after)


@dataclass(frozen=True)
class StoreStats:
    """What a store holds and what it takes on disk."""

    path: pathlib.Path
    size: int
    free_bytes: int
    traces: int
    runs: int
    failed_runs: int
    services: int
    oldest_us: int | None
    newest_us: int | None


def store_stats(path: str | os.PathLike[str], timeout_s: float = 5.0) -> StoreStats:
    """Counts and sizes of the store at ``path``, read without a write lock; ``StoreError`` if unreadable."""
    store = pathlib.Path(path).expanduser()
    conn = connect_reader(store, timeout_s)
    try:
        runs, failed, oldest, newest = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(error IS NOT NULL), 0), MIN(start_us), MAX(COALESCE(end_us, start_us))"
            " FROM runs"
        ).fetchone()
        traces = conn.execute("SELECT COUNT(DISTINCT trace_id) FROM runs").fetchone()[0]
        services = conn.execute("SELECT COUNT(DISTINCT service) FROM runs").fetchone()[0]
        free_pages = conn.execute("PRAGMA freelist_count").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    except sqlite3.DatabaseError as error:
        raise StoreError(f"cannot read the trace store {store}: {error}") from error
    finally:
        conn.close()
    return StoreStats(
        store, file_size(store), int(free_pages) * int(page_size), int(traces), int(runs), int(failed),
        int(services), oldest, newest,
    )  # fmt: skip


def file_size(path: pathlib.Path) -> int:
    """Bytes the store takes on disk: the file and its write-ahead log and shared-memory index."""
    total = 0
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):
            total += file.stat().st_size
    return total


def old_traces(conn: sqlite3.Connection, cutoff_us: int) -> list[str]:
    """Ids of the traces whose every run started and ended before ``cutoff_us`` (epoch microseconds)."""
    rows = conn.execute(f"SELECT trace_id FROM runs GROUP BY trace_id HAVING MAX({_AGE}) < ?", (cutoff_us,)).fetchall()
    return [trace_id for (trace_id,) in rows]


def _delete_chunk(conn: sqlite3.Connection, chunk: Sequence[str], cutoff_us: int) -> tuple[int, int]:
    """Delete the traces of ``chunk`` that are still old, in one transaction; (traces, runs) deleted."""
    marks = ", ".join("?" * len(chunk))
    conn.execute("BEGIN IMMEDIATE")
    try:
        still_old = [
            trace_id
            for (trace_id,) in conn.execute(
                f"SELECT trace_id FROM runs WHERE trace_id IN ({marks}) GROUP BY trace_id HAVING MAX({_AGE}) < ?",
                (*chunk, cutoff_us),
            )
        ]
        runs = 0
        if still_old:
            marks = ", ".join("?" * len(still_old))
            runs = conn.execute(f"DELETE FROM runs WHERE trace_id IN ({marks})", still_old).rowcount
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
    return len(still_old), runs


def prune(
    path: str | os.PathLike[str],
    older_than_s: float,
    *,
    now_us: int | None = None,
    vacuum: bool = True,
    dry_run: bool = False,
    timeout_s: float = 30.0,
) -> PruneResult:
    """Delete every trace whose newest run is more than ``older_than_s`` seconds old; ``StoreError`` on failure.

    ``dry_run``: count what would go, change nothing. ``timeout_s``: how long each step waits for the
    write lock that apps hold while they write a batch.
    """
    if isinstance(older_than_s, bool) or not isinstance(older_than_s, (int, float)) or not 0 <= older_than_s < math.inf:
        raise ValueError(f"older_than_s must be a number of seconds, 0 or more; got {older_than_s!r}")
    store = pathlib.Path(path).expanduser()
    cutoff_us = (time.time_ns() // 1000 if now_us is None else now_us) - int(older_than_s * 1_000_000)
    reader = connect_reader(store, timeout_s)  # a missing, foreign or newer file is reported, never created
    size_before = file_size(store)
    try:
        candidates = old_traces(reader, cutoff_us)
        if dry_run:
            return PruneResult(len(candidates), _count_runs(reader, candidates), size_before, size_before, False)
    except sqlite3.Error as error:
        raise StoreError(f"cannot read the trace store {store}: {error}") from error
    finally:
        reader.close()
    if not candidates:
        return PruneResult(0, 0, size_before, size_before, vacuumed=False)
    try:
        conn = connect_writer(store, timeout_s)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open the trace store {store} for writing: {error}") from error
    try:
        traces = runs = 0
        for start in range(0, len(candidates), CHUNK):
            deleted_traces, deleted_runs = _delete_chunk(conn, candidates[start : start + CHUNK], cutoff_us)
            traces += deleted_traces
            runs += deleted_runs
        vacuumed = vacuum and runs > 0
        if vacuumed:
            conn.execute("VACUUM")
        # Fold the write-ahead log back into the file and truncate it, so the size on disk drops now.
        with contextlib.suppress(sqlite3.OperationalError):
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as error:
        hint = " (an app held the write lock too long: try again)" if is_busy(error) else ""
        raise StoreError(f"cannot prune the trace store {store}: {error}{hint}") from error
    finally:
        conn.close()
    return PruneResult(traces, runs, size_before, file_size(store), vacuumed)


def _count_runs(conn: sqlite3.Connection, trace_ids: Sequence[str]) -> int:
    total = 0
    for start in range(0, len(trace_ids), CHUNK):
        chunk = trace_ids[start : start + CHUNK]
        marks = ", ".join("?" * len(chunk))
        total += conn.execute(f"SELECT COUNT(*) FROM runs WHERE trace_id IN ({marks})", chunk).fetchone()[0]
    return total
