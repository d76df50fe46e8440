"""W3C Trace Context ``traceparent`` (Recommendation level 1 and the level 2 random-trace-id flag).

Id mapping, so that spans link in an OTLP backend both ways: the W3C trace-id is the run's trace
UUID (128 bits); the parent-id is the *last* 8 bytes of the run UUID (the first 8 bytes of UUIDv7
ids made in one millisecond are the same).

Parsing follows the specification's rules for receivers:

- optional whitespace (spaces, tabs) around the value is ignored; everything else is exact: lowercase
  hex only, fixed field lengths, no all-zero trace-id or parent-id, version ``ff`` invalid;
- version ``00`` has exactly four fields (55 characters);
- a higher version is read as version ``00`` is (trace-id, parent-id and flags at the same
  positions), provided the flags are followed by the end or by ``-``; its other fields are ignored,
  and what we send is version ``00``;
- of the flags only ``sampled`` (0x01) and level 2's ``random-trace-id`` (0x02) are read; the other
  bits are reserved and sent as zero.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from tracing_middleware.core.propagation.limits import MAX_TRACEPARENT, reject

SAMPLED = 0x01
RANDOM = 0x02
_OWS = " \t"
_VERSION = re.compile(r"[0-9a-f]{2}-")
_FIELDS = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_VERSION_00_LENGTH = 55
# What nearly every caller sends, matched in one step before the general rules (same result for it).
_USUAL = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_tuple_new = tuple.__new__


class SpanContext(NamedTuple):
    """The caller's span as W3C Trace Context names it."""

    trace_id: str  # 32 lowercase hex
    span_id: str  # 16 lowercase hex
    sampled: bool
    random: bool = False  # level 2: the trace-id's rightmost 7 bytes are random


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
    """Parse one ``traceparent`` value; None when invalid (see the module docstring). Never raises."""
    value = value.strip(_OWS)
    match = _USUAL.fullmatch(value)
    if match is not None:
        trace_id, span_id, flags = match.groups()
        if trace_id != _ZERO_TRACE and span_id != _ZERO_SPAN:
            bits = int(flags, 16)
            # tuple.__new__ is the NamedTuple's constructor minus its Python-level call (once per request).
            return _tuple_new(SpanContext, (trace_id, span_id, bool(bits & SAMPLED), bool(bits & RANDOM)))
    if not value:
        return None
    if len(value) > MAX_TRACEPARENT:
        reject("traceparent", "too long")
        return None
    if _VERSION.match(value) is None:
        reject("traceparent", "no version")
        return None
    version = value[:2]
    if version == "ff":
        reject("traceparent", "version ff")
        return None
    # Version 00 is exactly 55 characters; a later version may add fields after a "-".
    if len(value) < _VERSION_00_LENGTH or (
        len(value) > _VERSION_00_LENGTH and (version == "00" or value[_VERSION_00_LENGTH] != "-")
    ):
        reject("traceparent", "wrong length")
        return None
    match = _FIELDS.match(value)
    if match is None:
        reject("traceparent", "not a traceparent")
        return None
    trace_id, span_id, flags = match.groups()
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        reject("traceparent", "all-zero id")
        return None
    bits = int(flags, 16)
    return SpanContext(trace_id, span_id, bool(bits & SAMPLED), bool(bits & RANDOM))


def format_traceparent(trace_id: str, span_id: str, sampled: bool = True, random: bool = False) -> str:
    """The ``traceparent`` a run sends downstream: version 00, its trace UUID, its span id, the flags."""
    return f"00-{uuid_to_hex(trace_id)}-{span_id}-0{(SAMPLED if sampled else 0) | (RANDOM if random else 0)}"
