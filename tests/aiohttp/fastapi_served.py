"""The FastAPI service the aiohttp service calls (served by uvicorn as ``fastapi_served:app``)."""

from __future__ import annotations

from fastapi import FastAPI

from tracing_middleware import traceable
from tracing_middleware.adapters.fastapi import TracingMiddleware

app = FastAPI()
app.add_middleware(TracingMiddleware)


@traceable(run_type="llm")
def quote(sku: str) -> float:
    return 15.75


@app.get("/price/{sku}")
def price(sku: str) -> dict[str, float]:
    return {"price": quote(sku)}
