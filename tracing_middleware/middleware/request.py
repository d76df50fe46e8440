"""The request-scoped run every inbound adapter shares: begin from headers, end with the response."""

from __future__ import annotations

import contextvars
from typing import Any

from tracing_middleware.core import config
from tracing_middleware.core.context import TracingState, get_tracing_context, reset_state, set_state
from tracing_middleware.core.propagation.carriers import TRACE, TRACEPARENT, read_headers
from tracing_middleware.core.propagation.limits import MAX_TRACE_HEADER, MAX_TRACEPARENT
from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.core.runs import fail, finish_run, start_run
from tracing_middleware.middleware.options import MiddlewareOptions, RequestInfo

__all__ = ["RequestRun", "SCOPE_KEY", "ROUTE_KEY", "ERROR_KEY"]

SCOPE_KEY = "tracing_middleware.run"
"""Where the request run is kept: an ASGI scope key / WSGI environ key (also marks a traced request)."""
ROUTE_KEY = "tracing_middleware.route"
"""Scope/environ key where a framework adapter leaves the matched route template, to name the run."""
ERROR_KEY = "tracing_middleware.error"
"""Scope/environ key where a framework adapter leaves an exception it turned into an error response."""


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


class RequestRun:
    """One request's run and the tracing state its handler runs in."""

    __slots__ = ("run", "state", "info", "options", "status", "ended")

    def __init__(self, run: RunTree | None, state: TracingState, info: RequestInfo, options: MiddlewareOptions) -> None:
        self.run = run
        self.state = state
        self.info = info
        self.options = options
        self.status: int | None = None
        self.ended = False

    @classmethod
    def begin(cls, info: RequestInfo, carrier: Any, options: MiddlewareOptions) -> RequestRun | None:
        """Start the request run as a child of the caller's run (or a new root); None when not traced."""
        current = get_tracing_context()
        if not current.enabled or not config.get_settings().enabled or options.excluded(info.path):
            return None
        parent = RunTree.from_headers(carrier)
        metadata: dict[str, Any] | None = None
        if parent is not None and options.checks_trust and not options.trusted(info):
            metadata = _claimed_parent(carrier)
            parent = None
        if not options.request_run:
            # Handlers run directly under the caller's run, as with tracing_context(parent=headers).
            return cls(None, current._replace(run=parent), info, options)
        inputs: dict[str, Any] = {"method": info.method, "path": info.path, "query": info.query_string}
        captured = options.captured(info)
        if captured:
            inputs["headers"] = captured
        started = start_run(
            info.method, "chain", inputs, metadata=metadata, project_name=options.project_name,
            parent=parent if parent is not None else False,
        )  # fmt: skip
        if started is None:
            return None
        run, token = started
        state = get_tracing_context()
        reset_state(token)  # the adapter activates the state around the handler itself
        return cls(run, state, info, options)

    def activate(self) -> contextvars.Token[TracingState]:
        """Make the request's state current; pair with ``deactivate`` in ``finally``."""
        return set_state(self.state)

    @staticmethod
    def deactivate(token: contextvars.Token[TracingState]) -> None:
        """Undo ``activate``."""
        reset_state(token)

    def finish(self, error: BaseException | None = None, route: str | None = None) -> None:
        """End the run: name from the route, status in outputs, 5xx or an exception as error. Idempotent."""
        if self.ended:
            return
        self.ended = True
        run = self.run
        if run is None:
            return
        info = self.info if route is None else RequestInfo(**{**self.info.__dict__, "route": route})
        if self.options.run_name is not None:
            try:
                run.name = str(self.options.run_name(info))
            except Exception:  # a failing name function costs only the name
                run.name = f"{info.method} {route}" if route else info.method
        elif route:
            run.name = f"{info.method} {route}"
        if self.status is not None:
            run.outputs = {"status_code": self.status}
            if self.status >= 500 and error is None:
                run.error = f"HTTP {self.status}"
        if error is not None:
            fail(run, error)
        finish_run(run, None)
