"""FastAPI service with the one-line middleware; its outbound httpx call is propagated with zero code.

``GET /call?to=URL&n=N&h=NAME:VALUE...`` calls ``URL`` ``N`` times (default 1) with httpx, each call
carrying the ``h`` headers the app sets itself, following redirects as the other services' clients do,
and answers with what each call's target reported. Served by uvicorn.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import FastAPI, Query

import tracing_middleware as tm
from tracing_middleware.adapters.fastapi import TracingMiddleware

tm.configure(exporter="none")
app = FastAPI()
app.add_middleware(TracingMiddleware)


@app.get("/call")
async def call(to: str, n: int = 1, h: Annotated[list[str] | None, Query()] = None) -> dict[str, Any]:
    own = [tuple(item.split(":", 1)) for item in h or []]
    async with httpx.AsyncClient(trust_env=False, timeout=30, follow_redirects=True) as client:
        return {"calls": [(await client.get(to, headers=own)).json() for _ in range(n)]}
