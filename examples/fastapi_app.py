"""A FastAPI service continuing its callers' traces: the server side of LangSmith's distributed-tracing page.

Run it with ``python examples/fastapi_app.py`` (uvicorn on http://127.0.0.1:8000), then call it from a
traced client, e.g. with the real ``langsmith`` package::

    from langsmith import RunTree
    import httpx

    caller = RunTree(name="client", run_type="chain")
    httpx.post("http://127.0.0.1:8000/my-route", headers=caller.to_headers())

Each request becomes a run, a child of the caller's run; ``my_application`` becomes its child. Runs go
to the exporter chosen by ``TRACING_MIDDLEWARE_EXPORTER`` (default ``sqlite``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from tracing_middleware import get_current_run_tree, traceable
from tracing_middleware.adapters.fastapi import TracingMiddleware


@traceable
async def my_application() -> dict[str, Any]:
    run = get_current_run_tree()
    return {"trace_id": run.trace_id if run else None, "parent_run_id": run.parent_run_id if run else None}


app = FastAPI()
app.add_middleware(TracingMiddleware)  # no more `with tracing_context(parent=request.headers)` per route


@app.post("/my-route")
async def fake_route() -> dict[str, Any]:
    return await my_application()


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
