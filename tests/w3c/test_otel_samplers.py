"""Which OpenTelemetry samplers behave on the trace ids we start, with the real opentelemetry-sdk.

Our W3C trace-id is the run's trace UUID (LangSmith's mapping). A UUIDv7 holds 48 bits of time,
the version, 12 counter bits, the fixed variant bits ``10`` and 62 random bits; trace roots made
here have their rightmost 56 bits uniformly random (and say so with the level 2 random flag).

- ``ParentBased(...)`` follows the sampled flag we send: it behaves.
- Consistent probability sampling on the rightmost 56 bits (the SDK's composable
  ``TraceIdRatioBased``): it behaves.
- The legacy ``TraceIdRatioBased`` (alone, or as ``ParentBased``'s root sampler in a service that
  starts traces from our ids without a parent) compares the low 64 bits with ``rate * 2**64``;
  the variant bits make those bits at least ``2**63``, so it keeps nothing below rate 0.5 and
  everything from 0.75. These tests pin that down, as the README states it.
"""

from __future__ import annotations

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace._sampling_experimental import (
    composable_traceid_ratio_based,
    composite_sampler,
)
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import tracing_middleware as tm
from tracing_middleware import RunTree

COUNT = 4000
W3C = TraceContextTextMapPropagator()


def our_trace_ids() -> list[int]:
    return [int(RunTree("root").trace_id.replace("-", ""), 16) for _ in range(COUNT)]


def kept(sampler: Sampler, trace_ids: list[int]) -> float:
    decisions = [sampler.should_sample(None, trace_id, "span").decision for trace_id in trace_ids]
    return sum(decision == Decision.RECORD_AND_SAMPLE for decision in decisions) / len(trace_ids)


def test_the_low_64_bits_of_our_trace_ids_start_with_the_variant_bits() -> None:
    assert all((trace_id >> 62) & 0b11 == 0b10 for trace_id in our_trace_ids())


@pytest.mark.parametrize(("rate", "expected"), [(0.1, 0.0), (0.25, 0.0), (0.5, 0.0), (0.75, 1.0), (0.9, 1.0)])
def test_legacy_trace_id_ratio_sampler_is_biased_on_our_ids(rate: float, expected: float) -> None:
    assert kept(TraceIdRatioBased(rate), our_trace_ids()) == expected


@pytest.mark.parametrize("rate", [0.1, 0.25, 0.5, 0.75])
def test_consistent_probability_sampling_on_the_random_56_bits_is_unbiased(rate: float) -> None:
    share = kept(composite_sampler(composable_traceid_ratio_based(rate)), our_trace_ids())
    assert abs(share - rate) < 0.05, share  # 4000 draws: the standard deviation is below 0.008


def _remote_context(headers: dict[str, str]) -> object:
    return W3C.extract({"traceparent": headers["traceparent"]})


@pytest.mark.parametrize("root_rate", [0.0001, 1.0])
def test_parent_based_sampler_follows_our_sampled_flag(root_rate: float) -> None:
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(root_rate)))
    tracer = provider.get_tracer("downstream")
    sampled = RunTree("root")
    sampled.sampled = True
    not_sampled = RunTree("root")
    not_sampled.sampled = False
    with tracer.start_as_current_span("handler", context=_remote_context(sampled.to_headers())) as span:  # type: ignore[arg-type]
        assert span.is_recording() and span.get_span_context().trace_flags.sampled
    with tracer.start_as_current_span("handler", context=_remote_context(not_sampled.to_headers())) as span:  # type: ignore[arg-type]
        assert not span.is_recording() and not span.get_span_context().trace_flags.sampled


def test_an_opentelemetry_service_passes_our_random_flag_on() -> None:
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(1.0)))
    tracer = provider.get_tracer("downstream")
    ours = RunTree("root")
    with tracer.start_as_current_span("handler", context=_remote_context(ours.to_headers())):  # type: ignore[arg-type]
        outgoing: dict[str, str] = {}
        W3C.inject(outgoing)
    assert outgoing["traceparent"].startswith(f"00-{ours.trace_id.replace('-', '')}-")
    assert outgoing["traceparent"].endswith("-03")
    # And we keep it when that service calls us back.
    back = RunTree.from_headers(outgoing)
    assert back is not None and back.create_child("c").to_headers()["traceparent"].endswith("-03")


def test_a_trace_sampled_out_here_is_not_recorded_downstream() -> None:
    memory = tm.InMemoryExporter()
    tm.configure(exporter=memory, sample_rate=0.0)
    try:
        with tm.trace("root"):
            headers = tm.get_current_run_tree().to_headers()  # type: ignore[union-attr]
    finally:
        tm.configure(exporter="none")
    assert headers["traceparent"].endswith("-02")
    tracer = TracerProvider(sampler=ParentBased(TraceIdRatioBased(1.0))).get_tracer("downstream")
    with tracer.start_as_current_span("handler", context=_remote_context(headers)) as span:  # type: ignore[arg-type]
        assert not span.is_recording()
    assert trace.get_current_span().get_span_context().is_valid is False
