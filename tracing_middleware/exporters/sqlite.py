"""The default exporter: every finished run goes into a local SQLite file, with no set-up.

Where: ``SQLiteExporter(path=...)``, else ``$TRACING_MIDDLEWARE_DB``, else
``$XDG_DATA_HOME/tracing-middleware/traces.sqlite3`` (``~/.local/share/tracing-middleware/traces.sqlite3``
when ``XDG_DATA_HOME`` is unset). The folder is created on first write, private to its owner: folders
``0700``, the file and its ``-wal``/``-shm``/``-journal`` files ``0600``. An existing store that other users
can read is left as it is, with one warning naming the ``chmod`` that fixes it.

Several processes (gunicorn workers, the services of a local stack) may write the same file at once:
the file is in WAL mode, each batch is one ``INSERT OR REPLACE`` transaction that waits for the write
lock (``TRACING_MIDDLEWARE_DB_TIMEOUT`` seconds, default 5) and is retried while the file stays locked.
A failed batch (read-only, corrupt, full or locked file) raises ``StoreError`` and changes nothing;
the batch processor counts it and retries, and the next batch reopens the file.

Retention: ``retention="7d"`` or ``TRACING_MIDDLEWARE_RETENTION`` keeps the store to that age
(``sqlite_retention``); by default nothing is deleted (``tracing-middleware prune`` does it by hand).

Read the store back with ``TraceStore`` (also exported here).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import pathlib
import sqlite3
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tracing_middleware.core.config import get_settings
from tracing_middleware.core.env import env_float
from tracing_middleware.core.pipeline import FailureLog
from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.core.stats import processor_stats
from tracing_middleware.exporters.serialize import FIELD_LIMIT, MAX_DEPTH, encode_plain, safe_json, safe_text
from tracing_middleware.exporters.sqlite_read import StoredRun, TraceStore, TraceSummary
from tracing_middleware.exporters.sqlite_retention import Retention, retention_seconds
from tracing_middleware.exporters.sqlite_schema import COLUMNS, StoreError, connect_writer, default_path, is_busy
from tracing_middleware.exporters.sqlite_stats import write_stats

if TYPE_CHECKING:
    from tracing_middleware.core.batch import BatchProcessor

__all__ = ["SQLiteExporter", "StoreError", "StoredRun", "TraceStore", "TraceSummary", "default_path"]

_NAME_LIMIT = 1024
_ATTEMPTS = 3  # on top of the busy timeout: WAL can report "locked" at once in a few races
_abandoned: list[sqlite3.Connection] = []  # a forked child must neither use nor close its parent's connection


_CHUNK = 40  # rows per INSERT: 800 parameters, under the 999 of SQLite before 3.32


@functools.lru_cache(maxsize=_CHUNK)
def _values(count: int) -> str:
    row = f"({', '.join('?' * len(COLUMNS))})"
    return f"INSERT OR REPLACE INTO runs ({', '.join(COLUMNS)}) VALUES {', '.join([row] * count)}"


def _insert(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    # One statement per chunk of rows, not one per row: each statement's step releases and retakes the
    # GIL, and on a busy core every retake waits behind the app's request thread.
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        conn.execute(_values(len(chunk)), [value for row in chunk for value in row])


def _json(value: Any) -> str | None:
    if value is None:
        return None
    kind = type(value)
    if kind is dict or kind is list:
        if not value:  # most tags/events/metadata: skip the encoder
            return "{}" if kind is dict else "[]"
        if len(value) < 64:
            # safe_json's own first step, inlined for the small plain values most runs hold: what is not
            # plain JSON, or too large or too deep, goes the whole way through safe_json.
            try:
                text = encode_plain(value)
            except (TypeError, ValueError, RecursionError):
                return safe_json(value)
            if len(text) <= FIELD_LIMIT and text.count("[") + text.count("{") <= MAX_DEPTH:
                return text
    return safe_json(value)


def _text(value: Any, limit: int = FIELD_LIMIT) -> str | None:
    if value is None:
        return None
    if type(value) is str and len(value) <= limit and value.isascii():
        return value
    return safe_text(value, limit=limit)


class SQLiteExporter:
    """Stores finished runs in a SQLite file (see the module docstring for the path and the guarantees).

    ``service_name`` is recorded on every run; by default the configured service name
    (``configure(service_name=...)``, ``TRACING_MIDDLEWARE_SERVICE``, ``OTEL_SERVICE_NAME``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        service_name: str | None = None,
        *,
        timeout_s: float | None = None,
        retention: float | str | None = None,
    ) -> None:
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__}")
        if service_name is not None and not isinstance(service_name, str):
            raise TypeError(f"service_name must be a str or None; got {type(service_name).__name__}")
        self.path = pathlib.Path(path).expanduser() if path is not None else default_path()
        self.service_name = service_name
        self.timeout_s = env_float("TRACING_MIDDLEWARE_DB_TIMEOUT", 5.0) if timeout_s is None else float(timeout_s)
        if self.timeout_s < 0:
            raise ValueError(f"timeout_s must be >= 0; got {timeout_s!r}")
        self._conn: sqlite3.Connection | None = None  # opened on first export: constructing does no I/O
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._started_us = time.time_ns() // 1000  # with the pid, names this process's counters row
        self.processor: BatchProcessor | None = None
        kept = retention_seconds(retention)
        self.retention = None if kept is None else Retention(self.path, kept, self.timeout_s)
        self._wrote = False  # whether this process wrote runs here (then its counters are kept too)
        self.skipped = FailureLog("sqlite exporter: malformed runs skipped")
        self.stats_errors = FailureLog("sqlite exporter: exporter counters not written")

    def make_processor(self) -> BatchProcessor:
        """Writes happen on a background thread, in batches."""
        from tracing_middleware.core.batch import BatchProcessor

        self.processor = BatchProcessor(self, encode=self.encode_run, write=self.write_rows)
        return self.processor

    def record_stats(self) -> None:
        """Write this process's exporter counters into the store now (done with every batch, and at exit).

        A process that never wrote a run writes nothing: counters alone never create a store.
        """
        if self._pid != os.getpid():
            self._after_fork()
        if not self._wrote:
            return
        with self._lock:
            conn = self._conn
            if conn is None:
                conn = self._conn = connect_writer(self.path, self.timeout_s)
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._write_stats(conn, 0)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    def _write_stats(self, conn: sqlite3.Connection, writing: int) -> None:
        """Counters of every configured exporter; ``writing`` runs of this batch count as exported already."""
        settings = get_settings()
        stats = []
        for processor in settings.processors:
            numbers = processor_stats(processor)
            if processor is self.processor and writing:
                numbers = dataclasses.replace(numbers, exported=numbers.exported + writing)
            stats.append(numbers)
        if stats:
            now = time.time_ns() // 1000
            service = self.service_name or settings.service_name
            write_stats(conn, f"{os.getpid()}@{self._started_us}", service, stats, now)

    def export(self, runs: Sequence[RunTree]) -> None:
        """Write ``runs`` in one transaction; ``StoreError`` (and nothing written) if the file refuses."""
        self.write_rows(self._rows(runs))

    def write_rows(self, rows: list[tuple[Any, ...]]) -> None:
        """Write rows made by ``encode_run`` in one transaction (``StoreError`` as ``export``)."""
        if not rows:
            return
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            for attempt in range(1, _ATTEMPTS + 1):
                try:
                    self._write(rows)
                    break
                except sqlite3.Error as error:
                    if attempt < _ATTEMPTS and is_busy(error):
                        time.sleep(0.05 * 2**attempt)
                        continue
                    self._close()  # a read-only or broken connection stays so: reopen next time
                    raise StoreError(
                        f"cannot write {len(rows)} runs to the trace store {self.path}: {error}"
                    ) from error
                except StoreError:
                    self._close()
                    raise
        if self.retention is not None:
            self.retention.maybe_prune()  # outside the lock: pruning opens connections of its own

    def shutdown(self) -> None:
        """Close this process's connection; a later ``export`` opens a new one."""
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            self._close()

    def _rows(self, runs: Sequence[RunTree]) -> list[tuple[Any, ...]]:
        rows = []
        for run in runs:
            row = self.encode_run(run)
            if row is not None:
                rows.append(row)
        return rows

    def encode_run(self, run: RunTree) -> tuple[Any, ...] | None:
        """``run`` as the row it is stored as (None, counted in ``skipped``, if it is malformed). Never raises.

        The batch processor calls this when the run ends, so a run waits for its batch as one tuple of
        strings and numbers rather than as live objects (see ``BatchProcessor``).
        """
        try:
            if not (type(run.id) is str and type(run.trace_id) is str and type(run.start_us) is int):
                raise TypeError(f"run {run.id!r} has no str id/trace_id or no int start_us")
            settings = get_settings()
            order = run.dotted_order
            return (
                run.id, run.trace_id, run.parent_run_id, order, order.count(".") + 1,
                _text(run.name, _NAME_LIMIT) or "", _text(run.run_type, _NAME_LIMIT) or "chain",
                run.start_us, run.end_us if type(run.end_us) is int else None,
                _json(run.inputs), _json(run.outputs), _text(run.error),
                _json(run.tags), _json(run.metadata), _json(run.events),
                _text(run.project_name or settings.project_name, _NAME_LIMIT),
                self.service_name or settings.service_name,
                run.span_id, run.parent_span_id, _text(run.tracestate, _NAME_LIMIT),
            )  # fmt: skip
        except Exception as error:  # one damaged run must not cost the batch its other runs
            self.skipped.record(error)
            return None

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        conn = self._conn
        if conn is None:
            conn = self._conn = connect_writer(self.path, self.timeout_s)
        conn.execute("BEGIN IMMEDIATE")  # take the write lock now, waiting up to the busy timeout
        try:
            _insert(conn, rows)
            self._wrote = True
            try:
                self._write_stats(conn, len(rows))
            except Exception as error:  # counters are a convenience: they never cost the runs
                self.stats_errors.record(error)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # the connection is closed next anyway
                    conn.execute("ROLLBACK")
            raise

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _after_fork(self) -> None:
        # SQLite forbids using or closing a connection inherited across fork(); the lock may be held too.
        if self._conn is not None:
            _abandoned.append(self._conn)
        self._conn = None
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._started_us = time.time_ns() // 1000
        self._wrote = False
