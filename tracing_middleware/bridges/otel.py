"""OpenTelemetry and our runs in one trace: spans started under our runs, our runs under their spans.

While one of our runs is current, OpenTelemetry's current span is ``LIVE``, a ``NonRecordingSpan``
whose context is that run (trace id = the trace UUID, span id = the last 8 bytes of the run UUID, as
``traceparent`` and our OTLP exporter write them), so spans started in a handler are its children in
the same trace; their own exporters still send them. The outermost entry attaches it; runs nested in
ours only check it is still current. While a span
started inside our run (or with no run of ours current, e.g. FastAPI's own server span) is current,
``current_parent()`` answers a ``RunTree`` whose OTLP parent is that span, so our runs join its trace
under it. A span of another trace than our current run's leaves our run the parent.

The bridge does nothing until a real tracer provider is set (``trace.set_tracer_provider``), which
is when spans can exist. langsmith's own OpenTelemetry mode (``LANGSMITH_OTEL_ENABLED``) maps run
ids to span ids with their *first* 8 bytes; the spans this bridge makes current use the *last* 8, as
every header and export of this package does, so with both on, our mapping wins for our runs.
"""

from __future__ import annotations

import contextvars
import importlib
from collections.abc import Callable
from typing import Any

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.context import Context
    from opentelemetry.trace import INVALID_SPAN_CONTEXT, NonRecordingSpan, Span, SpanContext, TraceFlags
except ImportError as error:  # pragma: no cover - exercised in a subprocess without the package
    raise ImportError(
        f"the OpenTelemetry bridge needs opentelemetry-api ({error.name} is missing): "
        "pip install 'tracing-middleware[otlp]'"
    ) from None

from tracing_middleware.core.context import Bridge, TracingState, current_state
from tracing_middleware.core.run_tree import RunTree

__all__ = ["OpenTelemetryBridge", "bridge"]

_trace_slots = vars(trace)  # the API module's globals, where the global tracer provider is kept
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)


def _default_context() -> tuple[Callable[[], Any], Callable[[Any], Any], str] | None:
    """The getter and setter of OpenTelemetry's default runtime context variable, and the span's key.

    ``get_current_span()`` goes through four calls and ``attach(set_span_in_context(span))`` through
    six; the bridge reads and sets the variable itself instead, paid for every run of ours. This relies
    on two private names, so it is used only when both are there and the runtime context is the
    default contextvars one; otherwise the public calls are used.
    """
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    key = getattr(importlib.import_module("opentelemetry.trace.propagation"), "_SPAN_KEY", None)
    if not isinstance(variable, contextvars.ContextVar) or not isinstance(key, str):
        return None
    return variable.get, variable.set, key


_default = _default_context()
_context_get: Callable[[], Any] | None = _default[0] if _default is not None else None
_context_set: Callable[[Any], Any] = _default[1] if _default is not None else otel_context.attach
_SPAN_KEY: str = _default[2] if _default is not None else ""


class _LiveSpan(NonRecordingSpan):
    """OpenTelemetry's current span while runs of ours are: its context is the run of ours current *now*.

    One span stands for every run, so entering a run nested in one of ours attaches nothing: only the
    outermost entry (and one inside a span started meanwhile) does. Never exported, never recording.
    """

    def __init__(self) -> None:
        super().__init__(INVALID_SPAN_CONTEXT)
        self._last: tuple[RunTree | None, SpanContext] = (None, INVALID_SPAN_CONTEXT)
        self._trace: tuple[str, int] = ("", 0)

    def get_span_context(self) -> SpanContext:
        """Our current run as a span context (invalid when no run of ours is current, or tracing is off)."""
        state = current_state()
        run = state.run
        if run is None or not state.enabled:
            return INVALID_SPAN_CONTEXT
        last = self._last
        if last[0] is run:
            return last[1]
        trace_id = run.trace_id
        parsed = self._trace
        if parsed[0] != trace_id:  # the runs of one request share their trace: parse its id once
            parsed = self._trace = (trace_id, int(trace_id.replace("-", ""), 16))
        context = SpanContext(
            parsed[1],
            int(run.span_id, 16),
            is_remote=False,
            trace_flags=_NOT_SAMPLED if run.sampled is False else _SAMPLED,
        )
        self._last = (run, context)
        return context


LIVE = _LiveSpan()


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
        # The context made current over the one found, kept for the next entry over the same one (the
        # one over an empty context is made once): most entries then allocate nothing. Contexts are
        # immutable by contract, and the pair holds the one found, so its identity stands for its
        # content. One tuple, swapped whole: threads read a consistent pair.
        self._made: tuple[Any, Any] = (None, None)
        self._over_empty = Context({_SPAN_KEY: LIVE})
        if _context_get is not None:
            # Read in C by our context on every run made current: the context made over an empty one (that
            # of most requests) needs nothing on entry, and an empty one has no span of theirs.
            self.peek = _context_get
            self.following = (self._over_empty,)
            self.quiet = (Context(),)
            self.token_handles = True  # on_enter's handle is the variable's token: reset on exit, in C

    def ready(self) -> bool:
        """Whether a real tracer provider is set (the bridge does nothing before)."""
        if not self._ready:
            self._ready = _provider_set()
        return self._ready

    def on_enter(self, state: TracingState) -> Any:
        """Make OpenTelemetry's current span follow our run; the attach token is the handle.

        Nothing to do (None) when no provider is set, when ``state`` has no run, or when an enclosing
        entry already made ``LIVE`` current.
        """
        if not self._ready and _trace_slots.get("_TRACER_PROVIDER", False) is None:
            return None  # no provider yet (what ``ready`` would find, read without its two calls: every run)
        if state.run is None or not (self._ready or self.ready()):
            return None
        if _context_get is None:  # another runtime context than the default one: the public calls
            if trace.get_current_span() is LIVE:
                return None
            return otel_context.attach(trace.set_span_in_context(LIVE))
        found = _context_get()
        if not found:  # a thread's or task's empty context (most requests): always the same one over it
            return _context_set(self._over_empty)
        made = self._made
        if found is made[0]:
            return _context_set(made[1])
        if found.get(_SPAN_KEY) is LIVE:
            return None
        context = Context({**found, _SPAN_KEY: LIVE})
        self._made = (found, context)
        return _context_set(context)

    def on_exit(self, handle: Any) -> None:
        """Detach; nothing when exited in another context than entered (a generator closed elsewhere)."""
        if handle.__class__ is contextvars.Token:
            try:
                handle.var.reset(handle)
            except (ValueError, RuntimeError):
                return
        elif handle is not None:  # another runtime context than the default contextvars one
            otel_context.detach(handle)

    def innermost_parent(self, run: RunTree | None) -> RunTree | None:
        """The current span when it is not ours and belongs in ``run``'s trace (or ``run`` is None)."""
        if not (self._ready or self.ready()):
            return run
        span = _context_get().get(_SPAN_KEY) if _context_get is not None else trace.get_current_span()
        if span is LIVE or span is None or not isinstance(span, Span):
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
