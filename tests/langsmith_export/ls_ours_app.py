"""Our FastAPI service for the LangSmith interop tests: ``TracingMiddleware`` + ``LangSmithExporter``.

Run under uvicorn (``ls_ours_app:app``). The exporter is configured only by the environment, as a user
would: ``LANGSMITH_ENDPOINT``, ``LANGSMITH_API_KEY``, ``LANGSMITH_PROJECT``. Routes: ``POST /my-route``
(the seed page's route: one ``@traceable`` child under the request run), ``GET /health`` and
``GET /stats`` (the batch processor's counters, so tests can see failures from outside).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

import tracing_middleware as tm
from tracing_middleware.adapters.fastapi import TracingMiddleware
from tracing_middleware.exporters.langsmith import LangSmithExporter

exporter = LangSmithExporter()
tm.configure(exporter=exporter, service_name="ours")

app = FastAPI()
app.add_middleware(TracingMiddleware)


@tm.traceable(name="my_application")
async def my_application(text: str) -> str:
    return f"Hello from the server! Received {text!r}"


@app.post("/my-route")
async def my_route(request: Request) -> dict[str, Any]:
    run = tm.get_current_run_tree()
    body = (await request.body()).decode("utf-8", "replace")
    return {
        "reply": await my_application(body),
        "request_run": run.id if run else None,
        "trace_id": run.trace_id if run else None,
        "parent_run_id": run.parent_run_id if run else None,
    }


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/stats")
async def stats() -> dict[str, Any]:
    processor = exporter.processor
    assert processor is not None
    return {
        "exported": processor.exported,
        "failures": processor.failures.count,
        "dropped": processor.dropped.count,
        "queued": len(processor._queue),
        "max_queue": processor.max_queue,
        "client_errors": exporter.client_errors,
    }
