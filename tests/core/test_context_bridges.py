"""The bridge hooks of ``core.context``: what a foreign tracer is told, and how it supplies a parent."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tracing_middleware import (
    InMemoryExporter,
    RunTree,
    TracingMiddleware,
    get_current_run_tree,
    suppress_tracing,
    trace,
    traceable,
    tracing_context,
)
from tracing_middleware.core import context
from tracing_middleware.core.context import (
    Bridge,
    TracingState,
    current_parent,
    enter_run,
    enter_state,
    exit_run,
    register_bridge,
    registered_bridges,
    unregister_bridge,
)

FOREIGN = "20240101T120000123456Z0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"


class Recording(Bridge):
    """Keeps its own stack, as an OpenTelemetry bridge keeps attach tokens."""

    def __init__(self, name: str = "b", log: list[tuple[str, str, str | None]] | None = None) -> None:
        self.name = name
        self.log = log if log is not None else []
        self.count = 0

    def on_enter(self, state: TracingState) -> Any:
        self.count += 1
        handle = f"{self.name}{self.count}"
        self.log.append(("enter", handle, state.run.name if state.run else None))
        return handle

    def on_exit(self, handle: Any) -> None:
        self.log.append(("exit", handle, None))


class Foreign(Bridge):
    """Stands for a tracer whose own run is innermost while ``active`` is set."""

    def __init__(self) -> None:
        self.active: RunTree | None = None
        self.seen: list[RunTree | None] = []

    def innermost_parent(self, run: RunTree | None) -> RunTree | None:
        self.seen.append(run)
        return self.active or run


@pytest.fixture(autouse=True)
def no_peer_bridges(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """These tests pin the hook points alone: the bridges to installed peers are taken out meanwhile."""
    from tracing_middleware import bridges as peers

    monkeypatch.setenv(peers.ENV, "none")  # a configure() inside a test keeps them out too
    was = peers.apply(())
    yield
    peers.apply(was)


@pytest.fixture
def bridges() -> Iterator[list[Bridge]]:
    added: list[Bridge] = []
    yield added
    for bridge in added:
        unregister_bridge(bridge)
    assert registered_bridges() == ()


def add(bridges: list[Bridge], bridge: Bridge) -> Any:
    register_bridge(bridge)
    bridges.append(bridge)
    return bridge


def test_without_bridges_entering_returns_the_plain_contextvar_token() -> None:
    token = enter_run(RunTree("plain"))
    try:
        assert type(token) is contextvars.Token
        assert get_current_run_tree() is not None and get_current_run_tree().name == "plain"  # type: ignore[union-attr]
    finally:
        exit_run(token)
    assert get_current_run_tree() is None


def test_a_traced_call_is_entered_and_exited_with_the_bridges_handle(
    memory: InMemoryExporter, bridges: list[Bridge]
) -> None:
    bridge = add(bridges, Recording())

    @traceable
    def inner() -> None:
        pass

    @traceable
    def outer() -> None:
        inner()

    outer()
    assert bridge.log == [
        ("enter", "b1", "outer"),
        ("enter", "b2", "inner"),
        ("exit", "b2", None),
        ("exit", "b1", None),
    ]


def test_bridges_exit_in_reverse_order_of_entry(memory: InMemoryExporter, bridges: list[Bridge]) -> None:
    log: list[tuple[str, str, str | None]] = []
    add(bridges, Recording("a", log))
    add(bridges, Recording("z", log))
    with trace("step"):
        pass
    assert log == [("enter", "a1", "step"), ("enter", "z1", "step"), ("exit", "z1", None), ("exit", "a1", None)]


def test_scoped_states_are_reported_too_even_without_a_run(bridges: list[Bridge]) -> None:
    bridge = add(bridges, Recording())
    with tracing_context(parent=False), suppress_tracing():
        pass
    assert [entry[0] for entry in bridge.log] == ["enter", "enter", "exit", "exit"]
    assert all(entry[2] is None for entry in bridge.log)


def test_each_step_of_a_traced_generator_is_entered_and_exited(memory: InMemoryExporter, bridges: list[Bridge]) -> None:
    @traceable
    def numbers() -> Iterator[int]:
        yield 1
        yield 2

    bridge = add(bridges, Recording())
    assert list(numbers()) == [1, 2]
    kinds = [entry[0] for entry in bridge.log]
    assert kinds[:2] == ["enter", "exit"]  # start_run, then undone between items
    assert kinds.count("enter") == kinds.count("exit") >= 3
    assert {entry[2] for entry in bridge.log if entry[0] == "enter"} == {"numbers"}


def test_a_request_is_current_for_the_bridge_while_the_handler_runs(
    memory: InMemoryExporter, bridges: list[Bridge], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracing_middleware import get_runtime

    monkeypatch.setattr(get_runtime(), "outbound_pending", False)
    bridge = add(bridges, Recording())
    seen: list[str | None] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(bridge.log[-1][2])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [], "query_string": b""}
    asyncio.run(TracingMiddleware(app)(scope, receive, send))
    assert seen == ["GET"]
    assert bridge.log[-1][0] == "exit" and len(memory.runs) == 1


def test_a_foreign_parent_becomes_the_parent_of_new_runs(memory: InMemoryExporter, bridges: list[Bridge]) -> None:
    foreign = add(bridges, Foreign())
    foreign.active = RunTree.from_dotted_order(FOREIGN)
    with trace("under-foreign") as run:
        assert run.trace_id == foreign.active.trace_id
        assert run.parent_run_id == foreign.active.id
    assert foreign.seen == [None]  # consulted with our current run (none here)


def test_a_bridge_may_keep_our_run_as_the_innermost(memory: InMemoryExporter, bridges: list[Bridge]) -> None:
    foreign = add(bridges, Foreign())
    with trace("ours") as ours, trace("child") as child:
        assert child.parent_run_id == ours.id
    assert [run.name if run else None for run in foreign.seen] == [None, "ours"]


def test_no_parent_is_asked_for_where_tracing_is_off(bridges: list[Bridge]) -> None:
    foreign = add(bridges, Foreign())
    foreign.active = RunTree.from_dotted_order(FOREIGN)
    assert current_parent() is foreign.active
    with suppress_tracing():
        assert current_parent() is None
    assert len(foreign.seen) == 1


def test_a_failing_bridge_never_reaches_the_users_code(
    memory: InMemoryExporter, bridges: list[Bridge], caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Bridge):
        def on_enter(self, state: TracingState) -> Any:
            raise RuntimeError("enter")

        def on_exit(self, handle: Any) -> None:
            raise RuntimeError("exit")

        def innermost_parent(self, run: RunTree | None) -> RunTree | None:
            raise RuntimeError("parent")

    add(bridges, Broken())
    healthy = add(bridges, Recording())
    caplog.set_level(logging.WARNING, logger="tracing_middleware.context")
    for _ in range(3):
        with trace("still-traced"):
            pass
    assert [run.name for run in memory.runs] == ["still-traced"] * 3
    assert [entry[0] for entry in healthy.log] == ["enter", "exit"] * 3  # the others are still told
    assert get_current_run_tree() is None
    assert sorted(r.getMessage().split(" in ")[1].split(";")[0] for r in caplog.records) == [
        "innermost_parent",
        "on_enter",
    ]  # on_enter never succeeded, so on_exit was never due; each failure logged once


def test_a_state_entered_with_a_bridge_is_exited_through_it_after_unregistering(bridges: list[Bridge]) -> None:
    bridge = Recording()
    register_bridge(bridge)
    token = enter_state(TracingState(RunTree("r")))
    unregister_bridge(bridge)
    exit_run(token)
    assert bridge.log == [("enter", "b1", "r"), ("exit", "b1", None)]
    assert get_current_run_tree() is None


def test_registering_is_idempotent_and_checked(bridges: list[Bridge]) -> None:
    bridge = add(bridges, Recording())
    register_bridge(bridge)
    assert registered_bridges() == (bridge,)
    with pytest.raises(TypeError, match="Bridge"):
        register_bridge(object())  # type: ignore[arg-type]
    unregister_bridge(Recording())  # an unknown one is ignored
    assert registered_bridges() == (bridge,)


def test_asyncio_tasks_tell_the_bridge_about_their_own_runs(memory: InMemoryExporter, bridges: list[Bridge]) -> None:
    bridge = add(bridges, Recording())

    async def task(name: str) -> None:
        with trace(name):
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(task("one"), task("two"))

    asyncio.run(main())
    entered = sorted(entry[2] or "" for entry in bridge.log if entry[0] == "enter")
    assert entered == ["one", "two"] and len(bridge.log) == 4


def test_only_the_context_module_touches_the_contextvar() -> None:
    from pathlib import Path

    package = Path(context.__file__).resolve().parents[1]
    offenders = [
        str(path.relative_to(package))
        for path in sorted(package.rglob("*.py"))
        if path.name != "context.py" and "_STATE" in path.read_text()
    ]
    assert offenders == []


def test_a_none_handle_has_nothing_to_undo(bridges: list[Bridge]) -> None:
    class Follower(Recording):
        """Sets itself up only for the outermost run, as a bridge following our state does."""

        def on_enter(self, state: TracingState) -> Any:
            return super().on_enter(state) if state.run is not None and state.run.name == "outer" else None

    bridge = add(bridges, Follower())
    outer = enter_run(RunTree("outer"))
    inner = enter_run(RunTree("inner"))
    assert type(inner) is contextvars.Token  # no bridge had anything to undo: the plain token
    exit_run(inner)
    exit_run(outer)
    assert bridge.log == [("enter", "b1", "outer"), ("exit", "b1", None)]
