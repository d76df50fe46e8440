"""safe_json / to_jsonable / safe_text: hostile values become bounded, strict JSON; nothing raises."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import math
import pathlib
import uuid
from typing import Any

import pytest

from tracing_middleware.exporters.serialize import FIELD_LIMIT, MAX_DEPTH, safe_json, safe_text, to_jsonable


def strict_loads(text: str) -> Any:
    """json.loads that refuses NaN/Infinity, as strict JSON parsers (and LangSmith's backend) do."""

    def refuse(constant: str) -> Any:
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque thing>"


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: Any = None


def test_plain_json_is_unchanged_and_compact() -> None:
    value = {"a": [1, 2.5, None, True, "x"], "b": {"c": "d"}}
    text = safe_json(value)
    assert text == '{"a":[1,2.5,null,true,"x"],"b":{"c":"d"}}'
    assert strict_loads(text) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Opaque(), "<Opaque thing>"),
        (BadRepr(), "<unrepresentable BadRepr>"),
        (b"\x00\xffhi", "AP9oaQ=="),
        (bytearray(b"ab"), "YWI="),
        ({3, 1, 2}, [1, 2, 3]),
        (frozenset({"b", "a"}), ["a", "b"]),
        ((1, 2), [1, 2]),
        (datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc), "2024-05-01T12:00:00+00:00"),
        (datetime.date(2024, 5, 1), "2024-05-01"),
        (datetime.timedelta(seconds=1.5), 1.5),
        (uuid.UUID("12345678-1234-5678-1234-567812345678"), "12345678-1234-5678-1234-567812345678"),
        (decimal.Decimal("1.10"), "1.10"),
        (pathlib.PurePosixPath("/a/b"), "/a/b"),
        (Color.RED, "red"),
        (Point(1, [2]), {"x": 1, "y": [2]}),
        (ValueError("bad"), {"error": "ValueError", "message": "bad"}),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (-math.inf, "-Infinity"),
        ({1: "a", None: "b", False: "c", 2.5: "d"}, {"1": "a", "null": "b", "false": "c", "2.5": "d"}),
        ({(1, 2): "t"}, {"(1, 2)": "t"}),
    ],
)
def test_non_json_values_get_a_safe_form(value: Any, expected: Any) -> None:
    text = safe_json({"v": value})
    assert strict_loads(text) == {"v": expected}
    assert to_jsonable({"v": value}) == {"v": expected}


def test_nan_inside_containers() -> None:
    assert strict_loads(safe_json([1.0, float("nan"), {"x": float("-inf")}])) == [1.0, "NaN", {"x": "-Infinity"}]


def test_cycles_become_markers() -> None:
    items: list[Any] = [1]
    items.append(items)
    mapping: dict[str, Any] = {"a": 1}
    mapping["self"] = mapping
    point = Point(1)
    point.y = point
    assert strict_loads(safe_json(items)) == [1, "<cycle>"]
    assert strict_loads(safe_json(mapping)) == {"a": 1, "self": "<cycle>"}
    assert strict_loads(safe_json(point)) == {"x": 1, "y": "<cycle>"}


def test_shared_references_are_not_cycles() -> None:
    shared = {"k": 1}
    assert strict_loads(safe_json([shared, shared, Opaque()])) == [{"k": 1}, {"k": 1}, "<Opaque thing>"]


def test_deep_nesting_is_cut() -> None:
    deep: list[Any] = []
    node = deep
    for _ in range(5000):  # deeper than the interpreter's recursion limit
        inner: list[Any] = []
        node.append(inner)
        node = inner
    result = strict_loads(safe_json(deep))
    depth = 0
    while isinstance(result, list):
        result = result[0]
        depth += 1
    assert result == "<max depth>"
    assert depth == MAX_DEPTH


def nested(depth: int, leaf: Any) -> Any:
    """``depth`` containers, alternating lists and dicts, around ``leaf``."""
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {'k"[{\\': value}
    return value


def depth_of(value: Any) -> int:
    depth = 0
    while isinstance(value, (list, dict)):
        value = value[0] if isinstance(value, list) else next(iter(value.values()))
        depth += 1
    return depth


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 200, 900])
def test_nesting_the_encoder_accepts_is_cut_too(depth: int) -> None:
    # Plain JSON data shallower than the interpreter's recursion limit: the C encoder takes it whole.
    result = strict_loads(safe_json(nested(depth, "leaf")))
    assert depth_of(result) == MAX_DEPTH
    inner = result
    for _ in range(MAX_DEPTH):
        inner = inner[0] if isinstance(inner, list) else inner['k"[{\\']
    assert inner == "<max depth>"


@pytest.mark.parametrize("leaf", ["]]]}}}", '\\"]]', "[[[{{{", 1.5, None])
def test_nesting_up_to_the_limit_is_kept_whatever_the_strings_hold(leaf: Any) -> None:
    value = {"wide": [nested(MAX_DEPTH - 2, leaf) for _ in range(3)], "brackets": "[" * 200}
    assert strict_loads(safe_json(value)) == value
    assert strict_loads(safe_json(nested(MAX_DEPTH, leaf))) == nested(MAX_DEPTH, leaf)


def test_ten_megabyte_string_is_truncated_with_marker() -> None:
    text = safe_json({"big": "x" * 10_000_000})
    assert len(text) < FIELD_LIMIT
    marker = strict_loads(text)
    assert marker["__truncated__"] is True
    assert marker["limit"] == FIELD_LIMIT
    assert marker["size"] > 10_000_000
    assert marker["preview"].startswith('{"big":"xxxx')


def test_huge_value_needing_the_walker_is_truncated() -> None:
    text = safe_json({"objects": [Opaque()] * 1_000_000, "blob": "y" * 10_000_000})
    marker = strict_loads(text)
    assert marker["__truncated__"] is True
    assert marker["size"] is None  # the walk stopped at the cap: the full size was never computed
    assert marker["preview"].startswith('{"objects":["<Opaque thing>"')
    assert len(text) < FIELD_LIMIT


def test_large_bytes_are_described_not_encoded() -> None:
    assert strict_loads(safe_json({"b": b"\x01" * 1_000_000})) == {"b": "<bytes len=1000000>"}


def test_huge_int_is_described() -> None:
    assert strict_loads(safe_json({"n": 10**5000})) == {"n": "<int bits=16610>"}


def test_lone_surrogates_survive_as_escapes() -> None:
    text = safe_json({"s": "bad \ud800 char", "é": "ü"})
    assert text.isascii()
    assert strict_loads(text) == {"s": "bad \ud800 char", "é": "ü"}


def test_custom_limit() -> None:
    marker = strict_loads(safe_json(list(range(1000)), limit=100))
    assert marker["__truncated__"] is True
    assert marker["limit"] == 100
    assert strict_loads(safe_json([1, 2], limit=100)) == [1, 2]


def test_pydantic_models_use_model_dump() -> None:
    pydantic = pytest.importorskip("pydantic", reason="pydantic is not installed")

    class User(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        name: str
        tags: set[str]

    assert strict_loads(safe_json({"user": User(name="ann", tags={"b", "a"})})) == {
        "user": {"name": "ann", "tags": ["a", "b"]}
    }


def test_objects_that_raise_everywhere_still_serialize() -> None:
    class Evil(dict):  # type: ignore[type-arg]
        def items(self) -> Any:
            raise RuntimeError("no items")

        def __iter__(self) -> Any:
            raise RuntimeError("no iteration")

    class EvilModel:
        def model_dump(self) -> Any:
            raise RuntimeError("cannot dump")

        def __repr__(self) -> str:
            return "EvilModel()"

    evil = Evil(a=1)
    assert strict_loads(safe_json({"e": evil, "o": Opaque()})) == {"e": "<unrepresentable Evil>", "o": "<Opaque thing>"}
    assert strict_loads(safe_json(EvilModel())) == "EvilModel()"


def test_safe_text() -> None:
    assert safe_text("plain") == "plain"
    assert safe_text(42) == "42"
    assert safe_text(BadRepr()) == "<unrepresentable BadRepr>"
    assert safe_text("a\ud800b") == "a?b"
    cut = safe_text("z" * 100, limit=10)
    assert cut == "zzzzzzzzzz...<truncated 90 chars>"
    assert safe_text("é\udfff" * 3).encode("utf-8") == "é?".encode() * 3
