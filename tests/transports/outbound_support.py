"""Helpers for the outbound tests: reading the tracing headers the echo server saw."""

from __future__ import annotations


def last_id(trace_header: str) -> str:
    """The run a langsmith-trace value names (its last segment's UUID)."""
    return trace_header.split(".")[-1][-36:]


def parent_id(trace_header: str) -> str:
    """The parent of the run a langsmith-trace value names."""
    return trace_header.split(".")[-2][-36:]


TRACING_HEADERS = ("langsmith-trace", "baggage", "traceparent", "tracestate")


def tracing_headers(headers: dict[str, list[str]]) -> dict[str, list[str]]:
    return {name: values for name, values in headers.items() if name in TRACING_HEADERS}


def first(headers: dict[str, list[str]]) -> dict[str, str]:
    """One value per header name, as a plain carrier."""
    return {name: values[0] for name, values in headers.items()}


def host_of(base_url: str) -> str:
    """``host:port`` of a base URL."""
    return base_url.split("://", 1)[1]
