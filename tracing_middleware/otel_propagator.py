"""The OpenTelemetry propagator's old import path, kept for the entry point earlier installs recorded.

An environment installed before ``LangSmithPropagator`` moved to ``tracing_middleware.bridges`` (an
editable install in particular, whose metadata is not rewritten on update) names this module in its
``opentelemetry_propagator`` entry point; ``OTEL_PROPAGATORS=...,langsmith`` must keep working there.
New code imports ``tracing_middleware.bridges.otel_propagator``.
"""

from __future__ import annotations

from tracing_middleware.bridges.otel_propagator import LangSmithPropagator

__all__ = ["LangSmithPropagator"]
