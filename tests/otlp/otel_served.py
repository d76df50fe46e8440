"""A FastAPI service traced by OpenTelemetry only (``FastAPIInstrumentor``), exporting over OTLP/HTTP.

Environment: ``OTLP_TEST_ENDPOINT`` (the receiver's traces URL); ``OTLP_TEST_PROPAGATION=langsmith``
makes it read only ``langsmith-trace`` (through ``LangSmithPropagator``) instead of the default W3C
propagators. ``GET /hello`` answers with the tracing headers it received.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, Request
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.propagate import set_global_textmap
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

if os.environ.get("OTLP_TEST_PROPAGATION") == "langsmith":
    from tracing_middleware.bridges.otel_propagator import LangSmithPropagator

    set_global_textmap(LangSmithPropagator())

provider = TracerProvider(resource=Resource.create({"service.name": "otel-service"}))
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=os.environ["OTLP_TEST_ENDPOINT"])))

app = FastAPI()


@app.get("/health")
async def health() -> dict[str, bool]:
    return {"ok": True}


@app.get("/hello")
async def hello(request: Request) -> dict[str, Any]:
    names = ("traceparent", "langsmith-trace", "baggage")
    return {"headers": {name: request.headers.get(name) for name in names}}


FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls="health")
