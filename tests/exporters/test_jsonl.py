"""JSONLExporter: one LangSmith-shaped JSON object per line, appended whole, from threads and processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langsmith import schemas

import tracing_middleware as tm
from tracing_middleware import RunTree
from tracing_middleware.core.batch import BatchProcessor
from tracing_middleware.exporters.jsonl import JSONLExporter

TraceFactory = Callable[..., list[RunTree]]  # the make_trace fixture
pytestmark = pytest.mark.usefixtures("configured")

LANGSMITH_KEYS = {
    "id", "trace_id", "parent_run_id", "dotted_order", "name", "run_type", "start_time", "end_time",
    "inputs", "outputs", "error", "tags", "extra", "events", "session_name",
}  # fmt: skip


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line, parse_constant=lambda c: pytest.fail(c)) for line in path.read_text().splitlines()]


def test_lines_match_langsmith_run_schema(tmp_path: Path, make_trace: TraceFactory) -> None:
    path = tmp_path / "runs.jsonl"
    runs = make_trace("order", 2, error_in=0)
    runs[-1].add_tags("http")
    runs[-1].add_metadata({"k": "v"})
    JSONLExporter(path).export(runs)
    records = read_lines(path)
    assert len(records) == len(runs)
    for run, record in zip(runs, records, strict=True):
        assert set(record) == LANGSMITH_KEYS | {"service"}
        assert record == run.to_dict() | {"session_name": "proj-default", "service": "svc-default"}
        parsed = schemas.Run(**record)  # the real SDK's model accepts every line
        assert str(parsed.id) == run.id and str(parsed.trace_id) == run.trace_id


def test_appends_across_exporters_and_batches(tmp_path: Path, make_trace: TraceFactory) -> None:
    path = tmp_path / "deep" / "runs.jsonl"
    JSONLExporter(path, service_name="a").export(make_trace("one", 1))
    JSONLExporter(path, service_name="b").export(make_trace("two", 1))
    records = read_lines(path)
    assert [(r["name"], r["service"]) for r in records if r["parent_run_id"] is None] == [("one", "a"), ("two", "b")]
    assert len(records) == 6


def test_hostile_values_still_make_valid_lines(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    cycle: dict[str, Any] = {}
    cycle["me"] = cycle
    run = RunTree("line\nbreak \ud800", inputs={"o": object(), "b": b"\xff", "c": cycle, "big": "x" * 10_000_000})
    run.end(outputs=float("nan"), error="Err\nwith lines")
    JSONLExporter(path).export([run])
    (record,) = read_lines(path)
    assert path.read_text().count("\n") == 1
    assert record["name"] == "line\nbreak ?"
    assert record["inputs"]["__truncated__"] is True
    assert record["outputs"] == {"output": "NaN"}
    assert record["error"] == "Err\nwith lines"


def test_default_path_from_environment_or_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACING_MIDDLEWARE_JSONL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert JSONLExporter().path == tmp_path / "traces.jsonl"
    monkeypatch.setenv("TRACING_MIDDLEWARE_JSONL", str(tmp_path / "env.jsonl"))
    assert JSONLExporter().path == tmp_path / "env.jsonl"
    with pytest.raises(TypeError, match="path must be"):
        JSONLExporter(3)  # type: ignore[arg-type]


def test_threads_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    exporter = JSONLExporter(path)

    def work(n: int) -> None:
        for b in range(20):
            runs = []
            for i in range(25):
                run = RunTree(f"t{n}-{b}-{i}", inputs={"pad": "p" * 2000})
                run.end()
                runs.append(run)
            exporter.export(runs)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    records = read_lines(path)
    assert len(records) == 4 * 20 * 25
    assert len({r["id"] for r in records}) == len(records)


def test_processes_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    script = textwrap.dedent(
        """
        import sys
        import tracing_middleware as tm
        from tracing_middleware import RunTree
        from tracing_middleware.exporters.jsonl import JSONLExporter
        tm.configure(exporter="none")
        exporter = JSONLExporter(sys.argv[1], service_name=sys.argv[2])
        for b in range(20):
            runs = [RunTree(f"r{b}-{i}", inputs={"pad": "q" * 5000}) for i in range(20)]
            for run in runs:
                run.end()
            exporter.export(runs)
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), f"p{n}"]) for n in range(3)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    records = read_lines(path)
    assert len(records) == 3 * 20 * 20
    assert {r["service"] for r in records} == {"p0", "p1", "p2"}


def test_registered_name_batches_through_the_processor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACING_MIDDLEWARE_JSONL", str(tmp_path / "env.jsonl"))
    settings = tm.configure(exporter="jsonl", service_name="svc-j")
    assert isinstance(settings.processors[0], BatchProcessor)
    with tm.trace("outer"), tm.trace("inner"):
        pass
    assert tm.flush(timeout=30)
    records = read_lines(tmp_path / "env.jsonl")
    assert [(r["name"], r["service"]) for r in records] == [("inner", "svc-j"), ("outer", "svc-j")]


def test_a_damaged_run_is_skipped_not_the_batch(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    good, damaged = RunTree("good"), RunTree("damaged")
    good.end()
    damaged.start_us = None  # type: ignore[assignment]
    exporter = JSONLExporter(path)
    exporter.export([damaged, good])
    assert [r["name"] for r in read_lines(path)] == ["good"]
    assert exporter.skipped.count == 1
