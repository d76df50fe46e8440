"""A real solo worker on the filesystem broker: parents, roots, errors, retries, hostile headers, trust."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery_support import Worker, named, start_worker, wait_for_runs, worker_env

from tracing_middleware import InMemoryExporter, trace

celery_tasks = pytest.importorskip("celery_tasks")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("celery-store") / "traces.sqlite3"


@pytest.fixture(scope="module")
def worker(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    env = worker_env(store, TRACING_MIDDLEWARE_SERVICE="worker")
    running = start_worker(env, "solo", tmp_path_factory.mktemp("logs"), "-Q", "celery")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def secure_worker(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """A worker that continues only contexts sent with the shared secret."""
    env = worker_env(store, TRACING_MIDDLEWARE_SERVICE="secure-worker", TEST_CELERY_SECRET="s3cret")
    running = start_worker(env, "solo", tmp_path_factory.mktemp("logs"), "-Q", "secure")
    yield running
    running.stop()


def test_a_task_published_in_a_run_is_its_child(worker: Worker, store: Path, memory: InMemoryExporter) -> None:
    with trace("enqueue order") as parent:
        celery_tasks.add.delay(2, 3)
    publish = memory.runs[0]
    assert publish.name == "publish tasks.add"
    assert publish.parent_run_id == parent.id
    assert publish.metadata["messaging.system"] == "celery"
    runs = wait_for_runs(
        store, lambda rs: any(r.trace_id == parent.trace_id and r.name == "add.inner" for r in rs), worker
    )
    (task,) = [r for r in runs if r.trace_id == parent.trace_id and r.name == "tasks.add"]
    assert task.parent_run_id == publish.id
    assert task.dotted_order.startswith(publish.dotted_order + ".")
    # The context travelled in the message headers: the task's own arguments are untouched.
    assert task.inputs == {"args": [2, 3], "kwargs": {}}
    assert task.outputs == {"output": 5}
    assert task.error is None
    assert task.service == "worker"
    assert task.metadata["celery.state"] == "SUCCESS"
    assert task.metadata["celery.task_id"] == publish.metadata["celery.task_id"]
    assert task.metadata["messaging.destination.name"] == "celery"
    (inner,) = [r for r in runs if r.trace_id == parent.trace_id and r.name == "add.inner"]
    assert inner.parent_run_id == task.id


def test_a_task_published_outside_a_run_starts_its_own_trace(worker: Worker, store: Path) -> None:
    celery_tasks.add.delay(40, 2)
    runs = wait_for_runs(
        store, lambda rs: bool(named(rs, "tasks.add") and any(r.outputs == {"output": 42} for r in rs))
    )
    (task,) = [r for r in runs if r.name == "tasks.add" and r.outputs == {"output": 42}]
    assert task.parent_run_id is None
    assert task.trace_id == task.id


def test_a_failing_task_records_its_error(worker: Worker, store: Path, memory: InMemoryExporter) -> None:
    with trace("enqueue") as parent:
        celery_tasks.boom.delay("A17")
    runs = wait_for_runs(store, lambda rs: any(r.trace_id == parent.trace_id and r.name == "tasks.boom" for r in rs))
    (task,) = [r for r in runs if r.trace_id == parent.trace_id and r.name == "tasks.boom"]
    assert task.error is not None and task.error.startswith("LookupError: no such order A17")
    assert task.metadata["celery.state"] == "FAILURE"
    assert any(e["name"] == "exception" for e in task.events)


def test_retries_are_sibling_attempts_under_the_publisher(
    worker: Worker, store: Path, memory: InMemoryExporter
) -> None:
    with trace("enqueue") as parent:
        celery_tasks.flaky.delay("r1")
    publish = memory.runs[0]

    def attempts(rs: list) -> list:
        return [r for r in rs if r.trace_id == parent.trace_id and r.name == "tasks.flaky"]

    runs = wait_for_runs(store, lambda rs: len(attempts(rs)) == 3)
    ordered = sorted(attempts(runs), key=lambda r: r.metadata["celery.retries"])
    assert [r.metadata["celery.retries"] for r in ordered] == [0, 1, 2]
    assert {r.parent_run_id for r in ordered} == {publish.id}
    assert [r.metadata["celery.state"] for r in ordered] == ["RETRY", "RETRY", "SUCCESS"]
    assert ordered[0].error is not None and "ConnectionError: attempt 0 failed" in ordered[0].error
    assert [e["name"] for e in ordered[1].events if e["name"] == "retry"] == ["retry"]
    assert ordered[2].error is None and ordered[2].outputs == {"output": "r1 ok after 2 retries"}
    assert len({r.metadata["celery.task_id"] for r in ordered}) == 1


HOSTILE = [
    {"langsmith-trace": "not-a-dotted-order", "baggage": "langsmith-metadata=%7B%7B%7B"},
    {"langsmith-trace": "20250101T000000000000Z" + "0" * 36 + ("." + "x" * 60) * 300},
    {"traceparent": "00-" + "0" * 32 + "-" + "0" * 16 + "-01"},
    {"traceparent": 12345, "langsmith-trace": ["a", "b"], "baggage": {"k": "v"}},
    {"langsmith-trace": "\x00\udcff" * 50, "tracestate": "x" * 100_000},
]


@pytest.mark.parametrize("headers", HOSTILE, ids=["garbage", "oversized", "zero-ids", "wrong-types", "binary"])
def test_hostile_headers_give_a_new_root_never_a_failed_task(
    worker: Worker, store: Path, memory: InMemoryExporter, headers: dict
) -> None:
    marker = abs(hash(repr(headers))) % 10_000
    with trace("enqueue"):  # the hand-set headers are respected, so they reach the worker as they are
        celery_tasks.add.apply_async((marker, 0), headers=headers)
    runs = wait_for_runs(store, lambda rs: any(r.name == "tasks.add" and r.inputs["args"] == [marker, 0] for r in rs))
    (task,) = [r for r in runs if r.name == "tasks.add" and r.inputs["args"] == [marker, 0]]
    assert task.parent_run_id is None and task.trace_id == task.id
    assert task.error is None and task.outputs == {"output": marker}


def test_the_secret_decides_whether_the_context_is_continued(
    secure_worker: Worker, store: Path, memory: InMemoryExporter
) -> None:
    with trace("trusted publisher") as good:
        celery_tasks.add.apply_async((1, 100), queue="secure", headers={"x-tracing-secret": "s3cret"})
    with trace("untrusted publisher") as bad:
        celery_tasks.add.apply_async((2, 100), queue="secure", headers={"x-tracing-secret": "guess"})
    bad_publish = next(r for r in memory.runs if r.trace_id == bad.trace_id and r.name == "publish tasks.add")

    def secure(rs: list) -> list:
        return [r for r in rs if r.service == "secure-worker" and r.name == "tasks.add"]

    runs = wait_for_runs(store, lambda rs: len(secure(rs)) == 2, secure_worker)
    trusted = next(r for r in secure(runs) if r.inputs["args"] == [1, 100])
    untrusted = next(r for r in secure(runs) if r.inputs["args"] == [2, 100])
    assert trusted.trace_id == good.trace_id
    assert untrusted.trace_id == untrusted.id != bad.trace_id
    assert untrusted.metadata["link.langsmith_trace"] == bad_publish.dotted_order


def test_the_worker_log_shows_no_tracing_fault(worker: Worker) -> None:
    celery_tasks.add.delay(0, 0)
    log = worker.log.read_text(errors="replace")
    assert "tracing skipped" not in log and "Signal handler" not in log
    assert os.path.exists(worker.log)
