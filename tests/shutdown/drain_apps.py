"""Apps the shutdown tests serve, each traced into the SQLite store named by ``TRACING_MIDDLEWARE_DB``.

``drain_apps:asgi`` (FastAPI), ``drain_apps:wsgi`` (Flask); Django through ``drain_django``. Each has
``GET /work?i=N`` (a request run whose ``query`` input names the request) and ``GET /health``.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from flask import Flask, request

from tracing_middleware.adapters.fastapi import TracingMiddleware
from tracing_middleware.adapters.flask import TracingFlask

asgi = FastAPI()
asgi.add_middleware(TracingMiddleware, exclude_paths=["/health"])


@asgi.get("/work")
async def asgi_work(i: int = 0, sleep: float = 0.0) -> dict[str, Any]:
    if sleep:
        import asyncio

        await asyncio.sleep(sleep)
    return {"i": i}


@asgi.get("/health")
async def asgi_health() -> dict[str, str]:
    return {"ok": "yes"}


wsgi = Flask("drain_apps")
TracingFlask(wsgi, exclude_paths=["/health"])


@wsgi.get("/work")
def wsgi_work() -> dict[str, Any]:
    sleep = float(request.args.get("sleep", "0"))
    if sleep:
        time.sleep(sleep)
    return {"i": request.args.get("i")}


@wsgi.get("/health")
def wsgi_health() -> dict[str, str]:
    return {"ok": "yes"}
