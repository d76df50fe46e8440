"""Private by default: what leaves the process for each kind of host, with no configuration.

The real ``openai`` and ``anthropic`` SDKs run against an ``httpx.MockTransport`` (nothing leaves the
machine) inside a run with metadata and tags, with ``instrument()`` on, as a web adapter leaves it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")
openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")
requests = pytest.importorskip("requests")

from outbound_support import TRACING_HEADERS  # noqa: E402

import tracing_middleware as tm  # noqa: E402
from tracing_middleware.transports import PropagationTargets, TracingTransport  # noqa: E402
from tracing_middleware.transports.instrument import instrument  # noqa: E402

METADATA = {"user_email": "alice@example.com", "tenant": "acme"}
SECRETS = ("alice", "acme", "vip", "langsmith-metadata", "langsmith-tags", "langsmith-project")

CHAT = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}  # fmt: skip
MESSAGE = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test", "stop_reason": "end_turn",
    "stop_sequence": None, "content": [{"type": "text", "text": "hi"}],
    "usage": {"input_tokens": 1, "output_tokens": 1},
}  # fmt: skip


class Recorder:
    """A MockTransport handler that keeps every request's headers and answers like the real API."""

    def __init__(self, body: dict[str, Any] | None = None, module: Any = httpx) -> None:
        self.body = body or {"ok": True}
        self.module = module  # httpx, or httpx2 for the SDKs built on it
        self.sent: list[tuple[str, dict[str, str]]] = []

    def __call__(self, request: Any) -> Any:
        self.sent.append((str(request.url), {k.lower(): v for k, v in request.headers.multi_items()}))
        return self.module.Response(200, json=self.body)

    def only(self) -> dict[str, str]:
        assert len(self.sent) == 1, self.sent
        return self.sent[0][1]


def leaked(headers: dict[str, str]) -> list[str]:
    """Every tracing header, and every trace of the run's metadata, tags or project, in ``headers``."""
    found = [name for name in headers if name in TRACING_HEADERS]
    text = json.dumps(headers).lower()
    return found + [word for word in SECRETS if word in text]


@pytest.fixture(autouse=True)
def _instrumented() -> Iterator[None]:
    instrument()  # the default targets: what a web adapter turns on at its first request
    yield


def test_openai_sdk_gets_no_tracing_header_and_no_metadata(memory: tm.InMemoryExporter) -> None:
    handler = Recorder(CHAT)
    client = openai.OpenAI(api_key="sk-test", http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    with tm.trace("handler", metadata=METADATA, tags=["vip"]):
        answer = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "hi"
    assert handler.sent[0][0] == "https://api.openai.com/v1/chat/completions"
    assert leaked(handler.only()) == []
    # The call is still part of the traced work: its client run is recorded here.
    (call,) = memory.by_name("POST api.openai.com/v1/chat/completions")
    assert call.metadata["user_email"] == "alice@example.com" and call.outputs == {"status_code": 200}


def test_async_openai_and_azure_openai_get_nothing(memory: tm.InMemoryExporter) -> None:
    handler = Recorder(CHAT)

    async def go() -> None:
        plain = openai.AsyncOpenAI(
            api_key="sk-test", http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler))
        )
        azure = openai.AsyncAzureOpenAI(
            api_key="k", api_version="2024-06-01", azure_endpoint="https://myres.openai.azure.com",
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        )  # fmt: skip
        with tm.trace("handler", metadata=METADATA, tags=["vip"]):
            for client in (plain, azure):
                await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])

    asyncio.run(go())
    assert [url.split("/")[2] for url, _ in handler.sent] == ["api.openai.com", "myres.openai.azure.com"]
    assert [leaked(headers) for _, headers in handler.sent] == [[], []]


def test_anthropic_sdk_gets_no_tracing_header_and_no_metadata(memory: tm.InMemoryExporter) -> None:
    # Current anthropic SDKs are built on httpx2, older ones on httpx: the patch covers both.
    import anthropic._base_client as base

    module = getattr(base, "httpx2", None) or base.httpx
    handler = Recorder(MESSAGE, module)
    client = anthropic.Anthropic(
        api_key="sk-ant-test", http_client=module.Client(transport=module.MockTransport(handler))
    )
    with tm.trace("handler", metadata=METADATA, tags=["vip"]):
        reply = client.messages.create(model="claude-test", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert reply.content[0].text == "hi"  # type: ignore[union-attr]
    assert handler.sent[0][0] == "https://api.anthropic.com/v1/messages"
    assert leaked(handler.only()) == []
    assert len(memory.by_name("POST api.anthropic.com/v1/messages")) == 1


def test_an_sdk_pointed_at_a_host_the_user_named_gets_everything(memory: tm.InMemoryExporter) -> None:
    handler = Recorder(CHAT)
    instrument(targets=["api.openai.com"])
    client = openai.OpenAI(api_key="sk-test", http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    with tm.trace("handler", metadata=METADATA, tags=["vip"]):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    headers = handler.only()
    assert "langsmith-trace" in headers and "traceparent" in headers
    assert "langsmith-metadata=" in headers["baggage"] and "alice%40example.com" in headers["baggage"]


def full(headers: dict[str, Any]) -> bool:
    """Everything: the trace, the W3C parent and our baggage with the metadata, tags and project."""
    bag = headers["baggage"][0] if isinstance(headers.get("baggage"), list) else headers.get("baggage", "")
    return (
        "langsmith-trace" in headers
        and "traceparent" in headers
        and "alice%40example.com" in bag
        and "langsmith-tags=vip" in bag
        and "langsmith-project=" in bag
    )


def test_loopback_single_label_and_internal_hosts_get_everything(echo: str, memory: tm.InMemoryExporter) -> None:
    handler = Recorder()
    with tm.trace("handler", metadata=METADATA, tags=["vip"]):
        with httpx.Client() as real:
            by_httpx = real.get(f"{echo}/x").json()["headers"]
        by_requests = requests.get(f"{echo}/y", timeout=10).json()["headers"]
        with httpx.Client(transport=httpx.MockTransport(handler)) as client:
            for url in ("http://orders/x", "http://orders.shop.svc.cluster.local:8080/x", "http://db.internal/x"):
                client.get(url)
    assert full(by_httpx) and full(by_requests)
    assert [full(headers) for _, headers in handler.sent] == [True, True, True]


def test_other_public_hosts_get_trace_ids_and_no_metadata(memory: tm.InMemoryExporter) -> None:
    handler = Recorder()
    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as client,
        tm.trace("handler", metadata=METADATA, tags=["vip"]) as handler_run,
    ):
        client.get("https://api.partner.example/orders", headers={"baggage": "vendor=1"})
    headers = handler.only()
    (call,) = memory.by_name("GET api.partner.example/orders")
    assert (
        headers["langsmith-trace"] == call.dotted_order
        and handler_run.trace_id.replace("-", "") in headers["traceparent"]
    )
    assert headers["baggage"] == "vendor=1"  # another vendor's member stays; none of ours is added
    assert [w for w in SECRETS if w in json.dumps(headers)] == []


def test_the_setting_widens_the_default(monkeypatch: pytest.MonkeyPatch, memory: tm.InMemoryExporter) -> None:
    handler = Recorder()
    monkeypatch.setenv("TRACING_MIDDLEWARE_PROPAGATE_TO", "api.partner.example, *.acme.example")
    instrument()  # reads the environment
    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as client,
        tm.trace("handler", metadata=METADATA, tags=["vip"]),
    ):
        client.get("https://api.partner.example/orders")
        client.get("https://billing.acme.example/charge")
        client.get("https://other.example/x")
        client.get("https://api.openai.com/v1/models")
    assert [full(headers) for _, headers in handler.sent] == [True, True, False, False]
    assert "langsmith-trace" in handler.sent[2][1] and leaked(handler.sent[3][1]) == []


def test_an_explicit_transport_follows_the_same_rule(memory: tm.InMemoryExporter) -> None:
    handler = Recorder()
    transport = TracingTransport(httpx.MockTransport(handler), targets=PropagationTargets(["api.openai.com"]))
    with httpx.Client(transport=transport) as client, tm.trace("handler", metadata=METADATA, tags=["vip"]):
        client.get("https://api.openai.com/v1/models")
        client.get("https://api.anthropic.com/v1/models")
    assert full(handler.sent[0][1]) and leaked(handler.sent[1][1]) == []


def test_requests_follows_the_same_rule(memory: tm.InMemoryExporter) -> None:
    seen: list[dict[str, str]] = []

    class Answer(requests.adapters.BaseAdapter):  # type: ignore[misc]
        def send(self, request: Any, **kwargs: Any) -> Any:
            seen.append({k.lower(): v for k, v in request.headers.items()})
            response = requests.Response()
            response.status_code, response._content, response.request = 200, b"{}", request
            return response

        def close(self) -> None:
            pass

    with requests.Session() as session:
        session.mount("https://", Answer())
        session.mount("http://", Answer())
        with tm.trace("handler", metadata=METADATA, tags=["vip"]):
            for url in ("https://api.openai.com/v1/models", "https://api.partner.example/x", "http://pricing/x"):
                session.get(url)
    assert leaked(seen[0]) == []
    assert "langsmith-trace" in seen[1] and "baggage" not in seen[1]
    assert full(seen[2])


def test_inject_follows_the_rule_when_the_carrier_names_its_destination(memory: tm.InMemoryExporter) -> None:
    with tm.trace("handler", metadata=METADATA, tags=["vip"]):
        ai = httpx.Request("POST", "https://api.anthropic.com/v1/messages")
        tm.inject(ai)
        public: dict[str, str] = {"Host": "api.partner.example"}
        tm.inject(public)
        internal = requests.Request("GET", "http://10.0.0.7:8080/x").prepare()
        tm.inject(internal)
        by_url: dict[str, str] = {}
        tm.inject(by_url, url="https://generativelanguage.googleapis.com/v1beta/models")
        unnamed: dict[str, str] = {}
        tm.inject(unnamed)  # no destination known: the caller asked for the headers
    assert leaked({k.lower(): v for k, v in ai.headers.items() if k.lower() != "host"}) == []
    assert "langsmith-trace" in public and "baggage" not in public
    assert full(dict(internal.headers)) and full(unnamed)
    assert by_url == {}


def test_the_opentelemetry_propagator_skips_well_known_apis() -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider

    from tracing_middleware.bridges.otel_propagator import LangSmithPropagator

    tracer = TracerProvider().get_tracer("test")
    propagator = LangSmithPropagator()
    with tracer.start_as_current_span("call"):
        ai = {"host": "api.openai.com"}
        internal = {"host": "orders.internal"}
        propagator.inject(ai)
        propagator.inject(internal)
    assert ai == {"host": "api.openai.com"}
    assert "langsmith-trace" in internal and "baggage" not in internal


def test_a_redirect_from_inside_to_a_public_api_takes_our_headers_off(memory: tm.InMemoryExporter) -> None:
    sent: list[tuple[str, dict[str, str]]] = []

    def handler(request: Any) -> Any:
        sent.append((request.url.host, {k.lower(): v for k, v in request.headers.multi_items()}))
        if request.url.host == "files.internal":
            return httpx.Response(302, headers={"location": "https://storage.googleapis.com/bucket/object"})
        return httpx.Response(200)

    with (
        httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=True) as client,
        tm.trace("handler", metadata=METADATA, tags=["vip"]),
    ):
        client.get("http://files.internal/download", headers={"baggage": "vendor=1"})
    (inside, inside_headers), (outside, outside_headers) = sent
    assert (inside, outside) == ("files.internal", "storage.googleapis.com")
    assert full(inside_headers)
    # httpx copies the first request's headers onto the redirect: ours are taken off, another vendor's stays.
    assert leaked(outside_headers) == ["baggage"] and outside_headers["baggage"] == "vendor=1"


def test_aiohttp_s_client_follows_the_same_rule(memory: tm.InMemoryExporter) -> None:
    pytest.importorskip("aiohttp")
    from multidict import CIMultiDict
    from yarl import URL

    from tracing_middleware.transports import aiohttp as traced_aiohttp
    from tracing_middleware.transports.options import global_options

    sent = {}
    with tm.trace("handler", metadata=METADATA, tags=["vip"]) as parent:
        for url in ("https://api.openai.com/v1/models", "https://api.partner.example/x", "http://pricing/x"):
            headers: CIMultiDict[str] = CIMultiDict()
            hop = traced_aiohttp._prepare(parent, global_options(), "GET", URL(url), headers)
            assert hop is not None
            hop.end()
            sent[url] = dict(headers)
    assert leaked(sent["https://api.openai.com/v1/models"]) == []
    assert (
        "langsmith-trace" in sent["https://api.partner.example/x"]
        and "baggage" not in sent["https://api.partner.example/x"]
    )
    assert full(sent["http://pricing/x"])


def test_an_explicit_instrument_is_not_undone_by_the_automatic_switch(memory: tm.InMemoryExporter) -> None:
    handler = Recorder()
    with tm.use_runtime(tm.get_runtime().copy(outbound_pending=True)):  # as in a fresh process
        instrument(targets=["api.openai.com"])
        with (
            httpx.Client(transport=httpx.MockTransport(handler)) as client,
            tm.trace("first root run", metadata=METADATA, tags=["vip"]),  # the automatic switch's moment
        ):
            client.get("https://api.openai.com/v1/models")
    assert full(handler.only())  # the targets given to instrument() still hold
