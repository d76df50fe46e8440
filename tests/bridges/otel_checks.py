"""The OpenTelemetry bridge, checked in a process of its own (a global tracer provider cannot be unset).

Run by ``test_otel_bridge.py``: each ``check_*`` function runs in order and prints ``ok <name>``; a
failed assertion ends the process with its traceback.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracing_middleware as tm
from tracing_middleware import InMemoryExporter, RunTree
from tracing_middleware.bridges import active

memory = InMemoryExporter()
spans = InMemorySpanExporter()
tracer = trace.get_tracer("checks")
errors: list[logging.LogRecord] = []


class Keep(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        errors.append(record)


logging.getLogger().addHandler(Keep(logging.WARNING))


def hex_trace(run: RunTree) -> str:
    return run.trace_id.replace("-", "")


def current() -> tuple[str, str] | None:
    context = trace.get_current_span().get_span_context()
    return (f"{context.trace_id:032x}", f"{context.span_id:016x}") if context.is_valid else None


def named(name: str) -> RunTree:
    found = [run for run in memory.runs if run.name == name]
    assert len(found) == 1, [run.name for run in memory.runs]
    return found[0]


def span(name: str) -> Any:
    found = [s for s in spans.get_finished_spans() if s.name == name]
    assert len(found) == 1, [s.name for s in spans.get_finished_spans()]
    return found[0]


def reset() -> None:
    memory.clear() if hasattr(memory, "clear") else memory.runs.clear()
    spans.clear()


def check_inert_without_a_provider() -> None:
    assert "otel" in active()
    # a non-recording span of the proxy tracer, then our run: nothing attached, no span to parent
    with tracer.start_as_current_span("no-provider"), tm.trace("request") as request:
        assert current() is None
    assert request.parent_run_id is None


def check_spans_in_a_request_are_its_children() -> None:
    with tm.trace("request") as request:
        assert current() == (hex_trace(request), request.span_id)
        with tracer.start_as_current_span("db.query"):
            pass
    query = span("db.query")
    assert f"{query.context.trace_id:032x}" == hex_trace(request)
    assert f"{query.parent.span_id:016x}" == request.span_id and not query.parent.is_remote
    assert current() is None


def check_our_run_inside_a_span_joins_its_trace() -> None:
    with tracer.start_as_current_span("job") as job, tm.trace("ours") as ours, tracer.start_as_current_span("inner"):
        pass
    context = job.get_span_context()
    assert hex_trace(ours) == f"{context.trace_id:032x}"
    assert ours.parent_span_id == f"{context.span_id:016x}"
    assert f"{span('inner').parent.span_id:016x}" == ours.span_id


def check_a_span_inside_our_run_parents_our_next_run() -> None:
    with tm.trace("request") as request, tracer.start_as_current_span("step") as step:
        with tm.trace("inside") as inside:
            pass
        here = tm.get_current_run_tree()  # for LangSmith the request run, for W3C/OTLP the span
        assert here is not None and here.id == request.id
        assert here.to_headers()["traceparent"].split("-")[2] == f"{step.get_span_context().span_id:016x}"
    assert inside.parent_run_id == request.id and inside.trace_id == request.trace_id  # LangSmith: under ours
    assert inside.parent_span_id == f"{step.get_span_context().span_id:016x}"  # OTLP: under the span
    assert inside.dotted_order.startswith(request.dotted_order + ".")


def check_unsampled_runs_are_unsampled_spans() -> None:
    tm.configure(exporter=memory, sample_rate=0.0)
    try:
        with tm.trace("dropped"):
            assert not trace.get_current_span().get_span_context().trace_flags.sampled
            with tracer.start_as_current_span("dropped-span"):
                pass
    finally:
        tm.configure(exporter=memory)
    assert [s.name for s in spans.get_finished_spans()] == []


def check_bind_context_threads_keep_the_span() -> None:
    with tm.trace("request") as request, ThreadPoolExecutor(max_workers=2) as pool:
        seen = pool.submit(tm.bind_context(current)).result()
        unbound = pool.submit(current).result()
    assert seen == (hex_trace(request), request.span_id)
    assert unbound is None


def check_asyncio_tasks_keep_the_span() -> None:
    async def child() -> tuple[str, str] | None:
        await asyncio.sleep(0)
        with tracer.start_as_current_span("in-task"):
            pass
        return current()

    async def main() -> tuple[Any, RunTree]:
        async with tm.trace("request") as request:
            return await asyncio.gather(asyncio.create_task(child()), asyncio.create_task(child())), request

    (first, second), request = asyncio.run(main())
    assert first == second == (hex_trace(request), request.span_id)
    parents = {f"{s.parent.span_id:016x}" for s in spans.get_finished_spans() if s.name == "in-task"}
    assert parents == {request.span_id}


def check_generators_attach_per_step_and_close_elsewhere_harmlessly() -> None:
    @tm.traceable
    def items() -> Iterator[tuple[str, str] | None]:
        yield current()
        yield current()

    with tm.trace("caller") as caller:
        stream = items()
        first = next(stream)
        between = current()
    second = next(stream)  # resumed outside the caller's run: still the generator's own run
    stream.close()
    generator_run = named("items")
    assert first == second == (hex_trace(caller), generator_run.span_id)
    assert between == (hex_trace(caller), caller.span_id)
    assert current() is None
    leftover = tm.traceable(lambda: (yield 1))()
    next(leftover)
    threading.Thread(target=leftover.close).start()  # finished in another thread's context
    assert not [r for r in errors if "detach" in r.getMessage().lower()]


def check_a_reused_thread_sees_nothing_of_the_last_request() -> None:
    from tracing_middleware import WSGITracingMiddleware

    seen: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(current())
        start_response("200 OK", [("content-type", "text/plain")])
        return [b"ok"]

    wrapped = WSGITracingMiddleware(app)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/x", "SERVER_NAME": "t", "SERVER_PORT": "80",
               "wsgi.url_scheme": "http", "QUERY_STRING": ""}  # fmt: skip
    for _ in range(3):
        body = wrapped(dict(environ), lambda *a: None)
        list(body)
        getattr(body, "close", lambda: None)()
        assert current() is None  # the thread is back to no span between requests
    requests = [run for run in memory.runs if run.name.endswith("/x") or run.name == "GET"]
    assert len({s for s in seen}) == 3 and len(requests) == 3
    assert {s[1] for s in seen if s} == {run.span_id for run in requests}


def main() -> None:
    tm.configure(exporter=memory)
    checks = [(name, fn) for name, fn in globals().items() if name.startswith("check_")]
    name, first = checks[0]
    first()
    print("ok", name, flush=True)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(provider)
    global tracer
    tracer = trace.get_tracer("checks")
    for name, check in checks[1:]:
        reset()
        check()
        print("ok", name, flush=True)


if __name__ == "__main__":
    main()
    sys.exit(0)
