"""Malformed, oversized and hostile ``langsmith-trace``, ``baggage`` and ``traceparent`` headers.

Nothing here may raise: a bad trace header means a new root, a bad baggage member costs only itself,
each kind of bad header is logged once without echoing the value, and whatever is accepted can be sent on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from tracing_middleware import RunTree, get_runtime, inject
from tracing_middleware.core.propagation import limits

LOGGER = "tracing_middleware.propagation"
TRACE_ID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
RUN_ID = "0190a1b2-c3d5-7aaa-9bbb-cccccccccccc"
ROOT_SEGMENT = "20240101T120000123456Z" + TRACE_ID
VALID = ROOT_SEGMENT + ".20240101T120001000001Z" + RUN_ID


@pytest.fixture(autouse=True)
def fresh_log(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Each test starts outside the once-per-interval window of the rejection log."""
    monkeypatch.setattr(get_runtime(), "last_logged", {})
    caplog.set_level(logging.WARNING, logger=LOGGER)
    yield


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == LOGGER]


def assert_logged_once(caplog: pytest.LogCaptureFixture, kind: str, secret: str) -> None:
    """Exactly one line, naming the header kind and not echoing the untrusted value."""
    messages = lines(caplog)
    assert len(messages) == 1, messages
    assert kind in messages[0]
    assert secret not in messages[0]


def assert_sendable(run: RunTree) -> None:
    """A child of an accepted parent can send its headers on: ASCII values, no CR/LF, any carrier."""
    child = run.create_child("next")
    headers = child.to_headers()
    for value in headers.values():
        assert value.isascii() and value.isprintable(), value
    pairs: list[tuple[bytes, bytes]] = [(b"host", b"example")]
    inject(pairs, child)
    assert RunTree.from_headers(pairs) is not None


def look_alike(segment: str, zero: str) -> str:
    """``segment`` with the stamp's ASCII digits swapped for another script's digits (``int()`` reads them)."""
    stamp = "".join(chr(ord(zero) + int(c)) if c.isdigit() else c for c in segment[:22])
    return stamp + segment[22:]


# -- langsmith-trace ----------------------------------------------------------------------------------

BAD_TRACE = {
    "garbage": ("not-a-dotted-order-EVIL", "EVIL"),
    "short uuid": ("20240101T120000123456Z0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5", "0190a1b2"),
    "non-hex uuid": ("20240101T120000123456Z0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4g5b", "0190a1b2"),
    "uuid without dashes": ("20240101T120000123456Z0190a1b2c3d47e5f8a9b0c1d2e3f4a5b", "0190a1b2"),
    "month 13": ("20241301T120000123456Z" + TRACE_ID, TRACE_ID),
    "february 30": ("20240230T120000123456Z" + TRACE_ID, TRACE_ID),
    "hour 25": ("20240101T250000123456Z" + TRACE_ID, TRACE_ID),
    "year zero": ("00000101T120000123456Z" + TRACE_ID, TRACE_ID),
    "no fraction": ("20240101T120000Z" + TRACE_ID, TRACE_ID),
    "seven fraction digits": ("20240101T1200001234567Z" + TRACE_ID, TRACE_ID),
    "no Z": ("20240101T120000123456" + TRACE_ID, TRACE_ID),
    "leading dot": ("." + VALID, TRACE_ID),
    "trailing dot": (VALID + ".", TRACE_ID),
    "double dot": (ROOT_SEGMENT + "..20240101T120001000001Z" + RUN_ID, TRACE_ID),
    "one bad segment of two": (ROOT_SEGMENT + ".20240230T120001000001Z" + RUN_ID, TRACE_ID),
    "100 KB": ("EVIL" * 25_000, "EVIL"),
    "100 KB of valid segments": (".".join([ROOT_SEGMENT] * 1700), TRACE_ID),
    "201 segments": (".".join([ROOT_SEGMENT] * 201), TRACE_ID),
    "header injection": (VALID + "\r\nX-EVIL: 1", "EVIL"),
    "NUL": (VALID + "\x00EVIL", "EVIL"),
    "space inside": (ROOT_SEGMENT + " ." + ROOT_SEGMENT, TRACE_ID),
    "Arabic-Indic digits": (look_alike(ROOT_SEGMENT, "\u0660"), TRACE_ID),
    "fullwidth digits": (look_alike(ROOT_SEGMENT, "\uff10"), TRACE_ID),
}


@pytest.mark.parametrize("value, secret", BAD_TRACE.values(), ids=BAD_TRACE.keys())
def test_bad_langsmith_trace_means_new_root_and_one_quiet_log_line(
    value: str, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert RunTree.from_headers({"langsmith-trace": value}) is None
    assert_logged_once(caplog, "langsmith-trace", secret)


@pytest.mark.parametrize("value", ["", " ", "\t", " \t "], ids=["empty", "space", "tab", "mixed"])
def test_empty_headers_are_absent_headers(value: str, caplog: pytest.LogCaptureFixture) -> None:
    carrier = {"langsmith-trace": value, "traceparent": value, "baggage": value, "tracestate": value}
    assert RunTree.from_headers(carrier) is None
    assert lines(caplog) == []


def test_surrounding_whitespace_is_trimmed() -> None:
    run = RunTree.from_headers({"langsmith-trace": f"  {VALID}\t"})
    assert run is not None
    assert run.dotted_order == VALID
    assert (run.trace_id, run.id, run.parent_run_id) == (TRACE_ID, RUN_ID, TRACE_ID)


def test_uppercase_uuids_are_accepted_and_ids_lowercased() -> None:
    run = RunTree.from_headers({"langsmith-trace": VALID.upper()})
    assert run is not None
    assert (run.trace_id, run.id) == (TRACE_ID, RUN_ID)


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe" + VALID.encode(),
        VALID.encode() + b"\x80",
        b"\xc3\x28" * 100,
    ],
    ids=["bad prefix", "bad suffix", "invalid UTF-8"],
)
def test_non_utf8_bytes_in_asgi_pairs(raw: bytes, caplog: pytest.LogCaptureFixture) -> None:
    assert RunTree.from_headers([(b"langsmith-trace", raw)]) is None
    assert len(lines(caplog)) == 1


@pytest.mark.parametrize(
    "value",
    [12345, None, 3.5, object(), {"a": "b"}, [], [None, 1], [b"\xff"]],
    ids=["int", "None", "float", "object", "dict", "empty list", "list of junk", "list of bad bytes"],
)
def test_values_of_odd_types_never_raise(value: Any) -> None:
    assert RunTree.from_headers({"langsmith-trace": value, "baggage": value, "traceparent": value}) is None


def test_list_values_of_one_header() -> None:
    run = RunTree.from_headers({"langsmith-trace": [VALID, VALID]})
    assert run is not None and run.id == RUN_ID
    run = RunTree.from_headers({"langsmith-trace": (VALID.encode(),)})
    assert run is not None and run.id == RUN_ID


def test_two_different_trace_headers_are_ambiguous(caplog: pytest.LogCaptureFixture) -> None:
    other = "20240101T120000123456Z" + RUN_ID
    assert RunTree.from_headers([(b"langsmith-trace", VALID.encode()), (b"langsmith-trace", other.encode())]) is None
    assert_logged_once(caplog, "langsmith-trace", TRACE_ID)
    assert RunTree.from_headers({"langsmith-trace": VALID, "LangSmith-Trace": other}) is None
    assert RunTree.from_headers({"langsmith-trace": [VALID, other]}) is None


def test_identical_repeated_trace_headers_are_one() -> None:
    run = RunTree.from_headers([(b"langsmith-trace", VALID.encode()), (b"Langsmith-Trace", VALID.encode())])
    assert run is not None and run.dotted_order == VALID


def test_accepted_trace_can_be_sent_on() -> None:
    run = RunTree.from_headers({"langsmith-trace": VALID})
    assert run is not None
    assert_sendable(run)


# -- baggage ------------------------------------------------------------------------------------------

GOOD_METADATA = "langsmith-metadata=" + quote('{"user":"alice"}')
GOOD_TAGS = "langsmith-tags=" + quote("one,two")
GOOD_PROJECT = "langsmith-project=proj"


def _nested(depth: int) -> str:
    """A JSON object whose containers nest ``depth`` deep (the object itself counts)."""
    return '{"a":' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


BAD_METADATA = {
    "JSON array": ("[1,2,3]", "[1,2,3]"),
    "JSON string": ('"EVIL"', "EVIL"),
    "JSON number": ("42", "42"),
    "not JSON": ("{EVIL", "EVIL"),
    "NaN": ('{"EVIL":NaN}', "EVIL"),
    "Infinity": ('{"EVIL":Infinity}', "EVIL"),
    "-Infinity": ('{"EVIL":-Infinity}', "EVIL"),
    "float overflow": ('{"EVIL":1e999}', "EVIL"),
    "depth 9": (_nested(9), "[[[["),
    "depth 1000": (_nested(1000), "[[[["),
    "over 4 KB": (json.dumps({"EVIL": "x" * 5000}), "EVIL"),
    "lone surrogate": ('{"EVIL":"\\ud800"}', "EVIL"),
}


@pytest.mark.parametrize("text, secret", BAD_METADATA.values(), ids=BAD_METADATA.keys())
def test_bad_metadata_costs_only_itself(text: str, secret: str, caplog: pytest.LogCaptureFixture) -> None:
    header = f"userId=alice,{GOOD_TAGS},langsmith-metadata={quote(text)},{GOOD_PROJECT}"
    run = RunTree.from_headers({"langsmith-trace": VALID, "baggage": header})
    assert run is not None and run.id == RUN_ID
    assert run.metadata == {}
    assert (run.tags, run.project_name) == (["one", "two"], "proj")
    assert_logged_once(caplog, "baggage", secret)
    assert_sendable(run)


@pytest.mark.parametrize(
    "raw, secret",
    [("%7B%22EVIL%22%3A%ZZ%7D", "EVIL"), ("%7B%22EVIL%22%3A%22%FF%22%7D", "EVIL"), ("%7B%22EVIL", "EVIL")],
    ids=["bad percent escape", "invalid UTF-8 escape", "truncated escape"],
)
def test_badly_escaped_metadata_costs_only_itself(raw: str, secret: str, caplog: pytest.LogCaptureFixture) -> None:
    run = RunTree.from_headers({"langsmith-trace": VALID, "baggage": f"{GOOD_TAGS},langsmith-metadata={raw}"})
    assert run is not None
    assert (run.metadata, run.tags) == ({}, ["one", "two"])
    assert_logged_once(caplog, "baggage", secret)


def test_metadata_at_the_depth_limit_is_kept() -> None:
    run = RunTree.from_headers({"langsmith-trace": VALID, "baggage": "langsmith-metadata=" + quote(_nested(8))})
    assert run is not None and run.metadata == json.loads(_nested(8))


def test_100k_deep_metadata_is_dropped_and_earlier_members_kept(caplog: pytest.LogCaptureFixture) -> None:
    deep = "langsmith-metadata=" + quote(_nested(100_000))
    run = RunTree.from_headers({"langsmith-trace": VALID, "baggage": f"{GOOD_TAGS},{GOOD_PROJECT},{deep}"})
    assert run is not None
    assert (run.metadata, run.tags, run.project_name) == ({}, ["one", "two"], "proj")
    assert len(lines(caplog)) == 1
    assert "%5B%5B%5B" not in lines(caplog)[0]


BAD_PROJECT = {
    "CRLF": ("EVIL%0D%0AX-Injected%3A%201", "EVIL"),
    "NUL": ("EVIL%00", "EVIL"),
    "invalid UTF-8 escape": ("EVIL%FF", "EVIL"),
    "too long": ("EVIL" * 100, "EVIL"),
}


@pytest.mark.parametrize("raw, secret", BAD_PROJECT.values(), ids=BAD_PROJECT.keys())
def test_bad_project_costs_only_itself(raw: str, secret: str, caplog: pytest.LogCaptureFixture) -> None:
    header = f"{GOOD_METADATA},{GOOD_TAGS},langsmith-project={raw},vendor=EVIL"
    run = RunTree.from_headers({"langsmith-trace": VALID, "baggage": header})
    assert run is not None
    assert run.project_name is None
    assert (run.metadata, run.tags) == ({"user": "alice"}, ["one", "two"])
    assert_logged_once(caplog, "baggage", secret)
    assert_sendable(run)


BAD_TAGS = {
    "CRLF in one tag": ("keep%2CEVIL%0D%0Ax%2Cother", ["keep", "other"]),
    "NUL in one tag": ("keep%2CEVIL%00%2Cother", ["keep", "other"]),
    "one tag too long": ("keep%2C" + "EVIL" * 100 + "%2Cother", ["keep", "other"]),
    "invalid UTF-8 escape": ("keep%2CEVIL%FF", []),
    "too many tags": (quote(",".join(f"EVIL{i}" for i in range(100))), [f"EVIL{i}" for i in range(64)]),
}


@pytest.mark.parametrize("raw, expected", BAD_TAGS.values(), ids=BAD_TAGS.keys())
def test_bad_tags_cost_only_themselves(raw: str, expected: list[str], caplog: pytest.LogCaptureFixture) -> None:
    header = f"{GOOD_METADATA},langsmith-tags={raw},{GOOD_PROJECT}"
    run = RunTree.from_headers({"langsmith-trace": VALID, "baggage": header})
    assert run is not None
    assert run.tags == expected
    assert (run.metadata, run.project_name) == ({"user": "alice"}, "proj")
    assert_logged_once(caplog, "baggage", "EVIL")
    assert_sendable(run)


def test_a_stray_percent_is_kept_literally_as_unquote_does() -> None:
    header = "langsmith-tags=a%ZZb%2Cc%2,langsmith-project=p%G0"
    run = RunTree.from_headers({"langsmith-trace": VALID, "baggage": header})
    assert run is not None
    assert (run.tags, run.project_name) == (["a%ZZb", "c%2"], "p%G0")
    assert_sendable(run)


def test_non_utf8_raw_bytes_in_baggage_never_raise() -> None:
    pairs = [(b"langsmith-trace", VALID.encode()), (b"baggage", b"langsmith-project=caf\xe9,langsmith-tags=\xff\xfe")]
    run = RunTree.from_headers(pairs)
    assert run is not None and run.id == RUN_ID
    assert_sendable(run)


def test_lone_surrogates_in_a_str_carrier_never_break_sending() -> None:
    carrier = {"langsmith-trace": VALID, "baggage": "langsmith-project=p\ud800,langsmith-tags=t\udfff"}
    run = RunTree.from_headers(carrier)
    assert run is not None
    assert_sendable(run)


def test_duplicate_members_last_wins() -> None:
    header = (
        "langsmith-project=first,langsmith-tags=a,langsmith-metadata=%7B%22n%22%3A1%7D,"
        "langsmith-project=second,langsmith-tags=b,langsmith-metadata=%7B%22n%22%3A2%7D"
    )
    run = RunTree.from_headers({"langsmith-trace": VALID, "baggage": header})
    assert run is not None
    assert (run.project_name, run.tags, run.metadata) == ("second", ["b"], {"n": 2})


def test_repeated_baggage_headers_are_joined() -> None:
    pairs = [
        (b"langsmith-trace", VALID.encode()),
        (b"baggage", b"userId=alice,langsmith-tags=a%2Cb"),
        (b"Baggage", GOOD_METADATA.encode()),
        (b"baggage", b"langsmith-project=proj"),
    ]
    run = RunTree.from_headers(pairs)
    assert run is not None
    assert (run.tags, run.metadata, run.project_name) == (["a", "b"], {"user": "alice"}, "proj")


def test_members_with_properties_and_spaces() -> None:
    header = f" userId=alice ; p=1 , {GOOD_PROJECT};prop=x , langsmith-tags = a ,,  "
    run = RunTree.from_headers({"langsmith-trace": VALID, "baggage": header})
    assert run is not None
    assert (run.project_name, run.tags) == ("proj", ["a"])


@pytest.mark.parametrize(
    "header",
    ["=", ",,,", "langsmith-project", "langsmith-tags", "langsmith-metadata=", "==,;;,%", "\x00\r\n", "a" * 100_000],
    ids=["bare equals", "commas", "key only", "tags key only", "empty metadata", "punctuation", "controls", "100 KB"],
)
def test_garbage_baggage_keeps_the_trace(header: str) -> None:
    run = RunTree.from_headers({"langsmith-trace": VALID, "baggage": header})
    assert run is not None and run.id == RUN_ID
    assert run.metadata == {}
    assert_sendable(run)


def test_oversized_baggage_keeps_no_partial_member(caplog: pytest.LogCaptureFixture) -> None:
    # One tags member over the 8 KB cap: cutting it must not leave a truncated tag behind.
    tags = [f"{i:03d}" + "t" * 250 for i in range(40)]
    header = "langsmith-tags=" + quote(",".join(tags))
    assert len(header) > limits.MAX_BAGGAGE_HEADER
    run = RunTree.from_headers({"langsmith-trace": VALID, "baggage": header})
    assert run is not None
    assert all(tag in tags for tag in run.tags), [t[:3] for t in run.tags if t not in tags]
    assert len(lines(caplog)) == 1


def test_oversized_baggage_keeps_whole_leading_members() -> None:
    header = f"{GOOD_PROJECT},{GOOD_TAGS},vendor={'v' * 10_000}"
    run = RunTree.from_headers({"langsmith-trace": VALID, "baggage": header})
    assert run is not None
    assert (run.project_name, run.tags) == ("proj", ["one", "two"])


def test_baggage_without_a_parent_makes_no_parent() -> None:
    assert RunTree.from_headers({"baggage": GOOD_PROJECT}) is None


# -- traceparent --------------------------------------------------------------------------------------

W3C_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
W3C_SPAN = "00f067aa0ba902b7"
BAD_TRACEPARENT = {
    "garbage": "EVIL-EVIL",
    "uppercase hex": f"00-{W3C_TRACE.upper()}-{W3C_SPAN}-01",
    "all-zero trace id": f"00-{'0' * 32}-{W3C_SPAN}-01",
    "all-zero span id": f"00-{W3C_TRACE}-{'0' * 16}-01",
    "version ff": f"ff-{W3C_TRACE}-{W3C_SPAN}-01",
    "version 00 with an extra field": f"00-{W3C_TRACE}-{W3C_SPAN}-01-EVIL",
    "short trace id": f"00-{W3C_TRACE[:-1]}-{W3C_SPAN}-01",
    "long span id": f"00-{W3C_TRACE}-{W3C_SPAN}0-01",
    "non-hex flags": f"00-{W3C_TRACE}-{W3C_SPAN}-0g",
    "missing flags": f"00-{W3C_TRACE}-{W3C_SPAN}",
    "100 KB": "EVIL" * 25_000,
    "600 characters": f"01-{W3C_TRACE}-{W3C_SPAN}-01-" + "E" * 560,
    "CRLF": f"00-{W3C_TRACE}-{W3C_SPAN}-01\r\nX-EVIL: 1",
    "underscores": f"00_{W3C_TRACE}_{W3C_SPAN}_01",
}


@pytest.mark.parametrize("value", BAD_TRACEPARENT.values(), ids=BAD_TRACEPARENT.keys())
def test_bad_traceparent_means_new_root(value: str, caplog: pytest.LogCaptureFixture) -> None:
    assert RunTree.from_headers({"traceparent": value}) is None
    assert_logged_once(caplog, "traceparent", W3C_TRACE[:12] if "EVIL" not in value else "EVIL")


def test_later_version_may_carry_extra_fields() -> None:
    run = RunTree.from_headers({"traceparent": f"01-{W3C_TRACE}-{W3C_SPAN}-01-what-comes-next"})
    assert run is not None
    assert run.trace_id.replace("-", "") == W3C_TRACE


def test_bad_traceparent_does_not_cost_a_valid_langsmith_trace(caplog: pytest.LogCaptureFixture) -> None:
    run = RunTree.from_headers({"langsmith-trace": VALID, "traceparent": "EVIL"})
    assert run is not None and run.id == RUN_ID
    assert_logged_once(caplog, "traceparent", "EVIL")


def test_two_different_traceparents_are_ambiguous(caplog: pytest.LogCaptureFixture) -> None:
    first = f"00-{W3C_TRACE}-{W3C_SPAN}-01"
    second = f"00-{W3C_TRACE}-{'1' * 16}-01"
    assert RunTree.from_headers([(b"traceparent", first.encode()), (b"traceparent", second.encode())]) is None
    assert_logged_once(caplog, "traceparent", W3C_SPAN)


@pytest.mark.parametrize(
    "state",
    ["EVIL" * 200, "vendor=EVIL\r\nX: 1", "vendor=caf\u00e9EVIL"],
    ids=["over 512", "CRLF", "non-ASCII"],
)
def test_bad_tracestate_is_dropped_not_passed_on(state: str, caplog: pytest.LogCaptureFixture) -> None:
    run = RunTree.from_headers({"traceparent": f"00-{W3C_TRACE}-{W3C_SPAN}-01", "tracestate": state})
    assert run is not None
    assert run.tracestate is None
    assert "tracestate" not in run.create_child("next").to_headers()
    assert_logged_once(caplog, "tracestate", "EVIL")


# -- logging ------------------------------------------------------------------------------------------


def test_one_line_per_kind_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(50):
        RunTree.from_headers({"langsmith-trace": "EVIL", "traceparent": "EVIL"})
    messages = lines(caplog)
    assert len(messages) == 2
    assert any("langsmith-trace" in m for m in messages) and any("traceparent" in m for m in messages)
    assert get_runtime().rejected.get("langsmith-trace", 0) >= 50
