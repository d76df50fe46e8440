"""Pure ASGI middleware: one run per HTTP request or WebSocket connection, continuing the caller's trace.

Works with any ASGI 3 application and with Starlette/FastAPI's ``app.add_middleware``. It imports no
framework: the route template is read duck-typed from ``scope["route"]``, which Starlette's router
sets on the very scope dict the middleware passed in.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from types import FrameType
from typing import Any

from tracing_middleware.core import config
from tracing_middleware.core import runtime as _rt
from tracing_middleware.core.batch import drain
from tracing_middleware.core.context import current_state, enter_state, exit_run, reset_state, set_state
from tracing_middleware.core.printable import get_logger
from tracing_middleware.core.propagation.carriers import read_pairs
from tracing_middleware.middleware.options import MiddlewareOptions, RequestInfo, options_from
from tracing_middleware.middleware.request import ROUTE_KEY, SCOPE_KEY, RequestRun, instrument_outbound_once, needs_info

__all__ = ["TracingMiddleware", "SCOPE_KEY", "route_template"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = get_logger("tracing_middleware.asgi")

_TRACED = frozenset({"http", "websocket"})
# Messages after which no more response is sent: the run ends once they went out.
_LAST_BODY = frozenset({"http.response.body", "websocket.http.response.body"})
_START = frozenset({"http.response.start", "websocket.http.response.start"})
_NORMAL_CLOSE = (1000, 1001)
_SHUTDOWN_DONE = frozenset({"lifespan.shutdown.complete", "lifespan.shutdown.failed"})


def route_template(scope: Scope, root_path: str = "") -> str | None:
    """The matched route's template (e.g. ``/items/{item_id}``) after routing, or None.

    ``root_path`` is the scope's root path before routing; anything a ``Mount`` added to it since is
    the mount's prefix. Never raises.
    """
    route = scope.get("route")
    if route is None:
        named = scope.get(ROUTE_KEY)  # left by an inner adapter that routes itself (Django)
        return named if isinstance(named, str) and named else None
    try:
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
        if not isinstance(template, str):
            return None
        mounted = scope.get("root_path", "")
        prefix = mounted[len(root_path) :] if mounted != root_path and mounted.startswith(root_path) else ""
        if hasattr(route, "routes"):  # a Mount handled the request itself: its path is already the prefix
            return (prefix or template.removesuffix("/{path}")) + "/{path}"
        return prefix + template if prefix else template
    except Exception:  # a foreign route object: name the run by its method only
        return None


def _is_normal_close(error: BaseException) -> bool:
    """A WebSocket peer going away normally is how connections end, not a failure."""
    return type(error).__name__ == "WebSocketDisconnect" and getattr(error, "code", None) in _NORMAL_CLOSE


def _draining(send: Send) -> Send:
    """``send`` for the lifespan scope: export the queued runs before the server hears shutdown is done.

    Servers exit right after ``lifespan.shutdown.complete``, some (uvicorn) by re-raising SIGTERM with
    its default action, which skips ``atexit``: this is the last moment the runs can be saved.
    """

    async def on_send(message: Message) -> None:
        if message.get("type") in _SHUTDOWN_DONE:
            drain()  # bounded by the drain time; the server is stopping, nothing else waits on the loop
        await send(message)

    return on_send


def _built_by_the_framework() -> bool:
    """Whether Starlette (or FastAPI) is building its middleware stack: the call that constructs us lazily."""
    frame: FrameType | None = sys._getframe(2)
    for _ in range(4):
        if frame is None:
            return False
        if frame.f_code.co_name == "build_middleware_stack":
            return True
        frame = frame.f_back
    return False


class TracingMiddleware:
    """Trace each HTTP request and WebSocket connection as a run, a child of the caller's run.

    ``app.add_middleware(TracingMiddleware, **options)`` (Starlette, FastAPI) or
    ``TracingMiddleware(asgi_app, **options)``; the options are ``MiddlewareOptions``' fields. Lifespan
    and other scopes pass through untouched, except that the queued runs are exported before
    ``lifespan.shutdown.complete`` goes out. The handler sees the request run through
    ``get_current_run_tree()``; it is also at ``scope[SCOPE_KEY]``. The run ends when the last body
    message has been sent (a streaming response is covered entirely), or for a WebSocket when the
    connection closes. A second layer of this middleware on the same request passes it through.

    Run names: ``"GET /items/{item_id}"`` from the route template once routing resolved it, the method
    alone when nothing matched (never the raw path); WebSocket connections use ``WS`` as the method.
    ``RequestInfo.headers`` is filled only when an option reads headers (``capture_headers``,
    ``run_name``, ``trust``, ``shared_secret``), so the common path skips decoding them.
    """

    def __init__(self, app: ASGIApp | None = None, /, **options: Any) -> None:
        if app is None:  # Starlette 0.37 (the fastapi extra's floor) builds middleware as cls(app=app, **options)
            app = options.pop("app", None)
        if not callable(app):
            raise TypeError("TracingMiddleware wraps an ASGI application: TracingMiddleware(app, **options)")
        self.app = app
        try:
            self.options: MiddlewareOptions = options_from(options)
        except (TypeError, ValueError) as error:
            if not _built_by_the_framework():
                raise
            # Starlette/FastAPI build middleware on the app's first call, inside the server, where raising
            # would fail every request with a traceback: refuse at lifespan startup instead, in one line.
            self.refused = f"tracing_middleware: bad middleware option: {error}"
            self.__class__ = _RefusedTracingMiddleware
            return
        opts = self.options
        # Decoding every header costs more than the rest of RequestInfo; only these options read them.
        self._read_headers = bool(opts.capture_headers or opts.run_name or opts.trust or opts.shared_secret)
        self._excludes = bool(opts.exclude_paths)
        self._needs_info = needs_info(opts)
        self._outbound = opts.instrument_outbound
        # Set the exporters up now, on the thread building the app (the main one, as a rule): only there
        # can a flush be chained to SIGTERM. Lazily, on a request thread, only atexit would flush.
        config.get_settings()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in _TRACED or SCOPE_KEY in scope:
            await self.app(scope, receive, _draining(send) if kind == "lifespan" else send)
            return
        if self._outbound and _rt.current.outbound_pending:  # the flag read here spares a call per request
            instrument_outbound_once()
        path = scope.get("path", "")
        current = current_state()
        if (
            (self._excludes and self.options.excluded(path))
            or not current.enabled
            or not (settings := config.get_settings()).enabled
        ):  # before any work on the request: an untraced one costs next to nothing
            scope[SCOPE_KEY] = None
            await self.app(scope, receive, send)
            return
        raw_headers = scope.get("headers", ())
        method = scope.get("method", "GET") if kind == "http" else "WS"
        query = scope.get("query_string", b"").decode("latin-1")
        info = None
        if self._needs_info:  # what trust rules, captured headers and run names see; skipped when none is set
            client = scope.get("client")
            info = RequestInfo(
                method,
                path,
                query,
                client[0] if client else None,
                [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in raw_headers]
                if self._read_headers
                else (),
            )
        # ``RequestRun.start`` without the checks just made.
        request = RequestRun.begin(
            current, settings, method, path, query, read_pairs(raw_headers), raw_headers, self.options, info
        )
        scope[SCOPE_KEY] = request.run  # also tells a second layer to stand aside
        if kind == "websocket":
            await self._websocket(request, scope, receive, send)
            return
        run = request.run
        if run is None or run.sampled is False:
            # Nothing to record (request_run=False, or a trace not sampled): the handler only needs the context.
            token = enter_state(request.state)
            try:
                await self.app(scope, receive, send)
            finally:
                exit_run(token)
            return
        root_path = scope.get("root_path", "")
        trailers = False

        async def traced_send(message: Message) -> None:
            nonlocal trailers
            sort = message["type"]
            if sort == "http.response.start":
                request.status = message["status"]
                trailers = message.get("trailers", False)
                await send(message)
                return
            last = (
                (sort == "http.response.body" and not message.get("more_body", False) and not trailers)
                or (sort == "http.response.trailers" and not message.get("more_trailers", False))
                or sort == "http.response.pathsend"
            )
            if not last:
                await send(message)
                return
            # The last message goes out in the state the request came in with: what the server schedules
            # as the response completes (uvicorn's keep-alive timer) copies the current context, and
            # would otherwise hold the request's run, in memory and in the collector's way, until the
            # connection's next request.
            held = set_state(current)
            try:
                await send(message)
            finally:
                reset_state(held)
            # A 5xx ends when the app returns, so an exception re-raised after the error page is recorded.
            if request.status is None or request.status < 500:
                request.finish(None, route_template(scope, root_path))

        token = enter_state(request.state)
        try:
            await self.app(scope, receive, traced_send)
        except BaseException as error:
            request.finish(error, route_template(scope, root_path))
            raise
        finally:
            exit_run(token)
        if not request.ended:
            incomplete = None if request.status else RuntimeError("the application returned without a response")
            request.finish(incomplete, route_template(scope, root_path))

    async def _websocket(self, request: RequestRun, scope: Scope, receive: Receive, send: Send) -> None:
        """One run for the whole connection, ended when either side closes it."""
        root_path = scope.get("root_path", "")
        run = request.run

        async def traced_receive() -> Message:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                if run is not None:
                    run.add_event("websocket.disconnect", code=message.get("code", 1005))
                request.finish(None, route_template(scope, root_path))
            return message

        async def traced_send(message: Message) -> None:
            sort = message["type"]
            if sort == "websocket.accept":
                request.status = 101
            elif sort in _START:
                request.status = message["status"]
            await send(message)
            if sort == "websocket.close":
                if run is not None:
                    run.add_event("websocket.close", code=message.get("code", 1000))
                request.finish(None, route_template(scope, root_path))
            elif sort in _LAST_BODY and not message.get("more_body", False):
                request.finish(None, route_template(scope, root_path))

        token = request.activate()
        try:
            await self.app(scope, traced_receive, traced_send)
        except BaseException as error:
            if not request.ended:
                request.finish(None if _is_normal_close(error) else error, route_template(scope, root_path))
            raise
        finally:
            request.deactivate(token)
        request.finish(None, route_template(scope, root_path))


class _RefusedTracingMiddleware(TracingMiddleware):
    """What a ``TracingMiddleware`` with bad options becomes when the framework built it lazily.

    The server's lifespan startup fails with the one-line reason (uvicorn, hypercorn and gunicorn's
    uvicorn workers then exit). A server without lifespan serves the app untraced and logs it once.
    """

    refused: str
    _logged = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.failed", "message": self.refused})
            return
        if not self._logged:
            self._logged = True
            logger.error("%s; serving without tracing", self.refused)
        await self.app(scope, receive, send)
