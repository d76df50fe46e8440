"""The README's "Any other transport" examples: they run, they keep one trace, and the README shows them as tested."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import tracing_middleware

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _reset() -> object:
    yield
    tracing_middleware.configure(exporter="none")


def test_the_queue_consumer_continues_the_producers_trace() -> None:
    producer, consumer = load("queue_headers").main()
    assert consumer.trace_id == producer.trace_id
    assert consumer.parent_run_id == producer.id


def test_a_hostile_message_header_gives_the_consumer_a_new_trace() -> None:
    module = load("queue_headers")
    tracing_middleware.configure(exporter="memory")
    run = module.consume({"headers": {"langsmith-trace": "garbage", "traceparent": "00-zz"}, "body": {}})
    assert run.parent_run_id is None and run.trace_id == run.id


def test_kafka_style_header_lists_are_read_as_they_are() -> None:
    module = load("queue_headers")
    tracing_middleware.configure(exporter="memory")
    with tracing_middleware.trace("produce") as producer:
        headers: dict[str, str] = {}
        tracing_middleware.inject(headers)
    kafka = [(key, value.encode()) for key, value in headers.items()]
    run = module.consume({"headers": kafka, "body": {}})
    assert run.parent_run_id == producer.id


def test_thread_pool_work_stays_in_the_batch_trace() -> None:
    runs = load("thread_pool").main()
    batch = next(r for r in runs if r.name == "batch")
    assert {r.trace_id for r in runs} == {batch.trace_id}
    assert [r.name for r in runs if r.parent_run_id == batch.id].count("resize") == 3
    job = next(r for r in runs if r.name == "resize job")
    assert job.parent_run_id == batch.id
    assert any(r.name == "resize" and r.parent_run_id == job.id for r in runs)


@pytest.mark.parametrize("name", ["queue_headers", "thread_pool"])
def test_each_example_runs_with_one_command(name: str) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    trace_ids = set(re.findall(r"trace (\S+)", result.stdout))
    assert len(trace_ids) == 1, result.stdout


@pytest.mark.parametrize(("name", "region"), [("queue_headers", "queue"), ("thread_pool", "threads")])
def test_the_readme_shows_the_tested_code(name: str, region: str) -> None:
    source = (EXAMPLES / f"{name}.py").read_text()
    match = re.search(rf"# --- README: {region} ---\n(.*?)# --- end ---\n", source, re.S)
    assert match is not None
    assert match.group(1).strip() in (ROOT / "README.md").read_text()
