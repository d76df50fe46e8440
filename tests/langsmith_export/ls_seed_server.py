"""The seed page's ``server.py``: a FastAPI service traced by the real ``langsmith`` SDK.

``with tracing_context(parent=request.headers)`` continues the caller's trace; its runs go to
``LANGSMITH_ENDPOINT`` through langsmith's own background thread. Run under uvicorn
(``ls_seed_server:app``); ``GET /health`` answers once it is up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from langsmith import traceable
from langsmith.run_helpers import get_current_run_tree, tracing_context
from langsmith.run_trees import get_cached_client


@traceable
async def my_application() -> dict[str, Any]:
    run = get_current_run_tree()
    assert run is not None
    return {"run_id": str(run.id), "trace_id": str(run.trace_id), "parent_run_id": str(run.parent_run_id)}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    get_cached_client().flush()  # runs still queued in langsmith's thread go out before exit


app = FastAPI(lifespan=lifespan)


@app.post("/my-route")
async def fake_route(request: Request) -> dict[str, Any]:
    with tracing_context(parent=request.headers):
        return await my_application()


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
