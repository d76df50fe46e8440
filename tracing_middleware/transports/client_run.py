"""The outbound path shared by the httpx and requests integrations: decide, inject, run, finish.

For each HTTP exchange made inside a current run, ``start_hop`` decides what happens:

- no current run, tracing off or suppressed, or a ``langsmith-trace`` the caller set by hand: nothing;
- an excluded URL (``exclude_urls``): nothing;
- otherwise a *client run* (``GET host/path``, a child of the current run) is made, and, unless the
  request is SigV4-signed, the headers naming the client run are written, as far as the destination
  may see them (``core.destinations``: everything for the deployment's own hosts and named targets,
  trace ids only for other hosts, nothing for well-known AI and cloud APIs), so the downstream
  request run hangs under it. With ``client_runs=False`` only the current run's headers are written.

Each value we write under ``langsmith-trace`` is remembered (a bounded table), so an exchange seen by
two of our layers (nested wrappers) gets one client run and one set of headers, while a copy of our
headers on a redirected or re-sent request is replaced. (A patched client whose request goes through
an explicit ``TracingTransport``/``TracingAdapter`` leaves the work to it, so its options apply.)
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from tracing_middleware.core import config
from tracing_middleware.core import destinations as _targets
from tracing_middleware.core import runtime as _rt
from tracing_middleware.core.context import current_state
from tracing_middleware.core.lifecycle import end_run, new_run
from tracing_middleware.core.printable import get_logger
from tracing_middleware.core.propagation import baggage
from tracing_middleware.core.propagation.carriers import BAGGAGE, TRACE, TRACEPARENT, TRACESTATE
from tracing_middleware.core.redaction import SECRET_NAME, redact_query
from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.transports.options import Options

__all__ = ["Hop", "Outgoing", "Switch", "apply", "prepare", "start_hop"]

logger = get_logger("tracing_middleware.transports")

_MAX_REMEMBERED = 4096
# Query parameters named like secrets are recorded as REDACTED in ``http.url`` (``core.redaction``).
_SECRET_NAME = SECRET_NAME


class Hop:
    """One HTTP exchange we act on: the client run (if any), the headers to write, and its state."""

    __slots__ = ("active", "headers", "request_id", "run", "status", "strip")

    def __init__(
        self, run: RunTree | None, headers: dict[str, str] | None, request_id: int, strip: bool = False
    ) -> None:
        self.run = run
        self.headers = headers
        self.request_id = request_id
        self.strip = strip
        self.active = True
        self.status: int | None = None

    def respond(self, status: int) -> None:
        """The response's status line arrived."""
        self.status = status

    def end(self, error: BaseException | None = None) -> None:
        """Finish the client run (once): status in outputs and metadata, 5xx or ``error`` as the error."""
        if not self.active:
            return
        self.active = False
        run = self.run
        if run is None:
            return
        self.run = None  # remembered hops stay small: only the exchange's identity is kept
        status = self.status
        if status is not None:
            run.metadata["http.status_code"] = status
            if status >= 500 and error is None:
                run.error = f"HTTP {status}"
        end_run(run, None if status is None else {"status_code": status}, error)


# Runtime.remembered holds two generations: when the newer one is full it becomes the older one, and the
# older one is dropped. O(1) for every operation, and each single step is atomic under the GIL: no lock.
def _remember(value: str, hop: Hop) -> None:
    remembered = _rt.current.remembered
    newer = remembered[0]
    newer[value] = hop
    if len(newer) >= _MAX_REMEMBERED:
        remembered[:] = [{}, newer]


def _recall(value: str) -> Hop | None:
    newer, older = _rt.current.remembered
    hop: Hop | None = newer.get(value) or older.get(value)
    return hop


def _redacted(url: str, query: str) -> str:
    return f"{url}?{redact_query(query)}" if query else url


class Switch:
    """Whether a patch acts; set off by ``uninstrument`` when the patch cannot be taken out."""

    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on = True


class Outgoing:
    """One outgoing request as a transport reads it: what ``start_hop`` and ``apply`` need to know.

    ``trace``: the ``langsmith-trace`` already on it; ``baggage``: its ``baggage`` values;
    ``traceparent``: whether it has one; ``carrier``: its headers, where ``apply`` writes.
    """

    __slots__ = (
        "request_id", "method", "scheme", "host", "port", "path", "query", "trace", "authorization", "baggage",
        "traceparent", "carrier",
    )  # fmt: skip

    def __init__(
        self, request_id: int, method: str, scheme: str, host: str, port: int | None, path: str, query: str,
        trace: str | None, authorization: str | None, baggage: list[str], traceparent: bool,
        carrier: MutableMapping[str, Any],
    ) -> None:  # fmt: skip
        self.request_id = request_id
        self.method = method
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
        self.query = query
        self.trace = trace
        self.authorization = authorization
        self.baggage = baggage
        self.traceparent = traceparent
        self.carrier = carrier


def start_hop(parent: RunTree, options: Options, out: Outgoing) -> Hop | None:
    """Decide for one exchange under ``parent`` (see the module docstring); None: leave it untouched."""
    copied = False
    request_id = out.request_id
    trace_header = out.trace
    if trace_header is not None:
        earlier = _recall(trace_header)
        if earlier is None:
            return None  # set by the caller: respected
        if earlier.active and earlier.request_id == request_id:
            return None  # an outer layer already handles this very exchange
        copied = True  # our header from an earlier exchange (redirect, re-send): replace it
    scheme, host, port, path, query = out.scheme, out.host, out.port, out.path, out.query
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    url = f"{scheme}://{netloc}{path}"
    if _rt.current.excluded_urls and _targets.is_excluded(url):
        return Hop(None, None, request_id, strip=True) if copied else None
    level = options.targets.decide(scheme, host, port, url)
    authorization = out.authorization
    # "amz-" in the query is necessary for a presigned URL: most requests skip the SigV4 check.
    if (
        level
        and (authorization is not None or (query and "amz-" in query.lower()))
        and _targets.is_sigv4(authorization, query)
    ):
        level = _targets.NOTHING
    settings = config.get_settings()
    if not settings.enabled:
        return None
    if not options.client_runs:
        if not level:
            return Hop(None, None, request_id, strip=True) if copied else None
        headers = _headers(parent, settings.w3c, level)
        hop = Hop(None, headers, request_id, strip=copied)
        _remember(headers[TRACE], hop)
        return hop
    method = out.method
    name = f"{method} {netloc}{path}"
    state = current_state()
    if state.tags or state.metadata or state.project_name or state.run is not parent:
        # Scoped defaults to merge: what start_run makes; the client run is never current.
        run = new_run(state, settings, name, "chain", None, None, None, None, parent)
    else:
        run = parent.create_child(name)  # what start_run makes here, without making it current
    # Headers before the http.* metadata: baggage carries the caller's metadata, not this request's.
    sent = _headers(run, settings.w3c, level) if level else None
    metadata = run.metadata
    metadata["http.method"] = method
    # _redacted(url, query) with its common case (no secret-looking name) spared the call.
    metadata["http.url"] = (
        (f"{url}?{query}" if _SECRET_NAME.search(query) is None else _redacted(url, query)) if query else url
    )
    hop = Hop(run, sent, request_id, copied)
    if sent is not None:
        remembered = _rt.current.remembered  # _remember(sent[TRACE], hop), inlined on the per-request path
        newer = remembered[0]
        newer[sent[TRACE]] = hop
        if len(newer) >= _MAX_REMEMBERED:
            remembered[:] = [{}, newer]
    return hop


def _headers(run: RunTree, w3c: bool, level: int) -> dict[str, str]:
    """The headers a request at ``level`` (``FULL`` or ``TRACE_IDS``) carries for ``run``."""
    headers = run.to_headers(w3c=w3c)
    if level != _targets.FULL:
        headers.pop(BAGGAGE, None)  # trace ids only: no metadata, tags or project leave for this host
    return headers


def apply(hop: Hop, carrier: MutableMapping[str, Any], found_baggage: list[str], found_traceparent: bool) -> None:
    """Write ``hop``'s headers into a request's headers (or remove ours copied from an earlier exchange).

    ``found_baggage``: the request's ``baggage`` values; its other vendors' members are kept.
    ``found_traceparent``: the caller set ``traceparent`` (another tracer): it is kept unless we are
    replacing our own copy.
    """
    if hop.strip:
        for name in (TRACE, TRACEPARENT, TRACESTATE):
            carrier.pop(name, None)
        found_traceparent = False
    written = hop.headers
    if written is None:
        if hop.strip and found_baggage:
            _set_baggage(carrier, baggage.merge(found_baggage, ""))
        return
    ours = written.get(BAGGAGE, "")
    carrier[TRACE] = written[TRACE]
    if found_baggage:
        _set_baggage(carrier, baggage.merge(found_baggage, ours))
    elif ours:
        carrier[BAGGAGE] = ours
    if not found_traceparent and TRACEPARENT in written:
        carrier[TRACEPARENT] = written[TRACEPARENT]
        if TRACESTATE in written:
            carrier[TRACESTATE] = written[TRACESTATE]


def prepare(
    parent: RunTree,
    options: Options,
    request: Any,
    read: Callable[[Any], Outgoing],
    append: Callable[[Any, dict[str, str]], bool] | None = None,
) -> Hop | None:
    """The step every transport shares: read ``request``, decide, write its headers. Never raises.

    ``read(request)`` describes it (an ``Outgoing``); ``append(request, headers)``, optional, adds
    headers to a request that has none of ours or the caller's yet, faster than ``apply`` can, and
    returns False when it cannot (``apply`` then writes them). Returns the hop to end when the
    response is done (``hop.run`` None: nothing to end), or None: send the request untouched.
    """
    try:
        out = read(request)
        hop = start_hop(parent, options, out)
        if hop is None:
            return None
        written = hop.headers
        if (
            append is not None
            and written
            and not (hop.strip or out.trace or out.baggage or out.traceparent)
            and append(request, written)
        ):
            return hop
        apply(hop, out.carrier, out.baggage, out.traceparent)
        return hop
    except Exception:  # a tracing fault must never fail the user's request (e.g. a malformed URL)
        logger.warning("outbound tracing skipped for one request", exc_info=True)
        return None


def _set_baggage(carrier: MutableMapping[str, Any], value: str) -> None:
    if value:
        carrier[BAGGAGE] = value
    else:
        carrier.pop(BAGGAGE, None)
