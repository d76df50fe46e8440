"""W3C Trace Context ``tracestate``: validated, kept in order, passed on with ``traceparent``.

The rules (Trace Context Recommendation, "tracestate Header Field Values" and "Limits"):

- repeated ``tracestate`` fields are one list, joined with ``,`` in the order received;
- spaces and tabs around list members are ignored; empty and whitespace-only members are allowed
  and dropped;
- a key is ``simple-key`` (a lowercase letter, then up to 255 of ``a-z 0-9 _ - * /``) or
  ``tenant@system`` (tenant: a lowercase letter or digit, then up to 240 of those characters;
  system: a lowercase letter, then up to 13);
- a value is 1 to 256 printable ASCII characters other than ``,`` and ``=``, not ending in a space;
- at most 32 members, and a key at most once;
- anything else makes the whole header invalid: it is discarded, never repaired member by member.

What we send: the members as received, in order, joined without whitespace. A combined value over
512 characters is cut down by whole members, as the specification asks: members longer than 128
characters go first, then members from the end. We add no member of our own: everything a
downstream service needs from us is in ``traceparent`` and ``langsmith-trace``, and a member would
spend one of the 32 places and part of the 512 characters that other vendors rely on.
"""

from __future__ import annotations

import re

from tracing_middleware.core.propagation.limits import MAX_TRACESTATE, reject

__all__ = ["MAX_MEMBERS", "PROPAGATED_LENGTH", "Members", "clean", "parse"]

MAX_MEMBERS = 32
PROPAGATED_LENGTH = 512  # "vendors SHOULD propagate at least 512 characters of a combined header"
LONG_MEMBER = 128  # "entries larger than 128 characters long SHOULD be removed first"
_OWS = " \t"
_KEYCHARS = r"[a-z0-9_\-*/]"
_KEY = rf"[a-z]{_KEYCHARS}{{0,255}}|[a-z0-9]{_KEYCHARS}{{0,240}}@[a-z]{_KEYCHARS}{{0,13}}"
_VALUE = r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
_MEMBER = re.compile(rf"({_KEY})=({_VALUE})")

Members = tuple[tuple[str, str], ...]


def parse(values: list[str]) -> Members | None:
    """The ``(key, value)`` members of every ``tracestate`` value; None when absent, empty or invalid.

    Never raises. An invalid header is logged once per interval (without its value).
    """
    if not values:
        return None
    header = ",".join(values)
    if len(header) > MAX_TRACESTATE:
        reject("tracestate", "too long")
        return None
    members: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw in header.split(","):
        member = raw.strip(_OWS)
        if not member:
            continue
        match = _MEMBER.fullmatch(member)
        if match is None:
            reject("tracestate", "malformed member")
            return None
        key = match.group(1)
        if key in seen:
            reject("tracestate", "duplicate key")
            return None
        if len(members) == MAX_MEMBERS:
            reject("tracestate", "more than 32 members")
            return None
        seen.add(key)
        members.append((key, match.group(2)))
    return tuple(members) or None


def _fit(members: list[str]) -> list[str]:
    """Whole members dropped until the joined value fits: long ones first, then from the end."""

    def size() -> int:
        return sum(len(m) for m in members) + len(members) - 1

    while members and size() > PROPAGATED_LENGTH:
        long = [i for i, m in enumerate(members) if len(m) > LONG_MEMBER]
        members.pop(long[-1] if long else -1)
    return members


def clean(values: list[str]) -> str | None:
    """The ``tracestate`` to send on, from every received value; None when there is none to send."""
    members = parse(values)
    if members is None:
        return None
    kept = _fit([f"{key}={value}" for key, value in members])
    return ",".join(kept) or None
