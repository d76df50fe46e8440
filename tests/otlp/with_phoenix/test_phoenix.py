"""A cross-service trace exported with OTLPExporter to a real Arize Phoenix, read back over its REST API.

Opt-in: ``pytest -p no:phoenix -m phoenix_server tests/otlp/with_phoenix`` (needs ``pip install arize-phoenix``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter")
pytest.importorskip("opentelemetry.instrumentation.fastapi")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")
try:
    _phoenix = importlib.util.find_spec("phoenix.server.main")
except ModuleNotFoundError:
    _phoenix = None
if _phoenix is None:
    pytest.skip("Arize Phoenix is not installed (pip install arize-phoenix)", allow_module_level=True)

import httpx
from otlp_support import free_port, serve, wait_for

import tracing_middleware as tm
from tracing_middleware.exporters.otlp import OTLPExporter
from tracing_middleware.transports import TracingTransport

pytestmark = pytest.mark.phoenix_server
PROJECT = "tracing-middleware-phoenix"


def _get(url: str) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``phoenix serve`` on 127.0.0.1 (free ports, a temporary working directory, telemetry off)."""
    work = tmp_path_factory.mktemp("phoenix")
    port, grpc_port = free_port(), free_port()
    env = {
        **os.environ,
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_WORKING_DIR": str(work),
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    log_path = work / "phoenix.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "phoenix.server.main", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError("phoenix exited: " + log_path.read_text())
        try:
            return _get(f"{base}/v1/projects") is not None
        except OSError:
            return False

    try:
        wait_for(up, "phoenix to start", attempts=240, pause_s=0.5)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def tracing_to(phoenix: str) -> Iterator[str]:
    endpoint = f"{phoenix}/v1/traces"
    tm.configure(exporter=OTLPExporter(endpoint=endpoint), project_name=PROJECT, service_name="phoenix-caller")
    try:
        yield endpoint
    finally:
        tm.configure(exporter="none")


def test_cross_service_trace_is_connected_in_phoenix(phoenix: str, tracing_to: str, tmp_path: Path) -> None:
    otel_env = {"OTLP_TEST_ENDPOINT": tracing_to, "OTEL_RESOURCE_ATTRIBUTES": f"openinference.project.name={PROJECT}"}
    with (
        serve("otel_served:app", otel_env, tmp_path) as otel,
        serve("ours_served:app", {"TM_OTLP_ENDPOINT": tracing_to}, tmp_path) as ours,
        httpx.Client(transport=TracingTransport(), trust_env=False, timeout=30) as client,
    ):
        with tm.trace("phoenix-caller") as root:
            response = client.get(f"{ours}/work", params={"downstream": f"{otel}/hello"})
        assert response.status_code == 200, response.text
        assert tm.flush(30)
        trace_hex = root.trace_id.replace("-", "")
        url = f"{phoenix}/v1/projects/{PROJECT}/spans?limit=1000&trace_id={trace_hex}"

        def complete() -> list[dict[str, Any]] | None:
            try:
                spans = _get(url)["data"]
            except OSError:  # the project appears with its first span
                return None
            names = {s["name"] for s in spans}
            return spans if {"phoenix-caller", "GET /work", "plan", "GET /hello"} <= names else None

        spans = wait_for(complete, "the whole trace in phoenix", attempts=120, pause_s=0.5)

    by_id = {s["context"]["span_id"]: s for s in spans}
    assert {s["context"]["trace_id"] for s in spans} == {trace_hex}
    roots = [s for s in spans if s["parent_id"] is None]
    assert [r["context"]["span_id"] for r in roots] == [root.span_id]
    assert [s["name"] for s in spans if s["parent_id"] and s["parent_id"] not in by_id] == []

    def named(name: str) -> dict[str, Any]:
        (found,) = [s for s in spans if s["name"] == name]
        return found

    request = named("GET /work")
    caller_client = by_id[request["parent_id"]]
    assert caller_client["parent_id"] == root.span_id  # the caller's client run, under the caller's root
    assert named("plan")["parent_id"] == request["context"]["span_id"]
    assert named("plan")["span_kind"] == "TOOL"
    otel_server = named("GET /hello")
    ours_client = by_id[otel_server["parent_id"]]
    assert ours_client["parent_id"] == request["context"]["span_id"]
    assert ours_client["attributes"]["url.full"] == f"{otel}/hello"
