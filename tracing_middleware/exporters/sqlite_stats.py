"""Exporter counters kept in the SQLite store, so ``tracing-middleware stats`` can show them from outside.

Each process writing the store upserts one row per configured exporter (``core.stats.ExporterStats``)
in the transaction of each batch it writes, and once more when it exits after the drain. The table is
created when first written and is optional: a store without it simply has no counters, and readers
that do not know it ignore it. Rows of processes not heard from for ``KEEP_S`` are deleted on write.
"""

from __future__ import annotations

import os
import pathlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from tracing_middleware.core.stats import ExporterStats
from tracing_middleware.exporters.sqlite_schema import StoreError, connect_reader

__all__ = ["KEEP_S", "StoredStats", "read_stats", "write_stats"]

KEEP_S = 7 * 24 * 3600
_CREATE = """CREATE TABLE IF NOT EXISTS exporter_stats (
    process TEXT NOT NULL,
    exporter TEXT NOT NULL,
    service TEXT,
    exported INTEGER NOT NULL,
    dropped INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    lost_at_exit INTEGER NOT NULL,
    queued INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (process, exporter)
)"""


@dataclass(frozen=True)
class StoredStats:
    """One service's counters for one exporter kind, summed over its processes."""

    service: str
    exporter: str
    processes: int
    exported: int
    dropped: int
    failed: int
    lost_at_exit: int
    queued: int


def write_stats(
    conn: sqlite3.Connection, process: str, service: str, stats: Sequence[ExporterStats], now_us: int
) -> None:
    """Upsert this process's counters; call inside the caller's write transaction."""
    conn.execute(_CREATE)
    conn.executemany(
        "INSERT OR REPLACE INTO exporter_stats VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (process, s.exporter, service, s.exported, s.dropped, s.failed, s.lost_at_exit, s.queued, now_us)
            for s in stats
        ],
    )
    conn.execute("DELETE FROM exporter_stats WHERE updated_us < ?", (now_us - KEEP_S * 1_000_000,))


def read_stats(path: str | os.PathLike[str], timeout_s: float = 5.0) -> list[StoredStats]:
    """The counters in the store at ``path``, per service and exporter; [] when none were written."""
    path = pathlib.Path(path).expanduser()
    conn = connect_reader(path, timeout_s)
    try:
        rows = conn.execute(
            "SELECT COALESCE(service, ''), exporter, COUNT(*), SUM(exported), SUM(dropped), SUM(failed),"
            " SUM(lost_at_exit), SUM(queued) FROM exporter_stats GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return []
        raise StoreError(f"cannot read the trace store {path}: {error}") from error
    except sqlite3.DatabaseError as error:
        raise StoreError(f"cannot read the trace store {path}: {error}") from error
    finally:
        conn.close()
    return [StoredStats(str(r[0]), str(r[1]), *(int(v or 0) for v in r[2:])) for r in rows]
