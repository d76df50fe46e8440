"""LangSmithPropagator with the real OpenTelemetry API/SDK and the real langsmith SDK."""

from __future__ import annotations

import contextvars
import importlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk.trace")
pytest.importorskip("opentelemetry.propagators.composite")

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import tracing_middleware as tm
from tracing_middleware.bridges.otel_propagator import LangSmithPropagator
from tracing_middleware.core.ids import format_ts

PROPAGATOR = LangSmithPropagator()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tracer() -> trace.Tracer:
    return TracerProvider().get_tracer("propagator-tests")


@pytest.fixture
def global_textmap() -> Iterator[None]:
    previous = propagate.get_global_textmap()
    try:
        yield
    finally:
        propagate.set_global_textmap(previous)


def _span_context(context: object) -> trace.SpanContext:
    return trace.get_current_span(context).get_span_context()  # type: ignore[arg-type]


def test_extract_names_the_sender_run_as_remote_parent() -> None:
    caller = tm.RunTree("caller").create_child("step")
    context = PROPAGATOR.extract({"langsmith-trace": caller.dotted_order})
    parent = _span_context(context)
    assert parent.trace_id == int(caller.trace_id.replace("-", ""), 16)
    assert parent.span_id == int(caller.span_id, 16)
    assert parent.is_remote and parent.trace_flags.sampled
    # The same span the W3C header we send beside it names.
    w3c = _span_context(TraceContextTextMapPropagator().extract({"traceparent": caller.to_headers()["traceparent"]}))
    assert (w3c.trace_id, w3c.span_id, w3c.is_remote, w3c.trace_flags.sampled) == (
        parent.trace_id, parent.span_id, True, True,
    )  # fmt: skip
    # Only traceparent can say the trace id is random (level 2); langsmith-trace alone cannot.
    # The random flag's bit (0x02): TraceFlags.random_trace_id is newer than the otlp extra's floor.
    assert w3c.trace_flags & 0x02 and not parent.trace_flags & 0x02


def test_extract_from_the_real_langsmith_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    run_trees = pytest.importorskip("langsmith.run_trees")
    root = run_trees.RunTree(name="ls-root", run_type="chain")
    child = root.create_child(name="ls-child")
    parent = _span_context(PROPAGATOR.extract(child.to_headers()))
    assert parent.trace_id == int(str(root.trace_id).replace("-", ""), 16)
    assert parent.span_id == int(str(child.id).replace("-", "")[-16:], 16)


@pytest.mark.parametrize(
    "carrier",
    [
        {},
        {"langsmith-trace": ""},
        {"langsmith-trace": "garbage"},
        {"langsmith-trace": "20240230T000000000000Z" + "0" * 8 + "-0000-0000-0000-" + "0" * 12},
        {"langsmith-trace": "x" * 100_000},
        {"langsmith-trace": ["not", "a", "string"]},
        {"langsmith-trace": [None]},
    ],
)
def test_bad_input_leaves_the_context_unchanged(carrier: dict) -> None:
    context = propagate.extract({}, context=None)
    assert PROPAGATOR.extract(carrier, context) is context


def test_extract_ignores_zero_ids() -> None:
    zero = "00000000-0000-0000-0000-000000000000"
    value = f"{format_ts(1_700_000_000_000_000)}{zero}"
    context = PROPAGATOR.extract({"langsmith-trace": value})
    assert not _span_context(context).is_valid


def test_extract_finds_the_header_in_any_case() -> None:
    caller = tm.RunTree("caller")
    parent = _span_context(PROPAGATOR.extract({"Langsmith-Trace": caller.dotted_order}))
    assert parent.span_id == int(caller.span_id, 16)


def test_inject_from_an_sdk_span_is_continued_by_our_middleware_and_langsmith(
    tracer: trace.Tracer, monkeypatch: pytest.MonkeyPatch
) -> None:
    carrier: dict[str, str] = {}
    with tracer.start_as_current_span("otel-client") as span:
        PROPAGATOR.inject(carrier)
        span_context = span.get_span_context()
        start_ns = span.start_time
    assert set(carrier) == PROPAGATOR.fields == {"langsmith-trace"}
    value = carrier["langsmith-trace"]
    first, second = value.split(".")
    assert first[:22] == second[:22] == format_ts(start_ns // 1000)
    remote = tm.RunTree.from_headers(carrier)
    assert remote is not None
    assert remote.trace_id.replace("-", "") == f"{span_context.trace_id:032x}"
    child = remote.create_child("handler")
    assert child.parent_span_id == f"{span_context.span_id:016x}"
    assert child.trace_id == remote.trace_id
    assert remote.id.replace("-", "")[:16] == f"{span_context.trace_id:032x}"[:16]

    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    run_trees = pytest.importorskip("langsmith.run_trees")
    # A copied context: langsmith's from_headers sets a context variable that would outlive this test.
    ls_parent = contextvars.copy_context().run(run_trees.RunTree.from_headers, carrier)
    assert str(ls_parent.trace_id).replace("-", "") == f"{span_context.trace_id:032x}"
    assert str(ls_parent.id) == remote.id


def test_inject_without_a_span_writes_nothing() -> None:
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier)
    assert carrier == {}


def test_pass_through_keeps_the_received_dotted_order(tracer: trace.Tracer) -> None:
    caller = tm.RunTree("caller").create_child("step")
    context = PROPAGATOR.extract({"langsmith-trace": caller.dotted_order})
    forwarded: dict[str, str] = {}
    PROPAGATOR.inject(forwarded, context)
    assert forwarded["langsmith-trace"] == caller.dotted_order  # nothing of ours in between: unchanged
    token = otel_context.attach(context)  # as server instrumentations do with the extracted context
    try:
        with tracer.start_as_current_span("server") as span:
            nested: dict[str, str] = {}
            PROPAGATOR.inject(nested)
    finally:
        otel_context.detach(token)
    value = nested["langsmith-trace"]
    assert value.startswith(caller.dotted_order + ".")
    remote = tm.RunTree.from_headers(nested)
    assert remote is not None
    assert remote.parent_run_id == caller.id
    assert remote.span_id == f"{span.get_span_context().span_id:016x}"


def test_composite_with_w3c_agrees(tracer: trace.Tracer, global_textmap: None) -> None:
    propagate.set_global_textmap(
        CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator(), LangSmithPropagator()])
    )
    carrier: dict[str, str] = {}
    with tracer.start_as_current_span("client") as span:
        propagate.inject(carrier)
    assert {"traceparent", "langsmith-trace"} <= set(carrier)
    ours = tm.RunTree.from_headers({"langsmith-trace": carrier["langsmith-trace"]})
    w3c = tm.RunTree.from_headers({"traceparent": carrier["traceparent"]})
    assert ours is not None and w3c is not None
    assert ours.trace_id == w3c.trace_id and ours.span_id == w3c.span_id
    assert ours.span_id == f"{span.get_span_context().span_id:016x}"
    # A caller of ours sends both; extracting with the composite gives one consistent parent.
    run = tm.RunTree("ours")
    parent = _span_context(propagate.extract(run.to_headers()))
    assert parent.span_id == int(run.span_id, 16)


def declared_entry_point() -> str:
    """The ``langsmith`` entry point of the ``opentelemetry_propagator`` group, as pyproject.toml declares it."""
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split("[project.entry-points.opentelemetry_propagator]", 1)[1].split("\n[", 1)[0]
    (line,) = [line for line in section.splitlines() if line.strip().startswith("langsmith")]
    return line.split("=", 1)[1].strip().strip('"')


def test_the_declared_entry_point_names_the_propagator() -> None:
    module, _, attr = declared_entry_point().partition(":")
    assert getattr(importlib.import_module(module), attr) is LangSmithPropagator


def test_otel_propagators_environment_variable(tmp_path: Path) -> None:
    """``OTEL_PROPAGATORS=tracecontext,baggage,langsmith`` loads us through the entry point the package declares."""
    dist = tmp_path / "tm_entry_point-0.0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tm-entry-point\nVersion: 0.0.0\n")
    (dist / "entry_points.txt").write_text(f"[opentelemetry_propagator]\nlangsmith = {declared_entry_point()}\n")
    code = textwrap.dedent(
        """
        import json
        from opentelemetry import propagate, trace
        from opentelemetry.sdk.trace import TracerProvider
        import tracing_middleware as tm
        names = [type(p).__name__ for p in propagate.get_global_textmap()._propagators]
        carrier = {}
        with TracerProvider().get_tracer("t").start_as_current_span("s") as span:
            propagate.inject(carrier)
        run = tm.RunTree("ours")
        parent = trace.get_current_span(propagate.extract({"langsmith-trace": run.dotted_order})).get_span_context()
        print(json.dumps({"names": names, "carrier": sorted(carrier),
                          "ok": parent.span_id == int(run.span_id, 16)}))
        """
    )
    env = {
        **os.environ,
        "OTEL_PROPAGATORS": "tracecontext,baggage,langsmith",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["names"] == ["TraceContextTextMapPropagator", "W3CBaggagePropagator", "LangSmithPropagator"]
    assert found["carrier"] == ["langsmith-trace", "traceparent"]
    assert found["ok"]
