"""WSGITracingMiddleware: called directly as a WSGI server would, and served by werkzeug's threaded server."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("werkzeug")
langsmith_run_trees = pytest.importorskip("langsmith.run_trees")

import serving  # noqa: E402
import wsgi_served  # noqa: E402

from tracing_middleware import InMemoryExporter, RunTree, get_current_run_tree, get_runtime, trace  # noqa: E402
from tracing_middleware.middleware.request import SCOPE_KEY  # noqa: E402
from tracing_middleware.middleware.wsgi import WSGITracingMiddleware  # noqa: E402


def langsmith_parent() -> Any:
    return langsmith_run_trees.RunTree(name="caller", run_type="chain")


def report_of(app: Any, path: str = "/items/1", headers: dict[str, str] | None = None, **extra: Any) -> Any:
    """The handler's report of the run it executed in."""
    return json.loads(serving.serve_once(app, serving.environ_for(path, headers, **extra))[1])


def traced(**options: Any) -> WSGITracingMiddleware:
    return WSGITracingMiddleware(wsgi_served.plain_app, instrument_outbound=False, **options)


def test_request_run_continues_the_langsmith_callers_run(memory: InMemoryExporter) -> None:
    parent = langsmith_parent()
    environ = serving.environ_for(headers=parent.to_headers(), QUERY_STRING="q=1", SCRIPT_NAME="/api")
    status, body = serving.serve_once(traced(), environ)
    seen = json.loads(body)
    (run,) = memory.runs
    assert status == "200 OK"
    assert run.id == seen["run"] and environ[SCOPE_KEY] is run
    assert run.parent_run_id == str(parent.id) and run.trace_id == str(parent.trace_id)
    assert run.name == "GET"
    assert run.inputs == {"method": "GET", "path": "/api/items/1", "query": "q=1"}
    assert run.outputs == {"status_code": 200}
    assert run.error is None


def test_request_without_headers_is_a_new_root(memory: InMemoryExporter) -> None:
    _, body = serving.serve_once(traced(), serving.environ_for())
    seen = json.loads(body)
    assert seen["parent"] is None and seen["trace"] == seen["run"]
    assert get_current_run_tree() is None


def test_run_ends_after_the_body_is_exhausted_and_closed(memory: InMemoryExporter) -> None:
    events: list[str] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"a"
            yield b"b"

        def close(self) -> None:
            with trace("closing"):  # runs under the request run
                events.append("closed")

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [])
        return Body()

    body = WSGITracingMiddleware(app, instrument_outbound=False)(serving.environ_for(), lambda *a: None)
    assert b"".join(body) == b"ab"
    assert memory.runs == []  # exhausted, not yet closed
    body.close()  # type: ignore[attr-defined]
    closing, request = memory.runs
    assert events == ["closed"]
    assert closing.parent_run_id == request.id
    assert request.end_us is not None and closing.end_us is not None and request.end_us >= closing.end_us


def test_each_streamed_chunk_is_produced_under_the_request_run(memory: InMemoryExporter) -> None:
    _, body = serving.serve_once(traced(), serving.environ_for("/stream"))
    request = memory.by_name("GET")[0]
    chunks = [run for run in memory.runs if run.name.startswith("chunk-")]
    assert [json.loads(line)["run"] for line in body.splitlines()] == [run.id for run in chunks]
    assert {run.parent_run_id for run in chunks} == {request.id}
    assert request.end_us is not None and all(request.end_us >= (run.end_us or 0) for run in chunks)


def test_exception_is_reraised_unchanged_and_recorded(memory: InMemoryExporter) -> None:
    with pytest.raises(RuntimeError, match="handler failed"):
        serving.serve_once(traced(), serving.environ_for("/boom"))
    (run,) = memory.runs
    assert run.error is not None and run.error.startswith("RuntimeError: handler failed")
    assert get_current_run_tree() is None


def test_exception_while_producing_the_body_is_recorded_at_close(memory: InMemoryExporter) -> None:
    def failing() -> Iterator[bytes]:
        yield b"first"
        raise ValueError("broken stream")

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [])
        return failing()

    with pytest.raises(ValueError, match="broken stream"):
        serving.serve_once(WSGITracingMiddleware(app, instrument_outbound=False), serving.environ_for())
    (run,) = memory.runs
    assert run.error is not None and "ValueError: broken stream" in run.error


def test_server_error_status_marks_the_run_as_an_error(memory: InMemoryExporter) -> None:
    status, _ = serving.serve_once(traced(), serving.environ_for("/fail"))
    (run,) = memory.runs
    assert status.startswith("503") and run.outputs == {"status_code": 503} and run.error == "HTTP 503"


def test_applied_twice_makes_one_run(memory: InMemoryExporter) -> None:
    twice = WSGITracingMiddleware(traced(), instrument_outbound=False)
    _, body = serving.serve_once(twice, serving.environ_for(headers=langsmith_parent().to_headers()))
    assert [run.id for run in memory.runs] == [json.loads(body)["run"]]


def test_context_left_open_by_a_handler_does_not_reach_the_next_request(memory: InMemoryExporter) -> None:
    app = traced()
    serving.serve_once(app, serving.environ_for(QUERY_STRING="leak=1"))
    assert get_current_run_tree() is None
    fresh = report_of(app)
    assert fresh["parent"] is None and fresh["trace"] == fresh["run"]


@pytest.mark.parametrize("headers", serving.HOSTILE_HEADERS, ids=range(len(serving.HOSTILE_HEADERS)))
def test_hostile_headers_give_a_new_root_never_an_error(memory: InMemoryExporter, headers: dict[str, str]) -> None:
    status, body = serving.serve_once(traced(), serving.environ_for(headers=headers))
    seen = json.loads(body)
    assert status == "200 OK"
    assert seen["parent"] is None and seen["trace"] == seen["run"]
    assert memory.runs[0].error is None


def test_excluded_path_is_not_traced(memory: InMemoryExporter) -> None:
    app = traced(exclude_paths=["/health", "/static/*"])
    for path in ("/health", "/static/app.js"):
        assert json.loads(serving.serve_once(app, serving.environ_for(path))[1])["run"] is None
    serving.serve_once(app, serving.environ_for("/healthz"))
    assert [run.inputs["path"] for run in memory.runs if run.inputs] == ["/healthz"]


def test_untrusted_caller_gets_a_new_root_with_its_claim_as_a_link(memory: InMemoryExporter) -> None:
    parent = langsmith_parent()
    app = traced(trusted_networks=["10.0.0.0/8"])
    claimed = report_of(app, headers=parent.to_headers())
    assert claimed["parent"] is None
    assert memory.runs[0].metadata["link.langsmith_trace"] == parent.dotted_order
    inside = report_of(app, headers=parent.to_headers(), REMOTE_ADDR="10.1.2.3")
    assert inside["parent"] == str(parent.id)


def test_shared_secret_decides_trust(memory: InMemoryExporter) -> None:
    parent = langsmith_parent()
    app = traced(shared_secret="s3cret")
    wrong = report_of(app, headers={**parent.to_headers(), "x-tracing-secret": "nope"})
    right = report_of(app, headers={**parent.to_headers(), "x-tracing-secret": "s3cret"})
    assert wrong["parent"] is None and right["parent"] == str(parent.id)


def test_without_a_request_run_the_handler_runs_under_the_callers_run(memory: InMemoryExporter) -> None:
    parent = langsmith_parent()
    environ = serving.environ_for(headers=parent.to_headers())
    seen = json.loads(serving.serve_once(traced(request_run=False), environ)[1])
    assert seen["run"] == str(parent.id)
    assert isinstance(environ[SCOPE_KEY], RunTree) and environ[SCOPE_KEY].id == str(parent.id)
    assert memory.runs == []


def test_capture_headers_records_only_the_allowlist(memory: InMemoryExporter) -> None:
    headers = {"x-request-id": "abc", "user-agent": "tests", "authorization": "Bearer x"}
    serving.serve_once(traced(capture_headers=["X-Request-ID"]), serving.environ_for(headers=headers))
    assert memory.runs[0].inputs["headers"] == {"x-request-id": "abc"}


def test_run_name_function_sees_the_request(memory: InMemoryExporter) -> None:
    serving.serve_once(traced(run_name=lambda info: f"{info.method} {info.path} via {info.header('user-agent')}"),
               serving.environ_for(headers={"User-Agent": "tests"}))  # fmt: skip
    assert memory.runs[0].name == "GET /items/1 via tests"


def test_misuse_names_the_valid_choices() -> None:
    with pytest.raises(TypeError, match="valid options: exclude_paths"):
        WSGITracingMiddleware(wsgi_served.plain_app, exclude_path=["/x"])
    with pytest.raises(TypeError, match="WSGI application"):
        WSGITracingMiddleware("not an app")  # type: ignore[arg-type]


def test_outbound_instrumentation_is_turned_on_once_at_the_first_request(
    memory: InMemoryExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    # Stands in for instrument() so the real one (global patching) stays off in this process.
    monkeypatch.setattr(get_runtime(), "outbound_switch", lambda: calls.append("instrument"))
    monkeypatch.setattr(get_runtime(), "outbound_pending", True)
    quiet = WSGITracingMiddleware(wsgi_served.plain_app, instrument_outbound=False)
    serving.serve_once(quiet, serving.environ_for())
    assert calls == []
    app = WSGITracingMiddleware(wsgi_served.plain_app)
    assert calls == []  # nothing happens at construction
    for _ in range(3):
        serving.serve_once(app, serving.environ_for())
    assert calls == ["instrument"]


def _times(run: dict[str, Any]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(run["start_time"]), datetime.fromisoformat(run["end_time"])


def test_threaded_server_isolates_1000_concurrent_requests(tmp_path: Path) -> None:
    port = serving.free_port()
    with serving.served(["wsgi_served.py", str(port)], tmp_path, serving.HERE, port) as server:
        results = serving.hammer(server["url"])
        import requests

        streamed = requests.get(server["url"] + "/stream", timeout=30)
        for headers in serving.HOSTILE_HEADERS:
            response = requests.get(server["url"] + "/items/0", headers=headers, timeout=30)
            assert response.status_code == 200
            assert response.json()["parent"] is None
    runs = server["runs"]
    serving.check_isolation(results, runs, name="GET")
    chunk_ids = [json.loads(line)["run"] for line in streamed.text.splitlines()]
    chunks = [r for r in runs if r["id"] in chunk_ids]
    (request,) = [r for r in runs if r["inputs"] and r["inputs"]["path"] == "/stream"]
    assert len(chunks) == 3 and {c["parent_run_id"] for c in chunks} == {request["id"]}
    assert all(_times(request)[1] >= _times(c)[1] for c in chunks)


def test_a_list_body_ends_its_run_on_close_not_before(memory: InMemoryExporter) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [b"a", b"b"]

    body = WSGITracingMiddleware(app, instrument_outbound=False)(serving.environ_for(), lambda *a: None)
    assert b"".join(body) == b"ab"
    assert memory.runs == []  # exhausted, not yet closed
    body.close()  # type: ignore[attr-defined]
    (run,) = memory.runs
    assert run.outputs == {"status_code": 200}


@pytest.mark.parametrize("generator", [False, True])
def test_an_unsampled_request_propagates_but_records_nothing(memory: InMemoryExporter, generator: bool) -> None:
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [])
        seen.append(get_current_run_tree().to_headers()["traceparent"])  # type: ignore[union-attr]
        if not generator:
            return [b"x"]

        def chunks() -> Iterator[bytes]:
            seen.append(get_current_run_tree().to_headers()["traceparent"])  # type: ignore[union-attr]
            yield b"x"

        return chunks()

    caller = {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-00"}
    body = WSGITracingMiddleware(app, instrument_outbound=False)(serving.environ_for(headers=caller), lambda *a: None)
    assert b"".join(body) == b"x"
    getattr(body, "close", lambda: None)()  # as a server does: an unrecorded list body comes back as it was
    assert memory.runs == []
    assert seen and all(value.startswith("00-" + "a" * 32) and value.endswith("-00") for value in seen)
