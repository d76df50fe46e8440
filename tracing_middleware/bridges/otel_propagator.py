"""``LangSmithPropagator``: lets OpenTelemetry services read and write the ``langsmith-trace`` header.

With it, an OpenTelemetry-instrumented service continues a trace started by a LangSmith SDK or by
tracing_middleware even when the caller sent no ``traceparent``, and its outgoing calls carry a
``langsmith-trace`` that LangSmith SDKs and our middleware continue. Enable it with
``OTEL_PROPAGATORS=tracecontext,baggage,langsmith`` (entry point ``langsmith``) or in code::

    from opentelemetry.propagate import set_global_textmap
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    from tracing_middleware.bridges.otel_propagator import LangSmithPropagator

    set_global_textmap(CompositePropagator([TraceContextTextMapPropagator(), LangSmithPropagator()]))

Extract: the dotted order's first UUID is the trace id (as a 128-bit int), the last segment's UUID
names the remote parent, whose span id is that UUID's last 8 bytes (the mapping ``traceparent`` and
the OTLP exporter use), marked remote and sampled. A malformed header, or repeated values that
disagree, leave the context unchanged. When a ``traceparent`` of the same trace was extracted first
(``OTEL_PROPAGATORS=tracecontext,baggage,langsmith``), its flags (sampled, the level 2 random-trace-id
flag) and its ``tracestate`` are kept for the parent, so the W3C propagator sends them on unchanged.

Inject: an OpenTelemetry span has no dotted order, so one is made of two segments: the trace root
(the trace id as UUID) and the span itself, as a UUID whose first 8 bytes are the trace id's first 8
bytes and whose last 8 bytes are the span id, so the receiver's parent span id is the span's own.
Both segments carry the span's start time (now, when the span does not expose one); the root's real
start is unknown, and the same stamp keeps "a child never starts before its parent" true. When the
context came from an extracted ``langsmith-trace`` (this service only passes the trace through), the
received dotted order is kept: as is for the extracted span itself, extended by the current span's
segment otherwise, so LangSmith sees the whole path.

Where the carrier names its destination (a ``host``/``:authority`` header, as httpx's requests carry),
the package's outbound rule applies (``core.destinations``): a well-known hosted AI or cloud API gets
no ``langsmith-trace``. This propagator writes no baggage, so no run metadata leaves through it.
"""

from __future__ import annotations

from typing import Any

from tracing_middleware.core import destinations, ids
from tracing_middleware.core.propagation import dotted_order
from tracing_middleware.core.propagation.carriers import TRACE
from tracing_middleware.core.propagation.limits import MAX_SEGMENTS, MAX_TRACE_HEADER
from tracing_middleware.core.propagation.traceparent import hex_to_uuid, span_id_of, uuid_to_hex

try:
    from opentelemetry import trace
    from opentelemetry.context import Context, create_key, get_value, set_value
    from opentelemetry.propagators.textmap import (
        CarrierT,
        Getter,
        Setter,
        TextMapPropagator,
        default_getter,
        default_setter,
    )
except ImportError as error:  # pragma: no cover - exercised in a subprocess without the packages
    raise ImportError(
        f"the OpenTelemetry propagator needs opentelemetry-api ({error.name} is missing): "
        "pip install 'tracing-middleware[otlp]'"
    ) from None

__all__ = ["LangSmithPropagator"]

_RECEIVED = create_key("tracing_middleware.langsmith_trace")  # the extracted dotted order, for pass-through
_SAMPLED = trace.TraceFlags(trace.TraceFlags.SAMPLED)


def _header(carrier: Any, getter: Getter[Any]) -> str | None:
    """The ``langsmith-trace`` value, found by any letter case; None when absent, unreadable or ambiguous.

    Repeated values that disagree make the header ambiguous, as in the middleware: it is ignored.
    """
    try:
        values = getter.get(carrier, TRACE)
        if not values:
            names = [k for k in getter.keys(carrier) if isinstance(k, str) and k.lower() == TRACE]
            values = getter.get(carrier, names[0]) if names else None
    except Exception:  # a carrier that fails to read is a carrier without our header
        return None
    if not values:
        return None
    if not isinstance(values, (list, tuple)):
        values = [values]
    first = values[0]
    if not isinstance(first, str) or any(value != first for value in values[1:]):
        return None
    return first


def _segment(start_us: int, run_uuid: str) -> str:
    return ids.format_ts(start_us) + run_uuid


class LangSmithPropagator(TextMapPropagator):
    """Extracts and injects the ``langsmith-trace`` header (see the module docstring)."""

    def extract(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> Context:
        """The context with the sender's run as the remote parent span; unchanged when the header is bad."""
        if context is None:
            context = Context()
        value = _header(carrier, getter)
        if value is None:
            return context
        parsed = dotted_order.parse(value[: MAX_TRACE_HEADER + 1])  # never raises; rejects oversize values
        if parsed is None:
            return context
        trace_id = int(uuid_to_hex(parsed.trace_id), 16)
        span_id = int(span_id_of(parsed.run_id), 16)
        if not trace_id or not span_id:
            return context
        flags, state = _SAMPLED, None
        known = trace.get_current_span(context).get_span_context()
        if known.is_valid and known.is_remote and known.trace_id == trace_id:
            # A traceparent of the same trace was read first (tracecontext before langsmith): its
            # flags (sampled, level 2 random) and its tracestate still hold for this parent.
            flags, state = known.trace_flags, known.trace_state
        parent = trace.SpanContext(trace_id, span_id, is_remote=True, trace_flags=flags, trace_state=state)
        context = trace.set_span_in_context(trace.NonRecordingSpan(parent), context)
        return set_value(_RECEIVED, parsed.dotted_order, context)

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        """Write ``langsmith-trace`` naming the current span (not to a well-known AI or cloud API)."""
        span = trace.get_current_span(context)
        span_context = span.get_span_context()
        if not span_context.is_valid:
            return
        _, destination = destinations.named_destination(carrier)
        if destination is not None and destinations.level_for(destination) == destinations.NOTHING:
            return
        value = self.dotted_order_for(span, get_value(_RECEIVED, context))
        setter.set(carrier, TRACE, value)

    @staticmethod
    def dotted_order_for(span: trace.Span, received: object = None) -> str:
        """The ``langsmith-trace`` value naming ``span`` (``received``: a dotted order extracted earlier)."""
        span_context = span.get_span_context()
        trace_hex = f"{span_context.trace_id:032x}"
        span_hex = f"{span_context.span_id:016x}"
        own_uuid = hex_to_uuid(trace_hex[:16] + span_hex)
        start_ns = getattr(span, "start_time", None)
        start_us = start_ns // 1000 if isinstance(start_ns, int) and start_ns > 0 else ids.now_us()
        if isinstance(received, str):
            parsed = dotted_order.parse(received)
            if parsed is not None and uuid_to_hex(parsed.trace_id) == trace_hex:
                if span_id_of(parsed.run_id) == span_hex:
                    return parsed.dotted_order  # the extracted span itself, passed through
                extended = f"{parsed.dotted_order}.{_segment(max(start_us, parsed.start_us), own_uuid)}"
                if parsed.dotted_order.count(".") + 1 < MAX_SEGMENTS and len(extended) <= MAX_TRACE_HEADER:
                    return extended
        trace_uuid = hex_to_uuid(trace_hex)
        return f"{_segment(start_us, trace_uuid)}.{_segment(start_us, own_uuid)}"

    @property
    def fields(self) -> set[str]:
        """The header this propagator writes."""
        return {TRACE}
