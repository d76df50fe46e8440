"""SQLiteExporter: what lands in the file, where the file lives, batching through the real processor."""

from __future__ import annotations

import json
import os
import sqlite3
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tracing_middleware as tm
from tracing_middleware import RunTree
from tracing_middleware.core.batch import BatchProcessor
from tracing_middleware.exporters.serialize import FIELD_LIMIT
from tracing_middleware.exporters.sqlite import SQLiteExporter, TraceStore, default_path

TraceFactory = Callable[..., list[RunTree]]  # the make_trace fixture
pytestmark = pytest.mark.usefixtures("configured")


def rows(path: Path, sql: str = "SELECT COUNT(*) FROM runs") -> list[Any]:
    with sqlite3.connect(path) as conn:
        result = conn.execute(sql).fetchall()
    conn.close()
    return result


def test_every_field_round_trips(tmp_path: Path, make_trace: TraceFactory) -> None:
    path = tmp_path / "t.sqlite3"
    runs = make_trace("checkout", 2, error_in=1)
    runs[-1].add_tags("http")
    runs[-1].add_metadata({"user": "u1"})
    runs[-1].add_event("retry", attempt=2)
    runs[-1].tracestate = "vendor=x"
    exporter = SQLiteExporter(path)
    exporter.export(runs)
    exporter.shutdown()

    with TraceStore(path) as store:
        stored = store.get_trace(runs[-1].trace_id)
    by_id = {run.id: run for run in runs}
    assert [s.dotted_order for s in stored] == sorted(r.dotted_order for r in runs)
    assert stored[0].name == "checkout" and stored[0].depth == 1
    for s in stored:
        run = by_id[s.id]
        assert (s.trace_id, s.parent_run_id, s.name, s.run_type) == (
            run.trace_id,
            run.parent_run_id,
            run.name,
            run.run_type,
        )
        assert (s.start_us, s.end_us, s.error) == (run.start_us, run.end_us, run.error)
        assert (s.inputs, s.outputs, s.tags, s.metadata) == (run.inputs, run.outputs, run.tags, run.metadata)
        assert s.events == run.events
        assert (s.span_id, s.parent_span_id, s.tracestate) == (run.span_id, run.parent_span_id, run.tracestate)
        assert s.depth == run.dotted_order.count(".") + 1
        assert s.project == "proj-default"
        assert s.service == "svc-default"
        assert s.duration_us == run.end_us - run.start_us  # type: ignore[operator]
    failed = [s for s in stored if s.status == "error"]
    assert [s.name for s in failed] == ["checkout.child1"]
    expected = runs[-1].to_dict() | {"session_name": "proj-default"}
    assert stored[0].to_dict() == expected | {
        "service": "svc-default",
        "span_id": runs[-1].span_id,
        "parent_span_id": None,
    }


def test_explicit_service_and_run_project_win(tmp_path: Path, make_trace: TraceFactory) -> None:
    path = tmp_path / "t.sqlite3"
    SQLiteExporter(path, service_name="billing").export(make_trace("a", 1, project_name="payments"))
    assert rows(path, "SELECT DISTINCT service, project FROM runs") == [("billing", "payments")]


def test_service_is_read_at_export_time(tmp_path: Path, make_trace: TraceFactory) -> None:
    path = tmp_path / "t.sqlite3"
    exporter = SQLiteExporter(path)
    tm.configure(exporter="none", service_name="later-name")
    exporter.export(make_trace("a", 0))
    assert rows(path, "SELECT service FROM runs") == [("later-name",)]


def test_re_export_replaces_instead_of_duplicating(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    exporter = SQLiteExporter(path)
    run = RunTree("job")
    run.end(outputs={"v": 1})
    exporter.export([run])
    run.outputs = {"v": 2}
    exporter.export([run])
    assert rows(path, "SELECT outputs FROM runs") == [('{"v":2}',)]


@pytest.mark.parametrize("count", [1, 39, 40, 41, 80, 123])
def test_every_batch_size_is_written_whole_and_in_order(tmp_path: Path, count: int) -> None:
    # Rows go in by multi-row statements of a fixed size: the sizes around it, and a run twice in a batch.
    path = tmp_path / "t.sqlite3"
    runs = []
    for i in range(count):
        run = RunTree(f"job-{i}", inputs={"i": i})
        run.end(outputs={"i": i})
        runs.append(run)
    SQLiteExporter(path).export([*runs, runs[0]])  # the first run once more, later in the same batch
    stored = rows(path, "SELECT id, name, inputs, outputs FROM runs ORDER BY rowid")
    assert len(stored) == count
    assert sorted(stored, key=lambda r: int(r[1].split("-")[1])) == [
        (run.id, run.name, json.dumps({"i": i}, separators=(",", ":")), json.dumps({"i": i}, separators=(",", ":")))
        for i, run in enumerate(runs)
    ]
    assert [name for _, name, _, _ in stored][: count - 1] == [run.name for run in runs[1:]]  # replaced: now last


def test_file_is_wal_with_versioned_schema_and_indexes(tmp_path: Path, make_trace: TraceFactory) -> None:
    path = tmp_path / "t.sqlite3"
    exporter = SQLiteExporter(path)
    exporter.export(make_trace())
    assert rows(path, "PRAGMA journal_mode") == [("wal",)]
    assert rows(path, "SELECT version FROM schema_version") == [(1,)]
    indexes = {name for (name,) in rows(path, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"runs_trace", "runs_start", "runs_project", "runs_service", "runs_name"} <= indexes
    plan = " ".join(str(r) for r in rows(path, "EXPLAIN QUERY PLAN SELECT * FROM runs WHERE trace_id = 'x'"))
    assert "runs_trace" in plan
    exporter.shutdown()


def test_hostile_values_are_stored_safely(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    cycle: list[Any] = []
    cycle.append(cycle)
    run = RunTree("bad \ud800 name\n", inputs={"obj": object(), "bytes": b"\x00\x01", "cycle": cycle})
    run.inputs["big"] = "x" * 10_000_000
    run.end(outputs=float("nan"), error="E" * 10_000_000)
    run.metadata["nan"] = float("inf")
    exporter = SQLiteExporter(path)
    exporter.export([run])
    (stored,) = TraceStore(path).get_trace(run.trace_id)
    assert stored.name == "bad ? name\n"
    assert stored.inputs["__truncated__"] is True
    assert stored.outputs == {"output": "NaN"}
    assert stored.metadata == {"nan": "Infinity"}
    assert stored.error is not None and stored.error.endswith("...<truncated 9934464 chars>")
    (size,) = rows(path, "SELECT length(inputs) FROM runs")[0]
    assert size < FIELD_LIMIT


def test_default_path_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACING_MIDDLEWARE_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_path() == tmp_path / "xdg" / "tracing-middleware" / "traces.sqlite3"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / ".local" / "share" / "tracing-middleware" / "traces.sqlite3"
    monkeypatch.setenv("TRACING_MIDDLEWARE_DB", str(tmp_path / "explicit.db"))
    assert default_path() == tmp_path / "explicit.db"
    assert SQLiteExporter().path == tmp_path / "explicit.db"


def test_folder_is_created_on_first_export_not_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_trace: TraceFactory
) -> None:
    monkeypatch.delenv("TRACING_MIDDLEWARE_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    exporter = SQLiteExporter()
    assert not (tmp_path / "data").exists()
    exporter.export(make_trace())
    assert rows(tmp_path / "data" / "tracing-middleware" / "traces.sqlite3") == [(4,)]
    exporter.shutdown()


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(TypeError, match="path must be"):
        SQLiteExporter(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="service_name"):
        SQLiteExporter("x.db", service_name=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout_s"):
        SQLiteExporter("x.db", timeout_s=-1)


def test_registered_name_batches_through_the_processor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACING_MIDDLEWARE_DB", str(tmp_path / "env.sqlite3"))
    settings = tm.configure(exporter="sqlite", service_name="api", project_name="shop")
    assert isinstance(settings.processors[0], BatchProcessor)

    @tm.traceable(run_type="tool")
    def lookup(item: str) -> dict[str, str]:
        return {"item": item}

    @tm.traceable
    def handle(n: int) -> int:
        for i in range(n):
            lookup(f"i{i}")
        return n

    for _ in range(10):
        handle(3)
    assert tm.flush(timeout=30)
    with TraceStore(tmp_path / "env.sqlite3") as store:
        assert store.count_runs() == 40
        traces = store.list_traces(limit=100)
    assert len(traces) == 10
    assert {(t.root_name, t.run_count, tuple(t.services), t.project) for t in traces} == {
        ("handle", 4, ("api",), "shop")
    }


def test_forked_child_reopens_its_own_connection(tmp_path: Path, make_trace: TraceFactory) -> None:
    path = tmp_path / "t.sqlite3"
    exporter = SQLiteExporter(path)
    exporter.export(make_trace("parent-before"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads alive: this child uses none
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child process
        code = 1
        try:
            exporter.export(make_trace("child"))
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    exporter.export(make_trace("parent-after"))
    with TraceStore(path) as store:
        names = sorted(t.root_name for t in store.list_traces())
    assert names == ["child", "parent-after", "parent-before"]
    assert rows(path, "PRAGMA integrity_check") == [("ok",)]
    exporter.shutdown()


def test_jsonable_columns_are_strict_json(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    run = RunTree("r", inputs={"x": float("nan")})
    run.end()
    SQLiteExporter(path).export([run])
    (inputs, outputs, tags, metadata, events) = rows(path, "SELECT inputs, outputs, tags, metadata, events FROM runs")[
        0
    ]
    assert json.loads(inputs, parse_constant=lambda c: pytest.fail(c)) == {"x": "NaN"}
    assert (outputs, tags, metadata, events) == (None, "[]", "{}", "[]")


def test_a_damaged_run_is_skipped_not_the_batch(tmp_path: Path, make_trace: TraceFactory) -> None:
    path = tmp_path / "t.sqlite3"
    good = make_trace("good", 1)
    damaged = RunTree("damaged")
    damaged.start_us = None  # type: ignore[assignment]
    no_id = RunTree("no-id")
    no_id.end()
    no_id.id = None  # type: ignore[assignment]
    exporter = SQLiteExporter(path)
    exporter.export([damaged, *good, no_id])
    assert rows(path, "SELECT name FROM runs ORDER BY dotted_order") == [
        ("good",),
        ("good.child0",),
        ("good.grandchild",),
    ]
    assert exporter.skipped.count == 2


def test_busy_timeout_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACING_MIDDLEWARE_DB_TIMEOUT", "0.25")
    assert SQLiteExporter("x.db").timeout_s == 0.25
    monkeypatch.setenv("TRACING_MIDDLEWARE_DB_TIMEOUT", "soon")  # warns, and the default is used
    assert SQLiteExporter("x.db").timeout_s == 5.0
