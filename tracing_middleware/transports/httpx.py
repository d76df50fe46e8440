"""Outbound tracing for httpx (and its successor module ``httpx2``): a wrapping transport and a patch.

Explicit use, any inner transport::

    client = httpx.Client(transport=TracingTransport(httpx.HTTPTransport()))
    client = httpx.AsyncClient(transport=AsyncTracingTransport(httpx.AsyncHTTPTransport()))

Zero-code use: ``tracing_middleware.instrument()`` patches ``Client._send_single_request`` and
``AsyncClient._send_single_request`` of every installed httpx module, the step every request of every
client passes whatever its transport (default, custom, ``MockTransport``, ``ASGITransport``,
``WSGITransport``), once per exchange, so each redirect hop gets its own client run.

The classes derive from the byte-stream and transport bases of every installed module (``httpx`` and
``httpx2``), so one ``TracingTransport`` works with clients of either.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from tracing_middleware.core.context import current_parent
from tracing_middleware.core.printable import get_logger
from tracing_middleware.transports import client_run
from tracing_middleware.transports.client_run import Hop, Outgoing, Switch
from tracing_middleware.transports.instrument import transport_loaded
from tracing_middleware.transports.options import Options, global_options, make_override, options_for

__all__ = ["TracingTransport", "AsyncTracingTransport", "patch_points", "MODULES"]

logger = get_logger("tracing_middleware.transports")


def _load_modules() -> tuple[types.ModuleType, ...]:
    found: list[types.ModuleType] = []
    for name in ("httpx", "httpx2"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if all(module is not seen for seen in found):  # httpx2.alias_httpx() makes them one module
            found.append(module)
    if not found:
        raise ImportError("tracing_middleware.transports.httpx needs httpx: pip install 'tracing-middleware[httpx]'")
    return tuple(found)


MODULES = _load_modules()
"""The installed httpx modules (``httpx``, ``httpx2``), each once."""


def _combined(attr: str) -> type:
    bases = tuple(getattr(module, attr) for module in MODULES)
    return bases[0] if len(bases) == 1 else types.new_class(attr, bases)


if TYPE_CHECKING:
    from httpx import AsyncBaseTransport as _AsyncTransportBase
    from httpx import AsyncByteStream as _AsyncStreamBase
    from httpx import BaseTransport as _TransportBase
    from httpx import Request, Response
    from httpx import SyncByteStream as _SyncStreamBase
else:
    _TransportBase = _combined("BaseTransport")
    _AsyncTransportBase = _combined("AsyncBaseTransport")
    _SyncStreamBase = _combined("SyncByteStream")
    _AsyncStreamBase = _combined("AsyncByteStream")
    Request = Response = Any

_TRACE = b"langsmith-trace"
_BAGGAGE = b"baggage"
_TRACEPARENT = b"traceparent"
_AUTHORIZATION = b"authorization"
_WATCHED = frozenset({_TRACE, _BAGGAGE, _TRACEPARENT, _AUTHORIZATION})


def _header_list(headers: Any) -> list[tuple[bytes, bytes, bytes]] | None:
    """Httpx's own header list, ``(raw name, lowercase name, value)``, when it has the known shape.

    A private attribute, read because it spares a rescan of the list per header written; its shape
    is pinned by ``tests/transports/test_client_internals.py`` on the oldest and newest supported httpx.
    """
    items = getattr(headers, "_list", None)
    if type(items) is not list or (items and len(items[0]) != 3):
        return None
    return items


def _read(request: Request) -> Outgoing:
    headers = request.headers
    trace = authorization = None
    found_baggage: list[str] = []
    found_traceparent = False
    items = _header_list(headers)
    for _, lowered, value in items if items is not None else [(k, k.lower(), v) for k, v in headers.raw]:
        if lowered not in _WATCHED:
            continue
        if lowered == _TRACE:
            trace = value.decode("latin-1")
        elif lowered == _BAGGAGE:
            found_baggage.append(value.decode("latin-1"))
        elif lowered == _TRACEPARENT:
            found_traceparent = True
        elif lowered == _AUTHORIZATION:
            authorization = value.decode("latin-1")
    url = request.url
    path, _, query = url.raw_path.decode("ascii", "replace").partition("?")
    return Outgoing(
        id(request), request.method, url.scheme, url.host, url.port, path, query, trace, authorization,
        found_baggage, found_traceparent, headers,
    )  # fmt: skip


def _append(request: Request, written: dict[str, str]) -> bool:
    """Append our headers to httpx's list directly: ``Headers.__setitem__`` rescans it once per header."""
    items = _header_list(request.headers)
    if items is None:
        return False
    for name, text in written.items():
        raw = _NAMES.get(name) or name.encode("latin-1")
        items.append((raw, raw, text.encode("latin-1")))
    return True


def _prepare(parent: Any, options: Options, request: Request) -> Hop | None:
    """Decide for ``request`` and write its headers; never raises into the caller's request."""
    return client_run.prepare(parent, options, request, _read, _append)


_NAMES = {name: name.encode() for name in ("langsmith-trace", "baggage", "traceparent", "tracestate")}


class _TracedStream(_SyncStreamBase):
    """A response body that ends the client run when it is closed (or fails while being read)."""

    def __init__(self, stream: Any, hop: Hop) -> None:
        self._stream = stream
        self._hop = hop

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except Exception as error:
            self._hop.end(error)
            raise

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._hop.end()


class _AsyncTracedStream(_AsyncStreamBase):
    """The async counterpart of ``_TracedStream``."""

    def __init__(self, stream: Any, hop: Hop) -> None:
        self._stream = stream
        self._hop = hop

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except Exception as error:
            self._hop.end(error)
            raise

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._hop.end()


def _send(hop: Hop, send: Callable[..., Response], request: Request, *target: Any) -> Response:
    try:
        response = send(*target, request)
    except BaseException as error:
        hop.end(error)
        raise
    hop.status = response.status_code
    if response.is_closed:  # a body given whole (MockTransport, a cached response) is read and closed already
        hop.end()
    else:
        response.stream = _TracedStream(response.stream, hop)
    return response


async def _asend(hop: Hop, send: Callable[..., Awaitable[Response]], request: Request, *target: Any) -> Response:
    try:
        response = await send(*target, request)
    except BaseException as error:
        hop.end(error)
        raise
    hop.status = response.status_code
    if response.is_closed:  # a body given whole (MockTransport, a cached response) is read and closed already
        hop.end()
    else:
        response.stream = _AsyncTracedStream(response.stream, hop)
    return response


class TracingTransport(_TransportBase):
    """Wraps any sync httpx transport: requests made inside a run carry the tracing headers.

    ``client_runs``/``targets`` override the options ``instrument()`` set (see ``core.destinations``);
    those left as None follow them. Closing this transport closes the inner one. Used together with
    ``instrument()``, each exchange still gets one client run and one set of headers, under this
    transport's options.
    """

    def __init__(self, transport: Any = None, *, client_runs: bool | None = None, targets: Any = None) -> None:
        if transport is None:
            transport = MODULES[0].HTTPTransport()
        if not callable(getattr(transport, "handle_request", None)):
            raise TypeError(f"transport must be a sync httpx transport (with handle_request); got {transport!r}")
        self.transport = transport
        self._override = make_override(client_runs, targets)

    def handle_request(self, request: Request) -> Response:
        parent = current_parent()
        if parent is None:
            return self.transport.handle_request(request)  # type: ignore[no-any-return]
        hop = _prepare(parent, options_for(self._override), request)
        if hop is None or hop.run is None:
            return self.transport.handle_request(request)  # type: ignore[no-any-return]
        return _send(hop, self.transport.handle_request, request)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> TracingTransport:
        self.transport.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.transport.__exit__(*exc_info)


class AsyncTracingTransport(_AsyncTransportBase):
    """Wraps any async httpx transport; see ``TracingTransport``."""

    def __init__(self, transport: Any = None, *, client_runs: bool | None = None, targets: Any = None) -> None:
        if transport is None:
            transport = MODULES[0].AsyncHTTPTransport()
        if not callable(getattr(transport, "handle_async_request", None)):
            raise TypeError(
                f"transport must be an async httpx transport (with handle_async_request); got {transport!r}"
            )
        self.transport = transport
        self._override = make_override(client_runs, targets)

    async def handle_async_request(self, request: Request) -> Response:
        parent = current_parent()
        if parent is None:
            return await self.transport.handle_async_request(request)  # type: ignore[no-any-return]
        hop = _prepare(parent, options_for(self._override), request)
        if hop is None or hop.run is None:
            return await self.transport.handle_async_request(request)  # type: ignore[no-any-return]
        return await _asend(hop, self.transport.handle_async_request, request)

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def __aenter__(self) -> AsyncTracingTransport:
        await self.transport.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.transport.__aexit__(*exc_info)


def _defers(client: Any, request: Request) -> bool:
    """True when the request goes through one of our transports: its own options then apply."""
    try:
        mounts = client._mounts
        if not isinstance(client._transport, _OURS) and not (
            mounts and any(isinstance(t, _OURS) for t in mounts.values())
        ):
            return False  # the common case, decided without looking the URL up
        return isinstance(client._transport_for_url(request.url), _OURS)
    except Exception:  # a client of another shape: the patch does the work
        return False


def _patch_sync(original: Callable[..., Any], switch: Switch) -> Callable[..., Any]:
    def _send_single_request(self: Any, request: Request) -> Response:
        parent = current_parent() if switch.on else None
        if parent is None or _defers(self, request):
            return original(self, request)  # type: ignore[no-any-return]
        hop = _prepare(parent, global_options(), request)
        if hop is None or hop.run is None:
            return original(self, request)  # type: ignore[no-any-return]
        return _send(hop, original, request, self)

    _send_single_request.__wrapped__ = original  # type: ignore[attr-defined]
    return _send_single_request


def _patch_async(original: Callable[..., Any], switch: Switch) -> Callable[..., Any]:
    async def _send_single_request(self: Any, request: Request) -> Response:
        parent = current_parent() if switch.on else None
        if parent is None or _defers(self, request):
            return await original(self, request)  # type: ignore[no-any-return]
        hop = _prepare(parent, global_options(), request)
        if hop is None or hop.run is None:
            return await original(self, request)  # type: ignore[no-any-return]
        return await _asend(hop, original, request, self)

    _send_single_request.__wrapped__ = original  # type: ignore[attr-defined]
    return _send_single_request


_OURS = (TracingTransport, AsyncTracingTransport)


def patch_points() -> list[tuple[type, str, Callable[[Callable[..., Any], Switch], Callable[..., Any]]]]:
    """``(class, attribute, make_replacement)`` for each installed httpx module's clients."""
    points: list[tuple[type, str, Callable[[Callable[..., Any], Switch], Callable[..., Any]]]] = []
    for module in MODULES:
        for cls, make in ((module.Client, _patch_sync), (module.AsyncClient, _patch_async)):
            if callable(getattr(cls, "_send_single_request", None)):
                points.append((cls, "_send_single_request", make))
            else:  # a future httpx without this step: say so rather than trace half the requests
                logger.warning("%s.%s has no _send_single_request; not instrumented", module.__name__, cls.__name__)
    return points


# Last: the module is whole now, and the automatic switch may be waiting for it (see transport_loaded).
transport_loaded("httpx", sys.modules[__name__])
