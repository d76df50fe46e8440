"""``TracingMiddleware`` around plain ASGI 3 apps: the request run, its end, errors and every option."""

from __future__ import annotations

import asyncio
import types
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")

import tracing_middleware as tm  # noqa: E402 - after the skip, like every import below
from tracing_middleware import InMemoryExporter, RunTree, get_runtime  # noqa: E402
from tracing_middleware.middleware.asgi import SCOPE_KEY, TracingMiddleware, route_template  # noqa: E402
from tracing_middleware.middleware.options import RequestInfo  # noqa: E402


@pytest.fixture(autouse=True)
def no_global_patching(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outbound instrumentation patches httpx for the whole process; the server tests cover it instead."""
    monkeypatch.setattr(get_runtime(), "outbound_pending", False)


CALLER = RunTree("caller")
CALLER.add_metadata({"tenant": "acme"})
CALLER.add_tags("edge")


def scope_for(
    path: str = "/items/42", headers: list[tuple[bytes, bytes]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"q=1",
        "headers": headers if headers is not None else [(b"host", b"svc")], "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000), **extra,
    }  # fmt: skip


def caller_headers(run: RunTree = CALLER) -> list[tuple[bytes, bytes]]:
    return [(b"host", b"svc")] + [(k.encode(), v.encode()) for k, v in run.to_headers().items()]


class Recorder:
    """Collects what the app sent and offers one request message."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def call(app: Any, scope: dict[str, Any]) -> Recorder:
    recorder = Recorder()
    asyncio.run(app(scope, recorder.receive, recorder.send))
    return recorder


def make_app(status: int = 200, chunks: int = 1, seen: dict[str, Any] | None = None) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if seen is not None:
            seen["run"] = tm.get_current_run_tree()
            seen["scope_run"] = scope.get(SCOPE_KEY)
        await send({"type": "http.response.start", "status": status, "headers": []})
        for i in range(chunks):
            await send({"type": "http.response.body", "body": b"x", "more_body": i < chunks - 1})

    return app


def only_run(memory: InMemoryExporter) -> RunTree:
    assert len(memory.runs) == 1, memory.runs
    return memory.runs[0]


def test_request_run_continues_the_caller(memory: InMemoryExporter) -> None:
    seen: dict[str, Any] = {}
    app = TracingMiddleware(make_app(seen=seen), instrument_outbound=False)
    call(app, scope_for(headers=caller_headers(), query_string=b"q=caf\xe9"))
    run = only_run(memory)
    assert run.parent_run_id == CALLER.id and run.trace_id == CALLER.trace_id
    assert run.dotted_order.startswith(CALLER.dotted_order + ".")
    assert run.name == "GET"  # no route resolved: the method alone, never the raw path
    assert run.inputs == {"method": "GET", "path": "/items/42", "query": "q=café"}
    assert run.outputs == {"status_code": 200} and run.error is None
    assert run.metadata["tenant"] == "acme" and "edge" in run.tags
    assert seen["run"] is run and seen["scope_run"] is run
    assert tm.get_current_run_tree() is None  # the state was reset after the request


def test_lifespan_and_unknown_scopes_pass_through_untouched(memory: InMemoryExporter) -> None:
    calls: list[tuple[Any, Any, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        calls.append((dict(scope), receive, send))

    recorder = Recorder()
    for scope in ({"type": "lifespan", "asgi": {"version": "3.0"}}, {"type": "custom.thing"}):
        asyncio.run(TracingMiddleware(app)(scope, recorder.receive, recorder.send))
    assert [c[0] for c in calls] == [{"type": "lifespan", "asgi": {"version": "3.0"}}, {"type": "custom.thing"}]
    assert all(c[1] == recorder.receive for c in calls)
    assert calls[1][2] == recorder.send  # lifespan's send is wrapped: it drains the queue before shutdown completes
    asyncio.run(calls[0][2]({"type": "lifespan.shutdown.complete"}))
    assert recorder.sent[-1] == {"type": "lifespan.shutdown.complete"}
    assert memory.runs == []


def test_run_ends_at_the_last_body_message_not_later(memory: InMemoryExporter) -> None:
    recorded_during: list[int] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(3):
            await send({"type": "http.response.body", "body": b"x", "more_body": i < 2})
            recorded_during.append(len(memory.runs))

    call(TracingMiddleware(app), scope_for())
    assert recorded_during == [0, 0, 1]
    assert only_run(memory).outputs == {"status_code": 200}


def test_the_last_message_is_sent_outside_the_request_run_and_the_app_continues_inside_it(
    memory: InMemoryExporter,
) -> None:
    # What a server schedules while it sends the last message (uvicorn's keep-alive timer) copies the
    # context: it must not hold the request's run until the connection's next request.
    seen_by_server: list[Any] = []
    seen_by_app: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        await send({"type": "http.response.body", "body": b"y", "more_body": False})
        seen_by_app.append(tm.get_current_run_tree())  # work after the response (background tasks)

    async def send(message: dict[str, Any]) -> None:
        seen_by_server.append(tm.get_current_run_tree())

    with tm.trace("outside") as outside:
        asyncio.run(TracingMiddleware(app)(scope_for(), Recorder().receive, send))
    request = next(run for run in memory.runs if run.name == "GET")
    assert seen_by_server == [request, request, outside]
    assert seen_by_app == [request]


def test_route_template_from_the_scope_after_routing(memory: InMemoryExporter) -> None:
    route = types.SimpleNamespace(path="/items/{item_id:int}", path_format="/items/{item_id}")

    async def router(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["route"] = route  # what Starlette's router does to the scope it was given
        await make_app()(scope, receive, send)

    call(TracingMiddleware(router), scope_for())
    assert only_run(memory).name == "GET /items/{item_id}"


def test_route_template_with_mount_prefix() -> None:
    inner = types.SimpleNamespace(path="/x/{y}")
    assert route_template({"route": inner, "root_path": "/api/sub"}, "/api") == "/sub/x/{y}"
    mount = types.SimpleNamespace(path="/static", path_format="/static/{path}", routes=[])
    assert route_template({"route": mount, "root_path": "/static"}, "") == "/static/{path}"
    assert route_template({"route": types.SimpleNamespace(path=None)}, "") is None
    assert route_template({}, "") is None


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_mark_the_run(memory: InMemoryExporter, status: int) -> None:
    call(TracingMiddleware(make_app(status=status)), scope_for())
    run = only_run(memory)
    assert run.outputs == {"status_code": status} and run.error == f"HTTP {status}"


def test_client_errors_are_not_run_errors(memory: InMemoryExporter) -> None:
    call(TracingMiddleware(make_app(status=404)), scope_for())
    assert only_run(memory).error is None


def test_exception_before_the_response_is_recorded_and_reraised_unchanged(memory: InMemoryExporter) -> None:
    error = LookupError("no such item")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise error

    with pytest.raises(LookupError) as raised:
        call(TracingMiddleware(app), scope_for())
    assert raised.value is error
    run = only_run(memory)
    assert run.error is not None and run.error.startswith("LookupError: no such item")
    assert run.outputs is None and run.end_us is not None
    assert tm.get_current_run_tree() is None


def test_exception_while_streaming_is_recorded(memory: InMemoryExporter) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        raise ConnectionResetError("stream broke")

    with pytest.raises(ConnectionResetError):
        call(TracingMiddleware(app), scope_for())
    run = only_run(memory)
    assert run.outputs == {"status_code": 200} and run.error is not None and "stream broke" in run.error


def test_error_page_then_exception_keeps_the_exception(memory: InMemoryExporter) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await make_app(status=500)(scope, receive, send)  # as Starlette's ServerErrorMiddleware does
        raise KeyError("missing")

    with pytest.raises(KeyError):
        call(TracingMiddleware(app), scope_for())
    run = only_run(memory)
    assert run.outputs == {"status_code": 500} and run.error is not None and run.error.startswith("KeyError")


def test_app_returning_without_a_response_is_an_error(memory: InMemoryExporter) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        return None

    call(TracingMiddleware(app), scope_for())
    assert "without a response" in (only_run(memory).error or "")


def test_double_wrapping_makes_one_run(memory: InMemoryExporter) -> None:
    seen: dict[str, Any] = {}
    app = TracingMiddleware(TracingMiddleware(make_app(seen=seen), run_name=lambda info: "inner"))
    call(app, scope_for(headers=caller_headers()))
    run = only_run(memory)
    assert run.name == "GET" and run.parent_run_id == CALLER.id and seen["run"] is run


HOSTILE = [
    [(b"langsmith-trace", b"2024" * 25_600)],
    [(b"langsmith-trace", b"garbage"), (b"baggage", b"%%%,=,langsmith-metadata=%7Bbad")],
    [(b"langsmith-trace", b"\xff\xfe\x80"), (b"\xff\xfe", b"\x00\x01"), (b"baggage", b"langsmith-tags=\xff")],
    [(b"traceparent", b"00-" + b"0" * 32 + b"-" + b"0" * 16 + b"-01")],
]


@pytest.mark.parametrize("headers", HOSTILE, ids=["100KB", "garbage", "non-utf8", "zero-traceparent"])
def test_hostile_headers_make_a_new_root(memory: InMemoryExporter, headers: list[tuple[bytes, bytes]]) -> None:
    recorder = call(TracingMiddleware(make_app()), scope_for(headers=headers))
    assert recorder.sent[0]["status"] == 200
    run = only_run(memory)
    assert run.parent_run_id is None and run.trace_id == run.id and run.error is None


def test_excluded_paths_are_not_traced_even_by_a_second_layer(memory: InMemoryExporter) -> None:
    seen: dict[str, Any] = {}
    app = TracingMiddleware(TracingMiddleware(make_app(seen=seen)), exclude_paths=["/health", "/static/*"])
    for path in ("/health", "/static/app.js"):
        call(app, scope_for(path=path, headers=caller_headers()))
        assert seen["run"] is None
    assert memory.runs == []
    call(app, scope_for(path="/healthz"))
    assert len(memory.runs) == 1


def asgi_get(app: Any, client: tuple[str, int], headers: dict[str, str], path: str = "/items/1") -> Any:
    async def go() -> Any:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
            return await http.get(path, headers=headers)

    return asyncio.run(go())


def test_untrusted_network_gets_a_new_root_with_a_link(memory: InMemoryExporter) -> None:
    app = TracingMiddleware(make_app(), trusted_networks=["10.0.0.0/8"])
    assert asgi_get(app, ("127.0.0.1", 5000), CALLER.to_headers()).status_code == 200
    untrusted = only_run(memory)
    assert untrusted.parent_run_id is None and untrusted.trace_id == untrusted.id
    assert untrusted.metadata == {  # baggage metadata dropped; the claimed parent kept as links
        "link.langsmith_trace": CALLER.dotted_order,
        "link.traceparent": f"00-{CALLER.trace_id.replace('-', '')}-{CALLER.span_id}",
    }
    assert "edge" not in untrusted.tags
    memory.clear()
    asgi_get(app, ("10.1.2.3", 5000), CALLER.to_headers())
    assert only_run(memory).parent_run_id == CALLER.id


def test_shared_secret(memory: InMemoryExporter) -> None:
    app = TracingMiddleware(make_app(), shared_secret="s3cret")
    asgi_get(app, ("127.0.0.1", 1), {**CALLER.to_headers(), "x-tracing-secret": "s3cret"})
    asgi_get(app, ("127.0.0.1", 1), {**CALLER.to_headers(), "x-tracing-secret": "wrong"})
    asgi_get(app, ("127.0.0.1", 1), CALLER.to_headers())
    parents = [run.parent_run_id for run in memory.runs]
    assert parents == [CALLER.id, None, None]


def test_request_run_false_puts_handler_runs_under_the_caller(memory: InMemoryExporter) -> None:
    @tm.traceable
    def work() -> str:
        return "done"

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        work()
        await make_app()(scope, receive, send)

    call(TracingMiddleware(app, request_run=False), scope_for(headers=caller_headers()))
    run = only_run(memory)
    assert run.name == "work" and run.parent_run_id == CALLER.id and run.trace_id == CALLER.trace_id


def test_capture_headers_allowlist(memory: InMemoryExporter) -> None:
    headers = [
        (b"x-request-id", b"r-1"),
        (b"x-request-id", b"r-2"),
        (b"authorization", b"Bearer t"),
        (b"x-other", b"o"),
    ]
    call(TracingMiddleware(make_app(), capture_headers=["X-Request-ID"]), scope_for(headers=headers))
    run = only_run(memory)
    assert "x-request-id" in run.inputs["headers"] and "x-other" not in run.inputs["headers"]
    assert "Bearer" not in repr(run.to_dict())
    with pytest.raises(ValueError, match="authorization"):
        TracingMiddleware(make_app(), capture_headers=["Authorization"])


def test_run_name_function_sees_the_route(memory: InMemoryExporter) -> None:
    infos: list[RequestInfo] = []

    def name(info: RequestInfo) -> str:
        infos.append(info)
        return f"{info.method} {info.route} from {info.client_host}"

    async def router(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["route"] = types.SimpleNamespace(path="/items/{item_id}")
        await make_app()(scope, receive, send)

    call(TracingMiddleware(router, run_name=name), scope_for(headers=[(b"X-Mixed", b"v")]))
    assert only_run(memory).name == "GET /items/{item_id} from 127.0.0.1"
    assert infos[0].headers == [("x-mixed", "v")] and infos[0].query_string == "q=1"


def test_bad_options_name_the_valid_ones() -> None:
    with pytest.raises(TypeError, match="exclude_paths"):
        TracingMiddleware(make_app(), exclude_path=["/x"])
    with pytest.raises(TypeError, match="ASGI application"):
        TracingMiddleware(None)
    with pytest.raises(TypeError, match="ASGI application"):
        TracingMiddleware(exclude_paths=["/x"])


def test_app_by_keyword_as_starlette_037_passes_it() -> None:
    inner = make_app()
    assert TracingMiddleware(app=inner, exclude_paths=["/x"]).app is inner


def test_tracing_disabled_passes_through(memory: InMemoryExporter) -> None:
    tm.configure(exporter=memory, enabled=False)
    seen: dict[str, Any] = {}
    call(TracingMiddleware(make_app(seen=seen)), scope_for(headers=caller_headers()))
    assert memory.runs == [] and seen["run"] is None


def test_concurrent_requests_keep_their_own_parents(memory: InMemoryExporter) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.sleep(0.001)  # interleave the requests
        run = tm.get_current_run_tree()
        assert run is not None
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(run.parent_run_id).encode()})

    callers = [RunTree(f"caller-{i}") for i in range(200)]

    async def go() -> list[str]:
        transport = httpx.ASGITransport(app=TracingMiddleware(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
            answers = await asyncio.gather(*(http.get("/", headers=c.to_headers()) for c in callers))
        return [a.text for a in answers]

    assert asyncio.run(go()) == [c.id for c in callers]
    assert sorted(str(r.parent_run_id) for r in memory.runs) == sorted(c.id for c in callers)


def test_outbound_instrumentation_is_called_once_lazily(
    memory: InMemoryExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(get_runtime(), "outbound_switch", lambda: calls.append(1))
    monkeypatch.setattr(get_runtime(), "outbound_pending", True)
    call(TracingMiddleware(make_app(), instrument_outbound=False), scope_for())
    assert calls == []
    app = TracingMiddleware(make_app())
    assert calls == []  # nothing happens at construction
    call(app, scope_for())
    call(app, scope_for())
    assert calls == [1]


def test_failing_outbound_instrumentation_does_not_fail_requests(
    memory: InMemoryExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("cannot patch")

    monkeypatch.setattr(get_runtime(), "outbound_switch", broken)
    monkeypatch.setattr(get_runtime(), "outbound_pending", True)
    assert call(TracingMiddleware(make_app()), scope_for()).sent[0]["status"] == 200
    assert len(memory.runs) == 1


def test_an_unsampled_request_propagates_but_records_nothing(memory: InMemoryExporter) -> None:
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen["headers"] = tm.get_current_run_tree().to_headers()  # type: ignore[union-attr]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": False})

    not_sampled = [(b"traceparent", b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-00")]
    call(TracingMiddleware(app), scope_for(headers=not_sampled))
    assert memory.runs == []
    assert seen["headers"]["traceparent"].startswith("00-" + "a" * 32 + "-")
    assert seen["headers"]["traceparent"].endswith("-00")  # the caller's decision travels on
