"""``tracestate`` against the W3C Trace Context rules: grammar, limits, order, discard-whole."""

from __future__ import annotations

import pytest

from tracing_middleware import RunTree
from tracing_middleware.core.propagation import tracestate

TRACE = "12345678901234567890123456789012"
PARENT = f"00-{TRACE}-1234567890123456-00"
LCALPHA = "abcdefghijklmnopqrstuvwxyz"
KEY_ALL = LCALPHA + "0123456789_-*/"
# Printable ASCII without "," and "=" (the value grammar's every character).
VALUE_ALL = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in ",=")


def sent(*values: str, parent: str = PARENT) -> str | None:
    """What a run continuing the caller's trace sends as ``tracestate`` (None: nothing)."""
    carrier = [("traceparent", parent)] + [("tracestate", value) for value in values]
    remote = RunTree.from_headers(carrier)
    assert remote is not None
    return remote.create_child("handler").to_headers().get("tracestate")


VALID = {
    "one member": (["foo=1"], "foo=1"),
    "two members": (["foo=1,bar=2"], "foo=1,bar=2"),
    "every key character": ([f"{KEY_ALL}={VALUE_ALL}"], f"{KEY_ALL}={VALUE_ALL}"),
    "tenant@system key": ([f"{KEY_ALL}@a-z0-9_-*/={VALUE_ALL}"], f"{KEY_ALL}@a-z0-9_-*/={VALUE_ALL}"),
    "key starting with a digit in tenant@system": (["0tenant@vendor=1"], "0tenant@vendor=1"),
    "key of 256 characters": (["foo=1", "z" * 256 + "=1"], "foo=1," + "z" * 256 + "=1"),
    "tenant of 241 and system of 14": (["foo=1", "t" * 241 + "@" + "v" * 14 + "=1"], None),
    "value of 256 characters": ([f"k={'v' * 256}"], f"k={'v' * 256}"),
    "value with leading spaces kept": (["k=  v"], "k=  v"),
    "trailing space of a value is OWS": (["k=v  "], "k=v"),
    "OWS around members": (["foo=1 \t , \t bar=2, \t baz=3"], "foo=1,bar=2,baz=3"),
    "tabs and spaces around members": (["foo=1\t \t,\t \tbar=2,\t \tbaz=3"], "foo=1,bar=2,baz=3"),
    "leading OWS": ([" foo=1"], "foo=1"),
    "leading tab": (["\tfoo=1"], "foo=1"),
    "trailing tab": (["foo=1\t"], "foo=1"),
    "both sides": (["\t foo=1 \t"], "foo=1"),
    "empty members": (["foo=1,,  ,\t,bar=2,"], "foo=1,bar=2"),
    "repeated headers joined in order": (
        ["foo=1,bar=2", "rojo=1,congo=2", "baz=3"],
        "foo=1,bar=2,rojo=1,congo=2,baz=3",
    ),
    "empty header beside a valid one": (["foo=1", ""], "foo=1"),
    "empty header first": (["", "foo=1"], "foo=1"),
    "32 members over four headers": (
        [
            ",".join(f"bar{i:02d}={i:02d}" for i in range(1, 11)),
            ",".join(f"bar{i:02d}={i:02d}" for i in range(11, 21)),
            ",".join(f"bar{i:02d}={i:02d}" for i in range(21, 31)),
            "bar31=31,bar32=32",
        ],
        ",".join(f"bar{i:02d}={i:02d}" for i in range(1, 33)),
    ),
}

INVALID = {
    "space inside a key": ["foo =1"],
    "uppercase key": ["FOO=1"],
    "dot in a key": ["foo.bar=1"],
    "key starting with a digit": ["1foo=1"],
    "key starting with _": ["_foo=1"],
    "empty tenant@system system": ["foo@=1,bar=2"],
    "empty tenant": ["@foo=1,bar=2"],
    "two @ in a row": ["foo@@bar=1,bar=2"],
    "two @": ["foo@bar@baz=1,bar=2"],
    "system starting with a digit": ["foo@1bar=1"],
    "key of 257 characters": ["foo=1", "z" * 257 + "=1"],
    "tenant of 242 characters": ["foo=1", "t" * 242 + "@v=1"],
    "system of 15 characters": ["foo=1", "t@" + "v" * 15 + "=1"],
    "= in a value": ["foo=bar=baz"],
    "empty value": ["foo=,bar=3"],
    "value of 257 characters": ["k=" + "v" * 257],
    "space-only value": ["foo= "],
    "tab in a value": ["foo=a\tb"],
    "non-ASCII value": ["foo=caf\xe9"],
    "control character": ["foo=a\x7fb"],
    "member without =": ["foo"],
    "duplicate key": ["foo=1,foo=1"],
    "duplicate key, other value": ["foo=1,foo=2"],
    "duplicate key over two headers": ["foo=1", "foo=1"],
    "duplicate key over two headers, other value": ["foo=1", "foo=2"],
    "33 members": [",".join(f"bar{i:02d}={i:02d}" for i in range(1, 34))],
    "33 members over four headers": [
        ",".join(f"bar{i:02d}={i:02d}" for i in range(1, 11)),
        ",".join(f"bar{i:02d}={i:02d}" for i in range(11, 21)),
        ",".join(f"bar{i:02d}={i:02d}" for i in range(21, 31)),
        "bar31=31,bar32=32,bar33=33",
    ],
    "one bad member among good ones": ["foo=1,BAD=2,bar=3"],
}


@pytest.mark.parametrize(("values", "expected"), VALID.values(), ids=VALID.keys())
def test_valid_tracestate_is_passed_on_in_order(values: list[str], expected: str | None) -> None:
    result = sent(*values)
    if expected is None:  # only the outcome of a long key checked: kept whole, in order
        expected = ",".join(value for value in values)
    assert result == expected


@pytest.mark.parametrize("values", INVALID.values(), ids=INVALID.keys())
def test_invalid_tracestate_is_discarded_whole(values: list[str]) -> None:
    assert tracestate.parse(values) is None
    assert sent(*values) is None


@pytest.mark.parametrize("values", [[], [""], ["  "], [" , ,\t"]])
def test_empty_tracestate_is_accepted_and_not_sent(values: list[str]) -> None:
    assert sent(*values) is None


def test_header_name_in_any_case_is_read_and_misspelt_ones_are_not() -> None:
    for name in ("TraceState", "TrAcEsTaTe", "TRACESTATE"):
        remote = RunTree.from_headers([("traceparent", PARENT), (name, "foo=1")])
        assert remote is not None and remote.tracestate == "foo=1"
    for name in ("trace-state", "trace.state"):
        remote = RunTree.from_headers([("traceparent", PARENT), (name, "foo=1")])
        assert remote is not None and remote.tracestate is None


def test_tracestate_without_a_valid_traceparent_is_not_read() -> None:
    assert RunTree.from_headers({"tracestate": "foo=1"}) is None
    fresh = RunTree("new")
    assert "tracestate" not in fresh.to_headers()
    invalid_parent = {"traceparent": f"00-{'0' * 32}-1234567890123456-01", "tracestate": "foo=1"}
    assert RunTree.from_headers(invalid_parent) is None


def test_tracestate_of_another_trace_is_not_sent_with_our_trace() -> None:
    upstream = RunTree("upstream")
    headers = {"langsmith-trace": upstream.dotted_order, "traceparent": PARENT, "tracestate": "foo=1"}
    remote = RunTree.from_headers(headers)
    assert remote is not None and remote.trace_id == upstream.trace_id and remote.tracestate is None
    same = {**upstream.to_headers(), "tracestate": "foo=1"}
    remote = RunTree.from_headers(same)
    assert remote is not None and remote.tracestate == "foo=1"


def test_tracestate_travels_to_every_descendant_unchanged() -> None:
    remote = RunTree.from_headers({"traceparent": PARENT, "tracestate": "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"})
    assert remote is not None
    grandchild = remote.create_child("a").create_child("b")
    assert grandchild.to_headers()["tracestate"] == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"


def test_long_tracestate_is_cut_by_whole_members_long_ones_first() -> None:
    long_member = "big=" + "x" * 200  # over 128 characters: the first to go
    small = [f"k{i:02d}=" + "v" * 40 for i in range(10)]  # 10 x 44 + 9 = 449 characters
    kept = sent(",".join([small[0], long_member, *small[1:]]))
    assert kept == ",".join(small)
    more = [f"k{i:02d}=" + "v" * 40 for i in range(13)]  # 13 x 44 + 12 = 584: cut from the end
    kept = sent(",".join(more))
    assert kept == ",".join(more[:11])  # 11 x 44 + 10 = 494 <= 512
    assert kept is not None and len(kept) <= tracestate.PROPAGATED_LENGTH


def test_hostile_tracestate_never_raises() -> None:
    for value in ("\x00" * 100, "a=" + "\udcff", "=" * 5000, "k=v," * 6000, "\r\nx: y"):
        assert tracestate.parse([value]) is None
