"""The aiohttp app the shutdown tests serve with ``python -m aiohttp.web drain_aiohttp:make_app``.

``GET /work?i=N`` (a request run whose ``query`` input names the request) and ``GET /health``. A
cleanup hook added after ``instrument_app`` prints how many ``/work`` runs the store holds by then,
which shows the drain ran in the app's own cleanup, not only at interpreter exit.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3

from aiohttp import web

from tracing_middleware.adapters.aiohttp import instrument_app


async def work(request: web.Request) -> web.Response:
    sleep = float(request.query.get("sleep", "0"))
    if sleep:
        await asyncio.sleep(sleep)
    return web.json_response({"i": request.query.get("i")})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": "yes"})


async def report_stored(app: web.Application) -> None:
    conn = sqlite3.connect(os.environ["TRACING_MIDDLEWARE_DB"], timeout=30.0)
    try:
        (count,) = conn.execute("SELECT count(*) FROM runs WHERE inputs LIKE '%/work%'").fetchone()
    finally:
        conn.close()
    print(f"stored at cleanup: {count}", flush=True)


def make_app(argv: list[str]) -> web.Application:
    app = web.Application()
    app.router.add_get("/work", work)
    app.router.add_get("/health", health)
    instrument_app(app, exclude_paths=["/health"])
    app.on_cleanup.append(report_stored)
    return app
