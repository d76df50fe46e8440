"""A broken OTLP backend (down, slow, 4xx, 5xx) never reaches the app: failures are counted, retries bounded."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter")
pytest.importorskip("opentelemetry.sdk.trace")

from otlp_support import Receiver, free_port, wait_for

import tracing_middleware as tm
from tracing_middleware.core.batch import BatchProcessor
from tracing_middleware.exporters.otlp import OTLPExporter, OTLPExportError

pytestmark = pytest.mark.usefixtures("no_tracing_after")

ATTEMPTS = 3


def _processor(endpoint: str, **options: object) -> BatchProcessor:
    exporter = OTLPExporter(endpoint=endpoint, timeout=1)
    processor = BatchProcessor(exporter, max_attempts=ATTEMPTS, backoff_s=0.01, **options)  # type: ignore[arg-type]
    tm.configure(exporter="none")
    tm.get_settings().processors = (processor,)  # this processor, with test-sized limits, receives every run
    return processor


@tm.traceable
def work(x: int) -> int:
    return x * 2


def _run_app(calls: int) -> list[int]:
    return [work(i) for i in range(calls)]


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_refusing_backend_counts_failures_with_bounded_retries(otlp_receiver: Receiver, status: int) -> None:
    otlp_receiver.mode(status=status)
    processor = _processor(otlp_receiver.endpoint)
    assert _run_app(3) == [0, 2, 4]  # the app is unaffected
    assert tm.flush(30)
    assert processor.failures.count == 3 and processor.exported == 0
    seen = otlp_receiver.requests()
    assert all(r["status"] == status for r in seen)
    # One batch: the processor tries ATTEMPTS times; OpenTelemetry's exporter retries only 5xx/429
    # within its timeout (1 s here), so the total stays small and bounded.
    if status in (400, 404):
        assert len(seen) == ATTEMPTS
    else:
        assert ATTEMPTS <= len(seen) <= ATTEMPTS * 6
    assert otlp_receiver.spans() == []

    otlp_receiver.mode(status=200)  # the backend recovers: later runs get through
    assert _run_app(1) == [0]
    assert tm.flush(30)
    assert processor.exported == 1
    assert len(otlp_receiver.spans()) == 1


def test_backend_down(no_tracing_after: None) -> None:
    processor = _processor(f"http://127.0.0.1:{free_port()}/v1/traces")  # nothing listens there
    assert _run_app(2) == [0, 2]
    assert tm.flush(30)
    assert processor.failures.count == 2 and processor.exported == 0


def test_slow_backend_times_out(otlp_receiver: Receiver) -> None:
    otlp_receiver.mode(delay_s=3.0)  # longer than the exporter's 1 s timeout
    processor = _processor(otlp_receiver.endpoint)
    assert _run_app(1) == [0]
    assert tm.flush(60)
    assert processor.failures.count == 1 and processor.exported == 0


def test_memory_stays_bounded_while_the_backend_hangs(otlp_receiver: Receiver) -> None:
    otlp_receiver.mode(delay_s=3.0)
    processor = _processor(otlp_receiver.endpoint, max_queue=50, batch_size=10)
    assert _run_app(1) == [0]
    wait_for(lambda: otlp_receiver.requests() or None, "the first export to reach the slow backend", attempts=100)
    # The worker is stuck on that export: everything else waits in (or is dropped from) the bounded queue.
    assert _run_app(200) == [2 * i for i in range(200)]
    assert len(processor._queue) <= 50
    assert processor.dropped.count >= 150
    otlp_receiver.mode(status=200)
    assert tm.flush(120)
    assert processor.exported + processor.failures.count + processor.dropped.count == 201


def test_failure_is_raised_with_the_reason_and_not_logged_per_batch(
    otlp_receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    otlp_receiver.mode(status=400)
    exporter = OTLPExporter(endpoint=otlp_receiver.endpoint, timeout=1)
    run = tm.RunTree("refused")
    run.end()
    with caplog.at_level(logging.DEBUG, logger="opentelemetry"):
        for _ in range(3):
            with pytest.raises(OTLPExportError, match="400") as raised:
                exporter.export([run])
    assert otlp_receiver.endpoint in str(raised.value)
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry.exporter")]
