"""FastAPI (with its native OpenTelemetry when a provider is set) under uvicorn, for the bridge tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import scenario
from fastapi import FastAPI, Request

import tracing_middleware as tm
from tracing_middleware.adapters.fastapi import TracingMiddleware

scenario.configure()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    tm.shutdown()


app = FastAPI(lifespan=lifespan)
app.add_middleware(TracingMiddleware)


@app.get("/work")
def work(request: Request) -> dict[str, Any]:  # sync: runs in the thread pool, with the request's context
    return scenario.work(str(request.base_url).rstrip("/"))


@app.get("/echo")
async def echo(request: Request) -> dict[str, Any]:
    return scenario.echo(request.headers)


@app.get("/probe")
def probe() -> dict[str, Any]:
    return scenario.probe()
