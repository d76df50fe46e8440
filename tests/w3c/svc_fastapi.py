"""FastAPI service with the one-line middleware; its outbound httpx call is propagated with zero code.

``GET /call?to=URL&n=N`` calls ``URL`` ``N`` times (default 1) with httpx and answers with what
each call's target reported. Served by uvicorn.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

import tracing_middleware as tm
from tracing_middleware.adapters.fastapi import TracingMiddleware

tm.configure(exporter="none")
app = FastAPI()
app.add_middleware(TracingMiddleware)


@app.get("/call")
async def call(to: str, n: int = 1) -> dict[str, Any]:
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        return {"calls": [(await client.get(to)).json() for _ in range(n)]}
