"""From a carrier's tracing headers to the caller's run, and from a run to the headers it sends."""

from __future__ import annotations

from typing import Any, NamedTuple

from tracing_middleware.core.ids import format_ts, now_us
from tracing_middleware.core.propagation import baggage, dotted_order, traceparent, tracestate
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
    random: bool  # the caller's W3C random-trace-id flag (level 2), for the trace we continue
    baggage: str | None  # the other vendors' baggage members, to pass downstream


# The NamedTuple's constructor without its Python-level ``__new__``: a request's parent is built once per request.
_tuple_new = tuple.__new__


def _single(values: list[str] | None, what: str) -> str | None:
    """One header value; repeats that disagree make the header ambiguous, so it is ignored."""
    if not values:
        return None
    first = values[0]
    if len(values) > 1 and any(value != first for value in values[1:]):
        reject(what, "repeated with different values")
        return None
    return first


def _unfolded(values: list[str] | None) -> list[str] | None:
    """``traceparent`` values with the ones a server folded into one field (``a, b``) split apart.

    A ``traceparent`` never holds a comma, so a folded value is two headers: the rule for repeats
    then applies alike on servers that keep repeats (uvicorn) and on those that join them (gunicorn).
    """
    if not values or not any("," in value for value in values):
        return values
    return [part.strip(" \t") for value in values for part in value.split(",")]


def remote_parent(found: Found) -> RemoteParent | None:
    """The caller's run from headers read off a carrier; None for no (valid) parent. Never raises.

    ``tracestate`` and the W3C flags count only with a valid ``traceparent`` of the trace we continue:
    the specification forbids reading ``tracestate`` without one, and a ``traceparent`` of another
    trace than ``langsmith-trace`` names is a restart on the W3C side.
    """
    # Absent headers skip their parsers outright (each would answer "nothing"): this runs per request.
    w3c_values = found.get(TRACEPARENT)
    if not w3c_values:
        w3c = None
    elif len(w3c_values) == 1 and "," not in w3c_values[0]:  # one unfolded field: nothing to reconcile
        w3c = traceparent.parse(w3c_values[0])
    else:
        w3c_value = _single(_unfolded(w3c_values), "traceparent")
        w3c = traceparent.parse(w3c_value) if w3c_value is not None else None
    trace_values = found.get(TRACE)
    trace_value = _single(trace_values, "langsmith-trace") if trace_values else None
    order = dotted_order.parse(trace_value) if trace_value is not None else None
    if order is None and w3c is None:
        return None
    bag_values = found.get(BAGGAGE)
    if bag_values:
        bag = baggage.parse(bag_values)
        others = baggage.foreign(bag_values)
    else:
        bag, others = baggage.EMPTY, None
    state_values = found.get(TRACESTATE)
    if order is not None:  # langsmith-trace wins over traceparent when both are valid
        if w3c is not None and w3c.trace_id != traceparent.uuid_to_hex(order.trace_id):
            w3c = None
        sampled = w3c.sampled if w3c is not None else None
        state = tracestate.clean(state_values) if w3c is not None and state_values else None
        random = w3c is not None and w3c.random
        return _tuple_new(
            RemoteParent, (*order, bag.metadata, bag.tags, bag.project_name, None, sampled, state, random, others)
        )
    assert w3c is not None
    # A W3C-only caller (an OpenTelemetry service): its trace becomes ours, with a placeholder root
    # run whose id is the trace UUID; our run records the caller's span id so the spans link in OTLP.
    trace_id = traceparent.hex_to_uuid(w3c.trace_id)
    start = now_us()
    return _tuple_new(RemoteParent, (
        format_ts(start) + trace_id, trace_id, trace_id, None, start,
        bag.metadata, bag.tags, bag.project_name, w3c.span_id, w3c.sampled,
        tracestate.clean(state_values) if state_values else None, w3c.random, others,
    ))  # fmt: skip


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
    random: bool = False,
    forwarded: str | None = None,
) -> dict[str, str]:
    """The headers a run sends downstream, lowercase names.

    ``random``: the trace id's rightmost 7 bytes are random (level 2 flag); ``forwarded``: other
    vendors' baggage members received upstream, sent before ours.
    """
    headers = {TRACE: order}
    bag = baggage.encode(metadata, tags, project_name)
    if forwarded:
        bag = baggage.merge([forwarded], bag)
    if bag:
        headers[BAGGAGE] = bag
    if w3c:
        headers[TRACEPARENT] = traceparent.format_traceparent(trace_id, span_id, sampled is not False, random)
        if tracestate:
            headers[TRACESTATE] = tracestate
    return headers
