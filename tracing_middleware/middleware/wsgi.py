"""Inbound tracing for any WSGI application: one run per request, continued from the caller's headers.

``WSGITracingMiddleware(app, **options)`` reads ``langsmith-trace``/``baggage``/``traceparent`` from the
environ, starts the request run (a child of the caller's run, or a new root) and makes it current while
the application runs and while each body chunk is produced. The run ends when the server has consumed
the body and called ``close()`` (PEP 3333), so a streamed response is timed in full; an exception is
recorded and re-raised unchanged, and a 5xx status marks the run as an error.

Security note: by default the caller's trace is continued, whoever the caller is. On a service reachable
from the public internet, set a trust policy (``trusted_networks``, ``shared_secret`` or ``trust``); see
``tracing_middleware.middleware.options``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from tracing_middleware.core import config
from tracing_middleware.core import runtime as _rt
from tracing_middleware.core.config import Settings
from tracing_middleware.core.context import TracingState, current_state, enter_state, exit_run
from tracing_middleware.core.printable import get_logger
from tracing_middleware.core.propagation.carriers import read_environ
from tracing_middleware.middleware.environ import reported_error, request_info, wsgi_text
from tracing_middleware.middleware.options import startup_options
from tracing_middleware.middleware.request import (
    ROUTE_KEY,
    SCOPE_KEY,
    RequestRun,
    instrument_outbound_once,
    needs_info,
    start_request,
)

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["WSGITracingMiddleware", "TracedBody"]


logger = get_logger("tracing_middleware.wsgi")


class WSGITracingMiddleware:
    """Trace each request of a WSGI application; the body is wrapped so the run ends when it is closed.

    Wrapping an application that is already wrapped (or behind another of our adapters) makes no
    second run: an environ carrying ``SCOPE_KEY`` passes straight through. The request's run (or, with
    ``request_run=False``, the caller's run) is at ``environ[SCOPE_KEY]`` and ``get_current_run_tree()``.
    A ``wsgi.file_wrapper`` body is wrapped like any other, so servers fall back from ``sendfile``.
    """

    def __init__(self, app: WSGIApplication, **options: Any) -> None:
        if not callable(app):
            raise TypeError(f"WSGITracingMiddleware wraps a WSGI application (a callable); got {type(app).__name__}")
        self.app = app
        self.options = opts = startup_options(options)
        self._needs_info = needs_info(opts)
        self._outbound = opts.instrument_outbound
        # Set the exporters up now, on the thread building the app (the main one, as a rule): only there
        # can a flush be chained to SIGTERM. Lazily, on a request thread, only atexit would flush.
        config.get_settings()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if SCOPE_KEY in environ:
            return self.app(environ, start_response)
        if self._outbound and _rt.current.outbound_pending:  # the flag read here spares a call per request
            instrument_outbound_once()
        current = current_state()
        if not current.enabled or not (settings := config.get_settings()).enabled:  # untraced: skip all request work
            environ[SCOPE_KEY] = None
            return self.app(environ, start_response)
        request = self._start(environ, current, settings)
        # Also set for an untraced request: it tells a second layer (or a framework adapter) to stand aside.
        environ[SCOPE_KEY] = None if request is None else request.run or request.state.run
        if request is None:
            return self.app(environ, start_response)
        run = request.run
        if run is None or run.sampled is False:
            return self._untracked(request, environ, start_response)

        def traced_start_response(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Any:
            try:  # the status code, or None for a malformed status line
                request.status = int(status[:3])
            except (TypeError, ValueError):
                request.status = None
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        token = enter_state(request.state)
        try:
            body = self.app(environ, traced_start_response)
        except BaseException as error:
            request.finish(error, route=environ.get(ROUTE_KEY))
            raise
        finally:
            exit_run(token)
        if type(body) is list or type(body) is tuple:  # producing its chunks runs no code: nothing to activate
            return _ListBody(body, request, environ)
        return TracedBody(body, request, environ)

    def _start(self, environ: WSGIEnvironment, current: TracingState, settings: Settings) -> RequestRun | None:
        """``start_request``, building the ``RequestInfo`` only when an option reads it; never fails the request."""
        if self._needs_info:
            return start_request(request_info(environ), environ, self.options)
        options = self.options
        try:
            path = wsgi_text(str(environ.get("SCRIPT_NAME") or "") + str(environ.get("PATH_INFO") or "")) or "/"
            if options.exclude_paths and options.excluded(path):
                return None
            method = str(environ.get("REQUEST_METHOD") or "GET").upper()
            query = str(environ.get("QUERY_STRING") or "")
            # ``RequestRun.start`` without the checks made by the caller and here.
            return RequestRun.begin(
                current, settings, method, path, query, read_environ(environ), environ, options, None
            )
        except Exception as error:
            logger.warning("request not traced: %s: %s", type(error).__name__, error)
            return None

    def _untracked(
        self, request: RequestRun, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Nothing to record (``request_run=False``, or a trace not sampled): only the context is kept."""
        token = enter_state(request.state)
        try:
            body = self.app(environ, start_response)
        finally:
            exit_run(token)
        if type(body) is list or type(body) is tuple:
            return body
        return TracedBody(body, request, environ)  # chunks made by code still run under the request's context


class TracedBody:
    """A response body that produces each chunk under the request's state and ends the run on ``close()``."""

    __slots__ = ("_body", "_chunks", "_request", "_environ", "_error")

    def __init__(self, body: Iterable[bytes], request: RequestRun, environ: WSGIEnvironment) -> None:
        self._body = body
        self._chunks: Iterator[bytes] | None = None
        self._request = request
        self._environ = environ
        self._error: BaseException | None = None

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        token = enter_state(self._request.state)
        try:
            if self._chunks is None:
                self._chunks = iter(self._body)
            return next(self._chunks)
        except StopIteration:
            raise
        except BaseException as error:
            self._error = error  # the server still calls close(), which ends the run
            raise
        finally:
            exit_run(token)

    def close(self) -> None:
        """Close the application's body (as PEP 3333 requires), then end the run."""
        error = self._error
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                token = self._request.activate()
                try:
                    close()
                finally:
                    self._request.deactivate(token)
        except BaseException as raised:
            error = error or raised
            raise
        finally:
            self._request.finish(error or reported_error(self._environ), route=self._environ.get(ROUTE_KEY))


class _ListBody:
    """A list (or tuple) body, iterated as it is; ``close()`` ends the run, as with ``TracedBody``."""

    __slots__ = ("_body", "_request", "_environ")

    def __init__(self, body: list[bytes] | tuple[bytes, ...], request: RequestRun, environ: WSGIEnvironment) -> None:
        self._body = body
        self._request = request
        self._environ = environ

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        """End the run (a list has nothing to close)."""
        self._request.finish(reported_error(self._environ), route=self._environ.get(ROUTE_KEY))
