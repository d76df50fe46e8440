"""Append each finished run to a file as one JSON object per line (JSON Lines).

Path: ``JSONLExporter(path=...)``, else ``$TRACING_MIDDLEWARE_JSONL``, else ``traces.jsonl`` in the
working directory at construction time. Each line is the run in LangSmith's run schema (``id``,
``trace_id``, ``parent_run_id``, ``dotted_order``, ``name``, ``run_type``, ``start_time``,
``end_time``, ``inputs``, ``outputs``, ``error``, ``tags``, ``extra.metadata``, ``events``,
``session_name``) plus ``service``. Values that are not JSON are made safe (``serialize``).

A batch is written with one ``write`` on a file opened for appending, under a lock held by this
process (and an ``flock`` between processes where the platform has it), so lines never interleave.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tracing_middleware.core import ids
from tracing_middleware.core.config import get_settings
from tracing_middleware.core.env import env_text
from tracing_middleware.core.pipeline import FailureLog
from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.exporters.serialize import encode_plain, safe_json, safe_text

try:
    import fcntl
except ImportError:  # Windows: the in-process lock and O_APPEND still keep each batch whole
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from tracing_middleware.core.batch import BatchProcessor

__all__ = ["JSONLExporter", "format_run"]


def _default_path() -> pathlib.Path:
    explicit = env_text("TRACING_MIDDLEWARE_JSONL", "")
    return pathlib.Path(explicit or "traces.jsonl").expanduser().absolute()


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    return ids.us_to_datetime(us).isoformat()


def format_run(run: RunTree, service: str | None, project: str | None = None) -> str:
    """One run as a JSON object on one line (no newline), in LangSmith's run schema plus ``service``."""
    plain: list[tuple[str, Any]] = [
        ("id", run.id),
        ("trace_id", run.trace_id),
        ("parent_run_id", run.parent_run_id),
        ("dotted_order", run.dotted_order),
        ("name", safe_text(run.name, limit=1024)),
        ("run_type", run.run_type),
        ("start_time", _iso(run.start_us)),
        ("end_time", _iso(run.end_us)),
    ]
    parts = [f"{encode_plain(key)}:{encode_plain(value)}" for key, value in plain]
    parts.append(f'"inputs":{safe_json(run.inputs)}')
    parts.append(f'"outputs":{safe_json(run.outputs)}')
    parts.append(f'"error":{encode_plain(None if run.error is None else safe_text(run.error))}')
    parts.append(f'"tags":{safe_json(run.tags)}')
    parts.append(f'"extra":{{"metadata":{safe_json(run.metadata)}}}')
    parts.append(f'"events":{safe_json(run.events)}')
    session = run.project_name or project
    parts.append(f'"session_name":{encode_plain(None if session is None else safe_text(session, limit=1024))}')
    parts.append(f'"service":{encode_plain(service)}')
    return "{" + ",".join(parts) + "}"


def _cut(fd: int, size: int) -> None:
    with contextlib.suppress(OSError):
        os.ftruncate(fd, size)


class JSONLExporter:
    """Appends finished runs to a JSON Lines file (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, service_name: str | None = None) -> None:
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__}")
        if service_name is not None and not isinstance(service_name, str):
            raise TypeError(f"service_name must be a str or None; got {type(service_name).__name__}")
        self.path = pathlib.Path(path).expanduser().absolute() if path is not None else _default_path()
        self.service_name = service_name
        self._lock = threading.Lock()
        self.skipped = FailureLog("jsonl exporter: malformed runs skipped")

    def make_processor(self) -> BatchProcessor:
        """File writes happen on a background thread, in batches."""
        from tracing_middleware.core.batch import BatchProcessor

        return BatchProcessor(self)

    def export(self, runs: Sequence[RunTree]) -> None:
        """Append one line per run; raises ``OSError`` if the file cannot be written."""
        settings = get_settings()
        service = self.service_name or settings.service_name
        lines = []
        for run in runs:
            try:
                lines.append(format_run(run, service, settings.project_name) + "\n")
            except Exception as error:  # one damaged run must not cost the batch its other runs
                self.skipped.record(error)
        if not lines:
            return
        data = "".join(lines).encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd closes
                start = os.fstat(fd).st_size
                try:
                    view = memoryview(data)
                    while view:  # a short write (a signal) continues where it stopped
                        view = view[os.write(fd, view) :]
                except OSError:
                    _cut(fd, start)  # a disk filling up mid-batch must not leave half a line behind
                    raise
            finally:
                os.close(fd)

    def shutdown(self) -> None:
        """Nothing to release: the file is opened per batch."""
