"""Options and misuse, on tasks run eagerly in this process (the same signals as in a worker)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

celery = pytest.importorskip("celery")

from tracing_middleware import InMemoryExporter, extract, trace  # noqa: E402
from tracing_middleware.adapters.celery import TaskInfo, instrument_celery, uninstrument_celery  # noqa: E402


@pytest.fixture
def app() -> Iterator[celery.Celery]:
    eager = celery.Celery("eager", broker="memory://", set_as_current=False)
    eager.conf.update(task_always_eager=True, task_store_eager_result=False)
    yield eager
    uninstrument_celery(eager)


def test_an_eager_task_runs_under_the_callers_run_with_its_options(app, memory: InMemoryExporter) -> None:
    seen: list[TaskInfo] = []

    def name(info: TaskInfo) -> str:
        seen.append(info)
        return f"job {info.name}"

    instrument_celery(app, run_name=name, record_args=False, exclude_tasks=["skip.*"])

    @app.task(name="work.resize")
    def resize(size: int) -> int:
        return size // 2

    @app.task(name="skip.ping")
    def ping() -> str:
        return "pong"

    with trace("caller") as caller:
        assert resize.delay(64).get() == 32
        assert ping.delay().get() == "pong"
    runs = {run.name: run for run in memory.runs}
    assert set(runs) == {"caller", "job work.resize"}
    task = runs["job work.resize"]
    assert task.parent_run_id == caller.id
    assert task.inputs == {}
    assert task.outputs == {"output": 32}
    assert seen[0].name == "work.resize"


def test_an_uninstrumented_app_is_not_traced(app, memory: InMemoryExporter) -> None:
    instrument_celery(app)
    uninstrument_celery(app)

    @app.task(name="work.quiet")
    def quiet() -> int:
        return 1

    quiet.delay()
    assert memory.runs == []


def test_a_failing_run_name_function_costs_only_the_name(app, memory: InMemoryExporter) -> None:
    instrument_celery(app, run_name=lambda info: 1 / 0)

    @app.task(name="work.named")
    def named() -> int:
        return 1

    named.delay()
    assert [run.name for run in memory.runs] == ["work.named"]


def test_misuse_raises_naming_the_valid_choices(app) -> None:
    with pytest.raises(TypeError, match="valid options: exclude_tasks, trust"):
        instrument_celery(app, trusted_networks=["10.0.0.0/8"])
    with pytest.raises(TypeError, match="run_name must be a function"):
        instrument_celery(app, run_name="tasks")
    with pytest.raises(ValueError, match="shared_secret"):
        instrument_celery(app, shared_secret="")
    with pytest.raises(TypeError, match="list of task names"):
        instrument_celery(app, exclude_tasks="celery.*")
    with pytest.raises(TypeError, match="True or False"):
        instrument_celery(app, publish_runs="yes")
    with pytest.raises(TypeError, match=r"celery\.Celery"):
        instrument_celery(object())  # type: ignore[arg-type]


@pytest.mark.parametrize("publish_runs", [True, False])
def test_the_message_carries_context_and_secret_in_its_headers_not_its_args(
    memory: InMemoryExporter, publish_runs: bool
) -> None:
    app = celery.Celery(f"publisher-{publish_runs}", broker="memory://", set_as_current=False)
    instrument_celery(app, shared_secret="s3cret", publish_runs=publish_runs)
    try:

        @app.task(name="pub.work")
        def work(x: int) -> int:
            return x

        with trace("caller") as caller:
            work.apply_async((5,), queue=f"q-{publish_runs}")
        with app.connection_for_read() as connection:
            queue = connection.SimpleQueue(f"q-{publish_runs}")
            message = queue.get(timeout=10)
            headers, body = message.headers, message.decode()
            message.ack()
            queue.close()
    finally:
        uninstrument_celery(app)
    assert headers["x-tracing-secret"] == "s3cret"
    sender = extract(headers)
    assert sender is not None and sender.trace_id == caller.trace_id
    if publish_runs:
        (publish,) = [r for r in memory.runs if r.name == "publish pub.work"]
        assert sender.id == publish.id and publish.parent_run_id == caller.id
        assert publish.metadata["celery.task_id"] == headers["id"]
    else:
        assert sender.id == caller.id and [r.name for r in memory.runs] == ["caller"]
    args, kwargs, _embed = body
    assert args == [5] and kwargs == {}  # nothing of ours in the task's own arguments
