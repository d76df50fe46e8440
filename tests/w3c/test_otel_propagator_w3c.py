"""``LangSmithPropagator`` beside OpenTelemetry's W3C propagator: the same Trace Context rules hold.

With ``OTEL_PROPAGATORS=tracecontext,baggage,langsmith`` the W3C propagator extracts first and ours
second. Ours must not lose what the W3C one read for the same trace (tracestate, the random flag).
"""

from __future__ import annotations

from importlib.metadata import version

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tracing_middleware import RunTree
from tracing_middleware.bridges.otel_propagator import LangSmithPropagator

BOTH = CompositePropagator([TraceContextTextMapPropagator(), LangSmithPropagator()])
OTHER_TRACE = "00-12345678901234567890123456789012-1234567890123456-03"
SDK_SETS_RANDOM_FLAG = tuple(int(part) for part in version("opentelemetry-sdk").split(".")[:2]) >= (1, 42)


def _parent(carrier: dict[str, object]) -> trace.SpanContext:
    return trace.get_current_span(BOTH.extract(carrier)).get_span_context()


def test_tracestate_and_random_flag_of_the_same_trace_are_kept() -> None:
    caller = RunTree("caller").create_child("step")
    carrier = {**caller.to_headers(), "tracestate": "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"}
    parent = _parent(carrier)
    assert parent.span_id == int(caller.span_id, 16)
    assert parent.trace_flags == 0x03
    assert parent.trace_state.to_header() == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    # What an OpenTelemetry service sends on: the same tracestate, in order, and the random flag.
    tracer = TracerProvider().get_tracer("svc")
    with tracer.start_as_current_span("handler", context=BOTH.extract(carrier)):
        outgoing: dict[str, str] = {}
        BOTH.inject(outgoing)
    assert outgoing["tracestate"] == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    # opentelemetry-sdk sets the random flag on its own spans from 1.42; before, it sends sampled only.
    assert outgoing["traceparent"].endswith("-03" if SDK_SETS_RANDOM_FLAG else "-01")
    back = RunTree.from_headers(outgoing)
    assert back is not None and back.trace_id == caller.trace_id
    assert back.tracestate == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"


def test_a_traceparent_of_another_trace_gives_way_with_its_tracestate() -> None:
    caller = RunTree("caller")
    carrier = {"langsmith-trace": caller.dotted_order, "traceparent": OTHER_TRACE, "tracestate": "foo=1"}
    parent = _parent(carrier)
    assert parent.trace_id == int(caller.trace_id.replace("-", ""), 16)
    assert parent.trace_flags == 0x01  # sampled; random unknown for a langsmith-trace alone
    assert parent.trace_state.to_header() == ""


def test_repeated_langsmith_trace_values_that_disagree_are_ignored() -> None:
    first, second = RunTree("a"), RunTree("b")
    carrier = {"langsmith-trace": [first.dotted_order, second.dotted_order], "traceparent": OTHER_TRACE}
    parent = _parent(carrier)
    assert f"{parent.trace_id:032x}" == OTHER_TRACE.split("-")[1]  # the W3C parent stands
    same = {"langsmith-trace": [first.dotted_order, first.dotted_order]}
    assert _parent(same).trace_id == int(first.trace_id.replace("-", ""), 16)
