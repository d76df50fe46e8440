"""Outbound tracing for aiohttp's client, through aiohttp's own ``TraceConfig`` hooks.

Explicit use::

    session = aiohttp.ClientSession(trace_configs=[TracingTraceConfig()])

Zero-code use: ``tracing_middleware.instrument()`` patches ``ClientSession._request`` so that every
session, including one made before ``instrument()`` ran, gets a ``TracingTraceConfig`` at its first
request; ``uninstrument()`` switches those off. A request made inside a run then gets a client run
(``GET host:port/path``) and carries ``langsmith-trace``, ``baggage`` and ``traceparent`` naming it, as
far as its destination may see them (``core.destinations``), through the prepare step every transport
shares (``client_run.prepare``).
Each redirect hop gets a client run of its own. The client run ends when the response's headers have
arrived (aiohttp reads the body later, in the caller's hands).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, NamedTuple

try:
    import aiohttp
    from yarl import URL
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError("tracing aiohttp's client needs aiohttp: pip install 'tracing-middleware[aiohttp]'") from None

from tracing_middleware.core.context import current_parent
from tracing_middleware.core.printable import get_logger
from tracing_middleware.core.propagation.carriers import BAGGAGE, TRACE, TRACEPARENT
from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.transports import client_run
from tracing_middleware.transports.client_run import Hop, Outgoing, Switch
from tracing_middleware.transports.instrument import transport_loaded
from tracing_middleware.transports.options import Options, make_override, options_for

__all__ = ["TracingTraceConfig", "patch_points"]

logger = get_logger("tracing_middleware.transports")

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class _Exchange(NamedTuple):
    """What aiohttp's hooks give us of one request: it has no request object of its own."""

    method: str
    url: URL
    headers: Any  # aiohttp's CIMultiDict


def _read(exchange: _Exchange) -> Outgoing:
    headers, url = exchange.headers, exchange.url
    return Outgoing(
        id(headers), exchange.method, url.scheme, url.raw_host or "", url.explicit_port, url.raw_path,
        url.raw_query_string, headers.get(TRACE), headers.get("authorization"), list(headers.getall(BAGGAGE, ())),
        TRACEPARENT in headers, headers,
    )  # fmt: skip


def _prepare(parent: RunTree, options: Options, method: str, url: URL, headers: Any) -> Hop | None:
    """Decide for one exchange and write its headers into aiohttp's ``CIMultiDict``; never raises."""
    return client_run.prepare(parent, options, _Exchange(method, url, headers), _read)


class TracingTraceConfig(aiohttp.TraceConfig):
    """An aiohttp ``TraceConfig`` that propagates the current run and records client runs.

    ``client_runs``/``targets`` override the options ``instrument()`` set (see ``core.destinations``);
    those left as None follow them. A session with this config is left alone by ``instrument()``.
    """

    def __init__(self, *, client_runs: bool | None = None, targets: Any = None, _switch: Switch | None = None) -> None:
        super().__init__(trace_config_ctx_factory=SimpleNamespace)
        self._override = make_override(client_runs, targets)
        self._switch = _switch
        self.on_request_start.append(self._on_start)
        self.on_request_redirect.append(self._on_redirect)
        self.on_request_end.append(self._on_end)
        self.on_request_exception.append(self._on_exception)
        self.freeze()

    async def _on_start(self, session: Any, ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        if self._switch is not None and not self._switch.on:
            return
        parent = current_parent()
        if parent is None:
            return
        ctx.tm_parent = parent
        ctx.tm_hop = _prepare(parent, options_for(self._override), params.method, params.url, params.headers)

    async def _on_redirect(self, session: Any, ctx: Any, params: aiohttp.TraceRequestRedirectParams) -> None:
        hop: Hop | None = getattr(ctx, "tm_hop", None)
        if hop is None:
            return
        response = params.response
        hop.status = response.status
        hop.end()
        try:  # the next hop, as aiohttp will send it: the Location resolved, the method as it rewrites it
            location = response.headers.get("Location") or response.headers.get("URI")
            if not location or response.status not in _REDIRECTS:
                ctx.tm_hop = None
                return
            method = params.method
            if (response.status == 303 and method != "HEAD") or (response.status in (301, 302) and method == "POST"):
                method = "GET"
            target = params.url.join(URL(location))
        except Exception:  # an unparsable Location: aiohttp will fail the request itself
            ctx.tm_hop = None
            return
        ctx.tm_hop = _prepare(ctx.tm_parent, options_for(self._override), method, target, params.headers)

    async def _on_end(self, session: Any, ctx: Any, params: aiohttp.TraceRequestEndParams) -> None:
        hop: Hop | None = getattr(ctx, "tm_hop", None)
        if hop is not None:
            hop.status = params.response.status
            hop.end()

    async def _on_exception(self, session: Any, ctx: Any, params: aiohttp.TraceRequestExceptionParams) -> None:
        hop: Hop | None = getattr(ctx, "tm_hop", None)
        if hop is not None:
            hop.end(params.exception)


def _patch_request(original: Callable[..., Any], switch: Switch) -> Callable[..., Any]:
    config = TracingTraceConfig(_switch=switch)

    def _request(self: Any, *args: Any, **kwargs: Any) -> Any:
        if switch.on:
            configs = getattr(self, "_trace_configs", None)
            if type(configs) is list and not any(isinstance(c, TracingTraceConfig) for c in configs):
                configs.append(config)  # once per session; a session with its own config keeps it
        return original(self, *args, **kwargs)

    _request.__wrapped__ = original  # type: ignore[attr-defined]
    return _request


def patch_points() -> list[tuple[type, str, Callable[[Callable[..., Any], Switch], Callable[..., Any]]]]:
    """``(class, attribute, make_replacement)``: ``ClientSession._request``, the step every request passes."""
    if not callable(getattr(aiohttp.ClientSession, "_request", None)):
        logger.warning("aiohttp.ClientSession has no _request; not instrumented")
        return []
    return [(aiohttp.ClientSession, "_request", _patch_request)]


# Last: the module is whole now, and the automatic switch may be waiting for it (see transport_loaded).
transport_loaded("aiohttp", sys.modules[__name__])
