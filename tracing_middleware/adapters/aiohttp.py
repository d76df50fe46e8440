"""aiohttp servers: every request a run, continuing the caller's trace, in one line ``instrument_app(app)``.

The middleware takes the options of every other adapter (``MiddlewareOptions``) and shares their
request-run code: runs are named from the route (``GET /items/{item_id}``, the method alone when no route
matched), inputs are the method, path and query, outputs the status code. aiohttp resolves the route
before middlewares run, so the name is known from the start. A raised ``web.HTTPException`` is a
response, an error only when it is a 5xx; any other exception is recorded and re-raised unchanged. A
WebSocket connection is one run (``WS /path``), ending when the handler returns.

``instrument_app`` also exports every finished run when the app is cleaned up (``app.on_cleanup``,
which ``web.run_app`` and ``python -m aiohttp.web`` reach on SIGTERM and Ctrl-C once the requests in
flight are answered), within the drain time (``TRACING_MIDDLEWARE_DRAIN_TIMEOUT``).

Outbound calls made with aiohttp's client (and httpx, requests) carry the context once
``tracing_middleware.instrument()`` has run; the middleware calls it at the first request.
"""

from __future__ import annotations

from typing import Any

try:
    from aiohttp import web
    from aiohttp.typedefs import Handler, Middleware
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError("the aiohttp adapter needs aiohttp: pip install 'tracing-middleware[aiohttp]'") from None

from tracing_middleware.core import config
from tracing_middleware.core.batch import drain
from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.middleware.options import RequestInfo, options_from
from tracing_middleware.middleware.request import SCOPE_KEY, RequestRun, instrument_outbound_once, needs_info

__all__ = ["tracing_middleware", "instrument_app", "request_run", "route_template", "RUN_KEY"]

RUN_KEY: web.RequestKey[RunTree | None] = web.RequestKey(SCOPE_KEY, object)  # type: ignore[arg-type]
"""Where the request's run is kept: ``request[RUN_KEY]`` (also marks a traced request)."""


def route_template(request: web.Request) -> str | None:
    """The matched route's template (``/items/{item_id}``, sub-app prefix included), or None. Never raises."""
    try:
        resource = request.match_info.route.resource
        if resource is None:  # no route matched (404, 405): aiohttp's system route
            return None
        template = resource.canonical
        return template if isinstance(template, str) and template else None
    except Exception:
        return None


def tracing_middleware(**options: Any) -> Middleware:
    """The tracing middleware, for ``web.Application(middlewares=[tracing_middleware(**options)])``.

    Put it first, so it sees what the other middlewares do. Options: see ``MiddlewareOptions``.
    """
    opts = options_from(options)
    wants_info = needs_info(opts)
    # Decoding every header is only worth it when an option reads them.
    wants_headers = bool(opts.capture_headers or opts.run_name or opts.trust or opts.shared_secret)
    config.get_settings()  # exporters set up now, on the thread building the app

    @web.middleware
    async def trace_request(request: web.Request, handler: Handler) -> web.StreamResponse:
        if RUN_KEY in request:  # a second layer of this middleware: one run per request
            return await handler(request)
        if opts.instrument_outbound:
            instrument_outbound_once()
        upgrade = request.headers.get("Upgrade")
        method = "WS" if upgrade is not None and upgrade.lower() == "websocket" else request.method
        path = request.path
        query = request.query_string
        route = route_template(request)
        info = None
        if wants_info:
            headers = [(k.lower(), v) for k, v in request.headers.items()] if wants_headers else []
            info = RequestInfo(method, path, query, request.remote, headers, route)
        traced = RequestRun.start(method, path, query, request.raw_headers, opts, info)
        request[RUN_KEY] = None if traced is None else traced.run
        if traced is None:
            return await handler(request)
        token = traced.activate()
        try:
            response = await handler(request)
        except web.HTTPException as raised:  # aiohttp's way to answer with a status
            traced.status = raised.status
            traced.finish(raised if raised.status >= 500 else None, route)
            raise
        except BaseException as error:
            traced.status = 500
            traced.finish(error, route)
            raise
        finally:
            traced.deactivate(token)
        traced.status = response.status
        traced.finish(None, route)
        return response

    return trace_request


async def _drain_on_cleanup(app: web.Application) -> None:
    """Export what is queued: the server has answered its last request and the process is about to end."""
    drain()  # bounded by the drain time; the loop has nothing left to serve


def instrument_app(app: web.Application, **options: Any) -> web.Application:
    """Trace every request of ``app``: the middleware goes first in ``app.middlewares``; returns ``app``.

    Call it before the app starts (aiohttp freezes the middleware list then). A second call changes nothing.
    The app's cleanup (``on_cleanup``) then exports every queued run, so a stopped server keeps them.
    """
    if not isinstance(app, web.Application):
        raise TypeError(f"instrument_app takes an aiohttp.web.Application; got {type(app).__name__}")
    if app.frozen:
        raise RuntimeError("instrument_app(app) must run before the app starts: aiohttp freezes its middlewares then")
    if any(getattr(m, "__name__", "") == "trace_request" and m.__module__ == __name__ for m in app.middlewares):
        return app
    app.middlewares.insert(0, tracing_middleware(**options))
    app.on_cleanup.append(_drain_on_cleanup)
    return app


def request_run(request: web.Request) -> RunTree | None:
    """The run of this request (None when untraced or with ``request_run=False``)."""
    run = request.get(RUN_KEY)
    return run if isinstance(run, RunTree) else None
