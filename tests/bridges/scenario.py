"""What the served test apps do in a handler: langsmith, LangChain, OpenTelemetry and our own runs together.

Environment: ``TM_RUNS_OUT`` (JSON lines file receiving every run our exporters get, with OTLP span
ids), ``TM_EXTRA_EXPORTERS`` (comma-separated exporter names added, e.g. ``langsmith``),
``TM_OTEL_OUT`` (if set: a global OpenTelemetry tracer provider writes its spans to this file).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from typing import Any

import httpx
import langsmith
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.runnables import RunnableLambda

import tracing_middleware as tm
from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.exporters.serialize import to_jsonable

OTEL = bool(os.environ.get("TM_OTEL_OUT"))


class RunLines:
    """Writes each finished run as one JSON line: LangSmith's run schema plus the OTLP span ids."""

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._path = path

    def export(self, runs: Sequence[RunTree]) -> None:
        lines = [
            json.dumps(to_jsonable({**run.to_dict(), "span_id": run.span_id, "parent_span_id": run.parent_span_id}))
            for run in runs
        ]
        with self._lock, open(self._path, "a", encoding="utf-8") as out:
            out.write("".join(line + "\n" for line in lines))

    def shutdown(self) -> None:
        pass


def setup_otel() -> None:
    if not OTEL:
        return
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class SpanLines(SpanExporter):
        def __init__(self, path: str) -> None:
            self.path = path

        def export(self, spans: Any) -> SpanExportResult:
            with open(self.path, "a", encoding="utf-8") as out:
                for span in spans:
                    parent = span.parent.span_id if span.parent is not None else None
                    record = {
                        "name": span.name,
                        "kind": span.kind.name,
                        "trace_id": f"{span.context.trace_id:032x}",
                        "span_id": f"{span.context.span_id:016x}",
                        "parent_span_id": f"{parent:016x}" if parent else None,
                    }
                    out.write(json.dumps(record) + "\n")
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SpanLines(os.environ["TM_OTEL_OUT"])))
    trace.set_tracer_provider(provider)


def configure() -> None:
    extra = [name for name in os.environ.get("TM_EXTRA_EXPORTERS", "").split(",") if name]
    tm.configure(exporter=[RunLines(os.environ["TM_RUNS_OUT"]), *extra], project_name="bridges-tests")
    setup_otel()


@tm.traceable(name="ours_calls_out")
def ours_calls_out(base: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{base}/echo", timeout=30, trust_env=False).json()
    return answer


@langsmith.traceable(name="ls_step")
def ls_step(base: str) -> dict[str, Any]:
    return ours_calls_out(base)


CHAIN = RunnableLambda(lambda text: f"{text}!", name="exclaim") | FakeListChatModel(responses=["hi there"])


@tm.traceable(name="under_otel")
def under_otel() -> dict[str, Any]:
    run = tm.get_current_run_tree()
    assert run is not None
    return {"id": run.id, "parent_span_id": run.parent_span_id}


def current_span() -> dict[str, Any] | None:
    if not OTEL:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"} if context.is_valid else None


def work(base: str) -> dict[str, Any]:
    """The handler's body: what each tracer sees, then one of each kind of foreign run."""
    theirs = langsmith.get_current_run_tree()
    ours = tm.get_current_run_tree()
    report: dict[str, Any] = {
        "request_run": ours.id if ours else None,
        "request_span": ours.span_id if ours else None,
        "ls_current": None,
        "otel_current": current_span(),
    }
    if theirs is not None:
        report["ls_current"] = {
            "id": str(theirs.id),
            "trace_id": str(theirs.trace_id),
            "dotted_order": theirs.dotted_order,
            "project": theirs.session_name,
            "langsmith_trace": theirs.to_headers()["langsmith-trace"],  # the seed page's client code
        }
    report["echo"] = ls_step(base)
    report["chain"] = CHAIN.invoke("hello").content
    if OTEL:
        from opentelemetry import trace

        with trace.get_tracer("bridges-tests").start_as_current_span("otel_step") as span:
            context = span.get_span_context()
            report["otel_step"] = {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
            report["under_otel"] = under_otel()
    return report


def echo(headers: Any) -> dict[str, Any]:
    """The downstream route: the tracing headers it got and its own request run."""
    run = tm.get_current_run_tree()
    names = ("langsmith-trace", "traceparent", "baggage")
    return {"headers": {name: headers.get(name) for name in names}, "request_run": run.id if run else None}


def probe() -> dict[str, Any]:
    """What each tracer sees as current at the start of a handler (for the reused-thread checks)."""
    theirs = langsmith.get_current_run_tree()
    ours = tm.get_current_run_tree()
    return {
        "request_run": ours.id if ours else None,
        "request_span": ours.span_id if ours else None,
        "ls_current": str(theirs.id) if theirs is not None else None,
        "otel_current": current_span(),
        "thread": threading.get_ident(),
    }
