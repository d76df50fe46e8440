"""W3C Trace Context and Baggage through real services: FastAPI+httpx, Flask+requests, Django+requests, aiohttp.

Each case sends crafted headers to a service (see ``conftest.py``) and checks what its outbound
call carried: the rules of ``tests/core/test_w3c_*.py``, end to end through a real server, the
framework adapter and the patched client (for aiohttp, also an explicit ``TracingTraceConfig``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import pytest

TRACE = "12345678901234567890123456789012"
SPAN = "1234567890123456"
VALID = f"00-{TRACE}-{SPAN}-01"
NOT_SAMPLED = f"00-{TRACE}-{SPAN}-00"
OUT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
KEY_ALL = "abcdefghijklmnopqrstuvwxyz0123456789_-*/"
VALUE_ALL = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in ",=")  # leading space kept
MEMBERS_32 = [f"bar{i:02d}={i:02d}" for i in range(1, 33)]


def traceparent(call: dict[str, list[str]]) -> tuple[str, str, int]:
    """The one ``traceparent`` an outbound call carried, as (trace id, parent id, flags)."""
    values = call.get("traceparent", [])
    assert len(values) == 1, values
    match = OUT.fullmatch(values[0])
    assert match is not None, values
    return match.group(1), match.group(2), int(match.group(3), 16)


def tracestate(call: dict[str, list[str]]) -> str | None:
    values = call.get("tracestate")
    assert values is None or len(values) == 1, values
    return values[0] if values else None


CONTINUED = {
    "valid": [("traceparent", VALID)],
    "name in mixed case": [("TrAcEpArEnT", VALID)],
    "name in upper case": [("TRACEPARENT", VALID)],
    "future version": [("traceparent", f"cc-{TRACE}-{SPAN}-01")],
    "future version with more fields": [("traceparent", f"cc-{TRACE}-{SPAN}-01-what-the-future-will-be-like")],
    "leading OWS": [("traceparent", "\t " + VALID)],
    "trailing OWS": [("traceparent", VALID + " \t")],
    "the same traceparent twice": [("traceparent", VALID), ("traceparent", VALID)],
}

RESTARTED = {
    "two different traceparent headers": [
        ("traceparent", f"00-{TRACE[:-1]}1-{SPAN}-01"),
        ("traceparent", VALID),
    ],
    "misspelt name": [("trace-parent", VALID)],
    "name with a dot": [("trace.parent", VALID)],
    "version with an illegal first character": [("traceparent", f".0-{TRACE}-{SPAN}-01")],
    "version with an illegal second character": [("traceparent", f"0.-{TRACE}-{SPAN}-01")],
    "trace id with an illegal character": [("traceparent", f"00-.{TRACE[1:]}-{SPAN}-01")],
    "trace id too short": [("traceparent", f"00-{TRACE[:-1]}-{SPAN}-01")],
    "parent id with an illegal character": [("traceparent", f"00-{TRACE}-{SPAN[:-1]}.-01")],
    "parent id too long": [("traceparent", f"00-{TRACE}-{SPAN}7-01")],
    "flags too short": [("traceparent", f"00-{TRACE}-{SPAN}-1")],
    "version 00 with a fifth field": [("traceparent", VALID + "-what-the-future-will-be-like")],
    "version 00 with a trailing character": [("traceparent", VALID + ".")],
    "future version, flags not followed by -": [("traceparent", f"cc-{TRACE}-{SPAN}-01.future")],
    "version ff": [("traceparent", f"ff-{TRACE}-{SPAN}-01")],
    "version too long": [("traceparent", f"000-{TRACE}-{SPAN}-01")],
    "version too short": [("traceparent", f"0-{TRACE}-{SPAN}-01")],
    "uppercase trace id": [("traceparent", f"00-{TRACE.replace('1', 'A')}-{SPAN}-01")],
    "all-zero trace id": [("traceparent", f"00-{'0' * 32}-{SPAN}-01")],
    "trace id too long": [("traceparent", f"00-{TRACE}3-{SPAN}-01")],
    "all-zero parent id": [("traceparent", f"00-{TRACE}-{'0' * 16}-01")],
    "parent id too short": [("traceparent", f"00-{TRACE}-{SPAN[:-1]}-01")],
    "flags too long": [("traceparent", f"00-{TRACE}-{SPAN}-001")],
    "flags with an illegal character": [("traceparent", f"00-{TRACE}-{SPAN}-.0")],
}


@pytest.mark.parametrize("headers", CONTINUED.values(), ids=CONTINUED.keys())
def test_valid_traceparent_is_continued(forwarded: Any, headers: list[tuple[str, str]]) -> None:
    (call,) = forwarded(headers)
    trace_id, parent_id, flags = traceparent(call)
    assert trace_id == TRACE and parent_id != SPAN and flags == 0x01


@pytest.mark.parametrize("headers", RESTARTED.values(), ids=RESTARTED.keys())
def test_invalid_traceparent_restarts_the_trace(forwarded: Any, headers: list[tuple[str, str]]) -> None:
    (call,) = forwarded([*headers, ("tracestate", "foo=1")])
    trace_id, _, flags = traceparent(call)
    assert trace_id not in (TRACE, f"{TRACE[:-1]}1", "0" * 32)
    assert flags == 0x03  # a trace started here: random trace id, sampled
    assert tracestate(call) is None  # the old trace's tracestate is not carried into the new one


def test_no_traceparent_starts_a_trace_with_random_flag(forwarded: Any) -> None:
    calls = forwarded([], n=3)
    parsed = [traceparent(call) for call in calls]
    assert len({trace_id for trace_id, _, _ in parsed}) == 1
    assert len({parent_id for _, parent_id, _ in parsed}) == 3
    assert all(flags == 0x03 for _, _, flags in parsed)
    assert all(tracestate(call) is None for call in calls)


def test_every_call_after_an_invalid_traceparent_is_in_one_new_trace(forwarded: Any) -> None:
    calls = forwarded([("traceparent", f"00-{'0' * 32}-{SPAN}-01")], n=3)
    parsed = [traceparent(call) for call in calls]
    assert len({trace_id for trace_id, _, _ in parsed}) == 1 and parsed[0][0] != "0" * 32
    assert len({parent_id for _, parent_id, _ in parsed}) == 3


def test_every_call_continues_the_trace_with_its_own_parent_id(forwarded: Any) -> None:
    calls = forwarded([("traceparent", VALID)], n=3)
    parsed = [traceparent(call) for call in calls]
    assert {trace_id for trace_id, _, _ in parsed} == {TRACE}
    assert len({parent_id for _, parent_id, _ in parsed}) == 3


@pytest.mark.parametrize(("flags", "expected"), [("00", 0x00), ("02", 0x02), ("03", 0x03), ("fd", 0x01)])
def test_sampled_and_random_flags_are_honoured(forwarded: Any, flags: str, expected: int) -> None:
    (call,) = forwarded([("traceparent", f"00-{TRACE}-{SPAN}-{flags}")])
    assert traceparent(call)[2] == expected


TRACESTATE_KEPT = {
    "two members": (["foo=1,bar=2"], "foo=1,bar=2"),
    "name in mixed case": (["foo=1"], "foo=1"),
    "repeated headers, in order": (["foo=1,bar=2", "rojo=1,congo=2", "baz=3"], "foo=1,bar=2,rojo=1,congo=2,baz=3"),
    "empty header beside a valid one": (["foo=1", ""], "foo=1"),
    "OWS around members": (["foo=1 \t , \t bar=2, \t baz=3"], "foo=1,bar=2,baz=3"),
    "tenant@system at its limits": (
        ["foo=1", "t" * 241 + "@" + "v" * 14 + "=1"],
        "foo=1," + "t" * 241 + "@" + "v" * 14 + "=1",
    ),
    "key of 256 characters": (["foo=1", "z" * 256 + "=1"], "foo=1," + "z" * 256 + "=1"),
    "empty header first": (["", "foo=1"], "foo=1"),
    "every allowed character": ([f"{KEY_ALL}={VALUE_ALL}"], f"{KEY_ALL}={VALUE_ALL}"),
    "every allowed character, tenant@system": (
        [f"{KEY_ALL}@a-z0-9_-*/={VALUE_ALL}"],
        f"{KEY_ALL}@a-z0-9_-*/={VALUE_ALL}",
    ),
    "32 members": ([",".join(MEMBERS_32[:16]), ",".join(MEMBERS_32[16:])], ",".join(MEMBERS_32)),
}

TRACESTATE_DISCARDED = {
    "duplicate key": ["foo=1,foo=2"],
    "duplicate key over two headers": ["foo=1", "foo=1"],
    "uppercase key": ["FOO=1"],
    "space in a key": ["foo =1"],
    "dot in a key": ["foo.bar=1"],
    "empty system": ["foo@=1,bar=2"],
    "two @": ["foo@bar@baz=1,bar=2"],
    "empty tenant": ["@foo=1,bar=2"],
    "two @ in a row": ["foo@@bar=1,bar=2"],
    "tenant of 242 characters": ["foo=1", "t" * 242 + "@v=1"],
    "duplicate key, same value": ["foo=1,foo=1"],
    "duplicate key over two headers, other value": ["foo=1", "foo=2"],
    "key of 257 characters": ["foo=1", "z" * 257 + "=1"],
    "system of 15 characters": ["foo=1", "t@" + "v" * 15 + "=1"],
    "= in a value": ["foo=bar=baz"],
    "empty value": ["foo=,bar=3"],
    "33 members": [",".join(MEMBERS_32), "bar33=33"],
}


@pytest.mark.parametrize(("values", "expected"), TRACESTATE_KEPT.values(), ids=TRACESTATE_KEPT.keys())
def test_valid_tracestate_is_passed_on(forwarded: Any, values: list[str], expected: str) -> None:
    name = "TrAcEsTaTe" if values == ["foo=1"] else "tracestate"
    (call,) = forwarded([("traceparent", NOT_SAMPLED)] + [(name, value) for value in values])
    assert traceparent(call)[0] == TRACE
    assert tracestate(call) == expected


@pytest.mark.parametrize("values", TRACESTATE_DISCARDED.values(), ids=TRACESTATE_DISCARDED.keys())
def test_invalid_tracestate_is_discarded(forwarded: Any, values: list[str]) -> None:
    (call,) = forwarded([("traceparent", NOT_SAMPLED)] + [("tracestate", value) for value in values])
    assert traceparent(call)[0] == TRACE
    assert tracestate(call) is None


def test_tracestate_without_traceparent_is_not_passed_on(forwarded: Any) -> None:
    (call,) = forwarded([("tracestate", "foo=1,bar=2")])
    assert traceparent(call)[0] != TRACE and tracestate(call) is None


def test_misspelt_tracestate_names_are_not_read(forwarded: Any) -> None:
    for name in ("trace-state", "trace.state"):
        (call,) = forwarded([("traceparent", NOT_SAMPLED), (name, "foo=1")])
        assert traceparent(call)[0] == TRACE and tracestate(call) is None


def test_empty_tracestate_is_not_sent(forwarded: Any) -> None:
    (call,) = forwarded([("traceparent", VALID), ("tracestate", "")])
    assert "tracestate" not in call


def test_baggage_of_other_vendors_is_passed_on_and_ours_replaced(forwarded: Any) -> None:
    received = "userId=alice, serverNode=DF%2028;ttl=5 ,langsmith-project=caller-project,bad member,isProduction=false"
    (call,) = forwarded([("traceparent", VALID), ("baggage", received)])
    (sent,) = call["baggage"]
    assert sent == "userId=alice,serverNode=DF%2028;ttl=5,isProduction=false,langsmith-project=caller-project"


def test_repeated_baggage_headers_are_one_list(forwarded: Any) -> None:
    (call,) = forwarded([("traceparent", VALID), ("baggage", "userId=alice"), ("baggage", "tier=gold")])
    assert call["baggage"] == ["userId=alice,tier=gold"]


def test_baggage_limits_keep_whole_members_and_ours(forwarded: Any) -> None:
    members = [f"k{i:02d}=v" for i in range(70)]
    (call,) = forwarded([("traceparent", VALID), ("baggage", ",".join(members))])
    assert call["baggage"] == [",".join(members[:64])]  # at least 64 members; beyond, whole ones dropped
    (call,) = forwarded([("traceparent", VALID), ("baggage", ",".join([*members, "langsmith-project=p"]))])
    assert call["baggage"] == [",".join([*members[:63], "langsmith-project=p"])]  # ours always go


def test_baggage_of_8192_bytes_is_passed_on_whole(forwarded: Any) -> None:
    members = [f"k{i:02d}=" + "v" * 123 for i in range(63)] + ["k63=" + "v" * 124]
    full = ",".join(members)
    assert len(full) == 8192
    (call,) = forwarded([("traceparent", VALID), ("baggage", full)])
    assert call["baggage"] == [full]
    halves = [",".join(members[:32]), ",".join([*members[32:], "k64=v"])]
    (call,) = forwarded([("traceparent", VALID), *(("baggage", half) for half in halves)])
    assert call["baggage"] == [full]  # one list over two headers; past 8192 bytes the last member gives way
    (call,) = forwarded([("traceparent", VALID), ("baggage", "langsmith-project=p," + full)])
    assert call["baggage"] == [",".join([*members[:-1], "langsmith-project=p"])]  # ours go, within 8192


def test_a_redirected_call_carries_the_context_once(forwarded: Any) -> None:
    received = [("traceparent", VALID), ("tracestate", "foo=1,bar=2"), ("baggage", "userId=alice")]
    (call,) = forwarded(received, path="/redirect")  # 307 to /capture?from=<the first hop's traceparent>
    (path,) = call[":path"]
    first = OUT.fullmatch(unquote(path.removeprefix("/capture?from=")))
    assert first is not None and first.group(1) == TRACE, path
    trace_id, parent_id, flags = traceparent(call)
    assert trace_id == TRACE and parent_id not in (SPAN, first.group(2)) and flags == 0x01  # a hop of its own
    assert tracestate(call) == "foo=1,bar=2"
    assert call["baggage"] == ["userId=alice"] and len(call["langsmith-trace"]) == 1


def test_the_apps_own_baggage_is_merged_with_what_we_pass_on(forwarded: Any) -> None:
    received = [("traceparent", VALID), ("baggage", "userId=alice,tier=gold,langsmith-project=caller")]
    own = [("baggage", "userId=bob,langsmith-project=stale,bad member,region=eu;ttl=5")]
    (call,) = forwarded(received, outbound=own)
    # The app's members first and byte for byte (its userId is the newer one), then the received
    # ones it does not have, then ours; the app's copy of ours and its invalid member are dropped.
    assert call["baggage"] == ["userId=bob,region=eu;ttl=5,tier=gold,langsmith-project=caller"]
    assert traceparent(call)[0] == TRACE


def test_a_traceparent_the_app_sets_is_kept_without_our_tracestate(forwarded: Any) -> None:
    theirs = f"00-{'a' * 32}-{'b' * 16}-01"
    received = [("traceparent", VALID), ("tracestate", "foo=1")]
    (call,) = forwarded(received, outbound=[("traceparent", theirs)])
    assert call["traceparent"] == [theirs]  # another tracer's context, left as it set it
    assert "tracestate" not in call  # the received tracestate belongs to our traceparent, not theirs
    assert len(call["langsmith-trace"]) == 1
