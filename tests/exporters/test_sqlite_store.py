"""TraceStore, the read side: trace listings and their filters, whole traces, tail and export reads."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tracing_middleware import RunTree
from tracing_middleware.exporters.sqlite import SQLiteExporter, StoreError, TraceStore

TraceFactory = Callable[..., list[RunTree]]  # the make_trace fixture
pytestmark = pytest.mark.usefixtures("configured")

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
T0_US = int(T0.timestamp() * 1_000_000)


def single(name: str, minutes: int, *, error: str | None = None, project: str | None = None) -> RunTree:
    """A one-run trace started ``minutes`` after T0, lasting 2 ms."""
    run = RunTree(name, start_time=T0 + timedelta(minutes=minutes), project_name=project)
    run.end(error=error, end_time=T0 + timedelta(minutes=minutes, milliseconds=2))
    return run


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "store.sqlite3"
    api = SQLiteExporter(path, service_name="api")
    worker = SQLiteExporter(path, service_name="worker")
    # A trace crossing two services: api's root, worker's child under it.
    root = RunTree("GET /orders", start_time=T0 + timedelta(minutes=30), project_name="shop")
    child = root.create_child("charge", "tool")
    child.start_us = root.start_us + 1000  # as if the child ran back then (its dotted order is not built yet)
    child.end(error="CardDeclined: no funds", end_time=T0 + timedelta(minutes=30, milliseconds=3))
    root.end(end_time=T0 + timedelta(minutes=30, milliseconds=5))
    worker.export([child])
    api.export([root])
    api.export([single("GET /health", 10, project="shop"), single("GET /health", 20, project="shop")])
    worker.export([single("nightly", 40, error="Boom", project="batch")])
    api.shutdown()
    worker.shutdown()
    return path


@pytest.fixture
def store(store_path: Path) -> TraceStore:
    with TraceStore(store_path) as opened:
        yield opened


def names(summaries: list) -> list[str]:  # type: ignore[type-arg]
    return [s.root_name for s in summaries]


def test_list_traces_newest_first_with_summaries(store: TraceStore) -> None:
    traces = store.list_traces()
    assert names(traces) == ["nightly", "GET /orders", "GET /health", "GET /health"]
    orders = traces[1]
    assert orders.services == ["api", "worker"]
    assert (orders.run_count, orders.error_count, orders.project) == (2, 1, "shop")
    assert orders.start_us == T0_US + 30 * 60_000_000
    assert orders.duration_us == orders.end_us - orders.start_us == 5000
    health = traces[2]
    assert (health.run_count, health.error_count, health.duration_us, health.services) == (1, 0, 2000, ["api"])


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"project": "shop"}, ["GET /orders", "GET /health", "GET /health"]),
        ({"project": "batch"}, ["nightly"]),
        ({"service": "worker"}, ["nightly", "GET /orders"]),
        ({"service": "nobody"}, []),
        ({"root_name": "GET /health"}, ["GET /health", "GET /health"]),
        ({"root_name": "charge"}, []),  # a child's name is not a root name
        ({"errors_only": True}, ["nightly", "GET /orders"]),
        ({"errors_only": True, "project": "shop"}, ["GET /orders"]),
        ({"since_us": T0_US + 15 * 60_000_000}, ["nightly", "GET /orders", "GET /health"]),
        ({"until_us": T0_US + 15 * 60_000_000}, ["GET /health"]),
        ({"since_us": T0_US + 15 * 60_000_000, "until_us": T0_US + 35 * 60_000_000}, ["GET /orders", "GET /health"]),
        ({"limit": 2}, ["nightly", "GET /orders"]),
    ],
)
def test_list_traces_filters(store: TraceStore, kwargs: dict, expected: list[str]) -> None:  # type: ignore[type-arg]
    assert names(store.list_traces(**kwargs)) == expected


def test_list_traces_rejects_bad_arguments(store: TraceStore) -> None:
    with pytest.raises(ValueError, match="limit must be a positive int"):
        store.list_traces(limit=0)
    with pytest.raises(TypeError, match="since_us must be an int"):
        store.list_traces(since_us="yesterday")  # type: ignore[arg-type]


def test_get_trace_by_full_id_prefix_and_w3c_form(store: TraceStore) -> None:
    orders = store.list_traces(root_name="GET /orders")[0]
    runs = store.get_trace(orders.trace_id)
    assert [(r.name, r.service, r.depth) for r in runs] == [("GET /orders", "api", 1), ("charge", "worker", 2)]
    assert runs[1].parent_run_id == runs[0].id
    assert runs[1].error == "CardDeclined: no funds"
    assert store.get_trace(orders.trace_id.upper()) == runs
    assert store.get_trace(orders.trace_id.replace("-", "")) == runs
    others = {t.trace_id for t in store.list_traces()} - {orders.trace_id}
    length = next(n for n in range(1, 37) if all(not o.startswith(orders.trace_id[:n]) for o in others))
    assert store.get_trace(orders.trace_id[:length]) == runs
    assert store.get_trace("ffffffff-0000") == []


def test_ambiguous_prefix_names_the_candidates(store: TraceStore) -> None:
    ids = sorted(t.trace_id for t in store.list_traces())
    common = next(n for n in range(36, 0, -1) if ids[0][:n] == ids[1][:n])
    with pytest.raises(StoreError, match="matches several traces"):
        store.get_trace(ids[0][:common])
    with pytest.raises(ValueError, match="non-empty"):
        store.get_trace("  ")


def test_runs_since_follows_new_writes(store_path: Path, make_trace: TraceFactory) -> None:
    with TraceStore(store_path) as store:
        mark = store.last_rowid()
        assert store.count_runs() == 5
        assert store.runs_since(mark) == []
        writer = SQLiteExporter(store_path, service_name="late")
        first, second = make_trace("first", 1), make_trace("second", 1)
        writer.export(first)  # written while the reader is open: WAL readers see each commit
        new = store.runs_since(mark)
        assert [r.id for r in new] == [r.id for r in first]
        writer.export(second)
        newer = store.runs_since(new[-1].rowid)
        assert [r.id for r in newer] == [r.id for r in second]
        assert [r.id for r in store.runs_since(mark, limit=2)] == [r.id for r in first[:2]]
        assert len(store.runs_since(0, since_us=T0_US + 35 * 60_000_000)) == 1 + len(first) + len(second)
        writer.shutdown()
    with pytest.raises(TypeError, match="after_rowid"):
        TraceStore(store_path).runs_since("0")  # type: ignore[arg-type]


def test_iter_runs_streams_everything_or_one_trace(store: TraceStore) -> None:
    every = list(store.iter_runs())
    assert len(every) == store.count_runs() == 5
    assert [r.rowid for r in every] == sorted(r.rowid for r in every)
    orders = store.list_traces(root_name="GET /orders")[0]
    assert [r.name for r in store.iter_runs(trace_id=orders.trace_id[:36])] == ["GET /orders", "charge"]
    assert [r.name for r in store.iter_runs(since_us=T0_US + 35 * 60_000_000)] == ["nightly"]
    assert list(store.iter_runs(trace_id="ffffffff-ffff")) == []


def test_store_is_read_only(store: TraceStore) -> None:
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        store._conn.execute("DELETE FROM runs")


def test_stored_run_to_dict_is_langsmith_shaped(store: TraceStore) -> None:
    run = store.iter_runs(since_us=T0_US + 35 * 60_000_000).__next__()
    record = run.to_dict()
    assert record["start_time"] == "2024-01-01T00:40:00+00:00"
    assert record["end_time"] == "2024-01-01T00:40:00.002000+00:00"
    assert record["session_name"] == "batch"
    assert record["extra"] == {"metadata": {}}
    assert record["service"] == "worker"
