"""aiohttp.web service with ``instrument_app``; its outbound calls use aiohttp's client.

``GET /call?to=URL&n=N&h=NAME:VALUE...`` as in ``svc_fastapi``. Served by aiohttp's own runner:
``python -m aiohttp.web -H 127.0.0.1 -P PORT svc_aiohttp:make_app [--trace-config]``. Without the flag
the client is propagated with zero code (the middleware runs ``instrument()``); with it, outbound
patching is off and each session is given an explicit ``TracingTraceConfig``.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

import tracing_middleware as tm
from tracing_middleware.adapters.aiohttp import instrument_app
from tracing_middleware.transports.aiohttp import TracingTraceConfig

tm.configure(exporter="none")
EXPLICIT = web.AppKey("explicit", bool)


async def call(request: web.Request) -> web.Response:
    to = request.query["to"]
    own = [tuple(item.split(":", 1)) for item in request.query.getall("h", [])]
    configs = [TracingTraceConfig()] if request.app[EXPLICIT] else None
    calls = []
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout, trace_configs=configs) as session:
        for _ in range(int(request.query.get("n", "1"))):
            async with session.get(to, headers=own) as response:
                calls.append(await response.json())
    return web.json_response({"calls": calls})


def make_app(argv: list[str]) -> web.Application:
    """The app, for aiohttp's ``python -m aiohttp.web`` runner; ``argv``: the arguments it did not use."""
    # aiohttp refuses a header line over 8190 bytes by default: too short for the 8192 bytes of
    # baggage W3C Baggage asks to be propagated, so the limit is raised, as a deployment would.
    app = web.Application(handler_args={"max_field_size": 16384})
    app[EXPLICIT] = "--trace-config" in argv
    app.router.add_get("/call", call)
    return instrument_app(app, instrument_outbound=not app[EXPLICIT])
