"""Outbound tracing for requests: a wrapping adapter and a patch of ``Session.send``.

Explicit use::

    session = requests.Session()
    session.mount("https://", TracingAdapter())            # wraps a new HTTPAdapter
    session.mount("http://", TracingAdapter(my_adapter))   # or any adapter

Zero-code use: ``tracing_middleware.instrument()`` patches ``requests.Session.send``, which every
request passes whatever adapter is mounted. requests follows redirects by calling ``send`` again from
inside the first call, so the first exchange's client run spans the redirect chain and each further
hop gets its own client run.

A streamed response (``stream=True``) ends its client run when the response is closed: use it as a
context manager (``with session.get(url, stream=True) as response:``) or call ``response.close()``.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

try:
    import requests
    from requests.adapters import BaseAdapter, HTTPAdapter
    from requests.structures import CaseInsensitiveDict
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "tracing_middleware.transports.requests needs requests: pip install 'tracing-middleware[requests]'"
    ) from error

from tracing_middleware.core.context import current_parent
from tracing_middleware.core.printable import get_logger
from tracing_middleware.transports import client_run
from tracing_middleware.transports.client_run import Hop, Outgoing, Switch
from tracing_middleware.transports.instrument import transport_loaded
from tracing_middleware.transports.options import Options, global_options, make_override, options_for

__all__ = ["TracingAdapter", "patch_points"]

logger = get_logger("tracing_middleware.transports")


_READ = ("baggage", "langsmith-trace", "authorization")


def _text(value: str | bytes | None) -> str | None:
    return value.decode("latin-1") if isinstance(value, bytes) else value


@functools.lru_cache(maxsize=256)  # a service calls the same few URLs over and over
def _split(url: str) -> tuple[str, str, int | None, str, str]:
    """Scheme, lowercase host, port, path and query of a URL; ``ValueError`` for a bad port."""
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port, parts.path or "/", parts.query


def _store(headers: Any) -> dict[str, tuple[str, str | bytes]] | None:
    """Requests' own lowercase name -> (name, value) table, when ``headers`` is its CaseInsensitiveDict.

    A private attribute, read because ``headers.get`` raises and catches a KeyError for each absent
    header; its shape is pinned by ``tests/transports/test_client_internals.py`` on the oldest and
    newest supported requests.
    """
    if type(headers) is not CaseInsensitiveDict:
        return None
    store = getattr(headers, "_store", None)
    return store if isinstance(store, dict) else None  # an OrderedDict


def _read(request: requests.PreparedRequest) -> Outgoing:
    headers = request.headers
    store = _store(headers)
    if store is not None:
        found = [store.get(name) for name in _READ]
        baggage, trace, authorization = (None if item is None else _text(item[1]) for item in found)
        found_traceparent = "traceparent" in store
    else:
        baggage, trace, authorization = (_text(headers.get(name)) for name in _READ)
        found_traceparent = "traceparent" in headers
    scheme, host, port, path, query = _split(request.url or "")
    return Outgoing(
        id(request), request.method or "GET", scheme, host, port, path, query, trace, authorization,
        [baggage] if baggage else [], found_traceparent, headers,
    )  # fmt: skip


def _append(request: requests.PreparedRequest, written: dict[str, str]) -> bool:
    """What ``apply`` writes to a request with none of ours yet, without a lowercasing ``__setitem__`` each."""
    store = _store(request.headers)
    if store is None:
        return False
    for name, text in written.items():
        store[name] = (name, text)
    return True


def _prepare(parent: Any, options: Options, request: requests.PreparedRequest) -> Hop | None:
    """Decide for ``request`` and write its headers; never raises into the caller's request."""
    return client_run.prepare(parent, options, request, _read, _append)


def _end_on_close(response: requests.Response, hop: Hop) -> None:
    close = response.close

    def close_and_end() -> None:
        try:
            close()
        finally:
            hop.end()

    response.close = close_and_end  # type: ignore[method-assign]


def _send(hop: Hop, send: Callable[..., requests.Response], request: Any, kwargs: dict[str, Any], *target: Any) -> Any:
    try:
        response = send(*target, request, **kwargs)
    except BaseException as error:
        hop.end(error)
        raise
    history = getattr(response, "history", None)
    # With redirects followed, this exchange's own response is the first of the history.
    hop.status = (history[0] if history else response).status_code
    if kwargs.get("stream"):
        _end_on_close(response, hop)
    else:
        hop.end()
    return response


class TracingAdapter(BaseAdapter):
    """Wraps a requests adapter (default: a new ``HTTPAdapter``) so requests made in a run carry our headers.

    ``client_runs``/``targets`` override the options ``instrument()`` set; those left as None follow
    them. ``close()`` closes the inner adapter. Used together with ``instrument()``, each exchange
    still gets one client run and one set of headers, under this adapter's options.
    """

    def __init__(self, adapter: BaseAdapter | None = None, *, client_runs: bool | None = None, targets: Any = None):
        super().__init__()
        if adapter is None:
            adapter = HTTPAdapter()
        if not callable(getattr(adapter, "send", None)):
            raise TypeError(f"adapter must be a requests adapter (with send and close); got {adapter!r}")
        self.adapter = adapter
        self._override = make_override(client_runs, targets)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        kwargs = {"stream": stream, "timeout": timeout, "verify": verify, "cert": cert, "proxies": proxies}
        parent = current_parent()
        if parent is None:
            return self.adapter.send(request, **kwargs)
        hop = _prepare(parent, options_for(self._override), request)
        if hop is None or hop.run is None:
            return self.adapter.send(request, **kwargs)
        response: requests.Response = _send(hop, self.adapter.send, request, kwargs)
        return response

    def close(self) -> None:
        self.adapter.close()


def _defers(session: requests.Session, request: requests.PreparedRequest) -> bool:
    """True when the request goes through a mounted ``TracingAdapter``: its own options then apply."""
    try:
        for adapter in session.adapters.values():
            if isinstance(adapter, TracingAdapter):
                return isinstance(session.get_adapter(request.url or ""), TracingAdapter)
        return False  # the common case: none of ours is mounted
    except Exception:  # no adapter for this URL: Session.send raises the user's error itself
        return False


def _patch_send(original: Callable[..., Any], switch: Switch) -> Callable[..., Any]:
    def send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        parent = current_parent() if switch.on else None
        if parent is None or _defers(self, request):
            return original(self, request, **kwargs)  # type: ignore[no-any-return]
        hop = _prepare(parent, global_options(), request)
        if hop is None or hop.run is None:
            return original(self, request, **kwargs)  # type: ignore[no-any-return]
        # Session.send fills in stream from the session when the caller did not pass it.
        kwargs.setdefault("stream", self.stream)
        response: requests.Response = _send(hop, original, request, kwargs, self)
        return response

    send.__wrapped__ = original  # type: ignore[attr-defined]
    return send


def patch_points() -> list[tuple[type, str, Callable[[Callable[..., Any], Switch], Callable[..., Any]]]]:
    """``(class, attribute, make_replacement)``: ``requests.Session.send``."""
    return [(requests.Session, "send", _patch_send)]


# Last: the module is whole now, and the automatic switch may be waiting for it (see transport_loaded).
transport_loaded("requests", sys.modules[__name__])
