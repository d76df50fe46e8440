"""Property-based checks: any carrier is read without raising, and every valid header round-trips."""

from __future__ import annotations

import contextvars
import json
import string
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tracing_middleware import RunTree, inject
from tracing_middleware.core.propagation import baggage
from tracing_middleware.core.propagation.carriers import read_headers
from tracing_middleware.core.propagation.limits import MAX_JSON_DEPTH, MAX_METADATA_JSON

# Modest counts keep the suite fast; no example database is written into the work tree.
FEW = settings(
    max_examples=200, deadline=None, database=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

NAMES = ["langsmith-trace", "baggage", "traceparent", "tracestate"]
VALID_ORDER = "20240101T120000123456Z0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
VALID_PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
VALID_BAGGAGE = "userId=alice,langsmith-metadata=%7B%22a%22%3A1%7D,langsmith-tags=a%2Cb,langsmith-project=p"

# -- strategies ---------------------------------------------------------------------------------------

# Characters that matter to the parsers, plus look-alikes (non-ASCII digits, fullwidth, surrogates).
TRICKY = st.sampled_from(
    [*"0123456789abcdefABCDEF-.TZ%,=;: \t\r\n\x00\x7f\xff", "\u0662", "\uff12", "\ud800", "\u00e9"]
)
tricky_text = st.text(alphabet=st.one_of(TRICKY, st.characters()), max_size=80)


@st.composite
def mutated(draw: st.DrawFn, valid: str) -> str:
    """A valid header value with a random slice replaced by tricky text."""
    start = draw(st.integers(0, len(valid)))
    end = draw(st.integers(start, len(valid)))
    return valid[:start] + draw(tricky_text) + valid[end:]


# Right shape, hostile content: look-alike digits in stamps, tricky text in our baggage members.
hostile_order = st.lists(
    st.tuples(
        st.text(alphabet=st.sampled_from("0123456789\u0662\uff12"), min_size=8, max_size=8),
        st.text(alphabet=st.sampled_from("0123456789\u0662\uff12"), min_size=7, max_size=12),
        st.uuids().map(str),
    ).map(lambda p: f"{p[0]}T{p[1]}Z{p[2]}"),
    min_size=1,
    max_size=3,
).map(".".join)
hostile_member = st.tuples(st.sampled_from([*baggage.OURS, "userId"]), tricky_text).map("=".join)
hostile_baggage = st.lists(st.one_of(hostile_member, tricky_text), max_size=4).map(",".join)

header_value = st.one_of(
    tricky_text,
    hostile_order,
    hostile_baggage,
    mutated(VALID_ORDER),
    mutated(VALID_ORDER + "." + VALID_ORDER),
    mutated(VALID_PARENT),
    mutated(VALID_BAGGAGE),
    st.binary(max_size=80),
)
header_name = st.one_of(
    st.sampled_from(NAMES + [n.upper() for n in NAMES] + [n.title() for n in NAMES]),
    st.text(max_size=20),
)
any_value = st.one_of(header_value, st.lists(header_value, max_size=3), st.none(), st.integers())
carriers = st.one_of(
    st.dictionaries(st.one_of(header_name, header_name.map(lambda n: n.encode("utf-8"))), any_value, max_size=6),
    st.lists(st.tuples(header_name.map(lambda n: n.encode("utf-8")), st.binary(max_size=80)), max_size=6),
    st.lists(st.tuples(header_name, header_value), max_size=6),
    st.dictionaries(
        st.sampled_from(["HTTP_LANGSMITH_TRACE", "HTTP_BAGGAGE", "HTTP_TRACEPARENT", "REQUEST_METHOD"]), header_value
    ),
    st.builds(lambda h: {"type": "http", "headers": h}, st.lists(st.tuples(st.binary(max_size=20), st.binary()))),
    st.text(),
    st.binary(),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=4), max_size=5),
)


def assert_sendable(run: RunTree) -> None:
    child = run.create_child("next")
    for value in child.to_headers().values():
        assert value.isascii() and value.isprintable()
    pairs: list[Any] = [(b"host", b"x")]
    inject(pairs, child)
    assert RunTree.from_headers(pairs) is not None


@FEW
@given(carriers)
def test_any_carrier_never_raises(carrier: Any) -> None:
    read_headers(carrier)
    run = RunTree.from_headers(carrier)
    if run is not None:
        assert_sendable(run)


@FEW
@given(st.one_of(hostile_order, mutated(VALID_ORDER)), st.one_of(hostile_baggage, header_value))
@example(trace="".join(chr(0x0660 + int(c)) if c.isdigit() else c for c in VALID_ORDER), bag="")
@example(trace=VALID_ORDER, bag="langsmith-project=p\ud800")
@example(trace=VALID_ORDER, bag="langsmith-metadata=%7B%22a%22%3A%22%5Cud800%22%7D")
@example(trace=VALID_ORDER, bag="langsmith-metadata=%7B%22a%22%3A1e999%7D")
def test_any_value_of_our_headers_never_raises(trace: str, bag: str) -> None:
    run = RunTree.from_headers({"langsmith-trace": trace, "baggage": bag})
    if run is not None:
        assert_sendable(run)


# -- round trips --------------------------------------------------------------------------------------

_CLEAN = st.characters(exclude_categories=("Cc", "Cs"))
tags = st.lists(st.text(alphabet=_CLEAN.filter(lambda c: c != ","), min_size=1, max_size=40), unique=True, max_size=10)
project = st.text(alphabet=_CLEAN, min_size=1, max_size=60)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
metadata = st.dictionaries(st.text(max_size=10), json_value, max_size=5)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _fits(value: dict[str, Any]) -> bool:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return _depth(value) <= MAX_JSON_DEPTH and len(text) <= MAX_METADATA_JSON


stamp = st.builds(
    lambda moment, digits: moment.strftime("%Y%m%dT%H%M%S") + digits + "Z",
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 12, 31)),
    st.text(alphabet=string.digits, min_size=1, max_size=6),
)
segment = st.tuples(stamp, st.uuids().map(str))
orders = st.lists(segment, min_size=1, max_size=10)


def _us(stamp: str) -> int:
    moment = datetime.strptime(stamp[:15], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
    whole = int((moment - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds())
    return whole * 1_000_000 + int(stamp[15:-1].ljust(6, "0"))


def _js_quote(text: str) -> str:
    """``encodeURIComponent``, as LangSmith's JavaScript SDK escapes baggage values."""
    return quote(text, safe="!'()*~")


@FEW
@given(orders, tags, metadata.filter(_fits), st.one_of(st.none(), project), st.sampled_from([quote, _js_quote]))
def test_valid_headers_round_trip(
    segments: list[tuple[str, str]], tag_list: list[str], meta: dict[str, Any], name: str | None, escape: Any
) -> None:
    order = ".".join(s + u for s, u in segments)
    members = []
    if meta:
        members.append("langsmith-metadata=" + escape(json.dumps(meta, separators=(",", ":"), ensure_ascii=False)))
    if tag_list:
        members.append("langsmith-tags=" + escape(",".join(tag_list)))
    if name:
        members.append("langsmith-project=" + escape(name))
    run = RunTree.from_headers({"langsmith-trace": order, "baggage": ",".join(members)})
    assert run is not None
    assert run.dotted_order == order
    assert (run.trace_id, run.id) == (segments[0][1], segments[-1][1])
    assert run.parent_run_id == (segments[-2][1] if len(segments) > 1 else None)
    assert run.start_us == _us(segments[-1][0])
    assert (run.tags, run.metadata, run.project_name) == (tag_list, meta, name)

    # The next hop reads back what we send on.
    child = run.create_child("next")
    again = RunTree.from_headers(child.to_headers())
    assert again is not None
    assert (again.id, again.trace_id, again.dotted_order) == (child.id, child.trace_id, child.dotted_order)
    assert (again.tags, again.metadata, again.project_name) == (tag_list, meta, name)
    assert again.start_us == child.start_us >= run.start_us


@FEW
@given(tags, metadata.filter(_fits), st.one_of(st.none(), project))
def test_encoder_round_trips(tag_list: list[str], meta: dict[str, Any], name: str | None) -> None:
    assert baggage.parse([baggage.encode(meta, tag_list, name)]) == (meta, tag_list, name)


@settings(max_examples=60, deadline=None, database=None, derandomize=True)
@given(tags, metadata.filter(_fits), project)
def test_the_langsmith_sdk_reads_what_we_send(tag_list: list[str], meta: dict[str, Any], name: str) -> None:
    run_trees = pytest.importorskip("langsmith.run_trees")
    ours = RunTree("root", tags=tag_list, metadata=meta, project_name=name).create_child("call")
    # langsmith's from_headers also sets a context variable of its own: keep that out of later tests.
    theirs = contextvars.copy_context().run(run_trees.RunTree.from_headers, ours.to_headers())
    assert (str(theirs.id), str(theirs.trace_id), theirs.dotted_order) == (ours.id, ours.trace_id, ours.dotted_order)
    assert (sorted(theirs.tags or []), theirs.metadata, theirs.session_name) == (sorted(tag_list), meta, name)


@settings(max_examples=60, deadline=None, database=None, derandomize=True)
@given(tags, metadata.filter(_fits), project)
def test_we_read_what_the_langsmith_sdk_sends(tag_list: list[str], meta: dict[str, Any], name: str) -> None:
    run_trees = pytest.importorskip("langsmith.run_trees")
    theirs = run_trees.RunTree(name="root", tags=tag_list, extra={"metadata": meta}, project_name=name)
    ours = RunTree.from_headers(theirs.to_headers())
    assert ours is not None
    assert (ours.id, ours.dotted_order) == (str(theirs.id), theirs.dotted_order)
    assert (ours.tags, ours.metadata, ours.project_name) == (tag_list, meta, name)


@FEW
@given(st.uuids(version=4), st.uuids())
def test_traceparent_round_trips(trace: uuid.UUID, run: uuid.UUID) -> None:
    w3c_trace, w3c_span = trace.hex, run.hex[16:]
    if w3c_span == "0" * 16:
        return
    remote = RunTree.from_headers({"traceparent": f"00-{w3c_trace}-{w3c_span}-01"})
    assert remote is not None and remote.trace_id == str(trace)
    child = remote.create_child("next")
    assert child.parent_span_id == w3c_span
    assert child.to_headers()["traceparent"] == f"00-{w3c_trace}-{child.span_id}-01"
