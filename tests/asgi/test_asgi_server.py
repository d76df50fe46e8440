"""The middleware in a real uvicorn server on 127.0.0.1, called with headers made by the real ``langsmith``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import servers
from netutil import free_port

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")
websockets_client = pytest.importorskip("websockets.sync.client")
os.environ["LANGSMITH_TRACING"] = "false"  # langsmith only makes headers here; it must not send anything
langsmith_run_trees = pytest.importorskip("langsmith.run_trees")
LangSmithRun = langsmith_run_trees.RunTree

HERE = Path(__file__).parent


class Server:
    def __init__(self, base: str, runs_path: Path, otel_path: Path | None) -> None:
        self.base = base
        self.runs_path = runs_path
        self.otel_path = otel_path
        self._runs: list[dict[str, Any]] | None = None

    def runs(self) -> list[dict[str, Any]]:
        """Every run the server recorded; valid once the server has exited."""
        if self._runs is None:
            text = self.runs_path.read_text(encoding="utf-8") if self.runs_path.exists() else ""
            self._runs = [json.loads(line) for line in text.splitlines() if line.strip()]
        return self._runs

    def spans(self) -> list[dict[str, Any]]:
        assert self.otel_path is not None
        return [json.loads(line) for line in self.otel_path.read_text(encoding="utf-8").splitlines() if line]


@contextmanager
def serve(tmp_path: Path, options: dict[str, Any] | None = None, otel: bool = False) -> Iterator[Server]:
    """Run the app under uvicorn until the block ends; the runs file is complete afterwards."""
    port = free_port()
    runs_path = tmp_path / f"runs-{port}.jsonl"
    otel_path = tmp_path / f"spans-{port}.jsonl" if otel else None
    env = {**os.environ, "TM_RUNS_OUT": str(runs_path), "TM_OPTIONS": json.dumps(options or {})}
    if otel_path is not None:
        env["TM_OTEL_OUT"] = str(otel_path)
    command = [
        sys.executable, "-m", "uvicorn", "asgi_server_app:app", "--host", "127.0.0.1", "--port", str(port),
        "--http", "h11", "--ws", "websockets", "--log-level", "warning", "--lifespan", "on",
        "--h11-max-incomplete-event-size", "1000000",
    ]  # fmt: skip
    # SIGINT: uvicorn's graceful lifespan shutdown flushes the exporter before the runs file is read.
    log = tmp_path / f"server-{port}.log"
    with servers.serve(command, log=log, cwd=HERE, env=env, port=port, health="/health", stop=signal.SIGINT):
        yield Server(f"http://127.0.0.1:{port}", runs_path, otel_path)


def by_id(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {run["id"]: run for run in runs}


def seconds(run: dict[str, Any], key: str) -> float:
    return datetime.fromisoformat(run[key]).timestamp()


def test_langsmith_headers_continue_the_trace(tmp_path: Path) -> None:
    caller = LangSmithRun(name="caller", run_type="chain", extra={"metadata": {"tenant": "acme"}}, tags=["edge"])
    with serve(tmp_path) as server:
        answer = httpx.post(server.base + "/my-route", json={"n": 1}, headers=caller.to_headers(), trust_env=False)
        assert httpx.get(server.base + "/health", trust_env=False).status_code == 200  # excluded: no run
    assert answer.status_code == 200
    body = answer.json()
    runs = server.runs()
    assert sorted(run["name"] for run in runs) == ["POST /my-route", "my_application"]
    request = next(run for run in runs if run["name"] == "POST /my-route")
    assert request["parent_run_id"] == str(caller.id)
    assert request["trace_id"] == str(caller.trace_id)
    assert request["dotted_order"].startswith(caller.dotted_order + ".")
    assert request["outputs"] == {"status_code": 200}
    assert request["error"] is None
    assert request["extra"]["metadata"]["tenant"] == "acme"
    assert "edge" in request["tags"]
    assert body["run_id"] == body["scope_run_id"] == request["id"]
    assert body["child"]["parent_id"] == request["id"]


def test_outbound_calls_carry_the_request_run_by_default(tmp_path: Path) -> None:
    caller = LangSmithRun(name="caller", run_type="chain")
    with serve(tmp_path) as server:
        answer = httpx.get(server.base + "/relay", headers=caller.to_headers(), trust_env=False)
    assert answer.status_code == 200
    body = answer.json()
    runs = by_id(server.runs())
    relay = runs[body["relay"]["run_id"]]
    downstream = runs[body["downstream"]["run_id"]]
    assert relay["name"] == "GET /relay" and downstream["name"] == "GET /items/{item_id}"
    assert downstream["trace_id"] == relay["trace_id"] == str(caller.trace_id)
    assert downstream["dotted_order"].startswith(relay["dotted_order"] + ".")


def test_thousand_concurrent_requests_each_get_their_own_parent(tmp_path: Path) -> None:
    callers = [LangSmithRun(name=f"caller-{i}", run_type="chain") for i in range(1000)]

    async def call_all(base: str) -> list[dict[str, Any]]:
        gate = asyncio.Semaphore(100)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60, trust_env=False) as client:

            async def one(i: int) -> dict[str, Any]:
                async with gate:
                    answer = await client.post("/my-route", json={"n": i}, headers=callers[i].to_headers())
                    assert answer.status_code == 200
                    return dict(answer.json())

            return await asyncio.gather(*(one(i) for i in range(len(callers))))

    with serve(tmp_path) as server:
        answers = asyncio.run(call_all(server.base))
    runs = by_id(server.runs())
    requests = [run for run in runs.values() if run["name"] == "POST /my-route"]
    assert len(requests) == 1000
    for i, answer in enumerate(answers):
        assert answer["n"] == i
        assert answer["parent_id"] == str(callers[i].id)
        request = runs[answer["run_id"]]
        assert request["parent_run_id"] == str(callers[i].id)
        assert request["trace_id"] == str(callers[i].trace_id)
        child = runs[answer["child"]["run_id"]]
        assert child["parent_run_id"] == request["id"]
    assert len({run["parent_run_id"] for run in requests}) == 1000


def test_streaming_response_run_covers_the_whole_body(tmp_path: Path) -> None:
    caller = LangSmithRun(name="caller", run_type="chain")
    with (
        serve(tmp_path) as server,
        httpx.stream("GET", server.base + "/stream", headers=caller.to_headers(), trust_env=False) as answer,
    ):
        body = b"".join(answer.iter_bytes())
    assert body == b"chunk-0;chunk-1;chunk-2;chunk-3;chunk-4;"
    runs = server.runs()
    request = next(run for run in runs if run["name"] == "GET /stream")
    chunks = [run for run in runs if run["name"] == "make_chunk"]
    assert len(chunks) == 5
    assert all(chunk["parent_run_id"] == request["id"] for chunk in chunks)
    assert seconds(request, "end_time") >= max(seconds(chunk, "end_time") for chunk in chunks)
    assert seconds(request, "end_time") - seconds(request, "start_time") >= 0.25  # five 50 ms sleeps inside


def test_websocket_one_run_for_the_whole_connection(tmp_path: Path) -> None:
    caller = LangSmithRun(name="caller", run_type="chain")
    with serve(tmp_path) as server:
        url = server.base.replace("http://", "ws://") + "/ws/lobby"
        with websockets_client.connect(url, additional_headers=caller.to_headers(), proxy=None) as ws:
            replies = []
            for text in ("a", "b", "c"):
                ws.send(text)
                replies.append(ws.recv())
    assert replies == ["echo:a", "echo:b", "echo:c"]
    runs = server.runs()
    sessions = [run for run in runs if run["name"] == "WS /ws/{room}"]
    assert len(sessions) == 1
    session = sessions[0]
    assert session["parent_run_id"] == str(caller.id)
    assert session["outputs"] == {"status_code": 101}
    assert session["error"] is None
    echoes = [run for run in runs if run["name"] == "echo"]
    assert len(echoes) == 3 and all(run["parent_run_id"] == session["id"] for run in echoes)
    assert seconds(session, "start_time") <= min(seconds(run, "start_time") for run in echoes)
    assert seconds(session, "end_time") >= max(seconds(run, "end_time") for run in echoes)
    assert [event["name"] for event in session["events"]] == ["websocket.close"]


HOSTILE = [
    [(b"langsmith-trace", b"2024" * 25_600)],  # 100 KB
    [(b"langsmith-trace", b"garbage..not.a.dotted.order"), (b"baggage", b"%%%,=,langsmith-metadata=%7Bbad")],
    [(b"langsmith-trace", b"\xff\xfe\x80\x81 \xc3\x28"), (b"baggage", b"langsmith-tags=\xff\xfe")],
    [(b"traceparent", b"00-zzzz-yyyy-01"), (b"tracestate", b"\xa0\xff=\xfe")],
]


def test_hostile_headers_get_a_new_root_never_a_500(tmp_path: Path) -> None:
    with serve(tmp_path) as server, httpx.Client(base_url=server.base, trust_env=False) as client:
        for i, headers in enumerate(HOSTILE):
            answer = client.get(f"/items/{i}", headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()["parent_id"] is None
        assert client.get("/boom").status_code == 500
    requests = [run for run in server.runs() if run["name"] == "GET /items/{item_id}"]
    assert len(requests) == len(HOSTILE)
    assert all(run["parent_run_id"] is None and run["trace_id"] == run["id"] for run in requests)
    assert all(run["error"] is None for run in requests)
    boom = [run for run in server.runs() if run["name"] == "GET /boom"]
    assert len(boom) == 1 and "RuntimeError: boom on purpose" in boom[0]["error"]


def test_untrusted_network_starts_a_new_root_with_a_link(tmp_path: Path) -> None:
    caller = LangSmithRun(name="caller", run_type="chain", extra={"metadata": {"tenant": "acme"}})
    with serve(tmp_path, {"trusted_networks": ["10.0.0.0/8"]}) as server:
        answer = httpx.post(server.base + "/my-route", json={}, headers=caller.to_headers(), trust_env=False)
    assert answer.status_code == 200
    request = next(run for run in server.runs() if run["name"] == "POST /my-route")
    assert request["parent_run_id"] is None
    assert request["trace_id"] == request["id"]
    assert request["extra"]["metadata"] == {"link.langsmith_trace": caller.dotted_order}  # baggage dropped


def test_fastapi_native_opentelemetry_coexists(tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.sdk")
    fastapi_telemetry = pytest.importorskip("fastapi.telemetry", reason="FastAPI < 0.142 has no native telemetry")
    assert fastapi_telemetry is not None
    caller = LangSmithRun(name="caller", run_type="chain")
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    headers = {**caller.to_headers(), "traceparent": traceparent}
    with serve(tmp_path, otel=True) as server:
        answer = httpx.post(server.base + "/my-route", json={"n": 7}, headers=headers, trust_env=False)
    assert answer.status_code == 200
    body = answer.json()
    requests = [run for run in server.runs() if run["name"] == "POST /my-route"]
    assert len(requests) == 1  # one request run of ours
    request = requests[0]
    assert body["run_id"] == request["id"] and request["parent_run_id"] == str(caller.id)
    assert body["child"]["parent_id"] == request["id"]
    spans = server.spans()
    servers = [span for span in spans if span["kind"] == "SERVER" and span["name"] != "GET /health"]
    assert [span["name"] for span in servers] == ["POST /my-route"]  # FastAPI's own span, still made once
    assert servers[0]["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    # The caller named two different traces; our run follows its langsmith-trace, and with the
    # OpenTelemetry bridge the handler's spans (FastAPI's operation spans too) go under our run.
    ours = request["trace_id"].replace("-", "")
    assert body["otel_trace_id"] == ours
    in_trace = [span for span in spans if span["trace_id"] == ours]
    assert "fastapi.endpoint" in [span["name"] for span in in_trace]  # FastAPI's operation spans are intact
