"""One trace across OpenTelemetry and tracing_middleware services, exported to one OTLP receiver.

The chain: an httpx client instrumented by OpenTelemetry (this process) -> our FastAPI service
(uvicorn subprocess: ``TracingMiddleware``, ``instrument()``, ``OTLPExporter``) -> a FastAPI service
instrumented by OpenTelemetry only (uvicorn subprocess, ``FastAPIInstrumentor``). Two propagation
modes: W3C ``traceparent`` (OpenTelemetry's defaults), and ``langsmith-trace`` alone (our service
with ``w3c=False``, the OpenTelemetry sides using ``LangSmithPropagator`` only).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter")
pytest.importorskip("opentelemetry.instrumentation.httpx")
pytest.importorskip("opentelemetry.instrumentation.fastapi")

import httpx
from opentelemetry import propagate
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from otlp_support import Receiver, serve, wait_for

from tracing_middleware.bridges.otel_propagator import LangSmithPropagator


@dataclass
class Chain:
    mode: str
    receiver: Receiver
    ours: str
    otel: str


@dataclass
class Observed:
    answer: dict[str, Any]
    spans: list[dict[str, Any]]
    root_span_id: str
    client_span_id: str

    def one(self, service: str, kind: str) -> dict[str, Any]:
        found = [s for s in self.spans if s["resource"]["service.name"] == service and s["kind"] == kind]
        assert len(found) == 1, found
        return found[0]


@pytest.fixture(scope="module", params=["w3c", "langsmith"])
def chain(
    request: pytest.FixtureRequest, otlp_receiver_module: Receiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Chain]:
    mode = request.param
    logs = tmp_path_factory.mktemp(f"servers-{mode}")
    ours_env = {"TM_OTLP_ENDPOINT": otlp_receiver_module.endpoint}
    otel_env = {"OTLP_TEST_ENDPOINT": otlp_receiver_module.endpoint}
    if mode == "langsmith":
        ours_env["TRACING_MIDDLEWARE_W3C"] = "false"
        otel_env["OTLP_TEST_PROPAGATION"] = "langsmith"
    with serve("otel_served:app", otel_env, logs) as otel, serve("ours_served:app", ours_env, logs) as ours:
        yield Chain(mode, otlp_receiver_module, ours, otel)


@pytest.fixture(scope="module")
def observed(chain: Chain) -> Observed:
    """Call the chain once from an OpenTelemetry-instrumented httpx client; collect the whole trace."""
    provider = TracerProvider(resource=Resource.create({"service.name": "otel-client"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=chain.receiver.endpoint)))
    previous = propagate.get_global_textmap()
    if chain.mode == "langsmith":
        propagate.set_global_textmap(LangSmithPropagator())
    client = httpx.Client(trust_env=False, timeout=30)
    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)
    try:
        with provider.get_tracer("interop").start_as_current_span("client-root") as root:
            response = client.get(f"{chain.ours}/work", params={"downstream": f"{chain.otel}/hello"})
    finally:
        HTTPXClientInstrumentor.uninstrument_client(client)
        client.close()
        propagate.set_global_textmap(previous)
        provider.shutdown()
    assert response.status_code == 200, response.text
    trace_hex = f"{root.get_span_context().trace_id:032x}"

    def complete() -> list[dict[str, Any]] | None:
        spans = chain.receiver.trace(trace_hex)
        services = [(s["resource"]["service.name"], s["kind"]) for s in spans]
        wanted = [("otel-client", "CLIENT"), ("ours", "SERVER"), ("ours", "CLIENT"), ("otel-service", "SERVER")]
        return spans if all(w in services for w in wanted) and services.count(("ours", "INTERNAL")) >= 1 else None

    spans = wait_for(complete, "every service's spans of the trace")
    client_spans = [s for s in spans if s["resource"]["service.name"] == "otel-client" and s["kind"] == "CLIENT"]
    return Observed(response.json(), spans, f"{root.get_span_context().span_id:016x}", client_spans[0]["span_id"])


def test_our_request_run_continues_the_otel_client_trace(observed: Observed) -> None:
    server = observed.one("ours", "SERVER")
    assert server["parent_span_id"] == observed.client_span_id
    assert server["trace_id"] == observed.one("otel-client", "CLIENT")["trace_id"]
    assert server["name"] == "GET /work"
    plan = [s for s in observed.spans if s["name"] == "plan"]
    assert len(plan) == 1 and plan[0]["parent_span_id"] == server["span_id"]
    assert plan[0]["attributes"]["openinference.span.kind"] == "TOOL"


def test_otel_service_continues_our_client_run(observed: Observed, chain: Chain) -> None:
    ours_client = observed.one("ours", "CLIENT")
    otel_server = observed.one("otel-service", "SERVER")
    assert otel_server["parent_span_id"] == ours_client["span_id"]
    assert ours_client["parent_span_id"] == observed.one("ours", "SERVER")["span_id"]
    assert ours_client["attributes"]["url.full"] == f"{chain.otel}/hello"
    received = observed.answer["downstream"]["headers"]
    assert received["langsmith-trace"] is not None
    if chain.mode == "langsmith":
        assert received["traceparent"] is None  # it followed langsmith-trace alone
    else:
        assert received["traceparent"].split("-")[2] == ours_client["span_id"]


def test_the_chain_is_one_connected_trace(observed: Observed) -> None:
    ids = {s["span_id"] for s in observed.spans}
    assert len(ids) == len(observed.spans)
    assert len({s["trace_id"] for s in observed.spans}) == 1
    roots = [s for s in observed.spans if s["parent_span_id"] is None]
    assert [r["span_id"] for r in roots] == [observed.root_span_id]
    orphans = [s["name"] for s in observed.spans if s["parent_span_id"] and s["parent_span_id"] not in ids]
    assert orphans == []
    assert {s["resource"]["service.name"] for s in observed.spans} == {"otel-client", "ours", "otel-service"}
