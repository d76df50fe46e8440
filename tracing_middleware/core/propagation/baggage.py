"""The W3C ``baggage`` header and LangSmith's members in it: metadata, tags and project.

LangSmith writes ``langsmith-metadata`` (percent-encoded compact JSON object), ``langsmith-tags``
(percent-encoded comma-joined list) and ``langsmith-project``. Python's SDK encodes with
``urllib.parse.quote``, JavaScript's with ``encodeURIComponent``; ``unquote`` reads both. A bad member
costs only itself.

Other vendors' members (``baggage_members``) follow the W3C Baggage Recommendation and are passed
on byte for byte, from the received header to our outgoing calls and from a request's own
``baggage`` when we add ours.

A tag that contains ``,`` is split in two on the wire, as in both LangSmith SDKs.
"""

from __future__ import annotations

import functools
import json
from datetime import date, datetime, time
from typing import Any, NamedTuple
from urllib.parse import quote, unquote

from tracing_middleware.core.propagation.baggage_members import (
    METADATA,
    OURS,
    PROJECT,
    TAGS,
    foreign,
    merge,
    split_members,
    valid_member,
)
from tracing_middleware.core.propagation.limits import (
    MAX_BAGGAGE_HEADER,
    MAX_JSON_DEPTH,
    MAX_METADATA_JSON,
    MAX_PROJECT_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    has_control,
    reject,
)

__all__ = ["Baggage", "EMPTY", "OURS", "encode", "foreign", "merge", "parse", "split_members", "valid_member"]


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
