r"""W3C Baggage list members: the grammar, the limits, and passing other vendors' members on.

The rules (W3C Baggage Recommendation): ``list-member = key OWS "=" OWS value *( OWS ";" OWS
property )``, ``property = key OWS "=" OWS value / key OWS``, a key is an RFC 7230 token, a value is
baggage-octets (printable ASCII without space, ``"``, ``,``, ``;`` and ``\``) holding percent-encoded
UTF-8. A member that matches is passed on byte for byte (only the whitespace around it trimmed), in
order; an invalid one is dropped, as the specification allows. At least 64 members and 8192 bytes
are propagated, whole members only; LangSmith's members (``OURS``) always go, last.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import unquote

from tracing_middleware.core.propagation.limits import MAX_BAGGAGE_HEADER, MAX_BAGGAGE_MEMBERS, reject

__all__ = ["OURS", "foreign", "merge", "split_members", "valid_member"]

METADATA = "langsmith-metadata"
TAGS = "langsmith-tags"
PROJECT = "langsmith-project"
# Ours to replace when writing; langsmith-replicas/-address of other SDK versions are read as foreign.
OURS = (METADATA, TAGS, PROJECT)


def split_members(header: str) -> list[tuple[str, str]]:
    """``(key, raw member)`` for each list member, properties kept in the raw member; blanks dropped.

    Only the optional whitespace (spaces, tabs) around a member is trimmed; the rest is kept as sent.
    """
    members = []
    for member in header.split(","):
        member = member.strip(" \t")
        if member:
            key = member.split("=", 1)[0].strip(" \t")
            members.append((key, member))
    return members


_ESCAPED = re.compile(r"[^%]*(?:%[0-9A-Fa-f]{2}[^%]*)*")
# W3C Baggage grammar: list-member = key OWS "=" OWS value *( OWS ";" OWS property ), key a token
# (RFC 7230), value of baggage-octets, property = key OWS "=" OWS value / key OWS.
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_OCTETS = r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"
_MEMBER = re.compile(rf"({_TOKEN})[ \t]*=[ \t]*({_OCTETS})(?:[ \t]*;[ \t]*{_TOKEN}(?:[ \t]*=[ \t]*{_OCTETS})?)*[ \t]*")


def valid_member(member: str) -> bool:
    """Whether ``member`` is a W3C Baggage list-member whose value is percent-encoded UTF-8."""
    return len(member) <= MAX_BAGGAGE_HEADER and _valid(member)


@functools.lru_cache(maxsize=512)  # every hop and call of a trace sends the same members
def _valid(member: str) -> bool:
    match = _MEMBER.fullmatch(member)
    if match is None:
        return False
    value = match.group(2)
    if "%" not in value:
        return True
    if _ESCAPED.fullmatch(value) is None:
        return False
    try:
        unquote(value, errors="strict")
    except UnicodeDecodeError:
        return False
    return True


_MAX_READ = 4 * MAX_BAGGAGE_HEADER  # room for invalid members before the 8192 bytes that are sent


def _assemble(others: list[tuple[str, str]], ours: str) -> str:
    """``others`` (``(key, member)``, in order) then ``ours``, within the limits W3C Baggage sets.

    The specification requires at least 64 members and 8192 bytes to be propagated and forbids
    partial members: ours always go; the others are kept in order while they fit, whole.
    """
    own = split_members(ours) if ours else []
    # Each of the others costs its length and one comma; without ours, the last one needs none.
    budget = MAX_BAGGAGE_HEADER - len(ours) if ours else MAX_BAGGAGE_HEADER + 1
    room = MAX_BAGGAGE_MEMBERS - len(own)
    kept: list[str] = []
    for _, member in others:
        cost = len(member) + 1  # a valid member is ASCII: characters are bytes
        if room <= 0 or cost > budget:
            reject("baggage", "over the propagation limits")
            break
        kept.append(member)
        budget -= cost
        room -= 1
    if ours:
        kept.append(ours)
    return ",".join(kept)


def _foreign_members(values: list[str]) -> list[tuple[str, str]]:
    return [
        (key, member)
        for value in values
        for key, member in split_members(value)
        if key not in OURS and valid_member(member)
    ]


def foreign(values: list[str]) -> str | None:
    """The other vendors' valid members of received ``baggage`` values, to pass downstream; None if none.

    Each member is kept byte for byte (only the whitespace around it trimmed), in order; an invalid
    one is dropped (the specification allows it); the limits of ``_assemble`` apply.
    """
    if not values:
        return None
    header = ",".join(values)
    if len(header) > _MAX_READ:  # past what could be sent on: whole members of the first part only
        reject("baggage", "too long")
        cut = header[:_MAX_READ]
        values = [cut[: cut.rfind(",")]] if "," in cut else []
    return _assemble(_foreign_members(values), "") or None


def merge(existing: list[str], ours: str) -> str:
    """One baggage value: the other vendors' valid members of ``existing``, then ``ours``.

    ``ours`` may start with members forwarded from upstream; one whose key ``existing`` already
    holds is left out (the request's own member is the newer one). LangSmith's members in
    ``existing`` are replaced by those in ``ours``.
    """
    kept = _foreign_members(existing)
    if ours:
        present = {key for key, _ in kept}
        members = [(key, member) for key, member in split_members(ours) if key in OURS or key not in present]
        forwarded = [pair for pair in members if pair[0] not in OURS]
        own = ",".join(member for key, member in members if key in OURS)
        return _assemble(kept + forwarded, own)
    return _assemble(kept, "")
