"""The pytest plugin: fixtures to record runs and to send requests under a known parent run.

Fixtures (none of them autouse; loading the plugin imports no framework and patches nothing):

- ``traces``: a ``TraceRecorder`` receiving every run finished during the test; the previous
  tracing configuration is set aside and restored afterwards.
- ``trace_parent``: a ``TraceParent``, a caller's run (``"test-parent"``) with ``.headers`` to send and
  ``.assert_child_of_parent(run)``; it ends after the test. Using it also turns on ``traces``.
- ``asgi_traced_client``: ``asgi_traced_client(app, **kwargs)`` returns Starlette's ``TestClient`` for an
  ASGI app, sending the ``trace_parent`` headers with every request.
- ``wsgi_traced_client``: ``wsgi_traced_client(app, **kwargs)`` returns Flask's test client for a Flask
  app, werkzeug's ``Client`` for any other WSGI app, sending the ``trace_parent`` headers. Responses
  are buffered (and so closed, which ends the request run) unless a request passes ``buffered=False``.
- ``django_traced_client`` / ``django_traced_async_client``: Django's ``Client`` / ``AsyncClient`` with
  the ``trace_parent`` headers.

The applications are the test's own, with their tracing middleware; the clients only add headers.
Headers passed to a client or a single request override the trace headers.

pytest loads this plugin through the package's ``pytest11`` entry point, named ``tracing_middleware``:
``-p no:tracing_middleware`` turns it off, and ``-p tracing_middleware`` turns it on where plugin
autoloading is disabled. Naming the module itself (``-p tracing_middleware.testing.plugin`` or
``pytest_plugins``) next to the entry point would register it twice, which pytest refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tracing_middleware.testing import TraceParent, TraceRecorder, recording

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = [
    "traces",
    "trace_parent",
    "asgi_traced_client",
    "wsgi_traced_client",
    "django_traced_client",
    "django_traced_async_client",
]


@pytest.fixture
def traces() -> Iterator[TraceRecorder]:
    """Record every run finished during the test (tracing on, sample rate 1); restore the previous setup after."""
    with recording() as recorder:
        yield recorder


@pytest.fixture
def trace_parent(traces: TraceRecorder) -> Iterator[TraceParent]:
    """A caller's run to send requests under; ended and recorded after the test."""
    parent = TraceParent(traces)
    try:
        yield parent
    finally:
        parent.end()


def _headers(parent: TraceParent, kwargs: dict[str, Any]) -> dict[str, str]:
    """The trace headers, overridden by the ``headers`` the test passed."""
    extra = kwargs.pop("headers", None) or {}
    return {**parent.headers, **{str(name).lower(): value for name, value in dict(extra).items()}}


@pytest.fixture
def asgi_traced_client(trace_parent: TraceParent) -> Iterator[Callable[..., Any]]:
    """``asgi_traced_client(app, **kwargs)``: a Starlette ``TestClient`` sending the trace headers; closed after."""
    testclient = pytest.importorskip(
        "starlette.testclient", reason="asgi_traced_client uses Starlette's TestClient: pip install starlette"
    )
    clients: list[Any] = []

    def make(app: Any, **kwargs: Any) -> Any:
        client = testclient.TestClient(app, headers=_headers(trace_parent, kwargs), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _with_environ(app: WSGIApplication, extra: dict[str, str]) -> WSGIApplication:
    """``app`` receiving ``extra`` in every environ, unless the request itself set those keys."""

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        for key, value in extra.items():
            environ.setdefault(key, value)
        return app(environ, start_response)

    return application


def _buffered(client: Any) -> Any:
    """``client`` with ``buffered=True`` as the default of every request.

    A WSGI request run ends when the server closes the response body (PEP 3333); buffering makes
    werkzeug read and close it before the call returns, so the run is recorded by then.
    """
    open_request = client.open

    def open(*args: Any, buffered: bool = True, **kwargs: Any) -> Any:
        return open_request(*args, buffered=buffered, **kwargs)

    client.open = open
    return client


@pytest.fixture
def wsgi_traced_client(trace_parent: TraceParent) -> Callable[..., Any]:
    """``wsgi_traced_client(app, **kwargs)``: Flask's test client, or werkzeug's ``Client``, with the trace headers."""
    test = pytest.importorskip(
        "werkzeug.test", reason="wsgi_traced_client uses werkzeug's test Client: pip install werkzeug"
    )

    def make(app: Any, **kwargs: Any) -> Any:
        make_flask_client = getattr(app, "test_client", None)
        if callable(make_flask_client):
            client = make_flask_client(**kwargs)
            # Flask's documented place for defaults every request starts from; a request's own headers win.
            client.environ_base.update(trace_parent.environ)
            return _buffered(client)
        if not callable(app):
            raise TypeError(f"wsgi_traced_client takes a WSGI application (a callable); got {type(app).__name__}")
        return _buffered(test.Client(_with_environ(app, trace_parent.environ), **kwargs))

    return make


@pytest.fixture
def django_traced_client(trace_parent: TraceParent) -> Any:
    """Django's test ``Client`` sending the trace headers with every request."""
    django_test = pytest.importorskip("django.test", reason="django_traced_client needs Django: pip install django")
    return django_test.Client(headers=trace_parent.headers)


def _per_request_headers(client: Any, defaults: dict[str, str]) -> Any:
    """``client`` adding ``defaults`` to the headers of each request; the request's own headers win."""
    generic = client.generic

    def with_defaults(*args: Any, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return generic(*args, headers={**defaults, **(headers or {})}, **kwargs)

    client.generic = with_defaults
    return client


@pytest.fixture
def django_traced_async_client(trace_parent: TraceParent) -> Any:
    """Django's test ``AsyncClient`` sending the trace headers with every request."""
    django_test = pytest.importorskip(
        "django.test", reason="django_traced_async_client needs Django: pip install django"
    )
    # Not AsyncClient(headers=...): Django before 5.2 ignores an AsyncClient's default headers, and 5.2
    # sends them as "http-<name>"; headers given per request arrive intact in every version.
    return _per_request_headers(django_test.AsyncClient(), trace_parent.headers)
