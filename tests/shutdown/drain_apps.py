"""Apps the shutdown and secrets tests serve, traced into the SQLite store named by ``TRACING_MIDDLEWARE_DB``.

``drain_apps:asgi`` (FastAPI), ``drain_apps:wsgi`` (Flask), ``drain_apps:plain`` (bare WSGI middleware);
Django through ``drain_django``. Each has ``GET /work?i=N`` (a request run whose ``query`` input names
the request) and ``GET /health``. ``TM_OPTIONS`` (JSON) adds middleware options.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from flask import Flask, request

from tracing_middleware.adapters.fastapi import TracingMiddleware
from tracing_middleware.adapters.flask import TracingFlask
from tracing_middleware.middleware.wsgi import WSGITracingMiddleware

OPTIONS: dict[str, Any] = {"exclude_paths": ["/health"], **json.loads(os.environ.get("TM_OPTIONS") or "{}")}

asgi = FastAPI()
asgi.add_middleware(TracingMiddleware, **OPTIONS)


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
TracingFlask(wsgi, **OPTIONS)


@wsgi.get("/work")
def wsgi_work() -> dict[str, Any]:
    sleep = float(request.args.get("sleep", "0"))
    if sleep:
        time.sleep(sleep)
    return {"i": request.args.get("i")}


@wsgi.get("/health")
def wsgi_health() -> dict[str, str]:
    return {"ok": "yes"}


def _plain(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"ok": "yes"}']


plain = WSGITracingMiddleware(_plain, **OPTIONS)
