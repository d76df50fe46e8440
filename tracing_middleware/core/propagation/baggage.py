"""The W3C ``baggage`` header and LangSmith's members in it: metadata, tags and project.

LangSmith writes ``langsmith-metadata`` (percent-encoded compact JSON object), ``langsmith-tags``
(percent-encoded comma-joined list) and ``langsmith-project``. Python's SDK encodes with
``urllib.parse.quote``, JavaScript's with ``encodeURIComponent``; ``unquote`` reads both. A bad member
costs only itself; members of other vendors are kept when ours are written.

A tag that contains ``,`` is split in two on the wire, as in both LangSmith SDKs.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple
from urllib.parse import quote, unquote

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


def _metadata(raw: str) -> dict[str, Any] | None:
    text = unquote(raw, errors="strict")
    if len(text) > MAX_METADATA_JSON:
        reject("baggage", "metadata too large")
        return None
    value = json.loads(text, parse_constant=_no_constants)
    if not isinstance(value, dict):
        reject("baggage", "metadata is not a JSON object")
        return None
    if not _depth_ok(value, MAX_JSON_DEPTH):
        reject("baggage", "metadata nested too deeply")
        return None
    return value


def _tags(raw: str) -> list[str]:
    tags: list[str] = []
    for tag in unquote(raw, errors="strict").split(","):
        if tag and len(tag) <= MAX_TAG_LENGTH and not has_control(tag) and tag not in tags:
            if len(tags) == MAX_TAGS:
                reject("baggage", "too many tags")
                break
            tags.append(tag)
    return tags


def _project(raw: str) -> str | None:
    name = unquote(raw, errors="strict")
    if not name or len(name) > MAX_PROJECT_LENGTH or has_control(name):
        reject("baggage", "bad project name")
        return None
    return name


def split_members(header: str) -> list[tuple[str, str]]:
    """``(key, raw member)`` for each list member, properties kept in the raw member; blanks dropped."""
    members = []
    for member in header.split(","):
        member = member.strip()
        if member:
            key = member.split("=", 1)[0].strip()
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
        header = header[:MAX_BAGGAGE_HEADER].rsplit(",", 1)[0]  # whole members only
    metadata: dict[str, Any] = {}
    tags: list[str] = []
    project: str | None = None
    for key, member in split_members(header):
        if key not in OURS:
            continue
        raw = member.split("=", 1)[1].split(";", 1)[0].strip() if "=" in member else ""
        try:
            if key == METADATA:
                metadata = _metadata(raw) or {}
            elif key == TAGS:
                tags = _tags(raw)
            else:
                project = _project(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            reject("baggage", f"bad {key} member")
    return Baggage(metadata, tags, project)


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def encode(metadata: dict[str, Any] | None, tags: list[str] | None, project_name: str | None) -> str:
    """Our members, in LangSmith's order and escaping; a metadata object over the cap is left out."""
    items = []
    if metadata:
        try:
            text = _compact_json(metadata)
        except (TypeError, ValueError):  # e.g. a cycle: keep the headers flowing without it
            text = ""
        if text and len(text) <= MAX_METADATA_JSON:
            items.append(f"{METADATA}={quote(text)}")
    if tags:
        items.append(f"{TAGS}={quote(','.join(tags))}")
    if project_name:
        items.append(f"{PROJECT}={quote(project_name)}")
    return ",".join(items)


def merge(existing: list[str], ours: str) -> str:
    """One baggage value: the other vendors' members of ``existing``, then ours."""
    kept = [member for values in existing for key, member in split_members(values) if key not in OURS]
    if ours:
        kept.append(ours)
    return ",".join(kept)
