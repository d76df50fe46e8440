"""The aiohttp middleware on a real aiohttp server (127.0.0.1), called by httpx."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from aiohttp_support import serving

from tracing_middleware import InMemoryExporter, RunTree, get_current_run_tree, trace
from tracing_middleware.adapters.aiohttp import instrument_app, request_run, tracing_middleware

httpx = pytest.importorskip("httpx")


def make_app(**options: Any) -> web.Application:
    app = web.Application()

    async def item(request: web.Request) -> web.Response:
        run = get_current_run_tree()
        with trace("load"):
            await asyncio.sleep(0)
        return web.json_response({"run": run.id if run else None, "same": request_run(request) is run})

    async def missing(request: web.Request) -> web.Response:
        raise web.HTTPNotFound(text="no such order")

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("handler failed")

    async def unavailable(request: web.Request) -> web.Response:
        raise web.HTTPServiceUnavailable()

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                run = get_current_run_tree()
                await ws.send_str(run.id if run else "none")
                await ws.close()
        return ws

    app.router.add_get("/items/{item_id}", item)
    app.router.add_get("/orders/{order}", missing)
    app.router.add_get("/broken", broken)
    app.router.add_get("/unavailable", unavailable)
    app.router.add_get("/ws", socket)
    sub = web.Application()
    sub.router.add_get("/v/{n}", item)
    app.add_subapp("/api", sub)
    return instrument_app(app, instrument_outbound=False, **options)


def run_requests(app: web.Application, *calls: tuple[str, dict[str, str]]) -> list[httpx.Response]:
    async def main() -> list[httpx.Response]:
        async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
            return [await client.get(path, headers=headers) for path, headers in calls]

    return asyncio.run(main())


def test_a_request_is_a_run_named_from_its_route(memory: InMemoryExporter) -> None:
    (response,) = run_requests(make_app(), ("/items/7?full=1", {}))
    assert response.status_code == 200
    run = next(r for r in memory.runs if r.name == "GET /items/{item_id}")
    assert response.json() == {"run": run.id, "same": True}
    assert run.inputs == {"method": "GET", "path": "/items/7", "query": "full=1"}
    assert run.outputs == {"status_code": 200}
    assert run.parent_run_id is None and run.error is None
    (load,) = [r for r in memory.runs if r.name == "load"]
    assert load.parent_run_id == run.id


def test_the_callers_trace_is_continued(memory: InMemoryExporter) -> None:
    caller = RunTree("caller")
    run_requests(make_app(), ("/items/1", caller.to_headers()))
    run = next(r for r in memory.runs if r.name == "GET /items/{item_id}")
    assert run.trace_id == caller.trace_id and run.parent_run_id == caller.id


def test_sub_apps_unmatched_paths_and_errors(memory: InMemoryExporter) -> None:
    responses = run_requests(
        make_app(), ("/api/v/3", {}), ("/nowhere/secret-token", {}), ("/orders/9", {}), ("/broken", {}),
        ("/unavailable", {}),
    )  # fmt: skip
    assert [r.status_code for r in responses] == [200, 404, 404, 500, 503]
    by_path = {r.inputs["path"]: r for r in memory.runs if "path" in r.inputs}
    assert by_path["/api/v/3"].name == "GET /api/v/{n}"
    assert by_path["/nowhere/secret-token"].name == "GET"  # never the raw path
    assert by_path["/orders/9"].name == "GET /orders/{order}"
    assert by_path["/orders/9"].error is None and by_path["/orders/9"].outputs == {"status_code": 404}
    assert by_path["/broken"].error is not None and by_path["/broken"].error.startswith("RuntimeError: handler failed")
    assert by_path["/unavailable"].error is not None and "HTTPServiceUnavailable" in by_path["/unavailable"].error


def test_options_are_those_of_every_adapter(memory: InMemoryExporter) -> None:
    caller = RunTree("caller")
    app = make_app(
        exclude_paths=["/broken"], shared_secret="s3cret", capture_headers=["x-team"],
        run_name=lambda info: f"{info.method} {info.route} by {info.header('x-team')}",
    )  # fmt: skip
    run_requests(
        app, ("/items/1", {**caller.to_headers(), "x-tracing-secret": "s3cret", "x-team": "a"}),
        ("/items/2", {**caller.to_headers(), "x-tracing-secret": "wrong", "x-team": "b"}), ("/broken", {}),
    )  # fmt: skip
    trusted, untrusted = sorted((r for r in memory.runs if "path" in r.inputs), key=lambda r: r.inputs["path"])
    assert trusted.name == "GET /items/{item_id} by a" and trusted.parent_run_id == caller.id
    assert trusted.inputs["headers"] == {"x-team": "a"}
    assert untrusted.parent_run_id is None and untrusted.metadata["link.langsmith_trace"] == caller.dotted_order
    with pytest.raises(TypeError, match="valid options"):
        tracing_middleware(exclude=["/x"])
    with pytest.raises(ValueError, match="never recorded"):
        instrument_app(web.Application(), capture_headers=["Authorization"])


def test_hostile_headers_start_a_new_trace(memory: InMemoryExporter) -> None:
    responses = run_requests(
        make_app(), ("/items/1", {"langsmith-trace": "x" * 8_000, "baggage": "%%%,=,langsmith-metadata=%7B"}),
        ("/items/2", {"traceparent": "00-" + "0" * 32 + "-" + "0" * 16 + "-01"}),
    )  # fmt: skip
    assert [r.status_code for r in responses] == [200, 200]
    assert all(r.parent_run_id is None for r in memory.runs if r.name.startswith("GET"))


def test_two_layers_still_make_one_run(memory: InMemoryExporter) -> None:
    app = make_app()
    app.middlewares.append(tracing_middleware(instrument_outbound=False))
    instrument_app(app)  # a second call changes nothing
    run_requests(app, ("/items/1", {}))
    assert [r.name for r in memory.runs].count("GET /items/{item_id}") == 1


def test_a_websocket_connection_is_one_run(memory: InMemoryExporter) -> None:
    async def main() -> str:
        async with serving(make_app()) as url:
            import aiohttp

            async with aiohttp.ClientSession() as session, session.ws_connect(url + "/ws") as ws:
                await ws.send_str("hello")
                message = await ws.receive()
                return str(message.data)

    seen = asyncio.run(main())
    (run,) = [r for r in memory.runs if r.name == "WS /ws"]
    assert seen == run.id
    assert run.outputs == {"status_code": 101}


def test_instrument_app_refuses_other_objects_and_started_apps() -> None:
    with pytest.raises(TypeError, match=r"aiohttp\.web\.Application"):
        instrument_app(object())  # type: ignore[arg-type]
    started = web.Application()
    started.freeze()
    with pytest.raises(RuntimeError, match="before the app starts"):
        instrument_app(started)
