"""Django: trace every request with one ``MIDDLEWARE`` entry, under WSGI and ASGI alike.

``"tracing_middleware.adapters.django.TracingMiddleware"`` (put it first, so the run covers the other
middleware). Options come from the setting ``TRACING_MIDDLEWARE = {...}``, under the names of
``MiddlewareOptions``. The middleware is sync- and async-capable: under ASGI with an async stack it
awaits the view in the same task (no thread hop), and the current run reaches sync views too, since
Django hands them the caller's context. Runs are named from the resolved route (``GET
items/<int:item_id>``). A streaming response is traced until Django closes it: its content is wrapped
so chunks are produced under the request's state, and the wrapper's ``close()``, which Django calls from
``response.close()``, ends the run. If an outer ``WSGITracingMiddleware`` already traces the request,
no second run is made; the route and any view exception are handed to it instead.

Under ``runserver`` each request's run is exported before its response is handed to the server. With
the autoreloader (the default) the app runs in a child process that the watching parent kills outright
(SIGKILL) when it is stopped itself, so nothing queued could be saved at exit; with ``--noreload`` a
request thread could still answer while the SIGTERM drain runs. A development server can afford it.

Wrapping a ``FileResponse``'s content means the server can no longer hand the file to ``sendfile``;
it is streamed in chunks instead, like any other streaming response.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any

try:
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction

    # Django ships no type information; django-stubs, when installed, makes these ignores unused.
    from django.conf import settings  # type: ignore[import-untyped,unused-ignore]
    from django.http import HttpRequest, HttpResponseBase  # type: ignore[import-untyped,unused-ignore]
except ImportError as error:  # pragma: no cover - exercised only without Django
    raise ImportError("tracing Django apps needs Django: pip install 'tracing-middleware[django]'") from error

from tracing_middleware.core import config
from tracing_middleware.core.env import env_float, env_text
from tracing_middleware.middleware.environ import reported_error, request_info
from tracing_middleware.middleware.options import MiddlewareOptions, startup_error, startup_options
from tracing_middleware.middleware.request import (
    ERROR_KEY,
    ROUTE_KEY,
    SCOPE_KEY,
    RequestRun,
    instrument_outbound_once,
    start_request,
)

__all__ = ["TracingMiddleware", "SETTING"]

SETTING = "TRACING_MIDDLEWARE"


def _options() -> MiddlewareOptions:
    configured = getattr(settings, SETTING, None) or {}
    if not isinstance(configured, dict):
        raise startup_error(TypeError(f"settings.{SETTING} must be a dict of MiddlewareOptions names to values"))
    return startup_options(dict(configured))


def _runserver() -> bool:
    """True under Django's development server, with or without its autoreloader."""
    if "django.core.management.commands.runserver" not in sys.modules:
        return False
    return env_text("RUN_MAIN", "") == "true" or "runserver" in sys.argv


def _export_now() -> None:
    """Export every finished run now, within the drain time (the autoreloader's child may be killed next)."""
    config.flush(env_float("TRACING_MIDDLEWARE_DRAIN_TIMEOUT", 5.0))


def _route(request: HttpRequest) -> str | None:
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None)
    return route if isinstance(route, str) and route else None


def _outer(request: HttpRequest) -> dict[str, Any] | None:
    """The WSGI environ or ASGI scope of an outer tracing middleware that already traces this request."""
    meta: dict[str, Any] = request.META
    if SCOPE_KEY in meta:
        return meta
    scope = getattr(request, "scope", None)  # only under ASGI
    return scope if isinstance(scope, dict) and SCOPE_KEY in scope else None


class TracingMiddleware:
    """Django middleware tracing each request; see the module documentation."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.options = _options()
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)  # Django then awaits us in the request's own task
        # Stopping the autoreloader's parent (SIGTERM, or Ctrl-C after a 0.25 s grace) SIGKILLs the
        # child, which serves from a thread where no signal handler can be chained: export as we go.
        self._export_each = not self._async and _runserver()
        # Exporters are set up here, while Django loads its middleware: under ``runserver --noreload``
        # that is the main thread, the only one where a flush can be chained to SIGTERM.
        config.get_settings()

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self.__acall__(request)
        request_run = self._start(request)
        if request_run is None:
            return self._untraced(request, self.get_response(request))
        token = request_run.activate()
        try:
            response = self.get_response(request)
        except BaseException as error:  # only when another middleware lets it escape
            request_run.finish(error, route=_route(request))
            raise
        finally:
            request_run.deactivate(token)
        response = self._end(request, request_run, response, self._export_each)
        if self._export_each:
            _export_now()
        return response

    async def __acall__(self, request: HttpRequest) -> Any:
        get_response: Callable[[HttpRequest], Awaitable[Any]] = self.get_response
        request_run = self._start(request)
        if request_run is None:
            return self._untraced(request, await get_response(request))
        token = request_run.activate()
        try:
            response = await get_response(request)
        except BaseException as error:
            request_run.finish(error, route=_route(request))
            raise
        finally:
            request_run.deactivate(token)
        return self._end(request, request_run, response)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """Keep the view's exception for the run (Django turns it into a 500 response afterwards)."""
        request.META[ERROR_KEY] = exception

    def _start(self, request: HttpRequest) -> RequestRun | None:
        if _outer(request) is not None:
            return None  # an outer WSGI or ASGI tracing middleware owns this request's run
        if self.options.instrument_outbound:
            instrument_outbound_once()
        request_run = start_request(request_info(request.META, path=request.path), request.META, self.options)
        if request_run is not None:
            request.META[SCOPE_KEY] = request_run.run if request_run.run is not None else request_run.state.run
        return request_run

    def _untraced(self, request: HttpRequest, response: Any) -> Any:
        outer = _outer(request)
        if outer is not None:  # the outer middleware reads these when it ends its run
            route = _route(request)
            if route is not None:
                outer[ROUTE_KEY] = route
            if ERROR_KEY in request.META:
                outer[ERROR_KEY] = request.META[ERROR_KEY]
        return response

    @staticmethod
    def _end(request: HttpRequest, request_run: RequestRun, response: Any, export_now: bool = False) -> Any:
        if isinstance(response, HttpResponseBase):
            request_run.status = response.status_code
        error = reported_error(request.META)
        route = _route(request)
        if getattr(response, "streaming", False):
            content = response.streaming_content
            end = _EndOnClose(request_run, error, route, export_now)
            if getattr(response, "is_async", False):
                response.streaming_content = _AsyncContent(content, end)
            else:
                response.streaming_content = _SyncContent(content, end)
            return response
        request_run.finish(error, route=route)
        return response


class _EndOnClose:
    """Ends the run once, from the content wrapper's ``close()`` (registered by Django on assignment)."""

    __slots__ = ("request_run", "error", "route", "export_now")

    def __init__(
        self, request_run: RequestRun, error: BaseException | None, route: str | None, export_now: bool = False
    ) -> None:
        self.request_run = request_run
        self.error = error
        self.route = route
        self.export_now = export_now

    def __call__(self) -> None:
        self.request_run.finish(self.error, route=self.route)
        if self.export_now:
            _export_now()


class _SyncContent:
    """Streaming content producing each chunk under the request's state."""

    __slots__ = ("_chunks", "_end")

    def __init__(self, content: Iterable[bytes], end: _EndOnClose) -> None:
        self._chunks: Iterator[bytes] = iter(content)
        self._end = end

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        request_run = self._end.request_run
        token = request_run.activate()
        try:
            return next(self._chunks)
        except StopIteration:
            raise
        except BaseException as error:
            self._end.error = error
            raise
        finally:
            request_run.deactivate(token)

    def close(self) -> None:
        self._end()


class _AsyncContent:
    """Async streaming content producing each chunk under the request's state."""

    __slots__ = ("_chunks", "_end")

    def __init__(self, content: AsyncIterator[bytes], end: _EndOnClose) -> None:
        self._chunks = content
        self._end = end

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        request_run = self._end.request_run
        token = request_run.activate()
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            raise
        except BaseException as error:
            self._end.error = error
            raise
        finally:
            request_run.deactivate(token)

    def close(self) -> None:
        self._end()
