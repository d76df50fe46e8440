"""OTLPExporter against a real OTLP/HTTP receiver: ids, parent links, names, times, attributes, status, events."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter")
pytest.importorskip("opentelemetry.sdk.trace")

from otlp_support import Receiver

import tracing_middleware as tm
from tracing_middleware.core import config
from tracing_middleware.core import destinations as targets
from tracing_middleware.core.batch import BatchProcessor
from tracing_middleware.exporters.otlp import OTLPExporter

pytestmark = pytest.mark.usefixtures("no_tracing_after")


def _hex(uuid: str) -> str:
    return uuid.replace("-", "")


def _by_name(spans: list[dict]) -> dict[str, dict]:
    return {span["name"]: span for span in spans}


def test_runs_become_linked_spans(otlp_receiver: Receiver) -> None:
    exporter = OTLPExporter(endpoint=otlp_receiver.endpoint, service_name="svc-a")
    tm.configure(exporter=exporter, project_name="proj-a")
    seen = {}

    @tm.traceable(run_type="retriever", tags=["t1", "t2"], metadata={"user": "ann", "n": 3, "nested": {"k": [1]}})
    def fetch(query: str) -> list[str]:
        seen["fetch"] = tm.get_current_run_tree()
        return ["doc"]

    @tm.traceable(name="answer")
    def answer(question: str) -> str:
        seen["answer"] = tm.get_current_run_tree()
        fetch(question)
        return "42"

    assert answer("why?") == "42"
    assert tm.flush(10)
    root, child = seen["answer"], seen["fetch"]
    spans = _by_name(otlp_receiver.wait_spans(_hex(root.trace_id), 2))
    top, sub = spans["answer"], spans["fetch"]

    assert top["trace_id"] == sub["trace_id"] == _hex(root.trace_id)
    assert top["span_id"] == root.span_id == _hex(root.id)[-16:]
    assert sub["span_id"] == child.span_id
    assert top["parent_span_id"] is None
    assert sub["parent_span_id"] == top["span_id"]
    assert top["start_ns"] == root.start_us * 1000 and top["end_ns"] == root.end_us * 1000
    assert sub["start_ns"] >= top["start_ns"] and sub["end_ns"] <= top["end_ns"]
    assert top["kind"] == sub["kind"] == "INTERNAL"
    assert top["status"]["code"] == "UNSET"
    assert top["resource"]["service.name"] == "svc-a"
    assert top["resource"]["openinference.project.name"] == "proj-a"
    assert top["scope"] == "tracing_middleware"

    attrs = sub["attributes"]
    assert attrs["openinference.span.kind"] == "RETRIEVER"
    assert attrs["langsmith.span.kind"] == "retriever"
    assert json.loads(attrs["input.value"]) == {"query": "why?"}
    assert attrs["input.mime_type"] == "application/json"
    assert json.loads(attrs["output.value"]) == {"output": ["doc"]}
    assert attrs["output.mime_type"] == "application/json"
    assert attrs["tag.tags"] == ["t1", "t2"]
    assert attrs["langsmith.span.tags"] == "t1, t2"
    assert json.loads(attrs["metadata"]) == {"user": "ann", "n": 3, "nested": {"k": [1]}}
    assert attrs["langsmith.metadata.user"] == "ann"
    assert attrs["langsmith.metadata.n"] == 3
    assert json.loads(attrs["langsmith.metadata.nested"]) == {"k": [1]}
    assert attrs["langsmith.span.id"] == child.id
    assert attrs["langsmith.trace.id"] == root.trace_id
    assert attrs["langsmith.span.parent_id"] == root.id
    assert attrs["langsmith.span.dotted_order"] == child.dotted_order
    assert attrs["langsmith.trace.session_name"] == "proj-a"
    assert top["attributes"]["openinference.span.kind"] == "CHAIN"


def test_error_status_exception_event_and_run_events(otlp_receiver: Receiver) -> None:
    tm.configure(exporter=OTLPExporter(endpoint=otlp_receiver.endpoint))
    seen = {}

    @tm.traceable(run_type="llm")
    def explode() -> None:
        run = tm.get_current_run_tree()
        seen["run"] = run
        run.add_event("token", index=1, text="hi")
        raise KeyError("missing\nsecond line")

    with pytest.raises(KeyError):
        explode()
    assert tm.flush(10)
    run = seen["run"]
    (span,) = otlp_receiver.wait_spans(_hex(run.trace_id), 1)
    assert span["status"]["code"] == "ERROR"
    assert span["status"]["message"] == run.error.split("\n", 1)[0]
    assert span["status"]["message"].startswith("KeyError: ")
    assert span["attributes"]["openinference.span.kind"] == "LLM"
    events = {event["name"]: event for event in span["events"]}
    assert events["token"]["attributes"] == {"index": 1, "text": "hi"}
    assert span["start_ns"] <= events["token"]["time_ns"] <= span["end_ns"]
    exception = events["exception"]["attributes"]
    assert exception["exception.type"] == "KeyError"
    assert "missing" in exception["exception.message"]
    assert "Traceback" in exception["exception.stacktrace"] and "explode" in exception["exception.stacktrace"]
    assert [e["name"] for e in span["events"]].count("exception") == 1


def test_error_without_exception_gets_an_exception_event(otlp_receiver: Receiver) -> None:
    exporter = OTLPExporter(endpoint=otlp_receiver.endpoint)
    run = tm.RunTree("call", "tool", inputs={"a": 1})
    run.end(error="HTTP 503")
    exporter.export([run])
    (span,) = otlp_receiver.wait_spans(_hex(run.trace_id), 1)
    assert span["status"] == {"code": "ERROR", "message": "HTTP 503"}
    (event,) = span["events"]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.message"] == "HTTP 503"
    assert event["attributes"]["exception.stacktrace"] == "HTTP 503"


def test_server_and_client_kinds_and_http_attributes(otlp_receiver: Receiver) -> None:
    exporter = OTLPExporter(endpoint=otlp_receiver.endpoint)
    remote = tm.RunTree.from_headers({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    assert remote is not None
    request = remote.create_child("GET /items", inputs={"method": "GET", "path": "/items", "query": "a=1"})
    request.end(outputs={"status_code": 200})
    client = request.create_child("GET api.example:8080/x")
    client.metadata.update({"http.method": "GET", "http.url": "http://api.example:8080/x", "http.status_code": 502})
    client.end(outputs={"status_code": 502})
    exporter.export([request, client])
    spans = _by_name(otlp_receiver.wait_spans("0af7651916cd43dd8448eb211c80319c", 2))
    server, outbound = spans["GET /items"], spans["GET api.example:8080/x"]
    assert server["kind"] == "SERVER"
    assert server["parent_span_id"] == "b7ad6b7169203331"  # the W3C-only caller's span
    assert server["attributes"]["http.request.method"] == "GET"
    assert server["attributes"]["url.path"] == "/items"
    assert server["attributes"]["url.query"] == "a=1"
    assert server["attributes"]["http.response.status_code"] == 200
    assert outbound["kind"] == "CLIENT"
    assert outbound["parent_span_id"] == server["span_id"]
    assert outbound["attributes"]["url.full"] == "http://api.example:8080/x"
    assert outbound["attributes"]["http.response.status_code"] == 502


def test_continues_a_langsmith_parent_and_passes_tracestate(otlp_receiver: Receiver) -> None:
    exporter = OTLPExporter(endpoint=otlp_receiver.endpoint)
    caller = tm.RunTree("caller")
    headers = {**caller.to_headers(), "tracestate": "vendor=abc"}
    remote = tm.RunTree.from_headers(headers)
    assert remote is not None
    run = remote.create_child("handler")
    run.end()
    exporter.export([run])
    (span,) = otlp_receiver.wait_spans(_hex(caller.trace_id), 1)
    assert span["parent_span_id"] == caller.span_id
    assert span["trace_state"] == "vendor=abc"


def test_untrusted_parent_becomes_a_link(otlp_receiver: Receiver) -> None:
    exporter = OTLPExporter(endpoint=otlp_receiver.endpoint)
    run = tm.RunTree("GET /", metadata={"link.traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331"})
    run.end()
    exporter.export([run])
    (span,) = otlp_receiver.wait_spans(_hex(run.trace_id), 1)
    assert span["parent_span_id"] is None
    assert span["links"][0]["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert span["links"][0]["span_id"] == "b7ad6b7169203331"


def test_hostile_values_still_export(otlp_receiver: Receiver) -> None:
    class Weird:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    exporter = OTLPExporter(endpoint=otlp_receiver.endpoint)
    run = tm.RunTree("\ud800 odd", inputs={"x": Weird(), "big": "y" * 200_000, "nan": float("nan")}, tags=["\ud800"])
    run.metadata.update({f"k{i}": i for i in range(500)})
    run.metadata["obj"] = Weird()
    run.events.append({"name": "e", "time": "not a time", "kwargs": {"v": Weird()}})
    run.events.append("not a mapping")  # type: ignore[arg-type]
    run.end(outputs=2**100)
    odd = tm.RunTree("odd id", id="not-a-uuid")
    odd_child = odd.create_child("child of odd id")
    odd.end()
    odd_child.end()
    exporter.export([run, odd, odd_child])
    (span,) = otlp_receiver.wait_spans(_hex(run.trace_id), 1)
    attrs = span["attributes"]
    assert len(attrs["input.value"]) < 70_000  # capped like every exporter caps
    assert sum(1 for key in attrs if key.startswith("langsmith.metadata.")) == 128
    assert json.loads(attrs["output.value"]) == {"output": 2**100}
    odd_spans = _by_name([s for s in otlp_receiver.spans() if s["name"] in {"odd id", "child of odd id"}])
    assert odd_spans["child of odd id"]["parent_span_id"] == odd_spans["odd id"]["span_id"]
    assert odd_spans["child of odd id"]["trace_id"] == odd_spans["odd id"]["trace_id"]


def test_environment_variables(otlp_receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_receiver.base)  # a base URL: /v1/traces is added
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=secret%20one,x-other=2")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    exporter = OTLPExporter()
    assert exporter.endpoint == otlp_receiver.endpoint
    assert "secret" not in repr(exporter)
    run = tm.RunTree("env")
    run.end()
    exporter.export([run])
    (span,) = otlp_receiver.wait_spans(_hex(run.trace_id), 1)
    assert span["resource"]["service.name"] == "from-env"
    (request,) = otlp_receiver.requests()
    assert request["headers"]["x-api-key"] == "secret one"
    assert request["headers"]["content-type"] == "application/x-protobuf"

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", otlp_receiver.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9/unused")
    monkeypatch.delenv("OTEL_SERVICE_NAME")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-traces=1")
    tm.configure(exporter="none", service_name="from-settings")
    exporter = OTLPExporter()
    assert exporter.endpoint == otlp_receiver.endpoint
    exporter.export([run])
    assert otlp_receiver.spans()[-1]["resource"]["service.name"] == "from-settings"
    assert otlp_receiver.requests()[-1]["headers"]["x-traces"] == "1"


def test_arguments_win_and_are_checked(otlp_receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:9/v1/traces")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    exporter = OTLPExporter(endpoint=otlp_receiver.base, headers={"x-key": "k"}, timeout=3, service_name="arg")
    assert exporter.endpoint == otlp_receiver.endpoint
    run = tm.RunTree("args")
    run.end()
    exporter.export([run])
    assert otlp_receiver.wait_spans(_hex(run.trace_id), 1)[0]["resource"]["service.name"] == "arg"
    assert otlp_receiver.requests()[-1]["headers"]["x-key"] == "k"
    with pytest.raises(ValueError, match="http"):
        OTLPExporter(endpoint="ftp://x/v1/traces")
    with pytest.raises(TypeError, match="URL"):
        OTLPExporter(endpoint=4318)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="headers"):
        OTLPExporter(headers={"a": 1})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="timeout"):
        OTLPExporter(timeout=0)
    with pytest.raises(TypeError, match="service_name"):
        OTLPExporter(service_name="")


def test_registered_name_batches_and_excludes_its_endpoint(
    otlp_receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(config.EXPORTERS, "otlp", "tracing_middleware.exporters.otlp:OTLPExporter")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", otlp_receiver.endpoint)
    settings = tm.configure(exporter="otlp")
    (processor,) = settings.processors
    assert isinstance(processor, BatchProcessor)
    assert isinstance(processor.exporter, OTLPExporter)
    assert targets.is_excluded(otlp_receiver.endpoint)
    with tm.trace("batched") as run:
        pass
    assert tm.flush(10)
    assert otlp_receiver.wait_spans(_hex(run.trace_id), 1)[0]["name"] == "batched"
    assert processor.exported == 1 and processor.failures.count == 0


def test_shutdown_then_export_raises(otlp_receiver: Receiver) -> None:
    exporter = OTLPExporter(endpoint=otlp_receiver.endpoint)
    exporter.shutdown()
    exporter.shutdown()  # twice is fine
    run = tm.RunTree("late")
    run.end()
    with pytest.raises(RuntimeError, match="shut down"):
        exporter.export([run])


def test_missing_packages_name_the_extra() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'opentelemetry' or name.startswith('opentelemetry.'):\n"
        "            raise ImportError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "for module in ('tracing_middleware.exporters.otlp', 'tracing_middleware.bridges.otel_propagator'):\n"
        "    try:\n"
        "        __import__(module)\n"
        "    except ImportError as error:\n"
        "        print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2, result.stdout + result.stderr
    assert all("pip install 'tracing-middleware[otlp]'" in line for line in lines)
