"""The LangSmith bridge across threads, asyncio tasks, generators and a reused WSGI thread."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

langsmith = pytest.importorskip("langsmith")

import tracing_middleware as tm  # noqa: E402
from tracing_middleware import InMemoryExporter, WSGITracingMiddleware  # noqa: E402


@pytest.fixture(autouse=True)
def langsmith_tracing_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from langsmith import utils

    for name in ("LANGSMITH_TRACING", "LANGSMITH_TRACING_V2", "LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING"):
        monkeypatch.delenv(name, raising=False)
    utils.get_env_var.cache_clear()


def theirs_id() -> str | None:
    run = langsmith.get_current_run_tree()
    return str(run.id) if run is not None else None


def test_bind_context_carries_the_parent_into_a_thread_pool(memory: InMemoryExporter) -> None:
    @langsmith.traceable
    def in_thread() -> str | None:
        return theirs_id()

    with tm.trace("request") as request, ThreadPoolExecutor(max_workers=2) as pool:
        bound = pool.submit(tm.bind_context(theirs_id)).result()
        child_id = pool.submit(tm.bind_context(in_thread)).result()
        unbound = pool.submit(theirs_id).result()
    assert bound == request.id and unbound is None
    child = next(run for run in memory.runs if run.name == "in_thread")
    assert child.id == child_id and child.parent_run_id == request.id


def test_asyncio_tasks_nest_langsmith_and_our_runs(memory: InMemoryExporter) -> None:
    @langsmith.traceable
    async def theirs(n: int) -> str | None:
        await asyncio.sleep(0)
        return await ours(n)

    @tm.traceable
    async def ours(n: int) -> str | None:
        await asyncio.sleep(0)
        run = tm.get_current_run_tree()
        return run.parent_run_id if run else None

    async def main() -> tuple[list[str | None], str]:
        async with tm.trace("request") as request:
            results = await asyncio.gather(*(asyncio.create_task(theirs(n)) for n in range(3)))
            return list(results), request.id

    parents, request_id = asyncio.run(main())
    middles = [run for run in memory.runs if run.name == "theirs"]
    assert len(middles) == 3 and all(run.parent_run_id == request_id for run in middles)
    assert sorted(p or "" for p in parents) == sorted(run.id for run in middles)  # each under its own task's run


def test_a_generator_is_langsmiths_parent_only_while_it_runs(memory: InMemoryExporter) -> None:
    @tm.traceable
    def stream() -> Iterator[str | None]:
        yield theirs_id()
        yield theirs_id()

    with tm.trace("caller") as caller:
        items = stream()
        first = next(items)
        between = theirs_id()
    second = next(items)
    items.close()
    generator_run = next(run for run in memory.runs if run.name == "stream")
    assert first == second == generator_run.id
    assert between == caller.id
    assert theirs_id() is None


def test_a_reused_wsgi_thread_sees_nothing_of_the_last_request(memory: InMemoryExporter) -> None:
    seen: list[str | None] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(theirs_id())
        start_response("200 OK", [("content-type", "text/plain")])
        return [b"ok"]

    wrapped = WSGITracingMiddleware(app)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/x", "SERVER_NAME": "t", "SERVER_PORT": "80",
               "wsgi.url_scheme": "http", "QUERY_STRING": ""}  # fmt: skip
    for _ in range(3):
        body = wrapped(dict(environ), lambda *a: None)
        list(body)
        getattr(body, "close", lambda: None)()
        assert theirs_id() is None
    assert len(set(seen)) == 3 and set(seen) == {run.id for run in memory.runs}
