"""Flask: trace every request in one line, ``instrument_app(app)`` (or ``TracingFlask(app, **options)``).

The application's ``wsgi_app`` is wrapped in ``WSGITracingMiddleware``, the way Flask documents for WSGI
middleware, so the run also covers the streamed body and ``teardown`` handlers. Two of Flask's own
signals, connected for this application only, tell the middleware what the WSGI layer cannot see:
``request_started`` (sent after URL matching, before any ``before_request`` hook can cut the request
short) leaves the URL rule, so runs are named ``GET /items/<int:item_id>``; ``got_request_exception``
leaves an exception that Flask turned into a 500 page, so the run records the real error. No Flask
class is patched.
"""

from __future__ import annotations

from typing import Any

try:
    from flask import Flask, request
    from flask.signals import got_request_exception, request_started
except ImportError as error:  # pragma: no cover - exercised only without Flask
    raise ImportError("tracing Flask apps needs Flask: pip install 'tracing-middleware[flask]'") from error

from tracing_middleware.middleware.options import startup_options
from tracing_middleware.middleware.request import ERROR_KEY, ROUTE_KEY
from tracing_middleware.middleware.wsgi import WSGITracingMiddleware

__all__ = ["TracingFlask", "instrument_app"]

EXTENSION = "tracing_middleware"


def _record_route(sender: Flask, **extra: Any) -> None:
    rule = request.url_rule
    if rule is not None:
        request.environ[ROUTE_KEY] = rule.rule


def _record_error(sender: Flask, exception: BaseException | None = None, **extra: Any) -> None:
    if exception is not None:
        request.environ[ERROR_KEY] = exception


class TracingFlask:
    """The Flask extension: ``TracingFlask(app, **options)``, or ``TracingFlask(**options).init_app(app)``.

    Options are those of ``WSGITracingMiddleware`` (see ``MiddlewareOptions``); they are checked here,
    so a typo fails at start-up rather than at the first request.
    """

    def __init__(self, app: Flask | None = None, **options: Any) -> None:
        self.options = startup_options(options)
        self._kwargs = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Wrap ``app.wsgi_app`` and connect the route and error signals; a second call changes nothing."""
        if not isinstance(app, Flask):
            raise TypeError(f"TracingFlask instruments a flask.Flask application; got {type(app).__name__}")
        if EXTENSION in app.extensions:
            return
        app.extensions[EXTENSION] = self
        app.wsgi_app = WSGITracingMiddleware(app.wsgi_app, **self._kwargs)  # type: ignore[method-assign]
        request_started.connect(_record_route, app)
        got_request_exception.connect(_record_error, app)


def instrument_app(app: Flask, **options: Any) -> Flask:
    """Trace every request of ``app`` (see ``TracingFlask``); returns ``app``."""
    TracingFlask(app, **options)
    return app
