"""OpenTelemetry and our runs in one trace: spans started under our runs, our runs under their spans.

Ours inside theirs... and theirs inside ours: while one of our runs is current, OpenTelemetry's
current span is a ``NonRecordingSpan`` standing for it (trace id = the trace UUID, span id = the last
8 bytes of the run UUID, as ``traceparent`` and our OTLP exporter write them), so spans started in a
handler are its children in the same trace; their own exporters still send them. While a span
started inside our run (or with no run of ours current, e.g. FastAPI's own server span) is current,
``current_parent()`` answers a ``RunTree`` whose OTLP parent is that span, so our runs join its trace
under it. A span of another trace than our current run's leaves our run the parent.

The bridge does nothing until a real tracer provider is set (``trace.set_tracer_provider``), which
is when spans can exist. langsmith's own OpenTelemetry mode (``LANGSMITH_OTEL_ENABLED``) maps run
ids to span ids with their *first* 8 bytes; the spans this bridge makes current use the *last* 8, as
every header and export of this package does, so with both on, our mapping wins for our runs.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
except ImportError as error:  # pragma: no cover - exercised in a subprocess without the package
    raise ImportError(
        f"the OpenTelemetry bridge needs opentelemetry-api ({error.name} is missing): "
        "pip install 'tracing-middleware[otlp]'"
    ) from None

from tracing_middleware.core.context import Bridge, TracingState
from tracing_middleware.core.run_tree import RunTree

__all__ = ["OpenTelemetryBridge", "bridge"]

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)
_get_current_span = trace.get_current_span
_set_span_in_context = trace.set_span_in_context
_attach = otel_context.attach


class _RunSpan(NonRecordingSpan):
    """The span OpenTelemetry sees as current while our ``run`` is: recognised, never exported."""

    def __init__(self, context: SpanContext, run: RunTree) -> None:
        super().__init__(context)
        self.run = run


def _provider_set() -> bool:
    # Reading the module's provider slot avoids get_tracer_provider()'s environment lookup on each run;
    # the public call is the fallback should the slot ever move.
    provider = getattr(trace, "_TRACER_PROVIDER", False)
    if provider is False:
        provider = trace.get_tracer_provider()
        return not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))
    return provider is not None and not isinstance(provider, trace.NoOpTracerProvider)


class OpenTelemetryBridge(Bridge):
    """Keeps OpenTelemetry's current span and our current run in step (see the module docstring)."""

    def __init__(self) -> None:
        self._ready = False  # a provider, once set, stays set: checked until then
        self._last: tuple[RunTree | None, int, RunTree | None] = (None, 0, None)
        self._trace: tuple[str, int] = ("", 0)

    def ready(self) -> bool:
        """Whether a real tracer provider is set (the bridge does nothing before)."""
        if not self._ready:
            self._ready = _provider_set()
        return self._ready

    def on_enter(self, state: TracingState) -> Any:
        """Our run becomes OpenTelemetry's current span; the attach token is the handle."""
        run = state.run
        if run is None or not (self._ready or self.ready()):
            return None
        trace_id = run.trace_id
        last = self._trace
        if last[0] != trace_id:  # the runs of one request share their trace: parse its id once
            last = self._trace = (trace_id, int(trace_id.replace("-", ""), 16))
        context = SpanContext(
            last[1],
            int(run.span_id, 16),
            is_remote=False,
            trace_flags=_NOT_SAMPLED if run.sampled is False else _SAMPLED,
        )
        return _attach(_set_span_in_context(_RunSpan(context, run)))

    def on_exit(self, handle: Any) -> None:
        """Detach; nothing when exited in another context than entered (a generator closed elsewhere)."""
        if handle is None:
            return
        if isinstance(handle, contextvars.Token):
            with contextlib.suppress(ValueError, RuntimeError):
                handle.var.reset(handle)
        else:  # another runtime context than the default contextvars one
            otel_context.detach(handle)

    def innermost_parent(self, run: RunTree | None) -> RunTree | None:
        """The current span when it is not ours and belongs in ``run``'s trace (or ``run`` is None)."""
        if not (self._ready or self.ready()):
            return run
        span = _get_current_span()
        if span.__class__ is _RunSpan:
            return run
        context = span.get_span_context()
        if not context.is_valid:
            return run
        last_run, last_span, stand_in = self._last
        if last_run is run and last_span == context.span_id and stand_in is not None:
            return stand_in
        stand_in = _under_span(run, context)
        if stand_in is None:
            return run
        self._last = (run, context.span_id, stand_in)
        return stand_in


def _under_span(run: RunTree | None, context: SpanContext) -> RunTree | None:
    """A parent whose OTLP parent span is ``context``: ``run`` with that span, or the span alone."""
    trace_hex = format(context.trace_id, "032x")
    span_hex = format(context.span_id, "016x")
    flags = "01" if context.trace_flags.sampled else "00"
    if run is None:
        return RunTree.from_headers({"traceparent": f"00-{trace_hex}-{span_hex}-{flags}"})
    if run.trace_id.replace("-", "") != trace_hex:
        return None
    parent = RunTree.from_dotted_order(run.dotted_order)
    if parent is None:
        return None
    parent.name, parent.run_type, parent.project_name = run.name, run.run_type, run.project_name
    parent.tags, parent.metadata = run.tags, run.metadata
    parent.sampled, parent.tracestate, parent.parent_run_id = run.sampled, run.tracestate, run.parent_run_id
    parent._remote_span_id = span_hex  # children record the span as their OTLP parent
    return parent


_bridge: OpenTelemetryBridge | None = None


def bridge() -> OpenTelemetryBridge:
    """The process's one OpenTelemetry bridge."""
    global _bridge
    if _bridge is None:
        _bridge = OpenTelemetryBridge()
    return _bridge
