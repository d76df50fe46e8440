"""Trace ids in log lines: ``instrument_logging()``, a ``logging.Filter`` and a structlog processor.

Every ``LogRecord`` made inside a run gets:

- ``trace_id`` and ``run_id``: the run's trace UUID and its own UUID, as the CLI and LangSmith show them;
- ``otelTraceID`` (32 hex) and ``otelSpanID`` (16 hex) and ``otelTraceSampled``: the W3C equivalents,
  the names OpenTelemetry's logging instrumentation uses, so log tools that link logs to traces by them
  work unchanged.

Outside a run, ``trace_id`` and ``run_id`` are empty strings and the ``otel*`` ids are ``"0"`` (as
OpenTelemetry writes them), so a format string naming them never fails. ``LOG_FORMAT`` is a ready
format string. With ``event_level`` set, records at that level and above made inside a run are also
added to the run as ``log`` events, which ``tracing-middleware show`` prints under the run.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, MutableMapping
from typing import Any

from tracing_middleware.core.context import get_current_run_tree
from tracing_middleware.core.run_tree import RunTree

__all__ = [
    "LOG_FORMAT",
    "TraceContextFilter",
    "instrument_logging",
    "uninstrument_logging",
    "structlog_processor",
    "StructlogProcessor",
    "record_event",
]

LOG_FORMAT = "%(asctime)s %(levelname)s [%(name)s] [trace_id=%(trace_id)s run_id=%(run_id)s] %(message)s"
"""A format string with the trace and run ids: ``logging.basicConfig(format=LOG_FORMAT)``."""

MAX_EVENTS_PER_RUN = 100
"""Log events kept per run; later ones are counted in the run's ``log.events_dropped`` metadata."""
MAX_MESSAGE = 2048
"""Characters of a log message kept in an event."""

_OUTSIDE = {"trace_id": "", "run_id": "", "otelTraceID": "0", "otelSpanID": "0", "otelTraceSampled": False}


def ids_of(run: RunTree) -> dict[str, Any]:
    """The log fields for ``run``."""
    return {
        "trace_id": run.trace_id,
        "run_id": run.id,
        "otelTraceID": run.trace_id.replace("-", ""),
        "otelSpanID": run.span_id,
        "otelTraceSampled": run.sampled is not False,
    }


def _level(value: int | str | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"event_level must be a logging level (int or name like 'WARNING') or None; got {value!r}")
    if isinstance(value, str):
        number = logging.getLevelName(value.upper())
        if not isinstance(number, int):
            raise ValueError(f"event_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL; got {value!r}")
        return number
    return value


def record_event(run: RunTree, level: str, logger_name: str, message: str, error: BaseException | None = None) -> None:
    """Add one ``log`` event to ``run`` (bounded per run; the message is cut at ``MAX_MESSAGE``)."""
    count = sum(1 for event in run.events if event.get("name") == "log")
    if count >= MAX_EVENTS_PER_RUN:
        run.metadata["log.events_dropped"] = int(run.metadata.get("log.events_dropped", 0)) + 1
        return
    attributes: dict[str, Any] = {"level": level, "logger": logger_name, "message": message[:MAX_MESSAGE]}
    if error is not None:
        attributes["exception.type"] = type(error).__name__
        attributes["exception.message"] = str(error)[:MAX_MESSAGE]
    run.add_event("log", **attributes)


def _record_from_log(run: RunTree, record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a bad format argument: the log call itself will report it; keep the raw text
        message = str(record.msg)
    error = record.exc_info[1] if record.exc_info and isinstance(record.exc_info, tuple) else None
    record_event(run, record.levelname, record.name, message, error)


class TraceContextFilter(logging.Filter):
    """Adds the trace fields to each record it sees; never drops a record.

    Add it to a handler (``handler.addFilter(TraceContextFilter())``) or a logger. A record that
    already has the fields (made while ``instrument_logging`` was on) keeps them: a handler running on
    another thread (``QueueListener``) would otherwise see that thread's run. ``event_level``: also
    record records at this level and above as events on the current run.
    """

    def __init__(self, name: str = "", *, event_level: int | str | None = None) -> None:
        super().__init__(name)
        self.event_level = _level(event_level)

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "trace_id"):
            return True
        run = get_current_run_tree()
        record.__dict__.update(_OUTSIDE if run is None else ids_of(run))
        if run is not None and self.event_level is not None and record.levelno >= self.event_level:
            _record_from_log(run, record)
        return True


_lock = threading.Lock()
_installed: list[Callable[..., logging.LogRecord]] = []  # the factory we replaced, while ours is installed
_event_level: list[int | None] = [None]


def _factory(previous: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if not _installed:  # uninstrumented while someone else's factory wraps ours: pass through
            return record
        run = get_current_run_tree()
        if run is None:
            record.__dict__.update(_OUTSIDE)
            return record
        record.__dict__.update(ids_of(run))
        level = _event_level[0]
        if level is not None and record.levelno >= level:
            _record_from_log(run, record)
        return record

    make_record.__wrapped__ = previous  # type: ignore[attr-defined]
    return make_record


def instrument_logging(*, event_level: int | str | None = None) -> None:
    """Put the trace fields on every ``LogRecord`` made from now on, through the record factory.

    Covers every logger and handler, records handed to other threads included. ``event_level``
    (e.g. ``"WARNING"``): records at this level and above made inside a run are also recorded as
    ``log`` events on the run. Calling again only changes ``event_level``.
    """
    level = _level(event_level)
    with _lock:
        _event_level[0] = level
        if _installed:
            return
        previous = logging.getLogRecordFactory()
        _installed.append(previous)
        logging.setLogRecordFactory(_factory(previous))


def uninstrument_logging() -> None:
    """Undo ``instrument_logging``: put the previous record factory back (or stop ours if wrapped since)."""
    with _lock:
        if not _installed:
            return
        previous = _installed.pop()
        current = logging.getLogRecordFactory()
        if getattr(current, "__wrapped__", None) is previous:
            logging.setLogRecordFactory(previous)
        _event_level[0] = None


_STRUCTLOG_LEVELS = {
    "debug": logging.DEBUG, "info": logging.INFO, "msg": logging.INFO, "warning": logging.WARNING,
    "warn": logging.WARNING, "error": logging.ERROR, "exception": logging.ERROR, "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}  # fmt: skip


class StructlogProcessor:
    """A structlog processor adding ``trace_id``, ``run_id``, ``otelTraceID`` and ``otelSpanID``.

    ``structlog.configure(processors=[StructlogProcessor(), ..., JSONRenderer()])``. Outside a run it
    adds nothing. ``event_level``: events logged at this level and above are recorded on the run.
    """

    def __init__(self, *, event_level: int | str | None = None) -> None:
        self.event_level = _level(event_level)

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        run = get_current_run_tree()
        if run is None:
            return event_dict
        fields = ids_of(run)
        del fields["otelTraceSampled"]
        for key, value in fields.items():
            event_dict.setdefault(key, value)
        if self.event_level is not None:
            level = _STRUCTLOG_LEVELS.get(method_name, logging.INFO)
            if level >= self.event_level:
                name = getattr(logger, "name", None) or str(event_dict.get("logger", ""))
                error = event_dict.get("exc_info")
                if error is True or (method_name == "exception" and error is None):
                    error = sys.exc_info()[1]
                record_event(
                    run, logging.getLevelName(level), str(name), str(event_dict.get("event", "")),
                    error if isinstance(error, BaseException) else None,
                )  # fmt: skip
        return event_dict


structlog_processor = StructlogProcessor()
"""The processor with no event recording, ready to put in ``structlog.configure(processors=[...])``."""
