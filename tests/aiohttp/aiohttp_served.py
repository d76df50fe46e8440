"""An aiohttp service for the end-to-end test: ``python aiohttp_served.py PORT DOWNSTREAM_URL``.

Its client session is made at start-up, before the first request switches outbound tracing on.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from tracing_middleware import traceable
from tracing_middleware.adapters.aiohttp import instrument_app

SESSION = web.AppKey("session", aiohttp.ClientSession)


@traceable(run_type="tool")
def check_stock(order_id: str) -> int:
    return 5


async def order(request: web.Request) -> web.Response:
    order_id = request.match_info["order_id"]
    async with request.app[SESSION].get(f"{request.app['downstream']}/price/{order_id}") as response:
        price = await response.json()
    return web.json_response({"order": order_id, "stock": check_stock(order_id), **price})


async def session_ctx(app: web.Application) -> AsyncIterator[None]:
    app[SESSION] = aiohttp.ClientSession()
    yield
    await app[SESSION].close()


def make_app(downstream: str) -> web.Application:
    app = web.Application()
    app["downstream"] = downstream
    app.cleanup_ctx.append(session_ctx)
    app.router.add_get("/orders/{order_id}", order)
    return instrument_app(app)


if __name__ == "__main__":
    web.run_app(make_app(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]), print=None)
