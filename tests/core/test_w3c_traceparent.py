"""``traceparent`` against the W3C Trace Context rules (Recommendation level 1, level 2 draft).

Each case names the rule it checks. "Continued" means the caller's trace id is kept (our run is a
child of the caller's span); "restarted" means the header is ignored and a new trace begins.
"""

from __future__ import annotations

import itertools
import uuid

import pytest

from tracing_middleware import RunTree, inject
from tracing_middleware.core import ids
from tracing_middleware.core.propagation import traceparent

TRACE = "12345678901234567890123456789012"
SPAN = "1234567890123456"
VALID = f"00-{TRACE}-{SPAN}-01"

CONTINUED = {
    "version 00": VALID,
    "not sampled": f"00-{TRACE}-{SPAN}-00",
    "leading space (OWS)": " " + VALID,
    "leading tab (OWS)": "\t" + VALID,
    "trailing space (OWS)": VALID + " ",
    "trailing tab (OWS)": VALID + "\t",
    "both sides, mixed OWS": "\t " + VALID + " \t",
    "future version, four fields": f"cc-{TRACE}-{SPAN}-01",
    "future version, more fields": f"cc-{TRACE}-{SPAN}-01-what-the-future-will-be-like",
    "future version, empty extra field": f"cc-{TRACE}-{SPAN}-01-",
    "unknown flag bits": f"00-{TRACE}-{SPAN}-ff",
}

RESTARTED = {
    "version 00 with a fifth field": f"00-{TRACE}-{SPAN}-01-what-the-future-will-be-like",
    "version 00 with a trailing character": VALID + ".",
    "future version, flags not followed by -": f"cc-{TRACE}-{SPAN}-01.what-the-future-will-be-like",
    "version ff": f"ff-{TRACE}-{SPAN}-01",
    "version with an illegal character": f".0-{TRACE}-{SPAN}-01",
    "version with an illegal second character": f"0.-{TRACE}-{SPAN}-01",
    "version of three digits": f"000-{TRACE}-{SPAN}-01",
    "version of four digits": f"0000-{TRACE}-{SPAN}-01",
    "version of one digit": f"0-{TRACE}-{SPAN}-01",
    "uppercase version": f"0A-{TRACE}-{SPAN}-01",
    "all-zero trace id": f"00-{'0' * 32}-{SPAN}-01",
    "trace id with an illegal first character": f"00-.{TRACE[1:]}-{SPAN}-01",
    "trace id with an illegal last character": f"00-{TRACE[:-1]}.-{SPAN}-01",
    "uppercase trace id": f"00-{'ABCDEF' + TRACE[6:]}-{SPAN}-01",
    "trace id of 33 digits": f"00-{TRACE}3-{SPAN}-01",
    "trace id of 31 digits": f"00-{TRACE[:-1]}-{SPAN}-01",
    "all-zero parent id": f"00-{TRACE}-{'0' * 16}-01",
    "parent id with an illegal character": f"00-{TRACE}-.{SPAN[1:]}-01",
    "uppercase parent id": f"00-{TRACE}-ABCDEF{SPAN[6:]}-01",
    "parent id of 17 digits": f"00-{TRACE}-{SPAN}7-01",
    "parent id of 15 digits": f"00-{TRACE}-{SPAN[:-1]}-01",
    "flags with an illegal character": f"00-{TRACE}-{SPAN}-.0",
    "flags with an illegal second character": f"00-{TRACE}-{SPAN}-0.",
    "uppercase flags": f"00-{TRACE}-{SPAN}-0A",
    "flags of three digits": f"00-{TRACE}-{SPAN}-001",
    "flags of one digit": f"00-{TRACE}-{SPAN}-1",
    "future version shorter than 55": f"cc-{TRACE}-{SPAN}-1",
    "future version with a short trace id": f"cc-{TRACE[:-1]}-{SPAN}-01-x",
    "newline inside": f"00-{TRACE}\n-{SPAN}-01",
    "whitespace other than space and tab": "\v" + VALID,
    "empty": "",
    "over 512 characters": f"cc-{TRACE}-{SPAN}-01-" + "x" * 600,
}


@pytest.mark.parametrize("value", CONTINUED.values(), ids=CONTINUED.keys())
def test_valid_traceparent_is_continued_with_a_new_parent_id(value: str) -> None:
    remote = RunTree.from_headers({"traceparent": value})
    assert remote is not None and remote.trace_id.replace("-", "") == TRACE
    child = remote.create_child("handler")
    sent = child.to_headers()["traceparent"]
    version, trace_id, parent_id, flags = sent.split("-")
    # Version downgraded to 00, trace id kept, parent id ours, flags only the ones we know.
    assert (version, trace_id) == ("00", TRACE)
    assert parent_id == child.span_id != SPAN
    assert int(flags, 16) & ~0x03 == 0


@pytest.mark.parametrize("value", RESTARTED.values(), ids=RESTARTED.keys())
def test_invalid_traceparent_is_ignored(value: str) -> None:
    assert traceparent.parse(value) is None
    assert RunTree.from_headers({"traceparent": value}) is None


def test_header_name_in_any_case_is_read() -> None:
    for name in ("TraceParent", "TrAcEpArEnT", "TRACEPARENT"):
        remote = RunTree.from_headers([(name, VALID)])
        assert remote is not None and remote.trace_id.replace("-", "") == TRACE


def test_misspelt_header_names_are_not_read() -> None:
    for name in ("trace-parent", "trace.parent", "trace_parent"):
        assert RunTree.from_headers([(name, VALID)]) is None


def test_two_different_traceparent_headers_restart_the_trace() -> None:
    other = f"00-{TRACE[:-1]}1-{SPAN}-01"
    assert RunTree.from_headers([("traceparent", VALID), ("traceparent", other)]) is None
    # A proxy that folds them into one field makes the value invalid too.
    assert RunTree.from_headers([("traceparent", f"{VALID},{other}")]) is None


def test_identical_repeats_count_once_whether_kept_apart_or_folded() -> None:
    for carrier in ([("traceparent", VALID), ("traceparent", VALID)], [("traceparent", f"{VALID}, {VALID}")]):
        remote = RunTree.from_headers(carrier)
        assert remote is not None and remote.trace_id.replace("-", "") == TRACE
    assert RunTree.from_headers([("traceparent", f"{VALID},")]) is None


def test_sampled_flag_is_honoured_and_sent_on() -> None:
    not_sampled = RunTree.from_headers({"traceparent": f"00-{TRACE}-{SPAN}-00"})
    assert not_sampled is not None and not_sampled.sampled is False
    assert not_sampled.create_child("c").to_headers()["traceparent"].endswith("-00")
    sampled = RunTree.from_headers({"traceparent": f"00-{TRACE}-{SPAN}-09"})  # 0x08 is reserved
    assert sampled is not None and sampled.sampled is True
    assert sampled.create_child("c").to_headers()["traceparent"].endswith("-01")


def test_random_flag_received_is_sent_on_unchanged() -> None:
    for flags, sent in (("02", "02"), ("03", "03"), ("01", "01"), ("00", "00"), ("fe", "02"), ("fd", "01")):
        remote = RunTree.from_headers({"traceparent": f"00-{TRACE}-{SPAN}-{flags}"})
        assert remote is not None
        assert remote.create_child("c").create_child("d").to_headers()["traceparent"].endswith("-" + sent)
    future = RunTree.from_headers({"traceparent": f"cc-{TRACE}-{SPAN}-03-extra"})
    assert future is not None and future.create_child("c").to_headers()["traceparent"].endswith("-03")


def test_a_trace_started_here_sets_the_random_flag() -> None:
    root = RunTree("root")
    headers = root.create_child("child").to_headers()
    assert headers["traceparent"].endswith("-03")
    carrier: dict[str, str] = {}
    inject(carrier, root)
    assert carrier["traceparent"].endswith("-03")


def test_a_trace_id_chosen_by_the_caller_is_not_called_random() -> None:
    chosen = RunTree("root", id=str(uuid.uuid4()))
    assert chosen.to_headers()["traceparent"].endswith("-01")
    # A trace continued from langsmith-trace alone: LangSmith's own uuid7 counts in bits 32-61.
    continued = RunTree.from_headers({"langsmith-trace": RunTree("upstream").dotted_order})
    assert continued is not None and continued.to_headers()["traceparent"].endswith("-01")


def test_random_flag_from_a_traceparent_of_the_same_trace_beside_langsmith_trace() -> None:
    upstream = RunTree("upstream")
    both = upstream.to_headers()
    remote = RunTree.from_headers(both)
    assert remote is not None and remote.to_headers()["traceparent"].endswith("-03")
    # A traceparent of another trace says nothing about the trace we continue.
    other = {"langsmith-trace": both["langsmith-trace"], "traceparent": f"00-{TRACE}-{SPAN}-03"}
    remote = RunTree.from_headers(other)
    assert remote is not None and remote.trace_id == upstream.trace_id
    assert remote.to_headers()["traceparent"].endswith("-01")


@pytest.mark.parametrize("generator", ["default", "stdlib"])
def test_trace_roots_have_uniformly_random_rightmost_seven_bytes(
    generator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if generator == "stdlib":  # what TRACING_MIDDLEWARE_PURE_IDS=1 picks
        monkeypatch.setattr(ids, "new_id", ids._stdlib_uuid7_factory())
    roots = [int(ids.new_trace_id().replace("-", ""), 16) for _ in range(4000)]
    assert len(set(roots)) == len(roots)
    for value in roots[:50]:
        assert uuid.UUID(int=value).version == 7 and uuid.UUID(int=value).variant == uuid.RFC_4122
    low = [value & ((1 << 56) - 1) for value in roots]
    # Every one of the 56 bits is set in about half the ids (4000 draws: 5 sigma is about 0.04).
    for bit in range(56):
        share = sum((value >> bit) & 1 for value in low) / len(low)
        assert 0.45 < share < 0.55, (bit, share)
    # No counter: ids made back to back differ everywhere in the low bits, not by small steps.
    steps = [abs(b - a) for a, b in itertools.pairwise(low)]
    assert sum(step < (1 << 40) for step in steps) < 5


def test_trace_root_time_order_is_kept_to_the_millisecond() -> None:
    before = ids.now_us() // 1000
    made = uuid.UUID(ids.new_trace_id())
    after = ids.now_us() // 1000
    assert before <= made.int >> 80 <= after
