"""The middleware in Starlette and FastAPI apps, through Starlette's TestClient."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("fastapi")

import starlette
from fastapi import APIRouter, FastAPI, WebSocket
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

import tracing_middleware as tm
from tracing_middleware import InMemoryExporter, RunTree, get_runtime
from tracing_middleware.adapters.fastapi import TracingMiddleware, add_tracing, request_run


@pytest.fixture(autouse=True)
def no_global_patching(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outbound instrumentation patches httpx for the whole process; the server tests cover it instead."""
    monkeypatch.setattr(get_runtime(), "outbound_pending", False)


CALLER = RunTree("caller")
# FastAPI's routes always leave the matched route in the scope; Starlette's own router does from 1.7 on.
STARLETTE_NAMES_ROUTES = tuple(int(part) for part in starlette.__version__.split(".")[:2]) >= (1, 7)


def build() -> FastAPI:
    app = FastAPI()
    router = APIRouter(prefix="/api")

    @router.get("/users/{user_id}")
    async def user(user_id: int) -> dict[str, Any]:
        run = tm.get_current_run_tree()
        return {"run_id": run.id if run else None}

    app.include_router(router)

    @app.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, Any]:  # a sync handler runs in a thread: the run must follow it
        run = tm.get_current_run_tree()
        return {"run_id": run.id if run else None}

    sub = FastAPI()

    @sub.get("/deep/{name}")
    async def deep(name: str) -> str:
        return name

    app.mount("/sub", sub)

    async def plain(request: Any) -> PlainTextResponse:
        return PlainTextResponse("plain")

    app.mount("/legacy", Starlette(routes=[Route("/page/{n:int}", plain)]))

    @app.get("/fail")
    async def fail() -> None:
        raise ValueError("handler failed")

    @app.websocket("/ws/{room}")
    async def ws(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        run = request_run(websocket)
        text = await websocket.receive_text()
        await websocket.send_text(f"{room}:{text}:{run.id if run else None}")
        if text == "explode":
            raise RuntimeError("websocket handler failed")
        try:
            await websocket.receive_text()
        except WebSocketDisconnect:
            return

    return app


@pytest.fixture
def traced(memory: InMemoryExporter) -> TestClient:
    app = build()
    app.add_middleware(TracingMiddleware, instrument_outbound=False)
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/users/7", "GET /api/users/{user_id}"),
        ("/items/8", "GET /items/{item_id}"),
        ("/sub/deep/x", "GET /sub/deep/{name}"),
        ("/legacy/page/3", "GET /legacy/page/{n}" if STARLETTE_NAMES_ROUTES else "GET"),
        ("/nowhere/42", "GET"),
    ],
)
def test_run_named_by_route_template(traced: TestClient, memory: InMemoryExporter, path: str, name: str) -> None:
    answer = traced.get(path, headers=CALLER.to_headers())
    assert answer.status_code in (200, 404)
    runs = memory.runs
    assert [run.name for run in runs] == [name]
    assert runs[0].parent_run_id == CALLER.id
    if answer.status_code == 200 and "run_id" in answer.text:
        assert answer.json()["run_id"] == runs[0].id


def test_handler_exception_marks_error_and_gives_500(traced: TestClient, memory: InMemoryExporter) -> None:
    assert traced.get("/fail").status_code == 500
    (run,) = memory.runs
    assert run.name == "GET /fail" and run.error is not None and run.error.startswith("ValueError: handler failed")


def test_exception_reaches_the_caller_unchanged(memory: InMemoryExporter) -> None:
    app = build()
    app.add_middleware(TracingMiddleware)
    with pytest.raises(ValueError, match="handler failed"):
        TestClient(app).get("/fail")
    assert memory.runs[0].error is not None


def test_add_middleware_and_manual_wrap_make_one_run(memory: InMemoryExporter) -> None:
    app = build()
    app.add_middleware(TracingMiddleware, run_name=lambda info: "inner layer")
    client = TestClient(TracingMiddleware(app), raise_server_exceptions=False)
    answer = client.get("/items/3", headers=CALLER.to_headers())
    (run,) = memory.runs
    assert run.name == "GET /items/{item_id}" and answer.json()["run_id"] == run.id


def test_websocket_one_run_per_connection(traced: TestClient, memory: InMemoryExporter) -> None:
    with traced.websocket_connect("/ws/lobby", headers=CALLER.to_headers()) as ws:
        ws.send_text("hi")
        reply = ws.receive_text()
        assert memory.runs == []  # still open
    (run,) = memory.runs
    assert reply == f"lobby:hi:{run.id}"
    assert run.name == "WS /ws/{room}" and run.parent_run_id == CALLER.id
    assert run.outputs == {"status_code": 101} and run.error is None
    assert [event["name"] for event in run.events] == ["websocket.disconnect"]


def test_websocket_handler_exception_is_an_error(traced: TestClient, memory: InMemoryExporter) -> None:
    with pytest.raises(RuntimeError, match="websocket handler failed"), traced.websocket_connect("/ws/lobby") as ws:
        ws.send_text("explode")
        ws.receive_text()
        ws.receive_text()
    (run,) = memory.runs
    assert run.error is not None and "websocket handler failed" in run.error


def test_lifespan_passes_through(memory: InMemoryExporter) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(TracingMiddleware)
    with TestClient(app):
        assert events == ["startup"]
    assert events == ["startup", "shutdown"] and memory.runs == []


def test_add_tracing_checks_options_before_the_first_request(memory: InMemoryExporter) -> None:
    app = build()
    with pytest.raises(TypeError, match="valid options"):
        add_tracing(app, exclude=["/x"])
    with pytest.raises(ValueError, match="cookie"):
        add_tracing(app, capture_headers=["Cookie"])
    with pytest.raises(TypeError, match="Starlette or FastAPI"):
        add_tracing(object())
    assert add_tracing(app, exclude_paths=["/items/*"]) is app
    client = TestClient(app)
    assert client.get("/items/1").json() == {"run_id": None}
    assert client.get("/api/users/1").json()["run_id"] == memory.runs[0].id


def test_request_run_helper_without_a_run() -> None:
    assert request_run({"type": "http"}) is None
    assert request_run(object()) is None


def test_example_app_continues_the_caller(memory: InMemoryExporter) -> None:
    path = Path(__file__).resolve().parents[2] / "examples" / "fastapi_app.py"
    spec = importlib.util.spec_from_file_location("example_fastapi_app", path)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    answer = TestClient(example.app).post("/my-route", headers=CALLER.to_headers())
    assert answer.status_code == 200
    request = next(run for run in memory.runs if run.name == "POST /my-route")
    assert request.parent_run_id == CALLER.id
    assert answer.json() == {"trace_id": CALLER.trace_id, "parent_run_id": request.id}
