"""Reading and writing tracing headers on every kind of carrier, and W3C-only callers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import tracing_middleware
from tracing_middleware import InMemoryExporter, RunTree, extract, inject, traceable, tracing_context
from tracing_middleware.core.propagation.carriers import read_headers

W3C_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
W3C_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{W3C_TRACE}-{W3C_SPAN}-01"
W3C_TRACE_UUID = "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"


@pytest.fixture
def sender() -> RunTree:
    return RunTree("sender", tags=["a", "b"], metadata={"user": "alice", "n": 1}, project_name="proj").create_child(
        "call"
    )


def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _environ(h: dict[str, str]) -> dict[str, Any]:
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "wsgi.version": (1, 0), "HTTP_HOST": "example"}
    environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in h.items()})
    return environ


def _werkzeug(h: dict[str, str]) -> Any:
    datastructures = pytest.importorskip("werkzeug.datastructures")
    return datastructures.Headers([(_title(k), v) for k, v in h.items()])


def _werkzeug_environ(h: dict[str, str]) -> Any:
    datastructures = pytest.importorskip("werkzeug.datastructures")
    return datastructures.EnvironHeaders(_environ(h))


def _httpx(h: dict[str, str]) -> Any:
    httpx = pytest.importorskip("httpx")
    return httpx.Headers([(_title(k), v) for k, v in h.items()])


def _requests(h: dict[str, str]) -> Any:
    structures = pytest.importorskip("requests.structures")
    return structures.CaseInsensitiveDict({_title(k): v for k, v in h.items()})


READABLE: dict[str, Callable[[dict[str, str]], Any]] = {
    "dict": dict,
    "dict Title-Case": lambda h: {_title(k): v for k, v in h.items()},
    "dict UPPER": lambda h: {k.upper(): v for k, v in h.items()},
    "dict of bytes": lambda h: {k.encode(): v.encode() for k, v in h.items()},
    "dict of list values": lambda h: {k: [v] for k, v in h.items()},
    "ASGI pairs": lambda h: [(b"host", b"example"), *((k.encode(), v.encode()) for k, v in h.items())],
    "ASGI scope": lambda h: {"type": "http", "path": "/", "headers": [(k.encode(), v.encode()) for k, v in h.items()]},
    "WSGI environ": _environ,
    "werkzeug Headers": _werkzeug,
    "werkzeug EnvironHeaders": _werkzeug_environ,
    "httpx Headers": _httpx,
    "requests CaseInsensitiveDict": _requests,
    "list of str pairs": lambda h: [("Host", "example"), *((_title(k), v) for k, v in h.items())],
    "tuple of pairs": lambda h: tuple(h.items()),
}


@pytest.mark.parametrize("make", READABLE.values(), ids=READABLE.keys())
def test_every_carrier_is_read(make: Callable[[dict[str, str]], Any], sender: RunTree) -> None:
    parent = RunTree.from_headers(make(sender.to_headers()))
    assert parent is not None
    assert (parent.id, parent.trace_id, parent.dotted_order) == (sender.id, sender.trace_id, sender.dotted_order)
    assert (parent.tags, parent.metadata, parent.project_name) == (["a", "b"], {"user": "alice", "n": 1}, "proj")
    assert extract(make(sender.to_headers())).id == sender.id


WRITABLE: dict[str, Callable[[dict[str, str]], Any]] = {
    "dict": dict,
    "dict Title-Case": lambda h: {_title(k): v for k, v in h.items()},
    "ASGI pairs": lambda h: [(b"host", b"example"), *((k.encode(), v.encode()) for k, v in h.items())],
    "list of str pairs": lambda h: [("Host", "example"), *((_title(k), v) for k, v in h.items())],
    "werkzeug Headers": _werkzeug,
    "httpx Headers": _httpx,
    "requests CaseInsensitiveDict": _requests,
}
OLD = {
    "langsmith-trace": "20240101T000000000000Z" + "0" * 8 + "-0000-7000-8000-" + "0" * 12,
    "traceparent": f"00-{'1' * 32}-{'1' * 16}-01",
    "baggage": "userId=alice,langsmith-project=old,sentry-trace_id=abc,langsmith-tags=old",
}


def _count(carrier: Any, name: str) -> int:
    return len(read_headers(carrier).get(name, []))


@pytest.mark.parametrize("make", WRITABLE.values(), ids=WRITABLE.keys())
def test_inject_replaces_ours_and_keeps_other_vendors(make: Callable[[dict[str, str]], Any], sender: RunTree) -> None:
    carrier = make(OLD)
    inject(carrier, sender)
    for name in ("langsmith-trace", "traceparent", "baggage"):
        assert _count(carrier, name) == 1, name
    found = RunTree.from_headers(carrier)
    assert found is not None
    assert (found.id, found.dotted_order, found.project_name, found.tags) == (
        sender.id,
        sender.dotted_order,
        "proj",
        ["a", "b"],
    )
    members = read_headers(carrier)["baggage"][0].split(",")
    assert members[:2] == ["userId=alice", "sentry-trace_id=abc"]
    assert "langsmith-project=old" not in members and "langsmith-tags=old" not in members


@pytest.mark.parametrize("make", WRITABLE.values(), ids=WRITABLE.keys())
def test_inject_into_an_empty_carrier(make: Callable[[dict[str, str]], Any], sender: RunTree) -> None:
    carrier = make({})
    inject(carrier, sender)
    assert RunTree.from_headers(carrier).id == sender.id  # type: ignore[union-attr]


def test_inject_keeps_the_pair_type_of_a_list() -> None:
    run = RunTree("root", project_name="p")
    as_bytes: list[Any] = [(b"host", b"x")]
    inject(as_bytes, run)
    assert all(isinstance(k, bytes) and isinstance(v, bytes) for k, v in as_bytes)
    as_str: list[Any] = [("Host", "x")]
    inject(as_str, run)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in as_str)


def test_inject_into_an_empty_list_writes_one_kind_of_pair() -> None:
    pairs: list[Any] = []
    inject(pairs, RunTree("root", project_name="p"))
    assert len(pairs) == 3
    assert len({(type(k), type(v)) for k, v in pairs}) == 1, pairs


def test_inject_without_a_current_run_writes_nothing() -> None:
    carrier: dict[str, str] = {"baggage": "userId=alice"}
    pairs: list[Any] = [(b"host", b"x")]
    inject(carrier)
    inject(pairs)
    assert carrier == {"baggage": "userId=alice"}
    assert pairs == [(b"host", b"x")]


def test_inject_uses_the_current_run(memory: InMemoryExporter) -> None:
    carrier: dict[str, str] = {}

    @traceable
    def call() -> None:
        inject(carrier)

    call()
    (run,) = memory.runs
    assert RunTree.from_headers(carrier).id == run.id  # type: ignore[union-attr]
    # Flags 03: sampled, and the trace id (made here) has random rightmost 7 bytes (level 2).
    assert carrier["traceparent"] == f"00-{run.trace_id.replace('-', '')}-{run.span_id}-03"


def test_inject_w3c_false_sends_only_langsmith_headers(sender: RunTree) -> None:
    carrier: dict[str, str] = {}
    inject(carrier, sender, w3c=False)
    assert set(carrier) == {"langsmith-trace", "baggage"}


def test_inject_honours_configure_w3c_false(sender: RunTree) -> None:
    tracing_middleware.configure(exporter="none", w3c=False)
    try:
        carrier: dict[str, str] = {}
        inject(carrier, sender)
        assert "traceparent" not in carrier
    finally:
        tracing_middleware.configure(exporter="none")


@pytest.mark.parametrize("carrier", ["text", b"bytes", 42, ("frozen", "tuple"), frozenset()])
def test_inject_into_something_that_takes_no_headers_names_the_choices(carrier: Any, sender: RunTree) -> None:
    with pytest.raises(TypeError, match="dict"):
        inject(carrier, sender)


def test_baggage_from_a_run_without_ours_keeps_only_foreign_members() -> None:
    carrier = {"Baggage": "userId=alice,langsmith-project=old"}
    inject(carrier, RunTree("root"))
    assert carrier == {"langsmith-trace": carrier["langsmith-trace"], "traceparent": carrier["traceparent"]} | {
        "baggage": "userId=alice"
    }


# -- W3C-only callers ---------------------------------------------------------------------------------


def test_traceparent_only_caller_continues_its_trace() -> None:
    remote = RunTree.from_headers({"traceparent": TRACEPARENT})
    assert remote is not None
    assert remote.trace_id == W3C_TRACE_UUID
    child = remote.create_child("handler")
    assert child.trace_id == W3C_TRACE_UUID
    assert child.parent_span_id == W3C_SPAN
    assert child.span_id == child.id.replace("-", "")[16:]
    assert child.to_headers()["traceparent"] == f"00-{W3C_TRACE}-{child.span_id}-01"
    assert child.dotted_order.split(".")[0].endswith(W3C_TRACE_UUID)
    assert child.dotted_order.split(".")[-1].endswith(child.id)
    grandchild = child.create_child("inner")
    assert grandchild.parent_span_id == child.span_id
    assert grandchild.to_headers()["traceparent"].split("-")[1] == W3C_TRACE


def test_traceparent_only_caller_through_traceable(memory: InMemoryExporter) -> None:
    sent: dict[str, str] = {}

    @traceable
    def handler() -> None:
        inject(sent)

    with tracing_context(parent=[(b"traceparent", TRACEPARENT.encode())]):
        handler()
    (run,) = memory.runs
    assert run.trace_id == W3C_TRACE_UUID
    assert run.parent_span_id == W3C_SPAN
    assert sent["traceparent"] == f"00-{W3C_TRACE}-{run.span_id}-01"


def test_unsampled_flag_is_passed_on() -> None:
    remote = RunTree.from_headers({"traceparent": f"00-{W3C_TRACE}-{W3C_SPAN}-00"})
    assert remote is not None
    assert remote.create_child("x").to_headers()["traceparent"].endswith("-00")


def test_langsmith_trace_wins_when_both_are_valid(sender: RunTree) -> None:
    headers = sender.to_headers(w3c=False) | {"traceparent": TRACEPARENT}
    remote = RunTree.from_headers(headers)
    assert remote is not None
    assert (remote.id, remote.trace_id) == (sender.id, sender.trace_id)
    child = remote.create_child("handler")
    assert child.parent_run_id == sender.id
    assert child.parent_span_id == sender.span_id
    assert W3C_TRACE not in child.to_headers()["traceparent"]


def test_invalid_langsmith_trace_falls_back_to_traceparent() -> None:
    remote = RunTree.from_headers({"langsmith-trace": "garbage", "traceparent": TRACEPARENT})
    assert remote is not None and remote.trace_id == W3C_TRACE_UUID


def test_tracestate_is_passed_through() -> None:
    state = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    remote = RunTree.from_headers({"traceparent": TRACEPARENT, "tracestate": state})
    assert remote is not None
    child = remote.create_child("handler")
    assert child.to_headers()["tracestate"] == state
    assert child.create_child("inner").to_headers()["tracestate"] == state
    assert "tracestate" not in child.to_headers(w3c=False)


def test_repeated_tracestate_headers_are_joined() -> None:
    pairs = [(b"traceparent", TRACEPARENT.encode()), (b"tracestate", b"a=1"), (b"tracestate", b"b=2")]
    remote = RunTree.from_headers(pairs)
    assert remote is not None
    assert remote.create_child("x").to_headers()["tracestate"] == "a=1,b=2"


def test_tracestate_over_512_is_cut_by_whole_members_from_the_end() -> None:
    members = [f"k{i:02d}=" + "v" * 60 for i in range(9)]  # 9 x 64 characters + 8 commas = 584
    remote = RunTree.from_headers({"traceparent": TRACEPARENT, "tracestate": ",".join(members)})
    assert remote is not None and remote.tracestate == ",".join(members[:7])  # 7 x 64 + 6 = 454


def test_inject_into_an_asgi_scope_and_a_wsgi_environ_reads_back() -> None:
    run = RunTree("r", tags=["t"])
    scope: dict[str, object] = {"type": "http", "headers": [(b"host", b"x")]}
    environ: dict[str, object] = {"REQUEST_METHOD": "GET", "HTTP_HOST": "x"}
    for carrier in (scope, environ):
        inject(carrier, run)
        parent = RunTree.from_headers(carrier)
        assert parent is not None and parent.id == run.id and parent.tags == ["t"]
    assert (b"host", b"x") in scope["headers"]  # type: ignore[operator]
