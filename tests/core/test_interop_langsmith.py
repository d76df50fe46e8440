"""Wire compatibility with the real LangSmith Python SDK, both directions.

Headers we write are read by ``langsmith.run_trees.RunTree.from_headers``; headers langsmith writes
(``RunTree.to_headers``, ``create_child``, ``@traceable`` + ``get_current_run_tree``) are read by ours.
langsmith runs offline: tracing is off or ``"local"``, its client points at a closed local port, and
any attempt to open a connection fails the test.
"""

from __future__ import annotations

import contextvars
import json
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

langsmith = pytest.importorskip("langsmith")
from langsmith import Client  # noqa: E402
from langsmith import utils as ls_utils  # noqa: E402
from langsmith.run_trees import RunTree as LsRunTree  # noqa: E402
from langsmith.run_trees import _parse_dotted_order  # noqa: E402

from tracing_middleware import InMemoryExporter, RunTree, inject, trace, tracing_context  # noqa: E402
from tracing_middleware.core.ids import format_ts  # noqa: E402

T = TypeVar("T")
CLOSED_PORT = 9  # the discard port: nothing listens here, and nothing may try to
_LANGSMITH_ENV = (
    "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY", "LANGSMITH_PROJECT", "LANGCHAIN_PROJECT", "LANGSMITH_SESSION",
    "LANGCHAIN_SESSION", "HOSTED_LANGSERVE_PROJECT_NAME", "LANGSMITH_RUNS_ENDPOINTS", "LANGSMITH_ENDPOINT",
    "LANGCHAIN_ENDPOINT", "LANGSMITH_TRACING_V2", "LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING",
)  # fmt: skip


@pytest.fixture(autouse=True)
def offline_langsmith(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """langsmith configured from a clean environment; every outbound connection attempt is refused and recorded."""
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    for name in _LANGSMITH_ENV:
        monkeypatch.delenv(name, raising=False)
    ls_utils.get_env_var.cache_clear()  # langsmith caches environment reads
    attempts: list[Any] = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", "::1") or port == CLOSED_PORT:
            attempts.append((host, port))
            raise OSError("outbound connections are refused in the interop tests")
        return real_getaddrinfo(host, port, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and (address[0] not in ("127.0.0.1", "::1") or address[1] == CLOSED_PORT):
            attempts.append(address)
            raise OSError("outbound connections are refused in the interop tests")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield attempts
    ls_utils.get_env_var.cache_clear()
    assert attempts == [], "langsmith tried to reach the network"


@pytest.fixture
def ls_client() -> Client:
    return Client(api_url=f"http://127.0.0.1:{CLOSED_PORT}", api_key="offline", auto_batch_tracing=False)


def isolated(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run langsmith code in a copied context: its from_headers sets a context variable we must not leak."""
    return contextvars.copy_context().run(fn, *args, **kwargs)


def ls_parse(headers: dict[str, str], client: Client) -> LsRunTree:
    parsed = isolated(LsRunTree.from_headers, headers, client=client)
    assert parsed is not None
    return parsed


def canonical(value: Any) -> str:
    """JSON text that tells 1 from 1.0, so number types are compared too."""
    return json.dumps(value, sort_keys=True)


def assert_same(ours: RunTree, theirs: LsRunTree) -> None:
    """Our run and langsmith's agree on everything the headers carry."""
    assert ours.id == str(theirs.id)
    assert ours.trace_id == str(theirs.trace_id)
    assert ours.parent_run_id == (str(theirs.parent_run_id) if theirs.parent_run_id else None)
    assert ours.dotted_order == theirs.dotted_order
    assert set(ours.tags) == set(theirs.tags or [])  # langsmith sorts and de-duplicates
    assert canonical(ours.metadata) == canonical(theirs.extra.get("metadata", {}))
    assert ours.project_name == theirs.session_name


CASES = {
    "unicode": (
        ["b", "a", "ünï", "emoji 🎉"],
        {"s": "é ü 中文 🎉", "q": "a,b;c=d%20", "path": "/x/y?z=1&w#f"},
        "ünïcödé 项目",
    ),
    "numbers": (
        ["n"],
        {"f": 1.5, "one": 1.0, "i": 7, "big": 1e21, "tiny": 1.5e-7, "neg": -3, "t": True, "none": None},
        "team/project",
    ),
    "nested": (
        ["with space", "slash/tag"],
        {"a": {"b": [1, {"c": [True, None, "x"]}], "d": {}}, "e": [], "depth": {"1": {"2": {"3": {"4": "deep"}}}}},
        "my project",
    ),
    "delimiters": (
        ["a=b", "c;d", "100%", "+plus", "'quote'()*!~"],
        {"k=v,x;y": "%", "": "empty key", "pct": "%zz%2"},
        "a,b;c=d 100% +plus/(x)",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_our_headers_parse_in_langsmith(case: str, ls_client: Client) -> None:
    tags, metadata, project = CASES[case]
    root = RunTree("root", tags=tags, metadata=metadata, project_name=project)
    grandchild = root.create_child("child").create_child("grandchild", tags=["extra"], metadata={"own": "ü"})
    for run in (root, grandchild):
        headers = run.to_headers()
        assert all(name == name.lower() for name in headers)  # both SDKs look header names up case-sensitively
        assert_same(run, ls_parse(headers, ls_client))
    assert str(ls_parse(grandchild.to_headers(), ls_client).parent_run_id) == grandchild.parent_run_id


@pytest.mark.parametrize("case", ["unicode", "nested", "delimiters"])
def test_our_baggage_is_byte_identical_to_langsmiths(case: str, ls_client: Client) -> None:
    tags, metadata, project = CASES[case]
    ours = RunTree("root", tags=tags, metadata=metadata, project_name=project)
    theirs = LsRunTree(name="root", tags=tags, extra={"metadata": metadata}, project_name=project, client=ls_client)
    assert ours.to_headers()["baggage"] == theirs.to_headers()["baggage"]


def test_non_json_metadata_values_go_out_as_langsmith_sends_them(ls_client: Client) -> None:
    metadata = {"when": datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc), "id": uuid.UUID(int=1)}
    ours = RunTree("r", metadata=metadata, project_name="p")
    theirs = LsRunTree(name="r", extra={"metadata": metadata}, project_name="p", client=ls_client)
    assert ours.to_headers()["baggage"] == theirs.to_headers()["baggage"]


def _langsmith_runs(client: Client) -> dict[str, LsRunTree]:
    _, metadata, project = CASES["nested"]
    root = LsRunTree(
        name="root", tags=["z", "a", "ü"], extra={"metadata": {**metadata, "f": 1.0, "big": 1e21}},
        project_name=project, client=client,
    )  # fmt: skip
    child = root.create_child("child", tags=["c"], extra={"metadata": {"child": "ß"}})
    old = LsRunTree(name="old", id=uuid.uuid4(), tags=["v4"], project_name="legacy/svc", client=client)
    return {"root": root, "child": child, "grandchild": child.create_child("gc"), "uuid4": old}


@pytest.mark.parametrize("which", ["root", "child", "grandchild", "uuid4"])
def test_langsmith_headers_parse_in_ours(which: str, ls_client: Client) -> None:
    theirs = _langsmith_runs(ls_client)[which]
    ours = RunTree.from_headers(theirs.to_headers())
    assert ours is not None
    assert_same(ours, theirs)
    assert ours.parent_run_id == (str(theirs.parent_run_id) if theirs.parent_run_id else None)


def test_langsmith_traceable_headers_parse_in_ours(ls_client: Client) -> None:
    seen: list[tuple[dict[str, str], LsRunTree]] = []

    @langsmith.traceable(name="inner", tags=["in"], metadata={"inner": 2.5})
    def inner() -> None:
        current = langsmith.get_current_run_tree()
        seen.append((current.to_headers(), current))

    @langsmith.traceable(name="outer", tags=["out"], metadata={"m": "ü", "n": {"x": [1]}})
    def outer() -> None:
        current = langsmith.get_current_run_tree()
        seen.append((current.to_headers(), current))
        inner()

    def call() -> None:
        with langsmith.tracing_context(enabled="local", client=ls_client, project_name="svc/中 β"):
            outer()

    isolated(call)
    assert [run.name for _, run in seen] == ["outer", "inner"]
    for headers, theirs in seen:
        ours = RunTree.from_headers(headers)
        assert ours is not None
        assert_same(ours, theirs)
        assert ours.metadata["ls_method"] == "traceable"
    assert RunTree.from_headers(seen[1][0]).parent_run_id == str(seen[0][1].id)  # type: ignore[union-attr]


@pytest.mark.parametrize("digits", [1, 2, 3, 4, 5, 6])
def test_dotted_order_fraction_digits(digits: int) -> None:
    fraction = "123456"[:digits]
    trace_id, run_id = str(uuid.uuid4()), str(uuid.uuid4()).upper()  # an older sender, upper-case hex
    order = f"20240229T235959{fraction}Z{trace_id}.20240301T000000{fraction}Z{run_id}"
    ours = RunTree.from_dotted_order(order)
    theirs = _parse_dotted_order(order)
    assert ours is not None
    assert (ours.trace_id, ours.id, ours.parent_run_id) == (str(theirs[0][1]), str(theirs[1][1]), trace_id)
    assert ours.start_time == theirs[1][0].replace(tzinfo=timezone.utc)
    assert ours.dotted_order == order  # forwarded as received


def _js_quote(text: str) -> str:
    """JavaScript's encodeURIComponent: unlike Python's quote, it escapes / and keeps !'()* literal."""
    return quote(text, safe="-_.!~*'()")


@pytest.mark.parametrize("encode", [quote, _js_quote], ids=["python-quote", "js-encodeURIComponent"])
def test_both_escaping_styles(encode: Callable[[str], str], ls_client: Client) -> None:
    metadata = {"path": "/a/b", "s": "ü 🎉 '()*!~", "q": "a,b;c=d"}
    tags = ["x/y", "ü", "it's (ok)*"]
    project = "team/ünï (prod)*"
    baggage = (
        f"langsmith-metadata={encode(json.dumps(metadata, separators=(',', ':'), ensure_ascii=False))},"
        f"langsmith-tags={encode(','.join(tags))},langsmith-project={encode(project)}"
    )
    headers = {"langsmith-trace": format_ts(1_700_000_000_000_000) + str(uuid.uuid4()), "baggage": baggage}
    ours, theirs = RunTree.from_headers(headers), ls_parse(headers, ls_client)
    assert ours is not None
    assert (ours.metadata, ours.tags, ours.project_name) == (metadata, tags, project)
    assert_same(ours, theirs)


def test_baggage_written_by_langsmith_js() -> None:
    """A baggage value as langsmith's JavaScript SDK wrote it (JSON.stringify + encodeURIComponent)."""
    baggage = (
        "langsmith-metadata=%7B%22x%22%3A1%2C%22big%22%3A1e%2B21%2C%22u%22%3A%22%C3%A9%2F%20%2C'()*!%22%7D,"
        "langsmith-tags=b%2Ca,langsmith-project=my%20proj%2F%C3%BC"
    )
    ours = RunTree.from_headers({"langsmith-trace": "20261125T164626793001Z01a21399-f5e9-7000-8000-03a12e454a8f",
                                 "baggage": baggage})  # fmt: skip
    assert ours is not None
    assert ours.metadata == {"x": 1, "big": 1e21, "u": "é/ ,'()*!"}
    assert (ours.tags, ours.project_name) == (["b", "a"], "my proj/ü")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1), ("1.0", 1.0), ("1e21", 1e21), ("1e+21", 1e21), ("1E21", 1e21), ("-0", 0), ("1.5e-7", 1.5e-7)],
)
def test_json_number_forms(text: str, expected: float, ls_client: Client) -> None:
    headers = {
        "langsmith-trace": format_ts(1_700_000_000_000_000) + str(uuid.uuid4()),
        "baggage": "langsmith-metadata=" + quote('{"n":' + text + "}"),
    }
    ours, theirs = RunTree.from_headers(headers), ls_parse(headers, ls_client)
    assert ours is not None
    assert ours.metadata == {"n": expected} == theirs.extra["metadata"]
    assert canonical(ours.metadata) == canonical(theirs.extra["metadata"])  # int stays int, float stays float


@pytest.mark.parametrize("ahead", [timedelta(0), timedelta(minutes=10)], ids=["now", "parent-10-min-ahead"])
def test_our_child_of_a_langsmith_parent(ahead: timedelta, ls_client: Client) -> None:
    parent = LsRunTree(name="p", start_time=datetime.now(timezone.utc) + ahead, tags=["t"], client=ls_client)
    remote = RunTree.from_headers(parent.to_headers())
    assert remote is not None
    child = remote.create_child("ours", tags=["mine"], metadata={"k": "v"})
    assert child.dotted_order == f"{parent.dotted_order}.{format_ts(child.start_us)}{child.id}"
    assert (child.trace_id, child.parent_run_id) == (str(parent.trace_id), str(parent.id))
    segments = _parse_dotted_order(child.dotted_order)
    assert segments[-1][0] >= segments[-2][0]  # langsmith's backend rejects a child stamped before its parent
    assert child.start_time >= parent.start_time


def test_traced_block_under_a_future_langsmith_parent(ls_client: Client, memory: InMemoryExporter) -> None:
    parent = LsRunTree(name="p", start_time=datetime.now(timezone.utc) + timedelta(minutes=10), client=ls_client)
    with tracing_context(parent=parent.to_headers()), trace("handler") as run:
        sent = run.to_headers()
    (recorded,) = memory.by_name("handler")
    assert recorded.parent_run_id == str(parent.id)
    assert recorded.start_time >= parent.start_time
    assert recorded.end_time is not None and recorded.end_time >= recorded.start_time
    theirs = ls_parse(sent, ls_client)
    assert str(theirs.parent_run_id) == str(parent.id)
    assert theirs.dotted_order.startswith(parent.dotted_order + ".")


def test_round_trip_ours_langsmith_ours(ls_client: Client) -> None:
    tags, metadata, project = CASES["unicode"]
    run = RunTree("root", tags=tags, metadata=metadata, project_name=project).create_child("child")
    theirs = ls_parse(run.to_headers(), ls_client)
    back = RunTree.from_headers(theirs.to_headers())
    assert back is not None
    assert (back.id, back.trace_id, back.parent_run_id, back.dotted_order) == (
        run.id, run.trace_id, run.parent_run_id, run.dotted_order,
    )  # fmt: skip
    assert (set(back.tags), back.metadata, back.project_name) == (set(tags), metadata, project)


def test_round_trip_langsmith_ours_langsmith(ls_client: Client) -> None:
    theirs = _langsmith_runs(ls_client)["child"]
    remote = RunTree.from_headers(theirs.to_headers())
    assert remote is not None
    ours = remote.create_child("ours", tags=["mine"], metadata={"ours": 1})
    back = ls_parse(ours.to_headers(), ls_client)
    assert str(back.parent_run_id) == str(theirs.id)
    assert (str(back.id), str(back.trace_id), back.dotted_order) == (ours.id, str(theirs.trace_id), ours.dotted_order)
    assert back.dotted_order.startswith(theirs.dotted_order + ".")
    assert back.extra["metadata"] == {**theirs.extra["metadata"], "ours": 1}
    assert set(back.tags) == {*theirs.tags, "mine"} and back.session_name == theirs.session_name

    @langsmith.traceable(name="downstream")
    def downstream() -> LsRunTree:
        return langsmith.get_current_run_tree()

    def call() -> LsRunTree:
        with langsmith.tracing_context(enabled="local", client=ls_client):
            return downstream(langsmith_extra={"parent": ours.to_headers()})  # type: ignore[call-arg]

    their_child = isolated(call)
    assert (str(their_child.parent_run_id), str(their_child.trace_id)) == (ours.id, ours.trace_id)
    assert their_child.dotted_order.startswith(ours.dotted_order + ".")
    assert their_child.session_name == theirs.session_name


def test_injected_headers_with_foreign_baggage_parse_in_langsmith(ls_client: Client) -> None:
    run = RunTree("r", tags=["t"], metadata={"k": "ü"}, project_name="p/q")
    carrier = {"Baggage": "vendor=1;prop=2,other=x%20y", "Langsmith-Trace": "stale"}
    inject(carrier, run)
    assert carrier["baggage"].startswith("vendor=1;prop=2,other=x%20y,")
    assert_same(run, ls_parse(carrier, ls_client))


def test_invalid_foreign_member_does_not_hide_ours_from_langsmith(ls_client: Client) -> None:
    run = RunTree("r", tags=["t"], project_name="p")
    carrier = {"baggage": "garbage,other=x"}
    inject(carrier, run)
    theirs = ls_parse(carrier, ls_client)
    assert (theirs.tags, theirs.session_name) == (["t"], "p")


_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=","), min_size=1, max_size=16)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
_METADATA = st.dictionaries(_TEXT, _JSON, max_size=4)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_TAGS = st.lists(_TEXT, max_size=4, unique=True)
_HYPOTHESIS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_HYPOTHESIS
@given(tags=_TAGS, metadata=_METADATA, project=_TEXT)
def test_any_headers_of_ours_parse_in_langsmith(
    tags: list[str], metadata: dict[str, Any], project: str, ls_client: Client
) -> None:
    assume(_depth(metadata) <= 8)  # deeper metadata is dropped on purpose (a receiver's cap)
    run = RunTree("r", tags=tags, metadata=metadata, project_name=project)
    assert_same(run, ls_parse(run.to_headers(), ls_client))


@_HYPOTHESIS
@given(tags=_TAGS, metadata=_METADATA, project=_TEXT)
def test_any_headers_of_langsmith_parse_in_ours(
    tags: list[str], metadata: dict[str, Any], project: str, ls_client: Client
) -> None:
    assume(_depth(metadata) <= 8)
    theirs = LsRunTree(name="r", tags=tags, extra={"metadata": metadata}, project_name=project, client=ls_client)
    ours = RunTree.from_headers(theirs.to_headers())
    assert ours is not None
    assert (ours.tags, ours.metadata, ours.project_name) == (tags, metadata, project)
    assert_same(ours, theirs)
