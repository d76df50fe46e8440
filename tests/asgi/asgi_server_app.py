"""A FastAPI app served by uvicorn in a subprocess for the server tests.

Environment: ``TM_RUNS_OUT`` (JSON lines file receiving every finished run), ``TM_OPTIONS`` (JSON
object of middleware options, default ``{}``), ``TM_OTEL_OUT`` (if set: a global OpenTelemetry
TracerProvider is installed and its spans are written to this JSON lines file).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import StreamingResponse

import tracing_middleware as tm
from tracing_middleware.adapters.fastapi import TracingMiddleware, request_run
from tracing_middleware.core.run_tree import RunTree


class LinesExporter:
    """Writes each finished run as one JSON line (``RunTree.to_dict()``)."""

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in shutdown

    def export(self, runs: Sequence[RunTree]) -> None:
        with self._lock:
            for run in runs:
                self._file.write(json.dumps(run.to_dict()) + "\n")
            self._file.flush()

    def shutdown(self) -> None:
        with self._lock:
            self._file.close()


def _exporter(path: str) -> Any:
    try:  # the package's own JSON lines exporter, once it exists
        from tracing_middleware.exporters.jsonl import JSONLExporter
    except ImportError:
        return LinesExporter(path)
    return JSONLExporter(path)


tm.configure(exporter=_exporter(os.environ["TM_RUNS_OUT"]), project_name="server-tests")

if os.environ.get("TM_OTEL_OUT"):
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class SpanLines(SpanExporter):
        def __init__(self, path: str) -> None:
            self.path = path

        def export(self, spans: Any) -> SpanExportResult:
            with open(self.path, "a", encoding="utf-8") as out:
                for span in spans:
                    parent = span.parent.span_id if span.parent is not None else None
                    out.write(
                        json.dumps(
                            {
                                "name": span.name,
                                "kind": span.kind.name,
                                "trace_id": f"{span.context.trace_id:032x}",
                                "span_id": f"{span.context.span_id:016x}",
                                "parent_span_id": f"{parent:016x}" if parent else None,
                            }
                        )
                        + "\n"
                    )
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SpanLines(os.environ["TM_OTEL_OUT"])))
    trace.set_tracer_provider(provider)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.started = True
    yield
    tm.shutdown()  # flush every run before the process exits


app = FastAPI(lifespan=lifespan)
app.add_middleware(
    TracingMiddleware, **{"exclude_paths": ["/health"], **json.loads(os.environ.get("TM_OPTIONS", "{}"))}
)


def _ids() -> dict[str, Any]:
    run = tm.get_current_run_tree()
    return {"run_id": run.id if run else None, "parent_id": run.parent_run_id if run else None}


@tm.traceable
async def my_application(n: int) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"child": _ids(), "n": n}


@tm.traceable
def make_chunk(i: int) -> str:
    return f"chunk-{i};"


@tm.traceable
def echo(text: str) -> str:
    return f"echo:{text}"


@app.get("/health")
async def health() -> dict[str, bool]:
    return {"ok": bool(app.state.started)}


@app.post("/my-route")
async def my_route(request: Request) -> dict[str, Any]:
    body = await request.json()
    result = await my_application(body.get("n", 0))
    handler = _ids()
    scoped = request_run(request)
    handler["scope_run_id"] = scoped.id if scoped else None
    if os.environ.get("TM_OTEL_OUT"):
        from opentelemetry import trace

        context = trace.get_current_span().get_span_context()
        handler["otel_trace_id"] = f"{context.trace_id:032x}" if context.is_valid else None
    return {**handler, **result}


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> dict[str, Any]:
    return {"item_id": item_id, **_ids()}


@app.get("/stream")
async def stream() -> StreamingResponse:
    async def chunks() -> AsyncIterator[str]:
        for i in range(5):
            await asyncio.sleep(0.05)
            yield make_chunk(i)

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/relay")
async def relay(request: Request) -> dict[str, Any]:
    # No header code here: the middleware instruments httpx at the first request (outbound is on by default).
    import httpx

    async with httpx.AsyncClient(base_url=str(request.base_url), trust_env=False) as client:
        answer = await client.get("/items/5")
    return {"relay": _ids(), "downstream": answer.json()}


@app.get("/boom")
async def boom() -> None:
    raise RuntimeError("boom on purpose")


@app.websocket("/ws/{room}")
async def websocket_room(websocket: WebSocket, room: str) -> None:
    await websocket.accept()
    for _ in range(3):
        text = await websocket.receive_text()
        await asyncio.sleep(0.02)
        await websocket.send_text(echo(text))
    await websocket.close(code=1000)
