"""From a carrier's tracing headers to the caller's run, and from a run to the headers it sends."""

from __future__ import annotations

from typing import Any, NamedTuple

from tracing_middleware.core.ids import format_ts, now_us
from tracing_middleware.core.propagation import baggage, dotted_order, traceparent
from tracing_middleware.core.propagation.carriers import BAGGAGE, TRACE, TRACEPARENT, TRACESTATE, Found
from tracing_middleware.core.propagation.limits import reject


class RemoteParent(NamedTuple):
    """The caller's run as the headers describe it."""

    dotted_order: str
    trace_id: str
    run_id: str
    parent_run_id: str | None
    start_us: int
    metadata: dict[str, Any]
    tags: list[str]
    project_name: str | None
    otel_span_id: str | None  # set when the caller spoke only W3C: its span is not a run of ours
    sampled: bool | None  # the caller's W3C sampled flag; None when it sent none
    tracestate: str | None


def _single(values: list[str] | None, what: str) -> str | None:
    """One header value; repeats that disagree make the header ambiguous, so it is ignored."""
    if not values:
        return None
    first = values[0]
    if len(values) > 1 and any(value != first for value in values[1:]):
        reject(what, "repeated with different values")
        return None
    return first


def remote_parent(found: Found) -> RemoteParent | None:
    """The caller's run from headers read off a carrier; None for no (valid) parent. Never raises."""
    state = traceparent.clean_tracestate(found.get(TRACESTATE, []))
    w3c_value = _single(found.get(TRACEPARENT), "traceparent")
    w3c = traceparent.parse(w3c_value) if w3c_value is not None else None
    trace_value = _single(found.get(TRACE), "langsmith-trace")
    order = dotted_order.parse(trace_value) if trace_value is not None else None
    if order is None and w3c is None:
        return None
    bag = baggage.parse(found.get(BAGGAGE, []))
    sampled = w3c.sampled if w3c is not None else None
    if order is not None:  # langsmith-trace wins over traceparent when both are valid
        return RemoteParent(*order, bag.metadata, bag.tags, bag.project_name, None, sampled, state)
    assert w3c is not None
    # A W3C-only caller (an OpenTelemetry service): its trace becomes ours, with a placeholder root
    # run whose id is the trace UUID; our run records the caller's span id so the spans link in OTLP.
    trace_id = traceparent.hex_to_uuid(w3c.trace_id)
    start = now_us()
    return RemoteParent(
        format_ts(start) + trace_id, trace_id, trace_id, None, start,
        bag.metadata, bag.tags, bag.project_name, w3c.span_id, w3c.sampled, state,
    )  # fmt: skip


def outgoing(
    order: str,
    trace_id: str,
    span_id: str,
    metadata: dict[str, Any] | None,
    tags: list[str] | None,
    project_name: str | None,
    *,
    w3c: bool,
    sampled: bool | None,
    tracestate: str | None,
) -> dict[str, str]:
    """The headers a run sends downstream, lowercase names."""
    headers = {TRACE: order}
    bag = baggage.encode(metadata, tags, project_name)
    if bag:
        headers[BAGGAGE] = bag
    if w3c:
        headers[TRACEPARENT] = traceparent.format_traceparent(trace_id, span_id, sampled is not False)
        if tracestate:
            headers[TRACESTATE] = tracestate
    return headers
