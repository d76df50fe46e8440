"""``@traceable`` and ``trace()``: runs around functions, generators and blocks; misuse is named."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import Any

import pytest

import tracing_middleware
from tracing_middleware import RUN_TYPES, InMemoryExporter, RunTree, get_current_run_tree, trace, traceable

TRACE_ID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
RUN_ID = "0190a1b2-c3d5-7aaa-9bbb-cccccccccccc"
DOTTED = f"20240101T120000123456Z{TRACE_ID}.20240101T120001000001Z{RUN_ID}"


# -- plain functions ----------------------------------------------------------------------------------


def test_bare_decorator(memory: InMemoryExporter) -> None:
    @traceable
    def add(a: int, b: int) -> int:
        """Adds."""
        return a + b

    assert add(1, 2) == 3
    assert (add.__name__, add.__doc__) == ("add", "Adds.")
    (run,) = memory.runs
    assert (run.name, run.run_type, run.project_name) == ("add", "chain", "default")
    assert run.inputs == {"a": 1, "b": 2}
    assert run.outputs == {"output": 3}
    assert run.parent_run_id is None and run.trace_id == run.id
    assert run.end_us is not None and run.end_us >= run.start_us and run.error is None


def test_decorator_options(memory: InMemoryExporter) -> None:
    @traceable(name="renamed", run_type="llm", tags=["t1"], metadata={"model": "m"}, project_name="proj")
    def call() -> dict[str, int]:
        return {"tokens": 3}

    assert call() == {"tokens": 3}
    (run,) = memory.runs
    assert (run.name, run.run_type, run.tags, run.metadata, run.project_name) == (
        "renamed",
        "llm",
        ["t1"],
        {"model": "m"},
        "proj",
    )
    assert run.outputs == {"tokens": 3}


@pytest.mark.parametrize(
    "value, expected",
    [([1, 2], {"output": [1, 2]}), ("text", {"output": "text"}), ({"k": "v"}, {"k": "v"}), (0, {"output": 0})],
    ids=["list", "str", "dict", "zero"],
)
def test_outputs_are_wrapped_unless_a_dict(value: Any, expected: dict[str, Any], memory: InMemoryExporter) -> None:
    traceable(lambda: value)()
    assert memory.runs[0].outputs == expected


def test_async_function(memory: InMemoryExporter) -> None:
    @traceable(name="fetch")
    async def fetch(url: str) -> str:
        await asyncio.sleep(0)
        inner()
        return url.upper()

    @traceable
    def inner() -> None:
        pass

    assert inspect.iscoroutinefunction(fetch)
    assert asyncio.run(fetch("a")) == "A"
    (run,) = memory.by_name("fetch")
    assert (run.inputs, run.outputs) == ({"url": "a"}, {"output": "A"})
    assert memory.by_name("inner")[0].parent_run_id == run.id


def test_children_nest(memory: InMemoryExporter) -> None:
    @traceable
    def child() -> None:
        pass

    @traceable
    def parent() -> None:
        child()
        child()

    parent()
    (root,) = memory.by_name("parent")
    kids = memory.by_name("child")
    assert [k.parent_run_id for k in kids] == [root.id, root.id]
    assert all(k.trace_id == root.id and k.dotted_order.startswith(root.dotted_order + ".") for k in kids)
    assert [r.name for r in memory.runs] == ["child", "child", "parent"]


# -- inputs -------------------------------------------------------------------------------------------


def test_inputs_bound_by_parameter_name(memory: InMemoryExporter) -> None:
    @traceable
    def f(a: int, b: int = 2, *args: int, c: int = 3, **kwargs: int) -> None:
        pass

    f(1)
    f(1, 5, 6, 7, c=8, d=9)
    f(a=1, b=4)
    assert [run.inputs for run in memory.runs] == [
        {"a": 1, "b": 2, "args": [], "c": 3},  # an empty *args is recorded, as LangSmith's SDK does
        {"a": 1, "b": 5, "args": [6, 7], "c": 8, "d": 9},
        {"a": 1, "b": 4, "args": [], "c": 3},
    ]


def test_positional_only_and_keyword_only(memory: InMemoryExporter) -> None:
    @traceable
    def f(a: int, /, b: int, *, c: int, d: int = 4) -> None:
        pass

    f(1, 2, c=3)
    assert memory.runs[0].inputs == {"a": 1, "b": 2, "c": 3, "d": 4}


def test_self_and_cls_are_left_out(memory: InMemoryExporter) -> None:
    class Service:
        @traceable
        def method(self, x: int) -> int:
            return x

        @classmethod
        @traceable
        def make(cls, y: int) -> int:
            return y

    Service().method(1)
    Service.make(y=2)
    assert [run.inputs for run in memory.runs] == [{"x": 1}, {"y": 2}]


def test_a_run_tree_parameter_receives_the_run(memory: InMemoryExporter) -> None:
    @traceable
    def f(x: int, run_tree: RunTree | None = None) -> str:
        assert run_tree is get_current_run_tree()
        return run_tree.id if run_tree else ""

    result = f(1)
    (run,) = memory.runs
    assert result == run.id
    assert run.inputs == {"x": 1}


# -- langsmith_extra ----------------------------------------------------------------------------------


@traceable
def handler(q: str) -> str:
    return q


@pytest.mark.parametrize(
    "parent",
    [{"langsmith-trace": DOTTED}, [(b"Langsmith-Trace", DOTTED.encode())], DOTTED, RunTree.from_dotted_order(DOTTED)],
    ids=["headers dict", "ASGI pairs", "dotted order", "RunTree"],
)
def test_langsmith_extra_parent(parent: Any, memory: InMemoryExporter) -> None:
    with trace("unrelated"):
        handler("x", langsmith_extra={"parent": parent})
    run = memory.by_name("handler")[0]
    assert (run.trace_id, run.parent_run_id) == (TRACE_ID, RUN_ID)
    assert run.inputs == {"q": "x"}


def test_langsmith_extra_run_tree_key(memory: InMemoryExporter) -> None:
    parent = RunTree("outer")
    handler("x", langsmith_extra={"run_tree": parent})
    assert memory.runs[0].parent_run_id == parent.id


def test_langsmith_extra_metadata_tags_run_id_name_project(memory: InMemoryExporter) -> None:
    @traceable(tags=["fixed"], metadata={"a": 1})
    def f() -> None:
        pass

    run_id = uuid.uuid4()
    seen: list[RunTree] = []
    f(
        langsmith_extra={
            "metadata": {"b": 2},
            "tags": ["extra", "fixed"],
            "run_id": run_id,
            "name": "other",
            "project_name": "proj",
            "on_end": seen.append,
        }
    )
    (run,) = memory.runs
    assert (run.id, run.name, run.project_name) == (str(run_id), "other", "proj")
    assert (run.tags, run.metadata) == (["fixed", "extra"], {"a": 1, "b": 2})
    assert seen == [run]
    assert "langsmith_extra" not in run.inputs


def test_unknown_langsmith_extra_key_names_the_valid_ones(memory: InMemoryExporter) -> None:
    with pytest.raises(TypeError, match="parent") as info:
        handler("x", langsmith_extra={"parnet": {}})
    assert "parnet" in str(info.value)
    assert memory.runs == []


# -- exceptions ---------------------------------------------------------------------------------------


class Boom(Exception):
    pass


def test_exception_is_recorded_and_reraised_unchanged(memory: InMemoryExporter) -> None:
    original = Boom("bad thing")

    @traceable
    def fail(x: int) -> None:
        raise original

    with pytest.raises(Boom) as info:
        fail(1)
    assert info.value is original
    (run,) = memory.runs
    assert run.error is not None
    assert run.error.startswith("Boom: bad thing")
    assert "Traceback" in run.error and "in fail" in run.error
    assert run.outputs is None and run.end_us is not None
    (event,) = [e for e in run.events if e["name"] == "exception"]
    assert event["kwargs"] == {"exception.type": "Boom", "exception.message": "bad thing"}


def test_async_exception_is_reraised_unchanged(memory: InMemoryExporter) -> None:
    original = Boom("async")

    @traceable
    async def fail() -> None:
        await asyncio.sleep(0)
        raise original

    async def main() -> BaseException | None:
        try:
            await fail()
        except Boom as error:
            return error
        return None

    assert asyncio.run(main()) is original
    assert memory.runs[0].error is not None and memory.runs[0].error.startswith("Boom: async")


def test_base_exceptions_are_recorded_too(memory: InMemoryExporter) -> None:
    @traceable
    def stop() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stop()
    assert memory.runs[0].error is not None and memory.runs[0].error.startswith("KeyboardInterrupt")


# -- generators ---------------------------------------------------------------------------------------


@traceable
def count(n: int) -> Generator[int, None, None]:
    for i in range(n):
        assert get_current_run_tree() is not None and get_current_run_tree().name == "count"  # type: ignore[union-attr]
        yield i


def test_generator_run_ends_when_exhausted(memory: InMemoryExporter) -> None:
    assert inspect.isgeneratorfunction(count)
    gen = count(3)
    assert next(gen) == 0
    assert get_current_run_tree() is None  # between items the caller's context is current
    assert memory.runs == []
    assert list(gen) == [1, 2]
    (run,) = memory.runs
    assert (run.inputs, run.outputs) == ({"n": 3}, {"output": [0, 1, 2]})
    assert run.end_us is not None


def test_generator_closed_early_records_what_it_yielded(memory: InMemoryExporter) -> None:
    gen = count(10)
    assert [next(gen), next(gen)] == [0, 1]
    gen.close()
    (run,) = memory.runs
    assert run.outputs == {"output": [0, 1]}
    assert run.error is None and run.end_us is not None
    assert any(e["name"] == "closed" for e in run.events)


def test_cleanup_of_a_generator_closed_early_nests_under_it(memory: InMemoryExporter) -> None:
    @traceable
    def cleanup() -> None:
        pass

    @traceable
    def stream() -> Generator[int, None, None]:
        try:
            yield 1
            yield 2
        finally:
            cleanup()

    gen = stream()
    next(gen)
    gen.close()
    (parent,) = memory.by_name("stream")
    (child,) = memory.by_name("cleanup")
    assert (child.parent_run_id, child.trace_id) == (parent.id, parent.trace_id)


def test_generator_send_and_return_value(memory: InMemoryExporter) -> None:
    @traceable
    def echo() -> Generator[Any, Any, dict[str, bool]]:
        got = yield "ready"
        yield got
        return {"done": True}

    gen = echo()
    assert next(gen) == "ready"
    assert gen.send("hi") == "hi"
    with pytest.raises(StopIteration):
        next(gen)
    assert memory.runs[0].outputs == {"done": True}


def test_generator_error_keeps_items_and_reraises(memory: InMemoryExporter) -> None:
    original = Boom("mid-stream")

    @traceable
    def broken() -> Iterator[int]:
        yield 1
        raise original

    gen = broken()
    assert next(gen) == 1
    with pytest.raises(Boom) as info:
        next(gen)
    assert info.value is original
    (run,) = memory.runs
    assert run.outputs == {"output": [1]}
    assert run.error is not None and run.error.startswith("Boom: mid-stream")


def test_children_of_a_generator_nest_under_it(memory: InMemoryExporter) -> None:
    @traceable
    def step(i: int) -> int:
        return i

    @traceable
    def stream() -> Iterator[int]:
        for i in range(2):
            yield step(i)

    assert list(stream()) == [0, 1]
    (parent,) = memory.by_name("stream")
    assert [r.parent_run_id for r in memory.by_name("step")] == [parent.id, parent.id]


@traceable(name="agen")
async def acount(n: int) -> AsyncGenerator[int, None]:
    for i in range(n):
        await asyncio.sleep(0)
        yield i


def test_async_generator_run_ends_when_exhausted(memory: InMemoryExporter) -> None:
    async def main() -> list[int]:
        return [i async for i in acount(3)]

    assert inspect.isasyncgenfunction(acount)
    assert asyncio.run(main()) == [0, 1, 2]
    (run,) = memory.runs
    assert (run.name, run.inputs, run.outputs) == ("agen", {"n": 3}, {"output": [0, 1, 2]})


def test_async_generator_closed_early_records_what_it_yielded(memory: InMemoryExporter) -> None:
    async def main() -> None:
        agen = acount(10)
        assert await agen.__anext__() == 0
        assert memory.runs == []
        await agen.aclose()

    asyncio.run(main())
    (run,) = memory.runs
    assert run.outputs == {"output": [0]} and run.end_us is not None and run.error is None


def test_cleanup_of_an_async_generator_closed_early_nests_under_it(memory: InMemoryExporter) -> None:
    @traceable
    def cleanup() -> None:
        pass

    @traceable
    async def stream() -> AsyncGenerator[int, None]:
        try:
            yield 1
            yield 2
        finally:
            cleanup()

    async def main() -> None:
        agen = stream()
        await agen.__anext__()
        await agen.aclose()

    asyncio.run(main())
    (parent,) = memory.by_name("stream")
    (child,) = memory.by_name("cleanup")
    assert (child.parent_run_id, child.trace_id) == (parent.id, parent.trace_id)


def test_async_generator_error_is_recorded_and_reraised(memory: InMemoryExporter) -> None:
    original = Boom("async stream")

    @traceable
    async def broken() -> AsyncIterator[int]:
        yield 1
        raise original

    async def main() -> BaseException | None:
        try:
            async for _ in broken():
                pass
        except Boom as error:
            return error
        return None

    assert asyncio.run(main()) is original
    (run,) = memory.runs
    assert run.outputs == {"output": [1]} and run.error is not None


# -- trace() ------------------------------------------------------------------------------------------


def test_trace_as_a_context_manager(memory: InMemoryExporter) -> None:
    with trace("step", "tool", inputs={"q": 1}, tags=["t"]) as run:
        assert get_current_run_tree() is run
        with trace("inner") as inner:
            pass
        run.end(outputs={"a": 2})
    assert get_current_run_tree() is None
    assert inner.parent_run_id == run.id
    assert [r.name for r in memory.runs] == ["inner", "step"]
    recorded = memory.by_name("step")[0]
    assert (recorded.run_type, recorded.inputs, recorded.outputs, recorded.tags) == ("tool", {"q": 1}, {"a": 2}, ["t"])


def test_trace_records_and_propagates_an_exception(memory: InMemoryExporter) -> None:
    original = Boom("in block")
    with pytest.raises(Boom) as info, trace("step"):
        raise original
    assert info.value is original
    assert memory.runs[0].error is not None and memory.runs[0].error.startswith("Boom: in block")


def test_trace_as_an_async_context_manager(memory: InMemoryExporter) -> None:
    async def main() -> str:
        async with trace("astep", parent={"langsmith-trace": DOTTED}) as run:
            await asyncio.sleep(0)
            assert get_current_run_tree() is run
            return run.id

    run_id = asyncio.run(main())
    (run,) = memory.runs
    assert (run.id, run.parent_run_id, run.trace_id) == (run_id, RUN_ID, TRACE_ID)


# -- misuse -------------------------------------------------------------------------------------------


def test_bad_run_type_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="chain") as info:
        traceable(run_type="bad")
    assert all(kind in str(info.value) for kind in RUN_TYPES)
    with pytest.raises(ValueError, match="llm"):
        trace("x", run_type="bad")


def test_bad_exporter_names_the_valid_ones(memory: InMemoryExporter) -> None:
    with pytest.raises(ValueError, match="memory") as info:
        tracing_middleware.configure(exporter="nope")
    assert "nope" in str(info.value)
    traceable(lambda: None)()  # the previous configuration still stands
    assert len(memory.runs) == 1


def test_traceable_of_a_non_callable() -> None:
    with pytest.raises(TypeError, match="function"):
        traceable(42)  # type: ignore[call-overload]
