"""Run ids and timestamps: UUIDv7 ids, monotonic within a process, and dotted-order time stamps."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from tracing_middleware.core.env import env_flag

__all__ = ["new_id", "new_trace_id", "RANDOM_TRACE_BITS", "now_us", "format_ts", "us_to_datetime", "datetime_to_us"]


def now_us() -> int:
    """Microseconds since the epoch, UTC: the one clock every run uses."""
    return time.time_ns() // 1000


def _stdlib_uuid7_factory() -> Callable[[], str]:
    """A UUIDv7 generator (RFC 9562 method 1: a 12-bit counter inside each millisecond)."""
    lock = threading.Lock()
    state = [0, 0]  # last millisecond, counter

    def new() -> str:
        ms = time.time_ns() // 1_000_000
        with lock:
            last_ms, counter = state
            if ms <= last_ms:
                # Same (or an earlier, after a clock step) millisecond: count on from the last id.
                counter += 1
                ms = last_ms
                if counter > 0xFFF:
                    ms, counter = last_ms + 1, random.getrandbits(8)
            else:
                # Start low in the counter space so the millisecond has room to count.
                counter = random.getrandbits(8)
            state[0], state[1] = ms, counter
        value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | random.getrandbits(62)
        h = f"{value:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    return new


def _pick() -> Callable[[], str]:
    if not env_flag("TRACING_MIDDLEWARE_PURE_IDS", False):
        try:
            from uuid_utils import uuid7 as _fast  # the `speedups` extra
        except ImportError:
            pass
        else:
            return lambda: str(_fast())
    return _stdlib_uuid7_factory()


new_id: Callable[[], str] = _pick()
"""Return a new UUIDv7 as a lowercase canonical string."""

RANDOM_TRACE_BITS = 56
"""How many of a new trace id's rightmost bits are uniformly random (W3C level 2: at least 7 bytes)."""


def new_trace_id() -> str:
    """A new UUIDv7 for a run that starts a trace, its rightmost 7 bytes uniformly (pseudo-)random.

    ``new_id``'s generator may keep a counter in the low bits (``uuid_utils``, like LangSmith's own
    ``uuid7``, counts in bits 32-61 within a millisecond), which W3C Trace Context level 2 does not
    allow under the random-trace-id flag. A trace root replaces those 56 bits with fresh random bits:
    it stays a valid UUIDv7 (version, variant and millisecond untouched); only its in-millisecond
    order against other roots is given up, which nothing depends on (traces are ordered by time).
    """
    # The low 56 bits are the last 14 hex digits: 2 ending the fourth group, the 12 of the fifth.
    low = f"{random.getrandbits(RANDOM_TRACE_BITS):014x}"
    return f"{new_id()[:21]}{low[:2]}-{low[2:]}"


_second_cache: tuple[int, str] = (-1, "")  # runs cluster in time: reuse the "YYYYMMDDTHHMMSS" prefix


def format_ts(us: int) -> str:
    """The 22-character dotted-order stamp, ``YYYYMMDDTHHMMSSffffffZ``."""
    global _second_cache
    secs, frac = divmod(us, 1_000_000)
    cached_secs, prefix = _second_cache  # one read of one tuple: consistent across threads
    if cached_secs != secs:
        t = time.gmtime(secs)
        prefix = f"{t.tm_year:04d}{t.tm_mon:02d}{t.tm_mday:02d}T{t.tm_hour:02d}{t.tm_min:02d}{t.tm_sec:02d}"
        _second_cache = (secs, prefix)
    return f"{prefix}{frac:06d}Z"


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def us_to_datetime(us: int) -> datetime:
    """A timezone-aware UTC datetime for epoch microseconds."""
    return datetime.fromtimestamp(us // 1_000_000, timezone.utc).replace(microsecond=us % 1_000_000)


def datetime_to_us(dt: datetime) -> int:
    """Epoch microseconds for a datetime; a naive one is taken as UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
