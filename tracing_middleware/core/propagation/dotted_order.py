"""The ``langsmith-trace`` header: a dotted order, parsed strictly and never raising.

Each segment is a UTC stamp ``YYYYMMDDTHHMMSS`` + 1-6 fraction digits + ``Z``, then a 36-character UUID
(any version, any case). The first segment's UUID is the trace id, the last one's the sender's run.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, timezone
from typing import NamedTuple

from tracing_middleware.core.propagation.limits import MAX_SEGMENTS, MAX_TRACE_HEADER, reject

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_SEGMENT = r"\d{8}T\d{6}\d{1,6}Z" + _UUID
_WHOLE = re.compile(rf"(?:{_SEGMENT}\.)*{_SEGMENT}", re.ASCII)  # ASCII: \d must not match other scripts' digits
_STAMP = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{1,6})Z", re.ASCII)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class ParsedOrder(NamedTuple):
    """What a receiver needs from a dotted order."""

    dotted_order: str
    trace_id: str
    run_id: str
    parent_run_id: str | None
    start_us: int  # the last segment's stamp: a child must not start before it


@functools.lru_cache(maxsize=1024)
def _seconds(prefix: str) -> int | None:
    """Epoch seconds of ``YYYYMMDDTHHMMSS`` (cached: the segments of a trace share a few seconds)."""
    try:
        moment = datetime(
            int(prefix[0:4]), int(prefix[4:6]), int(prefix[6:8]),
            int(prefix[9:11]), int(prefix[11:13]), int(prefix[13:15]), tzinfo=timezone.utc,
        )  # fmt: skip
    except ValueError:
        return None
    delta = moment - _EPOCH
    return delta.days * 86_400 + delta.seconds


def stamp_to_us(stamp: str) -> int | None:
    """Epoch microseconds of a dotted-order stamp, or None when it names no real instant."""
    if _STAMP.fullmatch(stamp) is None:
        return None
    seconds = _seconds(stamp[:15])
    if seconds is None:
        return None
    return seconds * 1_000_000 + int(stamp[15:-1].ljust(6, "0"))


def parse(value: str) -> ParsedOrder | None:
    """Parse a ``langsmith-trace`` value; None (and one log line) when it is not a valid dotted order."""
    value = value.strip()
    if not value:
        return None
    if len(value) > MAX_TRACE_HEADER:
        reject("langsmith-trace", "too long")
        return None
    if _WHOLE.fullmatch(value) is None:
        reject("langsmith-trace", "not a dotted order")
        return None
    segments = value.split(".")
    if len(segments) > MAX_SEGMENTS:
        reject("langsmith-trace", "too many segments")
        return None
    # The pattern has checked the shape; each stamp must still name a real instant (no 30 February).
    for segment in segments:
        if _seconds(segment[:15]) is None:
            reject("langsmith-trace", "impossible timestamp")
            return None
    last = segments[-1]
    start_us = (_seconds(last[:15]) or 0) * 1_000_000 + int(last[15:-37].ljust(6, "0"))
    return ParsedOrder(
        dotted_order=value,
        trace_id=segments[0][-36:].lower(),
        run_id=segments[-1][-36:].lower(),
        parent_run_id=segments[-2][-36:].lower() if len(segments) > 1 else None,
        start_us=start_us,
    )
