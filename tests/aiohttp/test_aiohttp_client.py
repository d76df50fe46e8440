"""aiohttp's client: TracingTraceConfig and zero-code instrument(), against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp_support import serving
from netutil import free_port

from tracing_middleware import InMemoryExporter, RunTree, instrument, trace, uninstrument
from tracing_middleware.transports import PropagationTargets
from tracing_middleware.transports.aiohttp import TracingTraceConfig


def echo_app() -> web.Application:
    app = web.Application()

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({k.lower(): v for k, v in request.headers.items()})

    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/echo")

    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/hop", hop)
    return app


def with_server(body: Callable[[str], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with serving(echo_app()) as url:
            return await body(url)

    return asyncio.run(main())


def last_run_id(trace_header: str) -> str:
    return RunTree.from_dotted_order(trace_header).id  # type: ignore[union-attr]


def test_a_trace_config_sends_headers_naming_a_client_run(memory: InMemoryExporter) -> None:
    async def body(url: str) -> dict[str, str]:
        async with aiohttp.ClientSession(trace_configs=[TracingTraceConfig()]) as session:
            with trace("caller"):
                async with session.get(url + "/echo?token=abc&page=2") as response:
                    return dict(await response.json())

    seen = with_server(body)
    client = next(r for r in memory.runs if r.name.startswith("GET 127.0.0.1:"))
    caller = next(r for r in memory.runs if r.name == "caller")
    assert client.name.endswith("/echo") and client.parent_run_id == caller.id
    assert last_run_id(seen["langsmith-trace"]) == client.id
    assert seen["traceparent"].split("-")[2] == client.span_id
    assert client.metadata["http.status_code"] == 200
    assert client.metadata["http.url"].endswith("/echo?token=REDACTED&page=2")
    assert client.outputs == {"status_code": 200}


def test_no_run_no_headers(memory: InMemoryExporter) -> None:
    async def body(url: str) -> dict[str, str]:
        async with (
            aiohttp.ClientSession(trace_configs=[TracingTraceConfig()]) as session,
            session.get(url + "/echo") as response,
        ):
            return dict(await response.json())

    seen = with_server(body)
    assert "langsmith-trace" not in seen and "traceparent" not in seen
    assert memory.runs == []


def test_instrument_covers_a_session_made_before_it(memory: InMemoryExporter) -> None:
    async def body(url: str) -> list[dict[str, str]]:
        session = aiohttp.ClientSession()  # made at start-up, before the first request instruments
        try:
            assert "aiohttp" in instrument()
            with trace("caller"):
                async with session.post(url + "/echo", data=b"x") as first:
                    one = dict(await first.json())
            uninstrument()
            with trace("caller again"):
                async with session.get(url + "/echo") as second:
                    two = dict(await second.json())
            return [one, two]
        finally:
            await session.close()

    one, two = with_server(body)
    client = next(r for r in memory.runs if r.name.startswith("POST "))
    assert last_run_id(one["langsmith-trace"]) == client.id
    assert "langsmith-trace" not in two  # uninstrument() switched the session's config off
    assert [r.name for r in memory.runs if r.name.startswith("GET ")] == []


def test_each_redirect_hop_gets_its_own_client_run(memory: InMemoryExporter) -> None:
    async def body(url: str) -> dict[str, str]:
        instrument()
        async with aiohttp.ClientSession() as session:
            with trace("caller"):
                async with session.get(url + "/hop") as response:
                    return dict(await response.json())

    seen = with_server(body)
    hops = sorted((r for r in memory.runs if r.name.startswith("GET 127.0.0.1")), key=lambda r: r.start_us)
    assert [h.name.rsplit("/", 1)[1] for h in hops] == ["hop", "echo"]
    assert [h.metadata["http.status_code"] for h in hops] == [302, 200]
    assert last_run_id(seen["langsmith-trace"]) == hops[1].id


def test_a_failed_connection_is_an_error_on_the_client_run(memory: InMemoryExporter) -> None:
    port = free_port()

    async def main() -> None:
        async with aiohttp.ClientSession(trace_configs=[TracingTraceConfig()]) as session:
            with trace("caller"):
                async with session.get(f"http://127.0.0.1:{port}/x"):
                    pass

    with pytest.raises(aiohttp.ClientConnectionError):
        asyncio.run(main())
    client = next(r for r in memory.runs if r.name == f"GET 127.0.0.1:{port}/x")
    assert client.error is not None and "Connect" in client.error


def test_hand_set_context_and_foreign_baggage_are_respected(memory: InMemoryExporter) -> None:
    mine = RunTree("hand-made").to_headers()["langsmith-trace"]

    async def body(url: str) -> list[dict[str, str]]:
        async with aiohttp.ClientSession(trace_configs=[TracingTraceConfig()]) as session:
            with trace("caller", metadata={"tenant": "t1"}):
                async with session.get(url + "/echo", headers={"langsmith-trace": mine}) as first:
                    one = dict(await first.json())
                async with session.get(url + "/echo", headers={"baggage": "vendor=1"}) as second:
                    two = dict(await second.json())
        return [one, two]

    one, two = with_server(body)
    assert one["langsmith-trace"] == mine
    assert two["baggage"].startswith("vendor=1,") and "langsmith-metadata=" in two["baggage"]


def test_targets_limit_headers_but_keep_client_runs(memory: InMemoryExporter) -> None:
    async def body(url: str) -> dict[str, str]:
        # The strict form: 127.0.0.1 is inside the deployment, which gets everything by default.
        instrument(targets=PropagationTargets(["*.internal"], internal=False, public_trace_ids=False))
        async with aiohttp.ClientSession() as session:
            with trace("caller"):
                async with session.get(url + "/echo") as response:
                    return dict(await response.json())

    seen = with_server(body)
    assert "langsmith-trace" not in seen and "baggage" not in seen
    assert any(r.name.startswith("GET 127.0.0.1") for r in memory.runs)


def test_an_explicit_config_and_instrument_make_one_client_run(memory: InMemoryExporter) -> None:
    async def body(url: str) -> dict[str, str]:
        instrument()
        async with aiohttp.ClientSession(trace_configs=[TracingTraceConfig(client_runs=False)]) as session:
            with trace("caller") as caller:
                async with session.get(url + "/echo") as response:
                    seen = dict(await response.json())
                    assert last_run_id(seen["langsmith-trace"]) == caller.id
                    return seen

    with_server(body)
    assert [r.name for r in memory.runs] == ["caller"]  # the explicit config's options won
    with pytest.raises(TypeError, match="client_runs"):
        TracingTraceConfig(client_runs="yes")  # type: ignore[arg-type]
