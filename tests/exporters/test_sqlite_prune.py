"""Store retention: whole traces older than a cutoff are deleted, beside live writers; the file shrinks."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tracing_middleware import RunTree
from tracing_middleware.core.ids import datetime_to_us
from tracing_middleware.exporters.sqlite import SQLiteExporter, TraceStore
from tracing_middleware.exporters.sqlite_prune import _delete_chunk, old_traces, prune, store_stats
from tracing_middleware.exporters.sqlite_schema import StoreError

NOW = datetime.now(timezone.utc)


def trace(
    name: str, age: timedelta, children: int = 2, payload: int = 0, child_age: timedelta | None = None
) -> list[RunTree]:
    """A finished trace that started ``age`` ago and lasted a second; children start with it (or ``child_age`` ago)."""
    start = NOW - age
    top = RunTree(name, start_time=start, inputs={"blob": "x" * payload})
    runs = []
    for i in range(children):
        kid = top.create_child(f"{name}.{i}")
        kid.start_us = datetime_to_us(NOW - (child_age or age))
        kid.end(end_time=NOW - (child_age or age) + timedelta(milliseconds=10))
        runs.append(kid)
    top.end(end_time=start + timedelta(seconds=1))
    return [*runs, top]


def write(path: Path, *traces: list[RunTree]) -> None:
    exporter = SQLiteExporter(path, service_name="svc")
    try:
        exporter.export([run for runs in traces for run in runs])
    finally:
        exporter.shutdown()


def names(path: Path) -> set[str]:
    with TraceStore(path) as store:
        return {summary.root_name for summary in store.list_traces(limit=10_000)}


def test_deletes_whole_traces_older_than_the_age_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    write(
        path,
        trace("ancient", timedelta(days=30)),
        trace("old", timedelta(days=8)),
        trace("recent", timedelta(days=6)),
        trace("today", timedelta(minutes=5)),
        # Began long ago but a child ran an hour ago: still active, kept whole.
        trace("long-running", timedelta(days=10), child_age=timedelta(hours=1)),
    )

    result = prune(path, 7 * 86_400)

    assert (result.traces, result.runs) == (2, 6)
    assert names(path) == {"recent", "today", "long-running"}
    with TraceStore(path) as store:
        assert store.count_runs() == 9
    assert result.vacuumed and result.size_after <= result.size_before


def test_dry_run_counts_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    write(path, trace("old", timedelta(days=8), children=4), trace("new", timedelta(hours=1)))
    before = path.read_bytes()
    result = prune(path, 86_400, dry_run=True)
    assert (result.traces, result.runs, result.vacuumed) == (1, 5, False)
    assert names(path) == {"old", "new"}
    assert path.read_bytes() == before


def test_vacuum_gives_the_space_back_and_without_it_the_pages_stay_free(tmp_path: Path) -> None:
    for vacuum in (True, False):
        path = tmp_path / f"v{vacuum}.sqlite3"
        write(path, *(trace(f"big{i}", timedelta(days=9), children=1, payload=20_000) for i in range(100)))
        write(path, trace("keep", timedelta(minutes=1)))
        result = prune(path, 86_400, vacuum=vacuum)
        assert result.traces == 100
        stats = store_stats(path)
        assert stats.traces == 1 and stats.runs == 3
        if vacuum:
            assert result.size_after < result.size_before / 5
            assert result.freed == result.size_before - result.size_after
            assert stats.free_bytes == 0
        else:
            assert stats.free_bytes > 1_000_000  # reused by the next runs rather than given back
            assert not result.vacuumed


def test_a_run_that_arrives_during_the_prune_keeps_its_trace_whole(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    late = trace("late", timedelta(days=9))
    write(path, late, trace("gone", timedelta(days=9)))
    cutoff = datetime_to_us(NOW - timedelta(days=7))
    with sqlite3.connect(path, isolation_level=None) as conn:
        found = old_traces(conn, cutoff)
        assert len(found) == 2
        straggler = late[-1].create_child("straggler")  # a slow child of the old trace is written meanwhile
        straggler.end()
        write(path, [straggler])
        assert _delete_chunk(conn, found, cutoff) == (1, 3)
    conn.close()
    assert names(path) == {"late"}
    with TraceStore(path) as store:
        assert len(store.get_trace(late[-1].trace_id)) == 4


def test_missing_or_foreign_files_are_refused_and_left_alone(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no trace store"):
        prune(tmp_path / "missing.sqlite3", 60)
    assert not (tmp_path / "missing.sqlite3").exists()
    foreign = tmp_path / "notes.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    with pytest.raises(StoreError, match="not a trace store"):
        prune(foreign, 60)
    with sqlite3.connect(foreign) as conn:
        assert [row[0] for row in conn.execute("SELECT name FROM sqlite_master")] == ["notes"]
    conn.close()


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "7d", True, None])
def test_a_bad_age_is_refused(tmp_path: Path, bad: object) -> None:
    write(tmp_path / "t.sqlite3", trace("a", timedelta(days=1)))
    with pytest.raises(ValueError, match="older_than_s must be a number of seconds"):
        prune(tmp_path / "t.sqlite3", bad)  # type: ignore[arg-type]


WRITER = textwrap.dedent(
    """
    import os, sys, time
    import tracing_middleware as tm
    from tracing_middleware import RunTree
    from tracing_middleware.exporters.sqlite import SQLiteExporter

    path, service, gate, batches = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    tm.configure(exporter="none")
    exporter = SQLiteExporter(path, service_name=service)
    deadline = time.monotonic() + 60
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.005)
    for b in range(batches):
        root = RunTree(f"{service}-{b}")
        runs = [root.create_child(f"step{i}") for i in range(19)]
        for run in runs:
            run.end()
        root.end()
        exporter.export([*runs, root])  # raises (exit status 1) if the store stayed locked too long
        time.sleep(0.01)
    exporter.shutdown()
    """
)


def test_prune_beside_live_writers_loses_none_of_their_runs(tmp_path: Path) -> None:
    path = tmp_path / "live.sqlite3"
    write(path, *(trace(f"old{i}", timedelta(days=20), children=3) for i in range(3000)))
    gate = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), f"w{n}", str(gate), "40"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(2)
    ]
    try:
        time.sleep(0.5)  # the interpreters start and wait at the gate
        gate.touch()
        result = prune(path, 86_400)
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert (result.traces, result.runs) == (3000, 12_000)
    with TraceStore(path) as store:
        assert store.count_runs() == 2 * 40 * 20
        assert {s.root_name for s in store.list_traces(limit=1000)} == {
            f"w{n}-{b}" for n in range(2) for b in range(40)
        }
