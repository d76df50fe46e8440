"""The W3C ``baggage`` header and LangSmith's members in it: metadata, tags and project.

LangSmith writes ``langsmith-metadata`` (percent-encoded compact JSON object), ``langsmith-tags``
(percent-encoded comma-joined list) and ``langsmith-project``. Python's SDK encodes with
``urllib.parse.quote``, JavaScript's with ``encodeURIComponent``; ``unquote`` reads both. A bad member
costs only itself.

Other vendors' members follow the W3C Baggage Recommendation: a member that matches its grammar
(``key=value`` with optional ``;property`` parts, a token key, a value of allowed octets whose
``%`` escapes spell UTF-8) is passed on byte for byte, in order, both from the received header to
our outgoing calls and from a request's own ``baggage`` when we add ours; an invalid one is dropped.
At least 64 members and 8192 bytes are propagated, whole members only; ours always go last.

A tag that contains ``,`` is split in two on the wire, as in both LangSmith SDKs.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import date, datetime, time
from typing import Any, NamedTuple
from urllib.parse import quote, unquote

from tracing_middleware.core.propagation.limits import (
    MAX_BAGGAGE_HEADER,
    MAX_BAGGAGE_MEMBERS,
    MAX_JSON_DEPTH,
    MAX_METADATA_JSON,
    MAX_PROJECT_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    has_control,
    reject,
)

METADATA = "langsmith-metadata"
TAGS = "langsmith-tags"
PROJECT = "langsmith-project"
# Ours to replace when writing; langsmith-replicas/-address of other SDK versions are read as foreign.
OURS = (METADATA, TAGS, PROJECT)


class Baggage(NamedTuple):
    """LangSmith's members of a baggage header."""

    metadata: dict[str, Any]
    tags: list[str]
    project_name: str | None


EMPTY = Baggage({}, [], None)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):  # 1e999 overflows to infinity, which JSON cannot carry
        raise ValueError("number out of range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_no_constants, parse_float=_finite)


def _unquote(raw: str) -> str:
    """``urllib.parse.unquote(raw, errors="strict")``, the escapes decoded in C for the usual input."""
    if "%" not in raw:
        return raw
    if "\\" not in raw and raw.isascii():
        try:  # %XX -> \xXX -> latin-1 code points -> the UTF-8 they spell; a malformed escape raises
            return raw.replace("%", "\\x").encode("ascii").decode("unicode_escape").encode("latin-1").decode()
        except UnicodeDecodeError:
            pass  # a stray "%" or invalid UTF-8: unquote keeps the one and raises on the other
    return unquote(raw, errors="strict")


def _depth_ok(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


# The decoders below are pure functions of the raw member, cached: every hop and call of a trace
# sends the same baggage, and percent-decoding is the slow part. They return (value, why-rejected).
@functools.lru_cache(maxsize=512)
def _metadata_text(raw: str) -> tuple[str | None, str | None]:
    """The decoded, checked JSON text of a metadata member (parsed afresh per use: callers mutate it)."""
    try:
        text = _unquote(raw)
        if len(text) > MAX_METADATA_JSON:
            return None, "metadata too large"
        value = _DECODER.decode(text)
        # A \ud800 escape decodes to a lone surrogate, which no exporter can encode.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError):
        return None, "metadata is not JSON"
    if not isinstance(value, dict):
        return None, "metadata is not a JSON object"
    if not _depth_ok(value, MAX_JSON_DEPTH):
        return None, "metadata nested too deeply"
    return text, None


@functools.lru_cache(maxsize=512)
def _tags(raw: str) -> tuple[tuple[str, ...], str | None]:
    try:
        decoded = _unquote(raw)
    except UnicodeDecodeError:
        return (), "tags are not UTF-8"
    tags: list[str] = []
    why = None
    for tag in decoded.split(","):
        if not tag or tag in tags:
            continue
        if len(tag) > MAX_TAG_LENGTH or has_control(tag):
            why = "bad tag"
        elif len(tags) == MAX_TAGS:
            why = "too many tags"
            break
        else:
            tags.append(tag)
    return tuple(tags), why


@functools.lru_cache(maxsize=512)
def _project(raw: str) -> tuple[str | None, str | None]:
    try:
        name = _unquote(raw)
    except UnicodeDecodeError:
        return None, "project is not UTF-8"
    if not name or len(name) > MAX_PROJECT_LENGTH or has_control(name):
        return None, "bad project name"
    return name, None


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


def parse(values: list[str]) -> Baggage:
    """Read LangSmith's members from every ``baggage`` value (repeats are one list); never raises.

    A repeated member: the last one wins, as in LangSmith's Python SDK.
    """
    header = ",".join(values)
    if not header:
        return EMPTY
    if len(header) > MAX_BAGGAGE_HEADER:
        reject("baggage", "too long")
        cut = header[:MAX_BAGGAGE_HEADER]
        header = cut[: cut.rfind(",")] if "," in cut else ""  # whole members only
    metadata: dict[str, Any] = {}
    tags: list[str] = []
    project: str | None = None
    for key, member in split_members(header):
        if key not in OURS:
            continue
        raw = member.split("=", 1)[1].split(";", 1)[0].strip() if "=" in member else ""
        if key == METADATA:
            text, why = _metadata_text(raw)
            metadata = _DECODER.decode(text) if text is not None else {}
        elif key == TAGS:
            found, why = _tags(raw)
            tags = list(found)
        else:
            project, why = _project(raw)
        if why is not None:
            reject("baggage", why)
    return Baggage(metadata, tags, project)


def _json_default(value: Any) -> Any:
    """Non-JSON values as LangSmith's SDK sends them: dates and times in ISO 8601, sets as lists, else str()."""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return list(value)
    return str(value)


# Built once: json.dumps given options builds a new encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_json_default)
_compact_json = _ENCODER.encode
_QUOTE_ASCII = {
    i: chr(i) if chr(i).isalnum() or chr(i) in "_.-~/" else f"%{i:02X}" for i in range(128)
}  # fmt: skip


@functools.lru_cache(maxsize=512)  # the same metadata/tags/project go out on every call
def _quote(text: str) -> str:
    """``urllib.parse.quote(text)``; ASCII text through one ``str.translate`` instead of a per-byte loop."""
    if text.isascii():
        return text.translate(_QUOTE_ASCII)
    # A lone surrogate cannot be UTF-8 encoded; replacing it keeps the headers flowing.
    return quote(text, errors="replace")


def encode(metadata: dict[str, Any] | None, tags: list[str] | None, project_name: str | None) -> str:
    """Our members, in LangSmith's order and escaping; a metadata object over the cap is left out."""
    items = []
    if metadata:
        try:
            text = _compact_json(metadata)
        except (TypeError, ValueError):  # e.g. a cycle: keep the headers flowing without it
            text = ""
        if text and len(text) <= MAX_METADATA_JSON:
            items.append(f"{METADATA}={_quote(text)}")
    if tags:
        items.append(f"{TAGS}={_quote(','.join(tags))}")
    if project_name:
        items.append(f"{PROJECT}={_quote(project_name)}")
    return ",".join(items)


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
    budget = MAX_BAGGAGE_HEADER - len(ours) - (1 if ours else 0)
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
