"""A FastAPI service traced by tracing_middleware, exporting through ``OTLPExporter`` (served by uvicorn).

Environment: ``TM_OTLP_ENDPOINT`` (the receiver's traces URL). ``GET /work?downstream=URL`` makes a
``plan`` child run, then calls ``URL`` with httpx; the call carries our headers (``instrument()``)
under a client run. ``TRACING_MIDDLEWARE_W3C=false`` makes it send ``langsmith-trace`` alone.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from fastapi import FastAPI

import tracing_middleware as tm
from tracing_middleware.adapters.fastapi import TracingMiddleware
from tracing_middleware.exporters.otlp import OTLPExporter

tm.configure(
    exporter=OTLPExporter(endpoint=os.environ["TM_OTLP_ENDPOINT"], timeout=5),
    service_name="ours",
    project_name="otlp-tests",
)
try:
    from tracing_middleware.transports.instrument import instrument
except ImportError:  # outbound patching not available: headers are injected by hand below
    instrument = None
else:
    instrument()

app = FastAPI()
app.add_middleware(TracingMiddleware, exclude_paths=["/health"])


@tm.traceable(name="plan", run_type="tool", tags=["planning"], metadata={"step": 1})
def plan(topic: str) -> dict[str, Any]:
    return {"steps": [f"look up {topic}"]}


@app.get("/health")
async def health() -> dict[str, bool]:
    return {"ok": True}


@app.get("/work")
async def work(downstream: str | None = None) -> dict[str, Any]:
    planned = plan("otlp")
    if downstream is None:
        return {"planned": planned}
    headers: dict[str, str] = {}
    if instrument is None:
        tm.inject(headers)
    async with httpx.AsyncClient(trust_env=False) as client:
        answer = await client.get(downstream, headers=headers)
    return {"planned": planned, "downstream": answer.json()}
