"""Safe JSON for run fields: any Python value becomes bounded, valid JSON, and nothing here raises.

Inputs, outputs and metadata hold whatever the traced code passed around. ``safe_json`` turns each
into strict JSON text (no ``NaN``, ASCII only, so lone surrogates survive storage):

- ``bytes`` -> base64 text (as the LangSmith SDK sends them), or ``"<bytes len=N>"`` when too large;
- sets -> lists, tuples -> lists, dict keys -> strings;
- ``datetime``/``date``/``time`` -> ISO 8601, ``timedelta`` -> seconds, ``UUID``/``Decimal``/paths -> text;
- dataclasses -> their fields, pydantic models -> ``model_dump()``, enums -> their value,
  exceptions -> ``{"error": type, "message": text}``;
- ``NaN``/``Infinity`` -> ``"NaN"``/``"Infinity"``/``"-Infinity"``; a reference cycle -> ``"<cycle>"``;
  nesting deeper than ``MAX_DEPTH`` -> ``"<max depth>"``;
- any other object -> its ``repr`` (``"<unrepresentable T>"`` if ``repr`` fails).

Each field is capped at ``FIELD_LIMIT`` characters of JSON (64 KiB). A larger value is replaced by
``{"__truncated__": true, "size": <chars or null>, "limit": <cap>, "preview": "<start of the JSON>"}``.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import dataclasses
import datetime
import decimal
import enum
import json
import math
import pathlib
import uuid
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["FIELD_LIMIT", "MAX_DEPTH", "PREVIEW_CHARS", "encode_plain", "safe_json", "safe_text", "to_jsonable"]

FIELD_LIMIT = 64 * 1024
MAX_DEPTH = 64
PREVIEW_CHARS = 2048
_MAX_INT_BITS = 4096  # str(int) refuses huge ints (sys.set_int_max_str_digits); keep far below that


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def _make_encoder() -> Callable[[Any], str]:
    """Strict compact ASCII JSON, built once: ``json.dumps`` makes a new encoder per call with options.

    The C encoder is used without cycle checks (a cycle ends in ``RecursionError``, and the walker
    takes over), so it keeps no state and one instance serves every thread.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode
    chunks = make(None, _refuse, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, False)

    def encode(value: Any) -> str:
        return "".join(chunks(value, 0))

    return encode


_ENCODE = _make_encoder()


def encode_plain(value: Any) -> str:
    """Compact ASCII JSON of plain JSON data (no NaN); raises ``TypeError``/``ValueError`` otherwise."""
    return _ENCODE(value)


def safe_json(value: Any, *, limit: int = FIELD_LIMIT) -> str:
    """``value`` as strict JSON text of at most about ``limit`` characters. Never raises."""
    text: str | None = None
    if not _is_huge_container(value, limit):
        try:
            text = _ENCODE(value)  # the common case: already plain JSON data
        except Exception:  # not JSON data (objects, NaN, cycles, huge ints): walk it below
            text = None
        if text is not None and _too_deep(text):
            text = None  # the walker cuts it at MAX_DEPTH
    size: int | None
    if text is not None:
        size = len(text)
        overflowed = size > limit
    else:
        try:
            walker = _Walker(limit)
            text = _ENCODE(walker.walk(value, 0))
            overflowed = walker.overflowed or len(text) > limit
        except Exception:  # a hostile __eq__/__hash__/__iter__ we did not foresee
            text, overflowed = _ENCODE(_unrepresentable(value)), False
        size = None
    if overflowed:
        return _ENCODE(truncation_marker(text, size, limit))
    return text


def to_jsonable(value: Any, *, limit: int = FIELD_LIMIT) -> Any:
    """A copy of ``value`` made only of JSON types (dict, list, str, int, float, bool, None). Never raises."""
    return json.loads(safe_json(value, limit=limit))


def safe_text(value: Any, *, limit: int = FIELD_LIMIT) -> str:
    """``value`` as text that any UTF-8 store accepts, cut to ``limit`` characters. Never raises."""
    text: str
    if isinstance(value, str):
        text = str.__str__(value)  # a subclass's own methods are not trusted
    else:
        try:
            text = str.__str__(str(value))
        except Exception:
            text = _unrepresentable(value)
    if len(text) > limit:
        text = f"{text[:limit]}...<truncated {len(text) - limit} chars>"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: SQLite and files would refuse them
            text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def truncation_marker(text: str, size: int | None, limit: int) -> dict[str, Any]:
    """The stand-in for a value whose JSON exceeds ``limit``: its size (when known) and a preview."""
    return {"__truncated__": True, "size": size, "limit": limit, "preview": text[:PREVIEW_CHARS]}


def _is_huge_container(value: Any, limit: int) -> bool:
    # Encoding ten million items only to throw the text away is slow; the walker stops at the cap.
    return type(value) in _CONTAINERS and len(value) > limit // 2


_CONTAINERS = frozenset({list, tuple, dict, set, frozenset})
# Keeps brackets (as parentheses) and quotes, deletes every other ASCII character.
_SHAPE = str.maketrans("[]{}", "()()", "".join(chr(c) for c in range(128) if chr(c) not in '[]{}"'))


def _too_deep(text: str) -> bool:
    """Whether JSON text (ASCII, from the encoder) nests containers deeper than ``MAX_DEPTH``.

    The C encoder recurses as deep as the interpreter lets it (about 1,000 levels before Python 3.12,
    many thousands after), so its output is checked here, with string methods only: escaped quotes go,
    everything but brackets and quotes goes, the brackets inside strings go, and then each pass drops
    the innermost pairs of brackets, one level at a time.
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:  # fewer containers than levels: nothing to check
        return False
    if '\\"' in text:  # an escaped quote, or an escaped backslash before a closing one
        text = text.replace("\\\\", "").replace('\\"', "")
    shape = text.translate(_SHAPE).replace('""', "")  # two adjacent quotes: an empty string, or a gap between two
    if '"' in shape:  # strings holding brackets: drop what lies between an opening and a closing quote
        shape = "".join(shape.split('"')[::2])
    for _ in range(MAX_DEPTH):
        if not shape:
            return False
        shape = shape.replace("()", "")
    return bool(shape)


def _unrepresentable(value: Any) -> str:
    try:
        name = type(value).__name__
    except Exception:
        name = "object"
    return f"<unrepresentable {name}>"


class _Walker:
    """Copies a value into JSON types within a budget of characters; past it, it stops early."""

    def __init__(self, limit: int) -> None:
        self.budget = limit
        self.overflowed = False
        self.path: set[int] = set()  # ids of the containers being walked: a repeat is a cycle

    def spend(self, chars: int) -> bool:
        self.budget -= chars
        if self.budget < 0:
            self.overflowed = True
        return not self.overflowed

    def walk(self, value: Any, depth: int) -> Any:
        if self.overflowed:
            return "..."
        if value is None or isinstance(value, bool):
            self.spend(5)
            return value
        if isinstance(value, int) and not isinstance(value, enum.Enum):
            if value.bit_length() > _MAX_INT_BITS:
                return self.text(f"<int bits={value.bit_length()}>")
            self.spend(20)
            return int(value)
        if isinstance(value, float):
            self.spend(24)
            if math.isnan(value):
                return "NaN"
            if math.isinf(value):
                return "Infinity" if value > 0 else "-Infinity"
            return float(value)
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self.binary(value)
        if depth >= MAX_DEPTH:
            return self.text("<max depth>")
        try:
            if isinstance(value, (Mapping, list, tuple, set, frozenset, collections.deque)):
                return self.container(value, depth)
            return self.other(value, depth)
        except Exception:  # a hostile items()/__iter__/property costs only this value
            return self.text(_unrepresentable(value))

    def text(self, value: str) -> str:
        if not self.spend(len(value) + 2):
            keep = max(0, self.budget + len(value))
            return str.__str__(value[:keep])
        return str.__str__(value)  # a str subclass's own __str__ is not trusted

    def binary(self, value: bytes | bytearray | memoryview) -> str:
        size = value.nbytes if isinstance(value, memoryview) else len(value)
        if size * 4 // 3 + 8 > self.budget:  # checked first: a huge buffer is never copied
            return self.text(f"<bytes len={size}>")
        return self.text(base64.b64encode(bytes(value)).decode("ascii"))

    def container(self, value: Any, depth: int) -> Any:
        key = id(value)
        if key in self.path:
            return self.text("<cycle>")
        self.path.add(key)
        try:
            if isinstance(value, Mapping):
                out: dict[str, Any] = {}
                for k, v in value.items():
                    if self.overflowed:
                        break
                    name = self.key(k)
                    self.spend(len(name) + 4)
                    out[name] = self.walk(v, depth + 1)
                return out
            items = list(value)
            if isinstance(value, (set, frozenset)):
                with contextlib.suppress(Exception):  # mixed types: keep iteration order
                    items.sort()
            result = []
            for item in items:
                if self.overflowed:
                    break
                self.spend(1)
                result.append(self.walk(item, depth + 1))
            return result
        finally:
            self.path.discard(key)

    def key(self, key: Any) -> str:
        if isinstance(key, str):
            return str.__str__(key)
        if key is None or isinstance(key, (bool, int, float)):
            return _ENCODE(self.walk(key, MAX_DEPTH)).strip('"')  # as json.dumps would: 1, true, null
        return self.repr(key)

    def other(self, value: Any, depth: int) -> Any:
        if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
            return self.text(value.isoformat())
        if isinstance(value, datetime.timedelta):
            return self.walk(value.total_seconds(), depth)
        if isinstance(value, (uuid.UUID, decimal.Decimal, pathlib.PurePath)):
            return self.text(str(value))
        if isinstance(value, enum.Enum):
            return self.walk(value.value, depth + 1)
        if isinstance(value, BaseException):
            return {"error": self.text(type(value).__name__), "message": self.text(self.str(value))}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
            return self.nested(value, fields, depth)
        dump = getattr(value, "model_dump", None)  # pydantic v2 models
        if callable(dump) and not isinstance(value, type):
            try:
                dumped = dump()
            except Exception:
                return self.repr(value)
            return self.nested(value, dumped, depth)
        return self.repr(value)

    def nested(self, owner: Any, content: Any, depth: int) -> Any:
        # The object itself goes on the path: a dataclass holding itself is a cycle too.
        key = id(owner)
        if key in self.path:
            return self.text("<cycle>")
        self.path.add(key)
        try:
            return self.walk(content, depth + 1)
        finally:
            self.path.discard(key)

    def repr(self, value: Any) -> str:
        try:
            text = repr(value)
        except Exception:
            text = _unrepresentable(value)
        return self.text(text if isinstance(text, str) else _unrepresentable(value))

    def str(self, value: Any) -> str:
        try:
            return str(value)
        except Exception:
            return _unrepresentable(value)
