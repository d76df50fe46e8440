"""httpx: TracingTransport / AsyncTracingTransport and the instrument() patch, against a real HTTP server."""

from __future__ import annotations

import asyncio
import contextvars
import json
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")
langsmith_run_trees = pytest.importorskip("langsmith.run_trees")

from outbound_support import first, host_of, tracing_headers  # noqa: E402

import tracing_middleware as tm  # noqa: E402
from tracing_middleware.transports import PropagationTargets, exclude_urls  # noqa: E402
from tracing_middleware.transports.httpx import MODULES, AsyncTracingTransport, TracingTransport  # noqa: E402
from tracing_middleware.transports.instrument import instrument, uninstrument  # noqa: E402


def seen(response: Any) -> dict[str, list[str]]:
    return response.json()["headers"]  # type: ignore[no-any-return]


def echo_handler(request: Any) -> Any:
    """A MockTransport handler answering like the echo server."""
    received: dict[str, list[str]] = {}
    for name, value in request.headers.multi_items():
        received.setdefault(name.lower(), []).append(value)
    return httpx.Response(200, json={"path": request.url.path, "headers": received})


def wsgi_echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    received = {k[5:].lower().replace("_", "-"): [v] for k, v in environ.items() if k.startswith("HTTP_")}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"headers": received}).encode()]


async def asgi_echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    received: dict[str, list[str]] = {}
    for name, value in scope["headers"]:
        received.setdefault(name.decode().lower(), []).append(value.decode())
    body = json.dumps({"headers": received}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


class ForwardingTransport(httpx.BaseTransport):
    """A user's own transport type, which a class-level patch of HTTPTransport would never see."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: Any) -> Any:
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_transport_sends_headers_naming_a_client_run(echo: str, memory: tm.InMemoryExporter) -> None:
    with httpx.Client(transport=TracingTransport(httpx.HTTPTransport())) as client, tm.trace("handler") as handler:
        response = client.get(f"{echo}/items/1?token=s3cret&page=2")
    headers = seen(response)
    (run,) = memory.by_name(f"GET {host_of(echo)}/items/1")
    assert run.parent_run_id == handler.id and run.trace_id == handler.trace_id
    assert headers["langsmith-trace"] == [run.dotted_order]
    assert headers["traceparent"] == [f"00-{run.trace_id.replace('-', '')}-{run.span_id}-03"]  # random id, sampled
    assert headers["baggage"] == ["langsmith-project=default"]
    assert run.run_type == "chain"
    assert run.outputs == {"status_code": 200} and run.error is None
    assert run.metadata["http.method"] == "GET"
    assert run.metadata["http.status_code"] == 200
    assert run.metadata["http.url"] == f"{echo}/items/1?token=REDACTED&page=2"
    # The real LangSmith SDK on the receiving side hangs its run under the client run.
    # A copied context: langsmith's from_headers sets a context variable that would outlive this test.
    downstream = contextvars.copy_context().run(langsmith_run_trees.RunTree.from_headers, first(headers))
    assert str(downstream.id) == run.id and downstream.dotted_order == run.dotted_order


def test_async_transport_sends_headers(echo: str, memory: tm.InMemoryExporter) -> None:
    async def main() -> Any:
        transport = AsyncTracingTransport(httpx.AsyncHTTPTransport())
        async with httpx.AsyncClient(transport=transport) as client, tm.trace("handler"):
            return await client.post(f"{echo}/submit", content=b"payload")

    headers = seen(asyncio.run(main()))
    (run,) = memory.by_name(f"POST {host_of(echo)}/submit")
    assert headers["langsmith-trace"] == [run.dotted_order]
    assert run.metadata["http.method"] == "POST" and run.outputs == {"status_code": 200}


def test_transport_forwards_close_and_context_manager() -> None:
    closed: list[str] = []

    class Inner(httpx.BaseTransport):
        def __enter__(self) -> Inner:
            closed.append("enter")
            return self

        def close(self) -> None:
            closed.append("close")

    with TracingTransport(Inner()):
        pass
    TracingTransport(Inner()).close()
    assert closed == ["enter", "close", "close"]

    class AsyncInner(httpx.AsyncBaseTransport):
        async def aclose(self) -> None:
            closed.append("aclose")

    async def main() -> None:
        async with AsyncTracingTransport(AsyncInner()):
            pass

    asyncio.run(main())
    assert closed[-1] == "aclose"


def test_transport_rejects_a_non_transport() -> None:
    with pytest.raises(TypeError, match="handle_request"):
        TracingTransport(object())
    with pytest.raises(TypeError, match="handle_async_request"):
        AsyncTracingTransport(httpx.HTTPTransport())
    with pytest.raises(TypeError, match="client_runs"):
        TracingTransport(httpx.HTTPTransport(), client_runs="yes")  # type: ignore[arg-type]


SYNC_CLIENTS = {
    "default": lambda echo: (httpx.Client(), f"{echo}/x"),
    "custom": lambda echo: (httpx.Client(transport=ForwardingTransport()), f"{echo}/x"),
    "mock": lambda echo: (httpx.Client(transport=httpx.MockTransport(echo_handler)), "http://svc.internal/x"),
    "wsgi": lambda echo: (httpx.Client(transport=httpx.WSGITransport(app=wsgi_echo)), "http://wsgi.internal/x"),
}


@pytest.mark.parametrize("kind", sorted(SYNC_CLIENTS))
def test_instrument_covers_every_sync_transport(kind: str, echo: str, memory: tm.InMemoryExporter) -> None:
    client, url = SYNC_CLIENTS[kind](echo)
    instrument()
    with client, tm.trace("handler") as handler:
        headers = seen(client.get(url))
    (run,) = [r for r in memory.runs if r.name.startswith("GET ")]
    assert run.parent_run_id == handler.id
    assert headers["langsmith-trace"] == [run.dotted_order]
    assert "traceparent" in headers and "baggage" in headers


ASYNC_CLIENTS = {
    "default": lambda echo: (httpx.AsyncClient(), f"{echo}/x"),
    "mock": lambda echo: (httpx.AsyncClient(transport=httpx.MockTransport(echo_handler)), "http://m.internal/x"),
    "asgi": lambda echo: (httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_echo)), "http://asgi.internal/x"),
}


@pytest.mark.parametrize("kind", sorted(ASYNC_CLIENTS))
def test_instrument_covers_every_async_transport(kind: str, echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()

    async def main() -> tuple[Any, Any]:
        client, url = ASYNC_CLIENTS[kind](echo)
        async with client, tm.trace("handler") as handler:
            return handler, await client.get(url)

    handler, response = asyncio.run(main())
    (run,) = [r for r in memory.runs if r.name.startswith("GET ")]
    assert run.parent_run_id == handler.id
    assert seen(response)["langsmith-trace"] == [run.dotted_order]


def test_explicit_transport_and_patch_inject_once(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()
    instrument()  # idempotent
    with httpx.Client(transport=TracingTransport(ForwardingTransport())) as client, tm.trace("handler"):
        headers = seen(client.get(f"{echo}/once"))
    runs = [r for r in memory.runs if r.name.startswith("GET ")]
    assert len(runs) == 1
    assert headers["langsmith-trace"] == [runs[0].dotted_order]
    assert len(headers["traceparent"]) == 1 and len(headers["baggage"]) == 1


def test_uninstrument_restores_the_original_functions(echo: str, memory: tm.InMemoryExporter) -> None:
    originals = [
        (m.Client.__dict__["_send_single_request"], m.AsyncClient.__dict__["_send_single_request"]) for m in MODULES
    ]
    instrument()
    assert httpx.Client._send_single_request is not originals[0][0]
    uninstrument()
    assert originals == [
        (m.Client.__dict__["_send_single_request"], m.AsyncClient.__dict__["_send_single_request"]) for m in MODULES
    ]
    with httpx.Client() as client, tm.trace("handler"):
        headers = seen(client.get(f"{echo}/after"))
    assert tracing_headers(headers) == {}
    assert memory.by_name("handler") and not [r for r in memory.runs if r.name.startswith("GET ")]


def test_no_current_run_sends_nothing(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()
    with httpx.Client() as client:
        headers = seen(client.get(f"{echo}/bare"))
        with tm.trace("handler"), tm.suppress_tracing():
            suppressed = seen(client.get(f"{echo}/suppressed"))
    assert tracing_headers(headers) == {} and tracing_headers(suppressed) == {}
    assert [r.name for r in memory.runs] == ["handler"]


def test_tracing_disabled_sends_nothing(echo: str) -> None:
    memory = tm.InMemoryExporter()
    tm.configure(exporter=memory, enabled=False)
    try:
        instrument()
        with httpx.Client() as client, tm.tracing_context(parent=tm.RunTree("upstream")):
            headers = seen(client.get(f"{echo}/off"))
    finally:
        tm.configure(exporter="none")
    assert tracing_headers(headers) == {} and memory.runs == []


def test_hand_set_trace_header_is_respected(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()
    other = tm.RunTree("elsewhere")
    with httpx.Client() as client, tm.trace("handler"):
        headers = seen(client.get(f"{echo}/manual", headers={"langsmith-trace": other.dotted_order}))
    assert headers["langsmith-trace"] == [other.dotted_order]
    assert "traceparent" not in headers
    assert [r.name for r in memory.runs] == ["handler"]


def test_other_vendors_baggage_and_traceparent_are_kept(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()
    foreign_parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    sent = {"baggage": "vendor=1,langsmith-project=stale,other=x;prop=1", "traceparent": foreign_parent}
    with httpx.Client() as client, tm.trace("handler", metadata={"user": "u1"}):
        headers = seen(client.get(f"{echo}/bag", headers=sent))
    (value,) = headers["baggage"]
    assert value.startswith("vendor=1,other=x;prop=1,")
    assert "langsmith-project=default" in value and "stale" not in value
    assert "langsmith-metadata=" in value and "http." not in value  # the client run's http.* stays local
    assert headers["traceparent"] == [foreign_parent]


def test_streamed_response_ends_the_client_run_on_close(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()
    name = f"GET {host_of(echo)}/stream"
    with httpx.Client() as client, tm.trace("handler"):
        with client.stream("GET", f"{echo}/stream") as response:
            first_chunk = next(response.iter_raw())
            assert first_chunk and memory.by_name(name) == []
        (run,) = memory.by_name(name)
        assert run.outputs == {"status_code": 200}


def test_async_streamed_response_ends_the_client_run_on_close(echo: str, memory: tm.InMemoryExporter) -> None:
    name = f"GET {host_of(echo)}/stream"

    async def main() -> None:
        async with httpx.AsyncClient(transport=AsyncTracingTransport()) as client, tm.trace("handler"):
            async with client.stream("GET", f"{echo}/stream") as response:
                async for _chunk in response.aiter_raw():
                    break
                assert memory.by_name(name) == []
            assert len(memory.by_name(name)) == 1

    asyncio.run(main())


def test_server_error_and_connection_error_are_recorded(
    echo: str, closed_port: int, memory: tm.InMemoryExporter
) -> None:
    instrument()
    with httpx.Client() as client, tm.trace("handler"):
        assert client.get(f"{echo}/status/503").status_code == 503
        assert client.get(f"{echo}/status/404").status_code == 404
        with pytest.raises(httpx.ConnectError):
            client.get(f"http://127.0.0.1:{closed_port}/down")
    (failed,) = memory.by_name(f"GET {host_of(echo)}/status/503")
    assert failed.error == "HTTP 503" and failed.metadata["http.status_code"] == 503
    (missing,) = memory.by_name(f"GET {host_of(echo)}/status/404")
    assert missing.error is None and missing.outputs == {"status_code": 404}
    (down,) = memory.by_name(f"GET 127.0.0.1:{closed_port}/down")
    assert down.error is not None and down.error.startswith("ConnectError")


def test_excluded_urls_get_no_header_and_no_run(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()
    exclude_urls(f"{echo}/ingest")
    with httpx.Client() as client, tm.trace("handler"):
        excluded = seen(client.get(f"{echo}/ingest/batch"))
        near_miss = seen(client.get(f"{echo}/ingestion"))
    assert tracing_headers(excluded) == {}
    assert "langsmith-trace" in near_miss  # a prefix matches at a path boundary only
    assert [r.name for r in memory.runs if r.name.startswith("GET ")] == [f"GET {host_of(echo)}/ingestion"]


def test_hosts_outside_the_targets_get_a_client_run_but_no_header(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument(targets=PropagationTargets(["*.internal", "api.example.com"], internal=False, public_trace_ids=False))
    with httpx.Client() as client, tm.trace("handler"):
        outside = seen(client.get(f"{echo}/outside"))
    instrument(targets=PropagationTargets([host_of(echo)], internal=False, public_trace_ids=False))
    with httpx.Client() as client, tm.trace("handler"):
        inside = seen(client.get(f"{echo}/inside"))
    assert tracing_headers(outside) == {}
    assert len(memory.by_name(f"GET {host_of(echo)}/outside")) == 1
    assert "langsmith-trace" in inside


def test_targets_from_the_environment(echo: str, memory: tm.InMemoryExporter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACING_MIDDLEWARE_PROPAGATE_TO", "*.partner.example, other.example:8443")
    instrument()
    with httpx.Client(transport=httpx.MockTransport(echo_handler)) as client, tm.trace("handler", tags=["vip"]):
        named = seen(client.get("https://other.example:8443/env"))
        wildcard = seen(client.get("https://api.partner.example/env"))
        other_port = seen(client.get("https://other.example/env"))
    with httpx.Client() as client, tm.trace("handler", tags=["vip"]):
        internal = seen(client.get(f"{echo}/env"))  # the deployment's own hosts keep full propagation
    for headers in (named, wildcard, internal):
        assert "langsmith-tags=vip" in headers["baggage"][0] and "langsmith-trace" in headers
    assert "baggage" not in other_port and "langsmith-trace" in other_port  # a public host: trace ids only


SIGNED = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=ab"


@pytest.mark.parametrize(
    ("query", "extra", "recorded_query"),
    [
        ("", {"Authorization": SIGNED}, ""),
        (
            "?X-Amz-Date=20260101T000000Z&X-Amz-Signature=ab&v=1",
            {},
            "?X-Amz-Date=REDACTED&X-Amz-Signature=REDACTED&v=1",
        ),
    ],
)
def test_sigv4_signed_requests_are_untouched(
    echo: str, memory: tm.InMemoryExporter, query: str, extra: dict[str, str], recorded_query: str
) -> None:
    instrument()
    with httpx.Client() as client, tm.trace("handler"):
        headers = seen(client.get(f"{echo}/s3/object{query}", headers=extra))
    assert tracing_headers(headers) == {}
    (run,) = memory.by_name(f"GET {host_of(echo)}/s3/object")
    assert run.metadata["http.url"] == f"{echo}/s3/object{recorded_query}"


def test_each_redirect_hop_gets_its_own_client_run(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()
    with httpx.Client(follow_redirects=True) as client, tm.trace("handler") as handler:
        headers = seen(client.get(f"{echo}/a/redirect?to={echo}/b/final"))
    (hop1,) = memory.by_name(f"GET {host_of(echo)}/a/redirect")
    (hop2,) = memory.by_name(f"GET {host_of(echo)}/b/final")
    assert hop1.outputs == {"status_code": 302} and hop2.outputs == {"status_code": 200}
    assert hop1.parent_run_id == hop2.parent_run_id == handler.id
    assert headers["langsmith-trace"] == [hop2.dotted_order]  # our copied header was replaced


def test_redirect_to_a_non_target_drops_our_copied_headers(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument(targets=PropagationTargets([f"{echo}/a"], internal=False, public_trace_ids=False))
    with httpx.Client(follow_redirects=True) as client, tm.trace("handler"):
        response = client.get(f"{echo}/a/redirect?to={echo}/b/final", headers={"baggage": "vendor=1"})
    headers = seen(response)
    assert response.history[0].request.headers["langsmith-trace"]
    assert tracing_headers(headers) == {"baggage": ["vendor=1"]}


def test_client_runs_off_injects_the_current_run(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument(client_runs=False)
    with httpx.Client() as client, tm.trace("handler") as handler:
        headers = seen(client.get(f"{echo}/plain"))
    assert headers["langsmith-trace"] == [handler.dotted_order]
    assert [r.name for r in memory.runs] == ["handler"]


@pytest.mark.skipif(len(MODULES) < 2, reason="the httpx2 module is not installed beside httpx")
def test_httpx2_clients_are_covered_too(echo: str, memory: tm.InMemoryExporter) -> None:
    httpx2 = MODULES[1]
    instrument()
    with httpx2.Client() as client, tm.trace("handler"):
        patched = seen(client.get(f"{echo}/two"))
    uninstrument()
    with httpx2.Client(transport=TracingTransport(httpx2.HTTPTransport())) as client, tm.trace("handler"):
        explicit = seen(client.get(f"{echo}/two-explicit"))
    assert "langsmith-trace" in patched and "langsmith-trace" in explicit
    assert len(memory.by_name(f"GET {host_of(echo)}/two")) == 1


def test_a_resent_request_gets_a_fresh_client_run(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()
    with httpx.Client() as client, tm.trace("handler"):
        request = client.build_request("GET", f"{echo}/retry")
        first_try = seen(client.send(request))
        second_try = seen(client.send(request))
    runs = memory.by_name(f"GET {host_of(echo)}/retry")
    assert len(runs) == 2
    assert first_try["langsmith-trace"] == [runs[0].dotted_order]
    assert second_try["langsmith-trace"] == [runs[1].dotted_order]
    assert len(second_try["traceparent"]) == 1


def test_credentials_never_reach_the_recorded_url(memory: tm.InMemoryExporter) -> None:
    instrument()
    with httpx.Client(transport=httpx.MockTransport(echo_handler)) as client, tm.trace("handler"):
        client.get("http://user:pw@svc.internal:8080/x?password=hunter2&id=7")
    (run,) = memory.by_name("GET svc.internal:8080/x")
    assert run.metadata["http.url"] == "http://svc.internal:8080/x?password=REDACTED&id=7"


def test_explicit_transport_options_override_the_global_ones(memory: tm.InMemoryExporter) -> None:
    instrument(targets=PropagationTargets(["*.internal"], public_trace_ids=False))
    transport = TracingTransport(httpx.MockTransport(echo_handler), client_runs=False)
    with httpx.Client(transport=transport) as client, tm.trace("handler") as handler:
        inside = seen(client.get("http://svc.internal/x"))
        outside = seen(client.get("http://svc.example/x"))
    assert inside["langsmith-trace"] == [handler.dotted_order]  # no client run: the handler itself
    assert tracing_headers(outside) == {}  # targets still follow instrument()
    strict = TracingTransport(httpx.MockTransport(echo_handler), targets=["svc.example"])  # widened
    with httpx.Client(transport=strict) as client, tm.trace("handler"):
        assert "langsmith-trace" in seen(client.get("http://svc.example/x"))


def test_nested_wrappers_make_one_client_run(memory: tm.InMemoryExporter) -> None:
    nested = TracingTransport(TracingTransport(httpx.MockTransport(echo_handler)))
    with httpx.Client(transport=nested) as client, tm.trace("handler"):
        headers = seen(client.get("http://svc.internal/nested"))
    (run,) = memory.by_name("GET svc.internal/nested")
    assert headers["langsmith-trace"] == [run.dotted_order] and len(headers["traceparent"]) == 1
