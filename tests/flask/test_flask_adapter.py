"""Flask adapter: through Flask's test client, and served by gunicorn's threaded worker."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

flask = pytest.importorskip("flask")
langsmith_run_trees = pytest.importorskip("langsmith.run_trees")

import flask_served  # noqa: E402
import serving  # noqa: E402

from tracing_middleware import InMemoryExporter, get_current_run_tree  # noqa: E402
from tracing_middleware.adapters.flask import TracingFlask, instrument_app  # noqa: E402
from tracing_middleware.middleware.wsgi import WSGITracingMiddleware  # noqa: E402

ROUTE = "GET /items/<int:item_id>"


def langsmith_headers() -> tuple[Any, dict[str, str]]:
    parent = langsmith_run_trees.RunTree(name="caller", run_type="chain")
    return parent, parent.to_headers()


def test_run_is_named_from_the_url_rule_and_continues_the_caller(memory: InMemoryExporter) -> None:
    parent, headers = langsmith_headers()
    response = flask_served.create_app().test_client().get("/items/42?x=1", headers=headers, buffered=True)
    seen = response.get_json()
    (run,) = memory.runs
    assert run.name == ROUTE and seen["run"] == run.id
    assert run.parent_run_id == str(parent.id) and run.trace_id == str(parent.trace_id)
    assert run.inputs == {"method": "GET", "path": "/items/42", "query": "x=1"}
    assert run.outputs == {"status_code": 200}


def test_unmatched_url_keeps_the_method_as_name(memory: InMemoryExporter) -> None:
    response = flask_served.create_app().test_client().get("/nowhere/123", buffered=True)
    assert response.status_code == 404
    (run,) = memory.runs
    assert run.name == "GET" and run.outputs == {"status_code": 404} and run.error is None


def test_route_is_known_even_when_a_before_request_hook_answers(memory: InMemoryExporter) -> None:
    app = flask_served.create_app()

    @app.before_request
    def refuse() -> Any:
        return "closed", 403

    assert app.test_client().get("/items/1", buffered=True).status_code == 403
    assert memory.runs[0].name == ROUTE


def test_view_exception_turned_into_a_500_page_is_recorded(memory: InMemoryExporter) -> None:
    response = flask_served.create_app().test_client().get("/boom", buffered=True)
    assert response.status_code == 500
    (run,) = memory.runs
    assert run.name == "GET /boom"
    assert run.error is not None and run.error.startswith("RuntimeError: view failed")


def test_propagated_exception_is_reraised_unchanged_and_recorded(memory: InMemoryExporter) -> None:
    app = flask_served.create_app()
    app.testing = True  # Flask re-raises view errors instead of answering 500
    with pytest.raises(RuntimeError, match="view failed"):
        app.test_client().get("/boom", buffered=True)
    assert memory.runs[0].error is not None and "RuntimeError: view failed" in memory.runs[0].error
    assert get_current_run_tree() is None


def test_aborted_with_5xx_is_an_error(memory: InMemoryExporter) -> None:
    assert flask_served.create_app().test_client().get("/gone", buffered=True).status_code == 503
    assert memory.runs[0].error == "HTTP 503"


def test_streamed_body_is_covered_by_the_run(memory: InMemoryExporter) -> None:
    response = flask_served.create_app().test_client().get("/stream", buffered=True)
    (request,) = memory.by_name("GET /stream")
    chunks = [run for run in memory.runs if run.name.startswith("chunk-")]
    assert [json.loads(line)["run"] for line in response.text.splitlines()] == [run.id for run in chunks]
    assert {run.parent_run_id for run in chunks} == {request.id}
    assert request.end_us is not None and all(request.end_us >= (run.end_us or 0) for run in chunks)


def test_traceable_in_a_view_is_a_child_of_the_request_run(memory: InMemoryExporter) -> None:
    parent, headers = langsmith_headers()
    seen = flask_served.create_app().test_client().post("/my-route", headers=headers, buffered=True).get_json()
    (request,) = memory.by_name("POST /my-route")
    (child,) = memory.by_name("my_application")
    assert request.parent_run_id == str(parent.id)
    assert child.parent_run_id == request.id and seen["run"] == child.id


def test_instrumenting_twice_changes_nothing(memory: InMemoryExporter) -> None:
    app = flask_served.create_app()
    wrapped = app.wsgi_app
    instrument_app(app)
    TracingFlask(app)
    assert app.wsgi_app is wrapped and isinstance(wrapped, WSGITracingMiddleware)
    app.test_client().get("/items/1", buffered=True)
    assert len(memory.runs) == 1


def test_extension_pattern_and_misuse() -> None:
    extension = TracingFlask(exclude_paths=["/health"])
    app = flask.Flask("deferred")
    extension.init_app(app)
    assert app.extensions["tracing_middleware"] is extension
    with pytest.raises(TypeError, match=r"flask\.Flask"):
        extension.init_app(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="valid options"):
        TracingFlask(app, run_nam="x")


def test_run_name_function_receives_the_route(memory: InMemoryExporter) -> None:
    app = flask_served.create_app(run_name=lambda info: f"items:{info.route}", exclude_paths=["/stream"])
    client = app.test_client()
    client.get("/items/5", buffered=True)
    client.get("/stream", buffered=True)
    requests = [run for run in memory.runs if not run.name.startswith("chunk-")]
    assert [run.name for run in requests] == ["items:/items/<int:item_id>"]
    assert {run.parent_run_id for run in memory.runs if run.name.startswith("chunk-")} == {None}  # /stream untraced


def _end(run: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(run["end_time"])


def test_gunicorn_threads_isolate_1000_concurrent_requests(tmp_path: Path) -> None:
    pytest.importorskip("gunicorn")
    requests = pytest.importorskip("requests")
    port = serving.free_port()
    args = ["-m", "gunicorn", "--threads", "8", "-w", "1", "-b", f"127.0.0.1:{port}", "flask_served:app"]
    with serving.served(args, tmp_path, Path(__file__).resolve().parent, port) as server:
        results = serving.hammer(server["url"])
        streamed = requests.get(server["url"] + "/stream", timeout=30).text
        parent, headers = langsmith_headers()
        my_route = requests.post(server["url"] + "/my-route", headers=headers, timeout=30).json()
        for hostile in serving.HOSTILE_HEADERS:
            response = requests.get(server["url"] + "/items/0", headers=hostile, timeout=30)
            assert response.status_code == 200 and response.json()["parent"] is None
    runs = server["runs"]
    serving.check_isolation(results, runs, name=ROUTE)
    by_id = {run["id"]: run for run in runs}
    (request,) = [run for run in runs if run["name"] == "GET /stream"]
    chunks = [by_id[json.loads(line)["run"]] for line in streamed.splitlines()]
    assert len(chunks) == 3 and {c["parent_run_id"] for c in chunks} == {request["id"]}
    assert all(_end(request) >= _end(c) for c in chunks)
    child = by_id[my_route["run"]]
    assert by_id[child["parent_run_id"]]["parent_run_id"] == str(parent.id)
