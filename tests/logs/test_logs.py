"""Trace ids on log records: inside and outside runs, in asyncio tasks and threads, and as run events."""

from __future__ import annotations

import asyncio
import io
import logging
import logging.handlers
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

import tracing_middleware
from tracing_middleware import InMemoryExporter, bind_context, get_current_run_tree, trace
from tracing_middleware.logs import (
    LOG_FORMAT,
    MAX_EVENTS_PER_RUN,
    StructlogProcessor,
    TraceContextFilter,
    instrument_logging,
    structlog_processor,
    uninstrument_logging,
)


class Capture(logging.Handler):
    """Keeps every record it handles."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, Capture]]:
    logger = logging.getLogger("tests.logs")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = Capture()
    logger.addHandler(handler)
    try:
        yield logger, handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def instrumented() -> Iterator[None]:
    instrument_logging()
    try:
        yield
    finally:
        uninstrument_logging()


def test_a_record_inside_a_run_carries_its_ids(instrumented: None, log, memory: InMemoryExporter) -> None:
    logger, handler = log
    with trace("work") as run:
        logger.info("inside")
    record = handler.records[0]
    assert record.trace_id == run.trace_id
    assert record.run_id == run.id
    assert record.otelTraceID == run.trace_id.replace("-", "")
    assert len(record.otelTraceID) == 32
    assert record.otelSpanID == run.span_id
    assert record.otelSpanID == run.to_headers()["traceparent"].split("-")[2]
    assert record.otelTraceSampled is True


def test_a_record_outside_a_run_has_empty_ids_and_formats(instrumented: None, log) -> None:
    logger, handler = log
    stream = io.StringIO()
    text_handler = logging.StreamHandler(stream)
    text_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger.addHandler(text_handler)
    try:
        logger.warning("outside")
        with trace("job") as run:
            logger.warning("inside")
    finally:
        logger.removeHandler(text_handler)
    outside, inside = handler.records
    assert inside.run_id == run.id
    assert (outside.trace_id, outside.run_id, outside.otelTraceID, outside.otelSpanID) == ("", "", "0", "0")
    lines = stream.getvalue().splitlines()
    assert "[trace_id= run_id=] outside" in lines[0]
    assert f"[trace_id={run.trace_id} run_id={run.id}] inside" in lines[1]


def test_nested_runs_and_asyncio_tasks_each_log_their_own_run(instrumented: None, log) -> None:
    logger, handler = log

    async def job(name: str) -> str:
        with trace(name) as run:
            await asyncio.sleep(0.01)
            logger.info(name)
            return run.id

    async def main() -> list[str]:
        with trace("parent"):
            return list(await asyncio.gather(job("a"), job("b"), job("c")))

    ids = asyncio.run(main())
    by_message = {r.getMessage(): r for r in handler.records}
    assert [by_message[name].run_id for name in "abc"] == ids
    assert len({by_message[name].trace_id for name in "abc"}) == 1


def test_threads_see_the_run_only_when_bound(instrumented: None, log) -> None:
    logger, handler = log
    with trace("request") as run, ThreadPoolExecutor(2) as pool:
        pool.submit(logger.info, "unbound").result()
        pool.submit(bind_context(logger.info), "bound").result()
        other = threading.Thread(target=logger.info, args=("plain thread",))
        other.start()
        other.join()
    by_message = {r.getMessage(): r for r in handler.records}
    assert by_message["bound"].run_id == run.id
    assert by_message["unbound"].run_id == ""
    assert by_message["plain thread"].run_id == ""


def test_a_queue_listener_thread_keeps_the_ids_of_the_logging_thread(instrumented: None) -> None:
    # The record is made on the request's thread; the handler runs on the listener's, outside any run.
    records: queue.Queue[logging.LogRecord] = queue.Queue()
    capture = Capture()
    capture.addFilter(TraceContextFilter())  # must not overwrite what the factory set
    listener = logging.handlers.QueueListener(records, capture)
    logger = logging.getLogger("tests.logs.queue")
    logger.propagate = False
    logger.addHandler(logging.handlers.QueueHandler(records))
    listener.start()
    try:
        with trace("request") as run:
            logger.warning("via queue")
    finally:
        listener.stop()
        logger.handlers.clear()
    assert capture.records[0].run_id == run.id


def test_the_filter_alone_adds_ids_without_instrumenting(log, memory: InMemoryExporter) -> None:
    logger, handler = log
    handler.addFilter(TraceContextFilter())
    logger.info("outside")
    with trace("job") as run:
        logger.info("inside")
    assert handler.records[0].trace_id == ""
    assert handler.records[1].trace_id == run.trace_id
    assert handler.records[1].otelSpanID == run.span_id


def test_warnings_become_events_on_the_run(log, memory: InMemoryExporter) -> None:
    logger, _ = log
    instrument_logging(event_level="WARNING")
    try:
        with trace("job"):
            logger.info("not an event")
            logger.warning("disk %d%% full", 91)
            try:
                raise KeyError("sku")
            except KeyError:
                logger.exception("lookup failed")
        logger.error("outside any run")  # no run to attach it to: nothing happens
    finally:
        uninstrument_logging()
    (run,) = memory.runs
    logs = [event for event in run.events if event["name"] == "log"]
    assert [e["kwargs"]["message"] for e in logs] == ["disk 91% full", "lookup failed"]
    assert logs[0]["kwargs"]["level"] == "WARNING"
    assert logs[0]["kwargs"]["logger"] == "tests.logs"
    assert logs[1]["kwargs"]["exception.type"] == "KeyError"


def test_events_per_run_are_bounded_and_counted(log, memory: InMemoryExporter) -> None:
    logger, _ = log
    instrument_logging(event_level=logging.ERROR)
    try:
        with trace("chatty"):
            for index in range(MAX_EVENTS_PER_RUN + 5):
                logger.error("line %s", index)
    finally:
        uninstrument_logging()
    (run,) = memory.runs
    assert sum(1 for event in run.events if event["name"] == "log") == MAX_EVENTS_PER_RUN
    assert run.metadata["log.events_dropped"] == 5


def test_a_bad_format_argument_never_breaks_the_event(log, memory: InMemoryExporter) -> None:
    logger, _ = log
    instrument_logging(event_level="WARNING")
    try:
        with trace("job"):
            logging.raiseExceptions = False  # the handler would print a traceback for the bad arguments
            try:
                logger.warning("%d items", "not a number")
            finally:
                logging.raiseExceptions = True
    finally:
        uninstrument_logging()
    assert memory.runs[0].events[0]["kwargs"]["message"] == "%d items"


def test_uninstrument_restores_the_previous_factory_and_is_idempotent() -> None:
    before = logging.getLogRecordFactory()
    instrument_logging()
    instrument_logging()  # a second call changes nothing but the event level
    assert logging.getLogRecordFactory() is not before
    uninstrument_logging()
    uninstrument_logging()
    assert logging.getLogRecordFactory() is before
    assert not hasattr(logging.makeLogRecord({}), "trace_id")


def test_bad_event_levels_name_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="WARNING"):
        instrument_logging(event_level="LOUD")
    with pytest.raises(TypeError, match="logging level"):
        TraceContextFilter(event_level=2.5)  # type: ignore[arg-type]
    assert tracing_middleware.instrument_logging is instrument_logging


def test_the_structlog_processor_adds_ids_and_records_events(memory: InMemoryExporter) -> None:
    structlog = pytest.importorskip("structlog")
    output = io.StringIO()
    structlog.configure(
        processors=[StructlogProcessor(event_level="warning"), structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(output),
        cache_logger_on_first_use=False,
    )
    try:
        logger = structlog.get_logger()
        logger.info("outside")
        with trace("job") as run:
            logger.info("inside", item=3)
            logger.warning("slow", ms=900)
            assert get_current_run_tree() is run
    finally:
        structlog.reset_defaults()
    outside, inside, slow = output.getvalue().splitlines()
    assert run.id in slow
    assert "trace_id" not in outside
    assert f'"trace_id": "{run.trace_id}"' in inside
    assert f'"run_id": "{run.id}"' in inside
    assert f'"otelSpanID": "{run.span_id}"' in inside
    (recorded,) = memory.runs
    assert [e["kwargs"]["message"] for e in recorded.events] == ["slow"]
    assert structlog_processor(None, "info", {"event": "x"}) == {"event": "x"}
