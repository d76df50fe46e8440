"""The LangSmith bridge in one process: langsmith's and LangChain's runs and ours nest both ways.

langsmith's own tracing is off (``LANGSMITH_TRACING`` unset) unless a test turns it on; the real
langsmith client points at a LangSmith stand-in on 127.0.0.1, which must then receive nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

langsmith = pytest.importorskip("langsmith")
httpx = pytest.importorskip("httpx")

from langsmith import utils as ls_utils  # noqa: E402
from langsmith.run_trees import RunTree as LangSmithRun  # noqa: E402
from standin import StandIn  # noqa: E402

import tracing_middleware as tm  # noqa: E402
from tracing_middleware import InMemoryExporter, RunTree  # noqa: E402
from tracing_middleware.bridges import active  # noqa: E402


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    """langsmith's environment pointed at a stand-in, its tracing off, its cached settings and client reset."""
    import os

    for name in [n for n in os.environ if n.startswith(("LANGSMITH_", "LANGCHAIN_"))]:
        monkeypatch.delenv(name)
    with StandIn() as server:
        monkeypatch.setenv("LANGSMITH_ENDPOINT", server.url)
        monkeypatch.setenv("LANGSMITH_API_KEY", "lsv2-test-key")
        ls_utils.get_env_var.cache_clear()
        langsmith.configure(client=None)  # the next client langsmith makes reads this environment
        try:
            yield server
        finally:
            langsmith.configure(client=None)
            ls_utils.get_env_var.cache_clear()


@pytest.fixture
def tracing_on(monkeypatch: pytest.MonkeyPatch, standin: StandIn) -> StandIn:
    """LangSmith tracing switched on through its environment, as a user does."""
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    ls_utils.get_env_var.cache_clear()
    return standin


@pytest.fixture
def echo() -> Iterator[str]:
    """A server on 127.0.0.1 answering with the tracing headers it got."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = json.dumps({name: self.headers.get(name) for name in ("langsmith-trace", "traceparent")}).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def instrumented() -> Iterator[None]:
    tm.instrument()
    try:
        yield
    finally:
        tm.uninstrument()


def named(memory: InMemoryExporter, name: str) -> RunTree:
    found = [run for run in memory.runs if run.name == name]
    assert len(found) == 1, [run.name for run in memory.runs]
    return found[0]


def test_the_bridge_is_on_when_langsmith_is_installed(memory: InMemoryExporter) -> None:
    assert "langsmith" in active()


def test_get_current_run_tree_in_a_request_is_the_request_run(memory: InMemoryExporter, standin: StandIn) -> None:
    with tm.tracing_context(project_name="shop"), tm.trace("GET /orders") as request:
        theirs = langsmith.get_current_run_tree()
        assert theirs is not None
        assert (str(theirs.id), str(theirs.trace_id)) == (request.id, request.trace_id)
        assert theirs.dotted_order == request.dotted_order and theirs.session_name == "shop"
        assert theirs.to_headers()["langsmith-trace"] == request.dotted_order  # the seed page's client code
        assert langsmith.get_current_run_tree() is theirs  # built once per run
    assert langsmith.get_current_run_tree() is None
    assert standin.requests == []


def test_a_langsmith_function_and_langsmith_trace_nest_under_our_run(
    memory: InMemoryExporter, standin: StandIn
) -> None:
    @langsmith.traceable(run_type="tool")
    def lookup(sku: str) -> dict[str, Any]:
        with langsmith.trace("inner-block", inputs={"sku": sku}) as block:
            block.end(outputs={"found": True})
        return {"sku": sku}

    with tm.trace("request") as request:
        assert lookup("A1") == {"sku": "A1"}
    tool, block = named(memory, "lookup"), named(memory, "inner-block")
    assert (tool.parent_run_id, tool.trace_id, tool.run_type) == (request.id, request.trace_id, "tool")
    assert tool.dotted_order.startswith(request.dotted_order + ".")
    assert tool.inputs == {"sku": "A1"} and tool.outputs == {"sku": "A1"} and tool.end_us is not None
    assert block.parent_run_id == tool.id and block.outputs == {"found": True}
    assert standin.requests == []  # recorded by us only: LangSmith tracing is off


def test_request_then_langsmith_then_ours_is_one_chain(memory: InMemoryExporter, standin: StandIn) -> None:
    @tm.traceable
    def ours() -> str | None:
        run = tm.get_current_run_tree()
        return run.parent_run_id if run else None

    @langsmith.traceable
    def theirs() -> str | None:
        return ours()

    with tm.trace("request") as request:
        parent_seen = theirs()
    middle, inner = named(memory, "theirs"), named(memory, "ours")
    assert middle.parent_run_id == request.id
    assert inner.parent_run_id == middle.id == parent_seen
    assert inner.trace_id == request.trace_id and inner.dotted_order.startswith(middle.dotted_order + ".")


def test_our_function_inside_a_top_level_langsmith_function(memory: InMemoryExporter, tracing_on: StandIn) -> None:
    @tm.traceable
    def ours() -> None:
        pass

    @langsmith.traceable
    def top() -> str:
        ours()
        current = langsmith.get_current_run_tree()
        assert current is not None
        assert tm.get_current_run_tree() is not None  # ours answers with langsmith's run, innermost
        return str(current.id)

    top_id = top()
    inner = named(memory, "ours")
    assert inner.parent_run_id == top_id and inner.trace_id == top_id
    assert tracing_on.wait_for(lambda: bool(tracing_on.by_name("top")))


def test_httpx_inside_a_top_level_langsmith_function_sends_its_run(
    memory: InMemoryExporter, tracing_on: StandIn, echo: str, instrumented: None
) -> None:
    @langsmith.traceable
    def top() -> tuple[str, dict[str, Any]]:
        current = langsmith.get_current_run_tree()
        assert current is not None
        return str(current.id), httpx.get(echo + "/x", trust_env=False).json()

    top_id, headers = top()
    client = next(run for run in memory.runs if run.name.startswith("GET 127.0.0.1"))
    assert client.parent_run_id == top_id
    assert headers["langsmith-trace"] == client.dotted_order and top_id in headers["langsmith-trace"]


def test_httpx_inside_a_langsmith_function_in_a_request(
    memory: InMemoryExporter, standin: StandIn, echo: str, instrumented: None
) -> None:
    @langsmith.traceable
    def fetch() -> dict[str, Any]:
        return httpx.get(echo + "/y", trust_env=False).json()  # type: ignore[no-any-return]

    with tm.trace("request") as request:
        headers = fetch()
    middle = named(memory, "fetch")
    client = next(run for run in memory.runs if run.name.startswith("GET 127.0.0.1"))
    assert middle.parent_run_id == request.id and client.parent_run_id == middle.id
    ancestors = headers["langsmith-trace"].split(".")
    assert len(ancestors) == 3 and middle.id in ancestors[1]  # request -> fetch -> client run
    assert standin.requests == []


@pytest.mark.parametrize("langsmith_tracing", [False, True])
def test_a_langchain_chain_in_a_request_is_recorded_under_it(
    memory: InMemoryExporter, standin: StandIn, monkeypatch: pytest.MonkeyPatch, langsmith_tracing: bool
) -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.runnables import RunnableLambda

    tm.configure(exporter=[memory, "langsmith"] if langsmith_tracing else memory)
    if langsmith_tracing:
        monkeypatch.setenv("LANGSMITH_TRACING", "true")
        ls_utils.get_env_var.cache_clear()
    chain = RunnableLambda(lambda text: text.upper(), name="shout") | FakeListChatModel(responses=["ok"])
    with tm.trace("request") as request:
        assert chain.invoke("hi").content == "ok"
    tm.flush(timeout=30)
    sequence, step, llm = named(memory, "RunnableSequence"), named(memory, "shout"), named(memory, "FakeListChatModel")
    assert sequence.parent_run_id == request.id and sequence.trace_id == request.trace_id
    assert step.parent_run_id == sequence.id and llm.parent_run_id == sequence.id and llm.run_type == "llm"
    assert step.inputs == {"input": "hi"} and step.outputs == {"output": "HI"}
    if langsmith_tracing:  # our exporter sends the whole request, LangChain's runs included, once each
        assert standin.wait_for(lambda: len(standin.trace_runs(request.trace_id)) == 4)
        assert next(run["name"] for run in standin.trace_runs(request.trace_id)) == "request"
        assert standin.rejections == []
    else:
        assert standin.requests == []


def test_with_langsmith_tracing_on_and_no_exporter_their_runs_still_reach_langsmith(
    memory: InMemoryExporter, tracing_on: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    @langsmith.traceable
    def step() -> int:
        return 1

    with caplog.at_level(logging.WARNING, logger="tracing_middleware.bridges"), tm.trace("request"):
        step()
        step()
    assert named(memory, "request") and len([run for run in memory.runs if run.name == "step"]) == 2
    assert tracing_on.wait_for(lambda: len(tracing_on.by_name("step")) == 2)  # as langsmith would have sent them
    warnings = [r.getMessage() for r in caplog.records if "TRACING_MIDDLEWARE_EXPORTER" in r.getMessage()]
    assert len(warnings) == 1  # names the one setting, once


def test_no_side_effect_through_langsmiths_from_headers(memory: InMemoryExporter, standin: StandIn) -> None:
    from langsmith import run_trees

    caller = LangSmithRun(name="caller")
    with tm.tracing_context(parent=caller.to_headers()), tm.trace("request"):
        theirs = langsmith.get_current_run_tree()
        assert theirs is not None and str(theirs.trace_id) == str(caller.trace_id)
    assert run_trees._DISTRIBUTED_PARENT_ID.get() is None


def test_a_langsmith_run_of_another_trace_does_not_capture_ours(memory: InMemoryExporter, standin: StandIn) -> None:
    other = LangSmithRun(name="elsewhere")
    with (
        tm.trace("request") as request,
        langsmith.tracing_context(parent=other, enabled=False),
        tm.trace("ours") as ours,
    ):
        pass
    assert ours.parent_run_id == request.id  # not inside ours: our run stays the parent


def test_tracing_off_for_us_leaves_langsmith_without_our_parent(memory: InMemoryExporter, standin: StandIn) -> None:
    with tm.trace("request"), tm.suppress_tracing():
        assert langsmith.get_current_run_tree() is None
    assert [run.name for run in memory.runs] == ["request"]
