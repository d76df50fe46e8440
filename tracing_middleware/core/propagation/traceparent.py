"""W3C Trace Context: ``traceparent`` (and ``tracestate``, passed through untouched).

Id mapping, so that spans link in an OTLP backend both ways: the W3C trace-id is the run's trace
UUID (128 bits); the parent-id is the *last* 8 bytes of the run UUID (the first 8 bytes of UUIDv7
ids made in one millisecond are the same).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from tracing_middleware.core.propagation.limits import MAX_TRACEPARENT, MAX_TRACESTATE, has_control, reject

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[ -~]*)?")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


class SpanContext(NamedTuple):
    """The caller's span as W3C Trace Context names it."""

    trace_id: str  # 32 lowercase hex
    span_id: str  # 16 lowercase hex
    sampled: bool


def uuid_to_hex(uuid: str) -> str:
    """32 hex digits of a canonical UUID string."""
    return uuid.replace("-", "").lower()


def hex_to_uuid(hex32: str) -> str:
    """The canonical UUID string for 32 hex digits."""
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"


def span_id_of(run_id: str) -> str:
    """The W3C parent-id (16 hex) for a run: the last 8 bytes of its UUID."""
    return run_id[-17:].replace("-", "").lower()


def parse(value: str) -> SpanContext | None:
    """Parse one ``traceparent`` value; None when invalid (all-zero ids, version ff, wrong shape)."""
    value = value.strip()
    if not value:
        return None
    if len(value) > MAX_TRACEPARENT:
        reject("traceparent", "too long")
        return None
    match = _TRACEPARENT.fullmatch(value)
    if match is None:
        reject("traceparent", "not a traceparent")
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    # Version 00 has exactly four fields; a later version may add fields we skip.
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        reject("traceparent", "invalid version or id")
        return None
    return SpanContext(trace_id, span_id, bool(int(flags, 16) & 1))


def format_traceparent(trace_id: str, span_id: str, sampled: bool = True) -> str:
    """The ``traceparent`` a run sends downstream: its trace UUID and its span id (16 hex)."""
    return f"00-{uuid_to_hex(trace_id)}-{span_id}-{'01' if sampled else '00'}"


def clean_tracestate(values: list[str]) -> str | None:
    """The incoming ``tracestate`` to pass on (repeats joined), or None when absent or unusable."""
    if not values:
        return None
    value = ",".join(v.strip() for v in values if v.strip())
    if not value:
        return None
    if len(value) > MAX_TRACESTATE or has_control(value) or not value.isascii():
        reject("tracestate", "too long or not printable ASCII")
        return None
    return value
