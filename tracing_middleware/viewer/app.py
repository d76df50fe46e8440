"""The viewer as an ASGI app: pages, the JSON API, the shipped scripts and styles, and safe error pages.

``create_app(db=...)`` is what ``tracing-middleware serve`` runs (behind ``ServeGuard``) and what a user
mounts in an app of their own (``app.mount("/traces", create_app(auth=...))``). Every response carries
the Content-Security-Policy of ``pages.py``; unknown paths and ids get a 404 page, failures a 500 page,
never a traceback.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

try:
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the trace viewer needs starlette and uvicorn: pip install 'tracing-middleware[viewer]'"
    ) from error

from tracing_middleware.core.printable import get_logger
from tracing_middleware.exporters.sqlite_schema import default_path
from tracing_middleware.viewer.api import Api, ApiError, routes_for
from tracing_middleware.viewer.guard import AuthGuard, AuthHook
from tracing_middleware.viewer.pages import SECURITY_HEADERS, message_page, shell
from tracing_middleware.viewer.queries import normalize_trace_id

__all__ = ["create_app"]

logger = get_logger("tracing_middleware.viewer")

_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


def _static_files() -> dict[str, tuple[bytes, str]]:
    # Read once: only these files are ever served, so no request path reaches the file system.
    folder = resources.files("tracing_middleware.viewer") / "static"
    found = {}
    for entry in folder.iterdir():
        suffix = os.path.splitext(entry.name)[1]
        if suffix in _TYPES:
            found[entry.name] = (entry.read_bytes(), _TYPES[suffix])
    return found


class _Headers:
    """Adds the security headers to every HTTP response of the wrapped app."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in self.extra if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(db: str | os.PathLike[str] | None = None, *, auth: AuthHook | None = None, poll_ms: int = 1000) -> Any:
    """The viewer over the store at ``db`` (default: the exporter's default path), as an ASGI app.

    ``auth``: called with each request (a starlette ``Request``), sync or async; a falsy answer refuses
    the request with 403. Mounted in your own app, the viewer has no protection but this hook and
    whatever your app puts in front of it (see the README). ``poll_ms``: how often open pages look for
    new traces.
    """
    if db is not None and not isinstance(db, (str, os.PathLike)):
        raise TypeError(f"db must be a str, os.PathLike or None; got {type(db).__name__}")
    if isinstance(poll_ms, bool) or not isinstance(poll_ms, int) or not 100 <= poll_ms <= 60_000:
        raise ValueError(f"poll_ms must be an int from 100 to 60000; got {poll_ms!r}")
    path = Path(db).expanduser() if db is not None else default_path()
    api = Api(path)
    static = _static_files()

    def base(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    def not_found(request: Request, what: str = "There is nothing at this address.") -> Response:
        if request.url.path.startswith(base(request) + "/api/"):
            return JSONResponse({"error": what}, status_code=404)
        return HTMLResponse(message_page("Not found", what, base(request)), status_code=404)

    async def list_page(request: Request) -> Response:
        return HTMLResponse(shell("list", base(request), poll_ms))

    async def services_page(request: Request) -> Response:
        return HTMLResponse(shell("services", base(request), poll_ms))

    async def trace_page(request: Request) -> Response:
        trace_id = normalize_trace_id(request.path_params["trace_id"])
        if trace_id is None:
            return not_found(request, "That is not a trace id.")
        try:
            found = await run_in_threadpool(api.has_trace, trace_id)
        except ApiError as error:
            return HTMLResponse(message_page("Cannot read the store", str(error), base(request)), status_code=503)
        if not found:
            return not_found(request, "No trace with this id is in the store.")
        return HTMLResponse(shell("trace", base(request), poll_ms, trace_id))

    async def static_file(request: Request) -> Response:
        found = static.get(request.path_params["name"])
        if found is None:
            return not_found(request)
        return Response(found[0], media_type=found[1], headers={"cache-control": "no-cache"})

    def wrap(endpoint: Any) -> Any:
        async def handle(request: Request) -> Response:
            try:
                response: Response = await run_in_threadpool(endpoint, request)
                return response
            except ApiError as error:
                return JSONResponse({"error": str(error)}, status_code=error.status)

        return handle

    async def on_404(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException) and exc.status_code == 405:
            return JSONResponse({"error": "method not allowed"}, status_code=405)
        return not_found(request)

    async def on_error(request: Request, exc: Exception) -> Response:
        logger.error("viewer: %s failed", request.url.path, exc_info=exc)
        return HTMLResponse(
            message_page("Something went wrong", "The viewer could not answer; see its log.", base(request)),
            status_code=500,
        )

    routes = [
        Route("/", list_page),
        Route("/services", services_page),
        Route("/traces/{trace_id}", trace_page),
        Route("/static/{name}", static_file),
        *(Route(p, wrap(e)) for p, e in routes_for(api)),
    ]
    app = Starlette(routes=routes, exception_handlers={404: on_404, 405: on_404, Exception: on_error})
    app.state.store_path = path
    guarded: Any = AuthGuard(app, auth) if auth is not None else app
    return _Headers(guarded)
