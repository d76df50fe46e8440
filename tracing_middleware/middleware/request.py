"""The request-scoped run every inbound adapter shares: started from headers, ended with the response."""

from __future__ import annotations

from typing import Any

from tracing_middleware.core import config
from tracing_middleware.core.context import (
    RunToken,
    TracingState,
    bridged_parent,
    current_state,
    enter_state,
    exit_run,
)
from tracing_middleware.core.lifecycle import end_run, new_run
from tracing_middleware.core.outbound import switch_outbound_on
from tracing_middleware.core.printable import get_logger
from tracing_middleware.core.propagation.carriers import TRACE, TRACEPARENT, Found, read_headers
from tracing_middleware.core.propagation.limits import MAX_TRACE_HEADER, MAX_TRACEPARENT
from tracing_middleware.core.redaction import redact_query
from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.middleware.options import MiddlewareOptions, RequestInfo

__all__ = [
    "RequestRun",
    "needs_info",
    "instrument_outbound_once",
    "start_request",
    "SCOPE_KEY",
    "ROUTE_KEY",
    "ERROR_KEY",
]

logger = get_logger("tracing_middleware.middleware")
_tuple_new = tuple.__new__

SCOPE_KEY = "tracing_middleware.run"
"""Where the request run is kept: an ASGI scope key / WSGI environ key (also marks a traced request)."""
ROUTE_KEY = "tracing_middleware.route"
"""Scope/environ key where a framework adapter leaves the matched route template, to name the run."""
ERROR_KEY = "tracing_middleware.error"
"""Scope/environ key where a framework adapter leaves an exception it turned into an error response."""


def instrument_outbound_once() -> None:
    """Turn on outbound header injection once per process, if available (``core.outbound``)."""
    switch_outbound_on()


def _claimed_parent(carrier: Any) -> dict[str, str]:
    """An untrusted caller's claimed parent, as link metadata (only values that parse)."""
    found = read_headers(carrier)
    links = {}
    claimed = RunTree.from_headers({TRACE: found.get(TRACE, [""])[0][:MAX_TRACE_HEADER]})
    if claimed is not None:
        links["link.langsmith_trace"] = claimed.dotted_order
    w3c = RunTree.from_headers({TRACEPARENT: found.get(TRACEPARENT, [""])[0][:MAX_TRACEPARENT]})
    if w3c is not None:
        links["link.traceparent"] = f"00-{w3c.trace_id.replace('-', '')}-{w3c.span_id}"
    return links


def needs_info(options: MiddlewareOptions) -> bool:
    """Whether an option reads the ``RequestInfo`` (trust rules, captured headers, run names)."""
    return bool(options.checks_trust or options.capture_headers or options.run_name is not None)


def start_request(info: RequestInfo, carrier: Any, options: MiddlewareOptions) -> RequestRun | None:
    """``RequestRun.start`` that never fails the request: on an internal error the request goes untraced."""
    try:
        return RequestRun.start(info.method, info.path, info.query_string, carrier, options, info)
    except Exception as error:
        logger.warning("request not traced: %s: %s", type(error).__name__, error)
        return None


class RequestRun:
    """One request's run and the tracing state its handler runs in."""

    __slots__ = ("run", "state", "info", "method", "options", "status", "ended")

    def __init__(
        self,
        run: RunTree | None,
        state: TracingState,
        info: RequestInfo | None,
        options: MiddlewareOptions,
        method: str,
    ) -> None:
        self.run = run
        self.state = state
        self.info = info  # None when no option reads it (see ``needs_info``)
        self.method = method
        self.options = options
        self.status: int | None = None
        self.ended = False

    @classmethod
    def start(
        cls,
        method: str,
        path: str,
        query: str,
        carrier: Any,
        options: MiddlewareOptions,
        info: RequestInfo | None = None,
    ) -> RequestRun | None:
        """Start the request run as a child of the caller's run (or a new root); None when not traced.

        ``carrier``: the request's headers; ``info`` is needed only when ``needs_info(options)``
        (adapters build it only then), and refused with ValueError when missing there.
        """
        current = current_state()
        if not current.enabled:
            return None
        settings = config.get_settings()
        if not settings.enabled or (options.exclude_paths and options.excluded(path)):
            return None
        if info is None and needs_info(options):
            raise ValueError("these options read the request's RequestInfo: pass it (see needs_info)")
        return cls.begin(current, settings, method, path, query, read_headers(carrier), carrier, options, info)

    @classmethod
    def begin(
        cls,
        current: TracingState,
        settings: config.Settings,
        method: str,
        path: str,
        query: str,
        found: Found,
        carrier: Any,
        options: MiddlewareOptions,
        info: RequestInfo | None,
    ) -> RequestRun:
        """``start`` after its checks, for a middleware that has made them; never returns None.

        The caller has checked that tracing is on in ``current`` and ``settings``, that the path is not
        excluded, and passes ``info`` if ``needs_info(options)``. ``found``: the carrier's tracing
        headers (``read_headers``), read by whatever reader suits the carrier.
        """
        parent = RunTree.from_found(found) if found else None  # most requests from outside carry no header
        metadata: dict[str, Any] | None = None
        if parent is not None and options.checks_trust and (info is None or not options.trusted(info)):
            metadata = _claimed_parent(carrier)
            parent = None
        else:  # an in-process tracer's span (FastAPI's own) may already hold this request
            parent = bridged_parent(parent)  # with no bridge registered: ``parent`` as it is
        if not options.request_run:
            # Handlers run directly under the caller's run, as with tracing_context(parent=headers).
            state = TracingState(parent, current.project_name, current.tags, current.metadata, current.enabled)
            return cls(None, state, info, options, method)
        inputs: dict[str, Any] = {"method": method, "path": path, "query": redact_query(query)}
        if options.capture_headers and info is not None:
            captured = options.captured(info)
            if captured:
                inputs["headers"] = captured
        # What start_run makes, built without making it current: the adapter activates the state itself.
        run = new_run(current, settings, method, "chain", inputs, None, metadata, options.project_name, parent)
        # ``current`` with ``run`` as its run; tuple.__new__ skips the NamedTuple's Python-level constructor.
        state = _tuple_new(TracingState, (run, *current[1:]))
        return cls(run, state, info, options, method)

    def activate(self) -> RunToken:
        """Make the request's state current; pair with ``deactivate`` in ``finally``."""
        return enter_state(self.state)

    @staticmethod
    def deactivate(token: RunToken) -> None:
        """Undo ``activate``."""
        exit_run(token)

    def finish(self, error: BaseException | None = None, route: str | None = None) -> None:
        """End the run: name from the route, status in outputs, 5xx or an exception as error. Idempotent."""
        if self.ended:
            return
        self.ended = True
        run = self.run
        if run is None:
            return
        run_name = self.options.run_name
        if run_name is not None and self.info is not None:
            info = self.info if route is None else RequestInfo(**{**self.info.__dict__, "route": route})
            try:
                run.name = str(run_name(info))
            except Exception:  # a failing name function costs only the name
                run.name = f"{info.method} {route}" if route else info.method
        elif route:
            run.name = f"{self.method} {route}"
        status = self.status
        if status is not None:
            run.outputs = {"status_code": status}
            if status >= 500 and error is None:
                run.error = f"HTTP {status}"
        end_run(run, None, error)
