"""``RequestRun.begin`` (the middleware's path) makes the same run as ``RequestRun.start``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tracing_middleware import InMemoryExporter, TracingMiddleware, WSGITracingMiddleware
from tracing_middleware.core import config
from tracing_middleware.core.context import current_state
from tracing_middleware.core.propagation.carriers import read_headers
from tracing_middleware.middleware.options import MiddlewareOptions
from tracing_middleware.middleware.request import RequestRun

TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TRACE = "20240101T120000123456Z0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
HEADERS: list[dict[str, str]] = [
    {},
    {"traceparent": TP},
    {"traceparent": TP, "tracestate": "a=1,b=2", "baggage": "other=1,langsmith-tags=x"},
    {"langsmith-trace": TRACE, "baggage": "langsmith-project=p,langsmith-metadata=%7B%22k%22%3A1%7D"},
    {"traceparent": "garbage", "baggage": "\x00bad"},
]
# What may differ between two runs made one after the other: ids, clocks, and what derives from them.
VARYING = {"id", "dotted_order", "start_time", "end_time", "trace_id"}


def _comparable(run: Any) -> dict[str, Any]:
    """The run's data but what differs between two runs; a continued trace keeps its trace id."""
    varying = VARYING - {"trace_id"} if run.parent_run_id is not None else VARYING
    return {k: v for k, v in run.to_dict().items() if k not in varying}


@pytest.mark.parametrize("headers", HEADERS, ids=range(len(HEADERS)))
def test_begin_makes_what_start_makes(memory: InMemoryExporter, headers: dict[str, str]) -> None:
    options = MiddlewareOptions()
    pairs = [(k.encode(), v.encode()) for k, v in headers.items()]
    started = RequestRun.start("GET", "/a", "q=1", pairs, options)
    begun = RequestRun.begin(
        current_state(), config.get_settings(), "GET", "/a", "q=1", read_headers(pairs), pairs, options, None
    )
    assert started is not None and started.run is not None and begun.run is not None
    for request in (started, begun):
        request.status = 200
        request.finish(None, "/a")
    first, second = memory.runs
    assert _comparable(first) == _comparable(second)
    assert first.to_dict()["parent_run_id"] == second.to_dict()["parent_run_id"]
    assert second.name == "GET /a" and second.inputs == {"method": "GET", "path": "/a", "query": "q=1"}
    assert begun.state.run is begun.run and begun.state[1:] == current_state()[1:]


def test_both_middlewares_record_a_traceparent_callers_trace(memory: InMemoryExporter) -> None:
    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("201 Created", [])
        return [b"ok"]

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/x",
        "query_string": b"",
        "headers": [(b"traceparent", TP.encode())],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(message: Any) -> None:
        return None

    asyncio.run(TracingMiddleware(asgi_app, instrument_outbound=False)(scope, receive, send))
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/y", "HTTP_TRACEPARENT": TP, "wsgi.version": (1, 0)}
    body = WSGITracingMiddleware(wsgi_app, instrument_outbound=False)(environ, lambda status, headers: None)
    list(body)
    body.close()  # type: ignore[attr-defined]
    asgi_run, wsgi_run = memory.runs
    for run, status in ((asgi_run, 200), (wsgi_run, 201)):
        assert run.trace_id == "0af76519-16cd-43dd-8448-eb211c80319c"
        assert run.parent_span_id == "b7ad6b7169203331"
        assert run.outputs == {"status_code": status}
    assert asgi_run.name == "GET" and wsgi_run.name == "POST"
