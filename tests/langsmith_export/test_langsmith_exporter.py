"""LangSmithExporter in this process against the LangSmith stand-in: fields, safety, failures, isolation."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import httpx
import pytest
from langsmith import Client
from standin import StandIn, names

import tracing_middleware as tm
from tracing_middleware import InMemoryExporter, RunTree
from tracing_middleware.core.batch import BatchProcessor
from tracing_middleware.exporters.langsmith import LangSmithExporter, LangSmithExportError

SEGMENT_PATHS = {True: "/runs/multipart", False: "/runs/batch"}


def _finished(name: str = "r", parent: RunTree | None = None, **fields: Any) -> RunTree:
    run = parent.create_child(name) if parent is not None else RunTree(name)
    for key, value in fields.items():
        setattr(run, key, value)
    run.end()
    return run


@pytest.mark.parametrize("multipart", [True, False, None])
def test_traced_calls_arrive_as_one_tree(standin: StandIn, multipart: bool | None) -> None:
    exporter = LangSmithExporter(api_url=standin.url, api_key="k", multipart=multipart)
    tm.configure(exporter=exporter, project_name="unit")

    @tm.traceable(run_type="tool", tags=["t1"], metadata={"k": "v"})
    def child(x: int) -> dict[str, int]:
        return {"y": x * 2}

    @tm.traceable
    def parent(x: int) -> int:
        return child(x)["y"]

    with tm.tracing_context(tags=["outer"]):
        assert parent(21) == 42
    with pytest.raises(ZeroDivisionError):
        tm.traceable(name="fails")(lambda: 1 / 0)()
    assert tm.flush(30)
    assert exporter.processor is not None and exporter.processor.exported == 3
    assert standin.rejections == []
    paths = {r["path"] for r in standin.ingest_requests()}
    assert paths == {SEGMENT_PATHS[multipart if multipart is not None else True]}  # /info says multipart
    (root,) = standin.by_name("parent")
    tree = standin.tree(root["trace_id"])
    assert names(tree) == ["parent", [["child", []]]]
    leaf = tree["children"][0]
    assert leaf["run_type"] == "tool" and leaf["inputs"] == {"x": 21} and leaf["outputs"] == {"y": 42}
    assert leaf["tags"] == ["outer", "t1"] and leaf["extra"]["metadata"]["k"] == "v"
    assert leaf["session_name"] == "unit" and leaf["trace_id"] == root["id"] and leaf["parent_run_id"] == root["id"]
    assert leaf["start_time"] and leaf["end_time"] and leaf["end_time"] >= leaf["start_time"]
    (failed,) = standin.by_name("fails")
    assert failed["error"].startswith("ZeroDivisionError") and failed.get("outputs") is None


def test_values_that_are_not_json_do_not_break_the_batch(standin: StandIn) -> None:
    cycle: list[Any] = []
    cycle.append(cycle)

    class Opaque:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    odd = _finished("odd", inputs={"obj": Opaque(), "set": {3, 1}, "bytes": b"\xff\x00", "nan": math.nan, "cyc": cycle})
    odd.outputs = {"big": "x" * 200_000}
    odd.metadata = {"when": odd.start_time, 1: object()}
    plain = _finished("plain", inputs={"a": 1})
    LangSmithExporter(api_url=standin.url, api_key="k").export([odd, plain])
    assert standin.rejections == []
    stored = standin.runs[odd.id]
    assert stored["inputs"]["set"] == [1, 3] and stored["inputs"]["nan"] == "NaN"
    assert stored["inputs"]["obj"] == "<unrepresentable Opaque>"
    assert stored["outputs"]["__truncated__"] is True  # the field is capped, not sent whole
    assert stored["extra"]["metadata"]["when"] == odd.start_time.isoformat()
    assert standin.runs[plain.id]["inputs"] == {"a": 1}


def test_a_damaged_run_costs_only_itself(standin: StandIn) -> None:
    damaged, good = _finished("damaged"), _finished("good")
    damaged.start_us = "soon"  # type: ignore[assignment]
    exporter = LangSmithExporter(api_url=standin.url, api_key="k")
    exporter.export([damaged, good])
    assert set(standin.runs) == {good.id} and exporter.skipped.count == 1


def test_project_of_the_run_wins_then_the_exporters(standin: StandIn) -> None:
    own = _finished("own", project_name="from-run")
    remote = RunTree.from_headers({"langsmith-trace": own.dotted_order})
    assert remote is not None
    headless = _finished("headless", parent=remote)  # a request run whose caller sent no project
    assert headless.project_name is None
    LangSmithExporter(api_url=standin.url, api_key="k", project_name="fallback").export([own, headless])
    assert standin.runs[own.id]["session_name"] == "from-run"
    assert standin.runs[headless.id]["session_name"] == "fallback"


def test_configured_by_the_langsmith_environment(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGSMITH_ENDPOINT", standin.url)
    monkeypatch.setenv("LANGSMITH_API_KEY", "env-key")
    monkeypatch.setenv("LANGSMITH_PROJECT", "env-project")
    exporter = LangSmithExporter()
    assert isinstance(exporter.make_processor(), BatchProcessor)
    tm.configure(exporter=exporter)
    with tm.trace("root"):
        pass
    assert tm.flush(30)
    (root,) = standin.by_name("root")
    assert root["session_name"] == "env-project"
    assert {r["headers"].get("x-api-key") for r in standin.ingest_requests()} == {"env-key"}


def test_constructing_does_no_io_and_checks_arguments() -> None:
    exporter = LangSmithExporter(api_url="http://127.0.0.1:9")  # nothing listens there; nothing is sent yet
    assert exporter._client is None
    with pytest.raises(TypeError, match="api_url"):
        LangSmithExporter(api_url=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"langsmith\.Client"):
        LangSmithExporter(client="client")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="either client or api_url"):
        LangSmithExporter(api_url="http://127.0.0.1:9", client=Client(api_url="http://127.0.0.1:9", api_key="k"))
    with pytest.raises(TypeError, match="multipart"):
        LangSmithExporter(multipart="yes")  # type: ignore[arg-type]


def test_missing_langsmith_names_the_extra() -> None:
    code = "import sys; sys.modules['langsmith'] = None; import tracing_middleware.exporters.langsmith"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "ImportError: the LangSmith exporter needs langsmith: pip install 'tracing-middleware[langsmith]'" in (
        done.stderr
    )


@pytest.mark.parametrize("status", [500, 429, 401])
def test_http_errors_raise_instead_of_vanishing(standin: StandIn, status: int) -> None:
    standin.fail_with = status
    exporter = LangSmithExporter(api_url=standin.url, api_key="k")
    with pytest.raises(LangSmithExportError, match=str(status)):
        exporter.export([_finished()])
    assert exporter.client_errors == 1
    assert 1 <= len(standin.ingest_requests()) <= 3  # the client's own attempts, no urllib3 retries on top


def test_unreachable_endpoint_raises(unused_port: int) -> None:
    exporter = LangSmithExporter(api_url=f"http://127.0.0.1:{unused_port}", api_key="k", multipart=True)
    with pytest.raises(LangSmithExportError):
        exporter.export([_finished()])


def test_failed_batches_are_retried_then_counted(standin: StandIn) -> None:
    standin.fail_with = 500
    exporter = LangSmithExporter(api_url=standin.url, api_key="k")
    tm.configure(exporter=exporter)
    for _ in range(3):
        with tm.trace("lost"):
            pass
    assert tm.flush(60)
    processor = exporter.processor
    assert processor is not None
    assert (processor.failures.count, processor.exported) == (3, 0)
    attempts = len(standin.ingest_requests())
    assert processor.max_attempts <= attempts <= processor.max_attempts * 3 * 3  # bounded: processor x client
    standin.fail_with = None
    with tm.trace("kept"):
        pass
    assert tm.flush(30)
    assert processor.exported == 1 and standin.by_name("kept")


def test_a_callers_client_keeps_its_error_callback(standin: StandIn) -> None:
    seen: list[Exception] = []
    client = Client(api_url=standin.url, api_key="k", auto_batch_tracing=False, tracing_error_callback=seen.append)
    exporter = LangSmithExporter(client=client)
    exporter.export([_finished("ok")])
    standin.fail_with = 500
    with pytest.raises(LangSmithExportError):
        exporter.export([_finished("fails")])
    assert len(seen) == 1 and exporter.client_errors == 1
    exporter.shutdown()
    standin.fail_with = None
    exporter.export([_finished("after-shutdown")])  # a caller's client is not closed by our shutdown
    assert standin.by_name("ok") and standin.by_name("after-shutdown")


def test_the_clients_own_requests_are_not_traced(standin: StandIn) -> None:
    from tracing_middleware.transports.instrument import instrument, uninstrument

    memory = InMemoryExporter()
    tm.configure(exporter=memory)
    exporter = LangSmithExporter(api_url=standin.url, api_key="k")
    instrument()
    try:
        with StandIn() as elsewhere, tm.trace("app work"):  # an export call made inside a run, on a thread that traces
            exporter.export([_finished("sent")])
            httpx.get(elsewhere.url + "/info", trust_env=False)  # the app's own call: traced
    finally:
        uninstrument()
    assert standin.by_name("sent")
    assert standin.requests and all("langsmith-trace" not in r["headers"] for r in standin.requests)
    assert "langsmith-trace" in elsewhere.requests[0]["headers"]  # the patch was live for the app's call
    traced = [r.name for r in memory.runs]
    assert "app work" in traced and len(traced) == 2, traced  # the run and the app's GET /info, nothing else
