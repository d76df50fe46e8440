"""The bridges' fast paths: hooks skipped where the foreign tracer already follows us, tokens reset in C.

What is skipped must be exactly what the hook would have done nothing for; these pin that, with a
bridge of our own and with the real langsmith and OpenTelemetry variables.
"""

from __future__ import annotations

import contextvars
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tracing_middleware as tm
from tracing_middleware import bridges
from tracing_middleware.core.context import (
    Bridge,
    TracingState,
    current_parent,
    enter_run,
    exit_run,
    register_bridge,
    unregister_bridge,
)
from tracing_middleware.core.run_tree import RunTree

FOREIGN: contextvars.ContextVar[Any] = contextvars.ContextVar("foreign_tracer", default=None)
FOLLOWING = object()


class Follower(Bridge):
    """Puts FOLLOWING in its variable on entry, as the LangSmith bridge puts LIVE in langsmith's."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.exits: list[Any] = []
        self.peek = FOREIGN.get
        self.following = (FOLLOWING,)
        self.quiet = (None,)
        self.token_handles = True

    def on_enter(self, state: TracingState) -> Any:
        self.calls.append("enter")
        if FOREIGN.get() is FOLLOWING:
            return None
        return FOREIGN.set(FOLLOWING)

    def on_exit(self, handle: Any) -> None:
        self.exits.append(handle)  # never: the handles are tokens, reset by our context

    def innermost_parent(self, run: RunTree | None) -> RunTree | None:
        self.calls.append("parent")
        value = FOREIGN.get()
        return value if isinstance(value, RunTree) else run


@pytest.fixture
def follower(monkeypatch: pytest.MonkeyPatch) -> Iterator[Follower]:
    monkeypatch.setenv(bridges.ENV, "none")
    was = bridges.apply(())
    bridge = Follower()
    register_bridge(bridge)
    try:
        yield bridge
    finally:
        unregister_bridge(bridge)
        bridges.apply(was)


def test_hooks_are_called_only_where_they_have_something_to_do(follower: Follower) -> None:
    outer = enter_run(RunTree("outer"))
    assert FOREIGN.get() is FOLLOWING and follower.calls == ["enter"]
    assert current_parent() is not None and current_parent().name == "outer"  # type: ignore[union-attr]
    inner = enter_run(RunTree("inner"))
    assert type(inner) is contextvars.Token  # the nested entry had nothing to undo
    exit_run(inner)
    exit_run(outer)
    assert follower.calls == ["enter"]  # nested entry and parent lookups skipped: FOLLOWING was current
    assert FOREIGN.get() is None and follower.exits == []  # the token was reset without on_exit


def test_a_foreign_run_innermost_is_still_asked_for(follower: Follower) -> None:
    theirs = RunTree("theirs")
    outer = enter_run(RunTree("outer"))
    token = FOREIGN.set(theirs)  # the foreign tracer starts a run of its own inside ours
    try:
        assert current_parent() is theirs
        inner = enter_run(RunTree("inner"))  # ours inside theirs: entered, so the tracer follows again
        assert FOREIGN.get() is FOLLOWING
        exit_run(inner)
        assert FOREIGN.get() is theirs  # put back as it was
    finally:
        FOREIGN.reset(token)
        exit_run(outer)
    assert follower.calls == ["enter", "parent", "enter"]


def test_a_token_exited_in_another_context_is_left_alone(follower: Follower) -> None:
    token = enter_run(RunTree("generator"))
    with pytest.raises(ValueError, match="different Context"):  # ours, as ContextVar.reset; the bridge's is quiet
        contextvars.copy_context().run(exit_run, token)  # as a generator closed elsewhere
    assert FOREIGN.get() is FOLLOWING and follower.exits == []
    exit_run(token)
    assert FOREIGN.get() is None


def test_langsmith_sees_no_parent_after_requests_and_nesting_sets_nothing() -> None:
    langsmith = pytest.importorskip("langsmith")
    from langsmith._internal import _context

    tm.configure(exporter="none")
    assert "langsmith" in bridges.active()
    for _ in range(3):  # a reused thread: each request starts and ends with langsmith's variable empty
        with tm.trace("request") as request:
            ref = _context._PARENT_RUN_TREE_REF.get()
            with tm.trace("step"):
                assert _context._PARENT_RUN_TREE_REF.get() is ref  # nested: nothing set again
                assert langsmith.get_current_run_tree().name == "step"
            assert langsmith.get_current_run_tree().id.hex == request.id.replace("-", "")
        assert _context._PARENT_RUN_TREE_REF.get() is None
        assert langsmith.get_current_run_tree() is None


OTEL_SCRIPT = """
from opentelemetry import context, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import tracing_middleware as tm

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
tm.configure(exporter="none")
tracer = trace.get_tracer("checks")
empty = context.get_current()
made = []
for name in ("one", "two"):
    with tm.trace(name) as run:
        made.append(context.get_current())
        with tm.trace("nested") as nested:
            assert context.get_current() is made[-1]  # nested entry attached nothing
            with tracer.start_as_current_span("span-" + name) as span:
                assert format(span.parent.span_id, "016x") == nested.span_id
                with tm.trace("under-span") as under:
                    assert under.otel_parent_span_id == format(span.get_span_context().span_id, "016x")
    assert context.get_current() == empty, context.get_current()
    assert not trace.get_current_span().get_span_context().is_valid
    assert format(span.get_span_context().trace_id, "032x") == run.trace_id.replace("-", "")
assert made[0] is made[1]  # entered over an empty context: the same context made current, made once
with tracer.start_as_current_span("server") as server:  # a context of another span: a context of its own
    with tm.trace("request") as request:
        assert context.get_current() is not made[0]
        assert request.otel_parent_span_id == format(server.get_span_context().span_id, "016x")
        with tracer.start_as_current_span("child") as child:
            assert format(child.parent.span_id, "016x") == request.span_id
print("ok")
"""


def test_opentelemetry_contexts_are_reused_only_over_the_same_context() -> None:
    pytest.importorskip("opentelemetry.sdk")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    env.pop("OTEL_PYTHON_TRACER_PROVIDER", None)
    env.pop(bridges.ENV, None)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(OTEL_SCRIPT)], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-4000:]
