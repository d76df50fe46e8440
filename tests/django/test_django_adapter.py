"""Django middleware: through Django's test clients (sync and async), under gunicorn (WSGI) and uvicorn (ASGI)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("django")
langsmith_run_trees = pytest.importorskip("langsmith.run_trees")

import django_served  # noqa: E402
import serving  # noqa: E402
from asgiref.sync import iscoroutinefunction  # noqa: E402
from django.test import AsyncClient, Client, override_settings  # noqa: E402

from tracing_middleware import InMemoryExporter, get_current_run_tree  # noqa: E402
from tracing_middleware.adapters.django import TracingMiddleware  # noqa: E402
from tracing_middleware.middleware.request import ROUTE_KEY, SCOPE_KEY  # noqa: E402
from tracing_middleware.middleware.wsgi import WSGITracingMiddleware  # noqa: E402

ROUTE = "GET items/<int:item_id>"
HERE = Path(__file__).resolve().parent


def langsmith_headers() -> tuple[Any, dict[str, str]]:
    parent = langsmith_run_trees.RunTree(name="caller", run_type="chain")
    return parent, parent.to_headers()


def test_run_is_named_from_the_resolved_route_and_continues_the_caller(memory: InMemoryExporter) -> None:
    parent, headers = langsmith_headers()
    seen = Client(headers=headers).get("/items/42?x=1").json()
    (run,) = memory.runs
    assert run.name == ROUTE and seen["run"] == run.id
    assert run.parent_run_id == str(parent.id) and run.trace_id == str(parent.trace_id)
    assert run.inputs == {"method": "GET", "path": "/items/42", "query": "x=1"}
    assert run.outputs == {"status_code": 200} and run.error is None


def test_unresolved_url_keeps_the_method_as_name(memory: InMemoryExporter) -> None:
    assert Client().get("/nowhere").status_code == 404
    assert [run.name for run in memory.runs] == ["GET"]


def test_view_exception_is_recorded_on_the_500(memory: InMemoryExporter) -> None:
    assert Client(raise_request_exception=False).get("/boom").status_code == 500
    (run,) = memory.runs
    assert run.name == "GET boom" and run.outputs == {"status_code": 500}
    assert run.error is not None and run.error.startswith("RuntimeError: view failed")
    assert get_current_run_tree() is None


def test_5xx_response_is_an_error(memory: InMemoryExporter) -> None:
    assert Client().get("/gone").status_code == 503
    assert memory.runs[0].error == "HTTP 503"


def test_streaming_response_run_ends_when_the_content_is_closed(memory: InMemoryExporter) -> None:
    response = Client().get("/stream")
    assert memory.by_name("GET stream") == []  # the view returned; the body is not produced yet
    lines = b"".join(response.streaming_content).decode().splitlines()  # the test client closes at the end
    (request,) = memory.by_name("GET stream")
    chunks = [run for run in memory.runs if run.name.startswith("chunk-")]
    assert [json.loads(line)["run"] for line in lines] == [run.id for run in chunks]
    assert {run.parent_run_id for run in chunks} == {request.id}
    assert request.end_us is not None and all(request.end_us >= (run.end_us or 0) for run in chunks)


def test_traceable_in_a_view_is_a_child_of_the_request_run(memory: InMemoryExporter) -> None:
    parent, headers = langsmith_headers()
    seen = Client(headers=headers).get("/my-route").json()
    (request,) = memory.by_name("GET my-route")
    (child,) = memory.by_name("my_application")
    assert request.parent_run_id == str(parent.id) and child.parent_run_id == request.id and seen["run"] == child.id


def test_async_view_under_a_sync_stack_sees_the_request_run(memory: InMemoryExporter) -> None:
    seen = Client().get("/async/3").json()
    (run,) = memory.runs
    assert run.name == "GET async/<int:item_id>" and seen["run"] == run.id


def test_async_stack_awaits_the_middleware_directly() -> None:
    async def get_response(request: Any) -> Any:
        return None

    assert iscoroutinefunction(TracingMiddleware(get_response))
    assert not iscoroutinefunction(TracingMiddleware(lambda request: None))


def test_async_client_sync_and_async_views_and_async_streaming(memory: InMemoryExporter) -> None:
    parent, headers = langsmith_headers()

    async def scenario() -> tuple[Any, Any, list[str]]:
        client = AsyncClient()  # headers per request: Django 5.2's AsyncClient(headers=...) prefixes them twice
        async_seen = (await client.get("/async/1", headers=headers)).json()
        sync_seen = (await client.get("/items/2", headers=headers)).json()
        response = await client.get("/astream")
        lines = [part async for part in response.streaming_content]
        return async_seen, sync_seen, b"".join(lines).decode().splitlines()

    async_seen, sync_seen, lines = asyncio.run(scenario())
    by_id = {run.id: run for run in memory.runs}
    assert by_id[async_seen["run"]].name == "GET async/<int:item_id>"
    assert by_id[sync_seen["run"]].name == ROUTE
    assert {by_id[async_seen["run"]].parent_run_id, by_id[sync_seen["run"]].parent_run_id} == {str(parent.id)}
    (stream,) = memory.by_name("GET astream")
    chunks = [by_id[json.loads(line)["run"]] for line in lines]
    assert len(chunks) == 3 and {run.parent_run_id for run in chunks} == {stream.id}
    assert stream.end_us is not None and all(stream.end_us >= (run.end_us or 0) for run in chunks)


@pytest.mark.parametrize("headers", serving.HOSTILE_HEADERS, ids=range(len(serving.HOSTILE_HEADERS)))
def test_hostile_headers_give_a_new_root(memory: InMemoryExporter, headers: dict[str, str]) -> None:
    response = Client(headers=headers).get("/items/1")
    assert response.status_code == 200 and response.json()["parent"] is None
    assert memory.runs[0].error is None


def test_options_come_from_the_setting(memory: InMemoryExporter) -> None:
    _, headers = langsmith_headers()
    options = {
        "instrument_outbound": False,
        "exclude_paths": ["/gone"],
        "capture_headers": ["x-request-id"],
        "run_name": lambda info: f"route={info.route}",
    }
    with override_settings(TRACING_MIDDLEWARE=options):
        client = Client(headers={**headers, "x-request-id": "r1"})
        client.get("/gone")
        client.get("/items/9")
    (run,) = memory.runs
    assert run.name == "route=items/<int:item_id>" and run.inputs["headers"] == {"x-request-id": "r1"}


def test_trust_policy_and_request_run_off_from_the_setting(memory: InMemoryExporter) -> None:
    parent, headers = langsmith_headers()
    with override_settings(TRACING_MIDDLEWARE={"trusted_networks": ["10.0.0.0/8"], "instrument_outbound": False}):
        untrusted = Client(headers=headers).get("/items/1").json()
    assert untrusted["parent"] is None
    assert memory.runs[0].metadata["link.langsmith_trace"] == parent.dotted_order
    memory.clear()
    with override_settings(TRACING_MIDDLEWARE={"request_run": False, "instrument_outbound": False}):
        seen = Client(headers=headers).get("/items/1").json()
    assert seen["run"] == str(parent.id) and memory.runs == []


def test_bad_setting_names_the_valid_options() -> None:
    with override_settings(TRACING_MIDDLEWARE={"exclude": ["/x"]}), pytest.raises(TypeError, match="valid options"):
        Client().get("/items/1")
    with override_settings(TRACING_MIDDLEWARE=["/x"]), pytest.raises(TypeError, match="must be a dict"):
        Client().get("/items/1")


def test_outer_wsgi_middleware_keeps_one_run_named_by_django(memory: InMemoryExporter) -> None:
    app = WSGITracingMiddleware(django_served.wsgi, instrument_outbound=False)
    environ = serving.environ_for("/items/5")
    _, body = serving.serve_once(app, environ)
    (run,) = memory.runs
    assert run.name == ROUTE and json.loads(body)["run"] == run.id and environ[SCOPE_KEY] is run
    memory.clear()
    status, _ = serving.serve_once(app, serving.environ_for("/boom"))
    (run,) = memory.runs
    assert status.startswith("500") and run.error is not None and run.error.startswith("RuntimeError: view failed")


def _end(run: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(run["end_time"])


def _check_stream(streamed: str, runs: list[dict[str, Any]], name: str) -> None:
    by_id = {run["id"]: run for run in runs}
    (request,) = [run for run in runs if run["name"] == name]
    chunks = [by_id[json.loads(line)["run"]] for line in streamed.splitlines()]
    assert len(chunks) == 3 and {c["parent_run_id"] for c in chunks} == {request["id"]}
    assert all(_end(request) >= _end(c) for c in chunks)


def _hostile(url: str) -> None:
    import requests

    for headers in serving.HOSTILE_HEADERS:
        response = requests.get(url + "/items/0", headers=headers, timeout=30)
        assert response.status_code == 200 and response.json()["parent"] is None


def test_gunicorn_wsgi_isolates_1000_concurrent_requests(tmp_path: Path) -> None:
    pytest.importorskip("gunicorn")
    requests = pytest.importorskip("requests")
    port = serving.free_port()
    args = ["-m", "gunicorn", "--threads", "8", "-w", "1", "-b", f"127.0.0.1:{port}", "django_served:wsgi"]
    with serving.served(args, tmp_path, HERE, port) as server:
        results = serving.hammer(server["url"])
        streamed = requests.get(server["url"] + "/stream", timeout=30).text
        _hostile(server["url"])
    serving.check_isolation(results, server["runs"], name=ROUTE)
    _check_stream(streamed, server["runs"], "GET stream")


def test_uvicorn_asgi_isolates_concurrent_sync_and_async_views(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    requests = pytest.importorskip("requests")
    port = serving.free_port()
    args = ["-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "django_served:asgi"]
    with serving.served(args, tmp_path, HERE, port) as server:
        sync_results = serving.hammer(server["url"])
        async_results = serving.hammer(server["url"], count=300, route="async")
        streamed = requests.get(server["url"] + "/astream", timeout=30).text
        _hostile(server["url"])
    serving.check_isolation(sync_results, server["runs"], name=ROUTE)
    serving.check_isolation(async_results, server["runs"], name="GET async/<int:item_id>")
    _check_stream(streamed, server["runs"], "GET astream")


def test_outer_asgi_middleware_keeps_one_run(memory: InMemoryExporter) -> None:
    asgi_middleware = pytest.importorskip("tracing_middleware.middleware.asgi")
    app = asgi_middleware.TracingMiddleware(django_served.asgi, instrument_outbound=False)
    parent, headers = langsmith_headers()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/items/8", "raw_path": b"/items/8", "root_path": "", "query_string": b"",
        "headers": [(b"host", b"testserver")] + [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def scenario() -> None:
        finished = asyncio.Event()
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await finished.wait()  # Django listens for a disconnect until the response is sent
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        finished.set()

    asyncio.run(scenario())
    body = json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))
    (run,) = memory.runs
    assert body["run"] == run.id and run.parent_run_id == str(parent.id)
    assert scope[ROUTE_KEY] == "items/<int:item_id>"  # left for the outer middleware to name its run
