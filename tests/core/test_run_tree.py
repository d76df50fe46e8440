"""RunTree as plain data: UUIDv7 ids, dotted order, clock skew, end times and LangSmith's run schema."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from tracing_middleware import RunTree
from tracing_middleware.core import ids
from tracing_middleware.core.ids import format_ts, now_us

ID_FACTORIES: dict[str, Callable[[], Callable[[], str]]] = {
    "stdlib": ids._stdlib_uuid7_factory,
    "uuid-utils": lambda: ids._pick(),
}


def _check_v7(value: str) -> None:
    parsed = uuid.UUID(value)
    assert str(parsed) == value  # canonical, lowercase
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


@pytest.mark.parametrize("name", ID_FACTORIES)
def test_ids_are_time_ordered_uuid7(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if name == "uuid-utils":
        pytest.importorskip("uuid_utils")
        monkeypatch.delenv("TRACING_MIDDLEWARE_PURE_IDS", raising=False)
    new = ID_FACTORIES[name]()
    before_ms = now_us() // 1000
    made = [new() for _ in range(10_000)]
    after_ms = now_us() // 1000
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    for value in (made[0], made[-1]):
        _check_v7(value)
        assert before_ms - 1 <= uuid.UUID(value).int >> 80 <= after_ms + 1


def test_stdlib_ids_stay_ordered_when_the_clock_steps_back(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_700_000_000_000_000_000]
    monkeypatch.setattr(ids, "time", SimpleNamespace(time_ns=lambda: clock[0]))  # this module's clock only
    new = ids._stdlib_uuid7_factory()
    first = [new() for _ in range(5000)]  # more than one millisecond's 12-bit counter
    clock[0] -= 5_000_000_000  # five seconds back
    second = [new() for _ in range(10)]
    made = first + second
    assert made == sorted(made) and len(set(made)) == len(made)
    for value in made[::500]:
        _check_v7(value)


def test_runs_get_uuid7_ids_and_are_their_own_trace() -> None:
    run = RunTree("root")
    _check_v7(run.id)
    assert run.trace_id == run.id and run.parent_run_id is None
    assert run.dotted_order == format_ts(run.start_us) + run.id


def test_child_dotted_order_extends_the_parent() -> None:
    root = RunTree("root", tags=["a"], metadata={"k": 1}, project_name="p")
    child = root.create_child("child", "tool", tags=["b", "a"], metadata={"j": 2})
    grandchild = child.create_child("grandchild")
    assert (child.trace_id, child.parent_run_id) == (root.id, root.id)
    assert grandchild.parent_run_id == child.id and grandchild.trace_id == root.id
    assert child.dotted_order == f"{root.dotted_order}.{format_ts(child.start_us)}{child.id}"
    assert grandchild.dotted_order.startswith(child.dotted_order + ".")
    assert (child.tags, child.metadata, child.project_name) == (["a", "b"], {"k": 1, "j": 2}, "p")
    assert grandchild.start_us >= child.start_us >= root.start_us


def test_child_never_starts_before_a_parent_whose_clock_is_ahead() -> None:
    ahead = datetime.now(timezone.utc) + timedelta(minutes=10)
    parent = RunTree("parent", start_time=ahead)
    child = parent.create_child("child")
    assert child.start_us >= parent.start_us
    assert child.start_time >= parent.start_time
    child.end()  # "now" is 10 minutes before the start: clamped
    assert child.end_us is not None and child.end_us >= child.start_us


def test_child_of_a_remote_parent_ten_minutes_ahead() -> None:
    ahead_us = now_us() + 600_000_000
    run_id = str(uuid.uuid4())
    remote = RunTree.from_headers({"langsmith-trace": format_ts(ahead_us) + run_id})
    assert remote is not None and remote.start_us == ahead_us
    child = remote.create_child("handler")
    assert child.start_us >= ahead_us
    stamps = [segment[:22] for segment in child.dotted_order.split(".")]
    assert stamps == sorted(stamps)


def test_end_never_before_start() -> None:
    run = RunTree("run")
    run.end(end_time=run.start_time - timedelta(seconds=30))
    assert run.end_us == run.start_us
    later = RunTree("run")
    later.end(outputs=[1], end_time=later.start_time + timedelta(seconds=1))
    assert later.end_us == later.start_us + 1_000_000
    assert later.outputs == {"output": [1]}


def test_end_with_an_error() -> None:
    run = RunTree("run")
    run.end(error=ValueError("bad"))
    assert run.error == "ValueError: bad"
    other = RunTree("run")
    other.end(error="plain text")
    assert other.error == "plain text"


def test_bad_run_type_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="retriever"):
        RunTree("x", "nonsense")
    with pytest.raises(ValueError, match="chain"):
        RunTree("x").create_child("y", "nonsense")


def test_to_dict_has_the_langsmith_run_schema() -> None:
    root = RunTree("root", inputs={"q": "hi"}, tags=["t"], metadata={"m": 1}, project_name="proj")
    child = root.create_child("child", "llm")
    child.add_event("token", n=1)
    child.end(outputs="answer")
    data = child.to_dict()
    expected = {
        "id", "trace_id", "parent_run_id", "dotted_order", "name", "run_type", "start_time", "end_time",
        "inputs", "outputs", "error", "tags", "extra", "session_name", "events",
    }  # fmt: skip
    assert expected <= set(data)
    assert (data["id"], data["trace_id"], data["parent_run_id"]) == (child.id, root.id, root.id)
    assert (data["name"], data["run_type"], data["session_name"]) == ("child", "llm", "proj")
    assert data["dotted_order"] == child.dotted_order
    assert data["outputs"] == {"output": "answer"} and data["error"] is None
    assert data["tags"] == ["t"] and data["extra"]["metadata"] == {"m": 1}
    assert data["events"][0]["name"] == "token"
    start = datetime.fromisoformat(data["start_time"])
    end = datetime.fromisoformat(data["end_time"])
    assert start.tzinfo is not None and end >= start
    assert json.loads(json.dumps(data)) == data  # plain JSON types only

    open_root = root.to_dict()
    assert open_root["end_time"] is None and open_root["parent_run_id"] is None
    assert open_root["inputs"] == {"q": "hi"}


def test_to_dict_is_a_copy_of_the_lists() -> None:
    run = RunTree("run", tags=["a"], metadata={"k": 1})
    data = run.to_dict()
    data["tags"].append("b")
    data["extra"]["metadata"]["j"] = 2
    assert run.tags == ["a"] and run.metadata == {"k": 1}


def test_from_dotted_order() -> None:
    root = RunTree("root")
    child = root.create_child("child")
    remote = RunTree.from_dotted_order(child.dotted_order)
    assert remote is not None
    assert (remote.id, remote.trace_id, remote.parent_run_id) == (child.id, root.id, root.id)
    assert RunTree.from_dotted_order("nonsense") is None


def test_explicit_ids_are_lowercased() -> None:
    upper = str(uuid.uuid4()).upper()
    assert RunTree("x", id=upper).id == upper.lower()
    assert RunTree("x").create_child("y", run_id=upper).id == upper.lower()
