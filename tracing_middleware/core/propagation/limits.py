"""Size caps for untrusted tracing headers, and the once-per-interval log for rejected ones."""

from __future__ import annotations

import re
import time

from tracing_middleware.core import runtime as _rt
from tracing_middleware.core.printable import get_logger

MAX_TRACE_HEADER = 12_000  # about 200 dotted-order segments
MAX_SEGMENTS = 200
MAX_BAGGAGE_HEADER = 8192  # W3C Baggage: at least 8192 bytes and 64 members are propagated
MAX_BAGGAGE_MEMBERS = 64
MAX_METADATA_JSON = 4096
MAX_JSON_DEPTH = 8
MAX_TAGS = 64
MAX_TAG_LENGTH = 256
MAX_PROJECT_LENGTH = 256
MAX_TRACEPARENT = 512
# A valid tracestate has at most 32 members of up to 513 characters (plus separators and whitespace);
# a longer header is not read at all.
MAX_TRACESTATE = 20_000

logger = get_logger("tracing_middleware.propagation")
_LOG_INTERVAL_S = 60.0


def reject(what: str, why: str) -> None:
    """Log that an incoming header was (partly) ignored, once per header kind and interval.

    The value itself is never logged: it is untrusted and may be huge or hold control characters.
    """
    runtime = _rt.current
    rejected = runtime.rejected
    rejected[what] = rejected.get(what, 0) + 1
    now = time.monotonic()
    if now - runtime.last_logged.get(what, -_LOG_INTERVAL_S) >= _LOG_INTERVAL_S:
        runtime.last_logged[what] = now
        logger.warning("ignoring an invalid %s header (%s)", what, why)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def has_control(text: str) -> bool:
    """True when ``text`` holds a control character (CR, LF, NUL, ...), which no header value may carry."""
    return _CONTROL.search(text) is not None
