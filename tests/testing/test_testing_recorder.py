"""TraceRecorder, TraceParent and recording() used directly, without the pytest plugin."""

from __future__ import annotations

import pytest

import tracing_middleware
from tracing_middleware import InMemoryExporter, Runtime, RunTree, get_runtime, trace, traceable, use_runtime
from tracing_middleware.core import config
from tracing_middleware.testing import TraceParent, TraceRecorder, recording


@traceable(name="load")
def load(key: str) -> str:
    return key.upper()


@traceable(name="fetch", run_type="tool", metadata={"target": "db"})
def fetch(n: int) -> int:
    return n


def handle(parent: RunTree | dict[str, str] | None = None) -> None:
    with trace("GET /items/{item_id}", **({} if parent is None else {"parent": parent})):
        load("a")
        with trace("GET api.internal/x"):
            fetch(1)
            fetch(2)


def test_find_one_roots_children_parent_and_by_trace() -> None:
    with recording() as traces:
        handle()
        with trace("other"):
            pass
    root = traces.one("GET /items/{item_id}")
    assert [run.name for run in traces.roots()] == ["GET /items/{item_id}", "other"]
    assert [run.name for run in traces.children(root)] == ["load", "GET api.internal/x"]
    outbound = traces.one("GET api.internal/x")
    assert [run.inputs for run in traces.children(outbound.id)] == [{"n": 1}, {"n": 2}]
    assert traces.parent(outbound) is root and traces.parent(root) is None
    assert len(traces.find("fetch", run_type="tool", target="db")) == 2
    assert traces.find(target="nowhere") == [] and traces.find(run_type="llm") == []
    grouped = traces.by_trace()
    assert set(grouped) == {root.trace_id, traces.one("other").trace_id}
    assert [run.name for run in grouped[root.trace_id]][:2] == ["GET /items/{item_id}", "load"]
    assert len(traces) == 6 and {run.name for run in traces} == {run.name for run in traces.runs}
    traces.clear()
    assert traces.runs == [] and traces.roots() == []


def test_one_lists_what_was_recorded() -> None:
    with recording() as traces:
        handle()
    with pytest.raises(AssertionError) as failure:
        traces.one("fetch")
    message = str(failure.value)
    assert message.startswith("expected exactly one run with name='fetch', found 2\nrecorded runs:\n")
    assert "\n  GET /items/{item_id}\n    load\n    GET api.internal/x\n      fetch [tool]\n" in message
    with pytest.raises(AssertionError, match="with name='nope', run_type='llm', target='db', found 0"):
        traces.one("nope", run_type="llm", target="db")


def test_assert_tree_passes_with_siblings_in_any_order_and_repeated_names() -> None:
    with recording() as traces:
        handle()
    traces.assert_tree(
        {"GET /items/{item_id}": {"GET api.internal/x": {"fetch": [{}, None]}, "load": {}}},
    )
    outbound = traces.one("GET api.internal/x")
    traces.assert_tree({"GET api.internal/x": {"fetch": [{}, {}]}}, root=outbound)


@pytest.mark.parametrize(
    ("shape", "reason"),
    [
        (
            {"GET /items/{item_id}": {"load": {}, "GET api.internal/x": {"fetch": {}}}},
            "under 'GET api.internal/x': 'fetch' 1 expected, 2 recorded",
        ),
        ({"GET /items/{item_id}": {"load": {}}}, "under 'GET /items/{item_id}': unexpected 'GET api.internal/x'"),
        ({"GET /items/{item_id}": {}, "extra": {}}, "at the top: missing 'extra'"),
        ({"GET": {}, "extra": [{}, {}]}, "at the top: missing 'GET', 'extra' x2; unexpected 'GET /items/{item_id}'"),
        ({"GET /items/{item_id}": {"load": {"deeper": {}}, "GET api.internal/x": {"fetch": [{}, {}]}}}, "under 'load'"),
    ],
)
def test_assert_tree_failure_names_the_difference_and_prints_both_outlines(shape: object, reason: str) -> None:
    with recording() as traces:
        handle()
    with pytest.raises(AssertionError) as failure:
        traces.assert_tree(shape)  # type: ignore[arg-type]
    message = str(failure.value)
    assert reason in message.splitlines()[0]
    recorded = message.split("recorded:\n", 1)[1]
    assert recorded == (
        "  GET /items/{item_id}\n    load\n    GET api.internal/x\n      fetch [tool]\n      fetch [tool]"
    )
    expected = message.split("expected:\n", 1)[1].split("\nrecorded:\n")[0]
    assert expected.splitlines()[0] == "  " + next(iter(shape))  # type: ignore[call-overload]


def test_repeated_siblings_with_different_children_are_told_apart() -> None:
    with recording() as traces, trace("root"):
        with trace("step"), trace("inner"):
            pass
        with trace("step"):
            pass
    traces.assert_tree({"root": {"step": [{}, {"inner": {}}]}})
    with pytest.raises(AssertionError, match=r"the 2 runs named 'step' do not have the expected children"):
        traces.assert_tree({"root": {"step": [{"inner": {}}, {"inner": {}}]}})


def test_outline_marks_errors_run_types_and_unrecorded_parents() -> None:
    remote = RunTree("upstream")
    with recording() as traces:
        with pytest.raises(ValueError), trace("GET /boom", parent=remote.to_headers()):
            raise ValueError("boom\nsecond line")
        assert traces.runs and not traces.find("upstream")
        with pytest.raises(AssertionError) as failure:
            traces.assert_tree({})
    message = str(failure.value)
    assert "at the top: unexpected 'GET /boom'" in message
    assert "expected:\n  (no runs)\nrecorded:\n  GET /boom  error: ValueError: boom  (parent not recorded)" in message
    with recording() as empty:
        assert empty.outline() == "  (no runs recorded)"
        empty.assert_tree({})


def test_bad_shapes_raise_type_error_naming_the_format() -> None:
    with recording() as traces:
        for bad in (["GET /"], {"GET /": "load"}, {1: {}}):
            with pytest.raises(TypeError, match=r"a tree shape is a dict of run name -> shape of its children"):
                traces.assert_tree(bad)  # type: ignore[arg-type]


def test_trace_parent_headers_continue_into_children_and_are_recorded_on_end() -> None:
    with recording() as traces:
        parent = TraceParent(traces)
        assert parent.environ["HTTP_LANGSMITH_TRACE"] == parent.run.dotted_order == parent.headers["langsmith-trace"]
        assert parent.environ["HTTP_TRACEPARENT"] == parent.headers["traceparent"]
        handle(parent.headers)
        request = traces.one("GET /items/{item_id}")
        parent.assert_child_of_parent(request)
        parent.assert_child_of_parent("GET /items/{item_id}")
        assert parent.children() == [request] and traces.parent(request) is parent.run
        assert "  GET /items/{item_id}  (child of test-parent)\n" in traces.outline() + "\n"
        traces.assert_tree(
            {"test-parent": {"GET /items/{item_id}": {"load": {}, "GET api.internal/x": {"fetch": [{}, {}]}}}},
            root=parent.run,
        )
        with pytest.raises(AssertionError) as failure:
            parent.assert_child_of_parent("load")
        assert "expected 'load'" in str(failure.value)
        assert f"its parent is 'GET /items/{{item_id}}' ({request.id})" in str(failure.value)
        assert not traces.find("test-parent")
        parent.end()
        parent.end()
        assert len(traces.find("test-parent")) == 1
        traces.assert_tree(
            {"test-parent": {"GET /items/{item_id}": {"load": {}, "GET api.internal/x": {"fetch": [{}, {}]}}}}
        )


def test_trace_parent_rejects_a_root_and_a_foreign_trace() -> None:
    with recording() as traces:
        parent = TraceParent(traces)
        handle()
        with pytest.raises(AssertionError, match=r"to be a child of 'test-parent'.*; it is a root run"):
            parent.assert_child_of_parent("GET /items/{item_id}")
        other = RunTree("elsewhere")
        stranger = other.create_child("stranger")
        with pytest.raises(AssertionError, match=f"its parent is {other.id}, in trace {other.trace_id}"):
            parent.assert_child_of_parent(stranger)
    lone = TraceParent()
    with pytest.raises(ValueError, match="needs the recorder"):
        lone.children()
    with pytest.raises(ValueError, match="needs the recorder"):
        lone.assert_child_of_parent("x")


def test_recording_sets_the_previous_configuration_aside_without_shutting_it_down() -> None:
    class Counting(InMemoryExporter):
        shutdowns = 0

        def shutdown(self) -> None:
            self.shutdowns += 1

    theirs = Counting()
    tracing_middleware.configure(
        exporter=theirs, enabled=False, sample_rate=0.0, project_name="proj", service_name="svc", w3c=False
    )
    try:
        before = config.get_settings()
        with recording() as traces:
            settings = config.get_settings()
            assert settings is not before and settings.enabled and settings.sample_rate == 1.0
            assert (settings.project_name, settings.service_name, settings.w3c) == ("proj", "svc", False)
            with trace("inside"):
                pass
            assert "traceparent" not in TraceParent(traces).headers
        assert config.get_settings() is before and get_runtime().emit_w3c is False
        assert theirs.shutdowns == 0 and theirs.runs == []
        assert [run.name for run in traces.runs] == ["inside"] and traces.one("inside").project_name == "proj"
        with trace("after"):
            pass
        assert traces.find("after") == [] and theirs.runs == []  # theirs is disabled again
    finally:
        tracing_middleware.configure(exporter="none")


def test_recording_restores_an_unconfigured_state_and_shuts_down_what_the_test_configured() -> None:
    class Counting(InMemoryExporter):
        shutdowns = 0

        def shutdown(self) -> None:
            self.shutdowns += 1

    with use_runtime(Runtime()) as unconfigured:
        with recording() as traces:
            made_inside = Counting()
            tracing_middleware.configure(exporter=[traces.exporter, made_inside])
            with trace("both"):
                pass
            assert traces.flush() is True
        assert get_runtime() is unconfigured and unconfigured.settings is None
        assert [run.name for run in traces.runs] == ["both"] == [run.name for run in made_inside.runs]
        assert made_inside.shutdowns == 1


def test_recorder_works_on_its_own_exporter() -> None:
    recorder = TraceRecorder()
    run = RunTree("solo")
    run.end()
    recorder.exporter.export([run])
    assert recorder.one("solo") is run and recorder.roots() == [run]
