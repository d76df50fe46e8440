"""The current run: ``tracing_context``, token resets, asyncio tasks, threads and ``enabled``."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import tracing_middleware
from tracing_middleware import (
    InMemoryExporter,
    RunTree,
    bind_context,
    get_current_run_tree,
    get_tracing_context,
    suppress_tracing,
    trace,
    traceable,
    tracing_context,
)

TRACE_ID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
RUN_ID = "0190a1b2-c3d5-7aaa-9bbb-cccccccccccc"
DOTTED = f"20240101T120000123456Z{TRACE_ID}.20240101T120001000001Z{RUN_ID}"


@traceable
def leaf() -> RunTree | None:
    return get_current_run_tree()


def test_nothing_is_current_outside_any_run() -> None:
    assert get_current_run_tree() is None


def test_parent_as_headers(memory: InMemoryExporter) -> None:
    with tracing_context(parent={"Langsmith-Trace": DOTTED, "baggage": "langsmith-project=proj"}) as state:
        assert state.run is not None and get_current_run_tree() is state.run
        assert state.run.id == RUN_ID
        leaf()
    (run,) = memory.runs
    assert (run.trace_id, run.parent_run_id, run.project_name) == (TRACE_ID, RUN_ID, "proj")
    assert run.dotted_order.startswith(DOTTED + ".")
    assert get_current_run_tree() is None


def test_parent_as_run_tree(memory: InMemoryExporter) -> None:
    parent = RunTree("outer", project_name="proj")
    with tracing_context(parent=parent):
        assert get_current_run_tree() is parent
        leaf()
    (run,) = memory.runs
    assert (run.trace_id, run.parent_run_id) == (parent.id, parent.id)


@pytest.mark.parametrize("parent", [DOTTED, DOTTED.encode()], ids=["str", "bytes"])
def test_parent_as_dotted_order(parent: str | bytes, memory: InMemoryExporter) -> None:
    with tracing_context(parent=parent):
        leaf()
    (run,) = memory.runs
    assert (run.trace_id, run.parent_run_id) == (TRACE_ID, RUN_ID)


def test_parent_none_keeps_the_current_run(memory: InMemoryExporter) -> None:
    with trace("outer") as outer, tracing_context(parent=None, tags=["t"]):
        assert get_current_run_tree() is outer
        leaf()
    child = memory.by_name("leaf")[0]
    assert child.parent_run_id == outer.id
    assert "t" in child.tags


def test_parent_false_starts_a_new_root(memory: InMemoryExporter) -> None:
    with trace("outer") as outer, tracing_context(parent=False):
        assert get_current_run_tree() is None
        leaf()
    child = memory.by_name("leaf")[0]
    assert child.parent_run_id is None
    assert child.trace_id == child.id != outer.trace_id


def test_headers_without_a_valid_parent_start_a_new_root(memory: InMemoryExporter) -> None:
    with trace("outer"), tracing_context(parent={"langsmith-trace": "garbage"}):
        assert get_current_run_tree() is None
        leaf()
    assert memory.by_name("leaf")[0].parent_run_id is None


def test_defaults_apply_to_runs_inside(memory: InMemoryExporter) -> None:
    with tracing_context(project_name="scoped", tags=["a"], metadata={"k": 1}):
        with tracing_context(tags=["b"], metadata={"j": 2}):
            state = get_tracing_context()
            assert state.tags == ("a", "b") and state.metadata == {"k": 1, "j": 2}
            leaf()
        assert get_tracing_context().tags == ("a",)
    (run,) = memory.runs
    assert (run.project_name, run.tags, run.metadata) == ("scoped", ["a", "b"], {"k": 1, "j": 2})


def test_nested_contexts_reset_in_order() -> None:
    first, second = RunTree("first"), RunTree("second")
    with tracing_context(parent=first):
        with tracing_context(parent=second):
            assert get_current_run_tree() is second
        assert get_current_run_tree() is first
    assert get_current_run_tree() is None


def test_context_is_reset_when_the_block_raises() -> None:
    outer = RunTree("outer")
    with tracing_context(parent=outer):
        with pytest.raises(KeyError), tracing_context(parent=RunTree("inner"), enabled=False):
            raise KeyError("boom")
        assert get_current_run_tree() is outer
        assert get_tracing_context().enabled
    assert get_current_run_tree() is None


def test_traced_run_is_reset_when_the_function_raises(memory: InMemoryExporter) -> None:
    @traceable
    def boom() -> None:
        raise RuntimeError("boom")

    with trace("outer") as outer:
        with pytest.raises(RuntimeError):
            boom()
        assert get_current_run_tree() is outer
    assert get_current_run_tree() is None


def test_asyncio_tasks_see_their_own_parent(memory: InMemoryExporter) -> None:
    @traceable
    async def work(i: int) -> str:
        await asyncio.sleep(0)
        run = get_current_run_tree()
        assert run is not None
        return run.parent_run_id or ""

    async def task(parent: RunTree, i: int) -> str:
        with tracing_context(parent=parent):
            await asyncio.sleep(0)
            assert get_current_run_tree() is parent
            return await work(i)

    parents = [RunTree(f"parent{i}") for i in range(8)]

    async def main() -> list[str]:
        return list(await asyncio.gather(*(asyncio.create_task(task(p, i)) for i, p in enumerate(parents))))

    assert asyncio.run(main()) == [p.id for p in parents]
    by_input = {run.inputs["i"]: run for run in memory.by_name("work")}
    assert [by_input[i].parent_run_id for i in range(8)] == [p.id for p in parents]


def test_asyncio_tasks_inherit_the_current_run(memory: InMemoryExporter) -> None:
    @traceable
    async def child(i: int) -> int:
        await asyncio.sleep(0)
        return i

    @traceable
    async def parent() -> list[int]:
        return list(await asyncio.gather(*(asyncio.create_task(child(i)) for i in range(5))))

    assert asyncio.run(parent()) == [0, 1, 2, 3, 4]
    (root,) = memory.by_name("parent")
    children = memory.by_name("child")
    assert len(children) == 5
    assert {c.parent_run_id for c in children} == {root.id}
    assert all(c.dotted_order.startswith(root.dotted_order + ".") for c in children)


def test_bind_context_carries_the_run_into_a_thread_pool(memory: InMemoryExporter) -> None:
    with trace("request") as request, ThreadPoolExecutor(max_workers=2) as pool:
        bound = [pool.submit(bind_context(leaf)).result() for _ in range(4)]
        bare = pool.submit(leaf).result()
    assert all(run is not None and run.parent_run_id == request.id for run in bound)
    assert bare is not None and bare.parent_run_id is None and bare.trace_id != request.trace_id


def test_bind_context_runs_each_call_in_its_own_copy() -> None:
    seen: list[RunTree | None] = []
    barrier = threading.Barrier(2, timeout=10)

    def work() -> None:
        with tracing_context(parent=RunTree(threading.current_thread().name)):
            barrier.wait()
            seen.append(get_current_run_tree())

    with tracing_context(parent=RunTree("outer")):
        bound = bind_context(work)
    threads = [threading.Thread(target=bound, name=f"t{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sorted(run.name for run in seen if run is not None) == ["t0", "t1"]


def test_enabled_false_makes_no_runs(memory: InMemoryExporter) -> None:
    with tracing_context(enabled=False):
        assert leaf() is None
        with trace("block") as block:
            assert get_current_run_tree() is None
        assert block.name == "block"
    assert memory.runs == []
    with tracing_context(enabled=False), tracing_context(enabled=True):
        leaf()
    assert len(memory.runs) == 1


def test_configure_enabled_false_makes_no_runs() -> None:
    exporter = InMemoryExporter()
    tracing_middleware.configure(exporter=exporter, enabled=False)
    try:
        assert leaf() is None
    finally:
        tracing_middleware.configure(exporter="none")
    assert exporter.runs == []


def test_suppress_tracing_hides_the_current_run(memory: InMemoryExporter) -> None:
    with trace("outer"):
        with suppress_tracing():
            assert get_current_run_tree() is None
            assert leaf() is None
        assert get_current_run_tree() is not None
    assert [run.name for run in memory.runs] == ["outer"]
