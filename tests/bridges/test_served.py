"""One trace per request with langsmith, LangChain and OpenTelemetry in real FastAPI, Flask and Django servers.

Each server runs ``scenario.work`` in a handler: it reads langsmith's and OpenTelemetry's current run,
calls a ``langsmith.traceable`` function that calls our ``@traceable`` function that calls the
server's own ``/echo`` through httpx, invokes a LangChain ``RunnableLambda | FakeListChatModel``
chain, and starts an OpenTelemetry span with one of our functions inside. Every server points the
real langsmith client at a LangSmith stand-in on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("opentelemetry.sdk")
httpx = pytest.importorskip("httpx")

import servers  # noqa: E402
from netutil import free_port  # noqa: E402
from standin import StandIn, names  # noqa: E402

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent


class Served:
    def __init__(self, base: str, runs_file: Path, spans_file: Path) -> None:
        self.base = base
        self.runs_file = runs_file
        self.spans_file = spans_file

    def runs(self) -> list[dict[str, Any]]:
        text = self.runs_file.read_text() if self.runs_file.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def spans(self) -> list[dict[str, Any]]:
        text = self.spans_file.read_text() if self.spans_file.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]


COMMANDS = {
    "fastapi": (["-m", "uvicorn", "fastapi_app:app", "--host", "127.0.0.1", "--port", "{port}"], signal.SIGINT),
    "flask": (["-m", "gunicorn", "--threads", "4", "-w", "1", "-b", "127.0.0.1:{port}", "flask_app:app"],
              signal.SIGTERM),
    "django-wsgi": (["-m", "gunicorn", "--threads", "4", "-w", "1", "-b", "127.0.0.1:{port}", "django_app:wsgi"],
                    signal.SIGTERM),
    "django-asgi": (["-m", "uvicorn", "django_app:asgi", "--host", "127.0.0.1", "--port", "{port}"], signal.SIGINT),
}  # fmt: skip


@contextmanager
def serve(kind: str, tmp_path: Path, standin: StandIn, **env_changes: str) -> Iterator[Served]:
    pytest.importorskip("gunicorn" if "gunicorn" in COMMANDS[kind][0] else "uvicorn")
    port = free_port()
    args, stop = COMMANDS[kind]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH_", "LANGCHAIN_", "OTEL_"))}
    env.update(
        PYTHONPATH=os.pathsep.join([str(HERE), str(TESTS), str(TESTS / "langsmith_export"), env.get("PYTHONPATH", "")]),
        TM_RUNS_OUT=str(tmp_path / "runs.jsonl"),
        TM_OTEL_OUT=str(tmp_path / "spans.jsonl"),
        LANGSMITH_ENDPOINT=standin.url,  # where the real langsmith client would send anything
        LANGSMITH_API_KEY="lsv2-test-key",
    )
    env.update(env_changes)
    command = [sys.executable, *(arg.format(port=port) for arg in args)]
    with servers.serve(command, log=tmp_path / "server.log", cwd=HERE, env=env, port=port, stop=stop):
        yield Served(f"http://127.0.0.1:{port}", tmp_path / "runs.jsonl", tmp_path / "spans.jsonl")


def by_name(runs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [run for run in runs if run["name"] == name]
    assert len(found) == 1, f"{len(found)} runs named {name!r} in {[run['name'] for run in runs]}"
    return found[0]


def check_one_tree(report: dict[str, Any], runs: list[dict[str, Any]], spans: list[dict[str, Any]]) -> dict[str, Any]:
    """Every part of the request hangs in the request run's trace, in the place it was made."""
    request = next(run for run in runs if run["id"] == report["request_run"])
    trace_id, trace_hex = request["trace_id"], request["trace_id"].replace("-", "")
    # langsmith.get_current_run_tree() in the handler is the request run (and its headers name it)
    theirs = report["ls_current"]
    assert theirs is not None
    assert (theirs["id"], theirs["trace_id"], theirs["dotted_order"]) == (
        request["id"],
        trace_id,
        request["dotted_order"],
    )
    assert theirs["project"] == (request["session_name"] or "bridges-tests")  # a caller's project wins
    assert theirs["langsmith_trace"] == request["dotted_order"]
    # request run -> langsmith function -> our function -> client run -> the downstream request run
    ls_step = by_name(runs, "ls_step")
    ours = by_name(runs, "ours_calls_out")
    client = next(run for run in runs if run["name"].startswith("GET 127.0.0.1") and run["name"].endswith("/echo"))
    downstream = next(run for run in runs if run["id"] == report["echo"]["request_run"])
    assert ls_step["parent_run_id"] == request["id"]
    assert ours["parent_run_id"] == ls_step["id"]
    assert client["parent_run_id"] == ours["id"]
    assert downstream["parent_run_id"] == client["id"]
    sent = report["echo"]["headers"]["langsmith-trace"]
    assert sent == client["dotted_order"] and ls_step["id"] in sent  # the downstream's ancestors include it
    # LangChain: the chain under the request run, its steps (a lambda, a chat model) under the chain
    chain = by_name(runs, "RunnableSequence")
    assert chain["parent_run_id"] == request["id"]
    lam, llm = by_name(runs, "exclaim"), by_name(runs, "FakeListChatModel")
    assert lam["parent_run_id"] == chain["id"] and llm["parent_run_id"] == chain["id"]
    assert llm["run_type"] == "llm" and "hi there" in json.dumps(llm["outputs"])
    # OpenTelemetry: the handler's current span is the request run (or, with FastAPI's native
    # telemetry, its operation span under the request run); a span started there is its child, and
    # our function inside that span is the span's child
    under = by_name(runs, "under_otel") if spans else None
    if under is None:  # no OpenTelemetry provider in this server
        assert report["otel_current"] is None and "under_otel" not in report
        return request
    handler_span = report["otel_current"]
    assert handler_span is not None and handler_span["trace_id"] == trace_hex
    if handler_span["span_id"] != request["span_id"]:
        operation = next(span for span in spans if span["span_id"] == handler_span["span_id"])
        assert operation["name"] == "fastapi.endpoint" and operation["parent_span_id"] == request["span_id"]
    step = next(span for span in spans if span["name"] == "otel_step")
    assert (step["trace_id"], step["parent_span_id"]) == (trace_hex, handler_span["span_id"])
    assert under["parent_run_id"] == request["id"] and under["parent_span_id"] == step["span_id"]
    return request


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@pytest.mark.parametrize("kind", ["fastapi", "flask", "django-wsgi", "django-asgi"])
def test_one_tree_per_request_and_nothing_sent_to_langsmith(kind: str, tmp_path: Path, standin: StandIn) -> None:
    path = "/work-async" if kind == "django-asgi" else "/work"
    with serve(kind, tmp_path, standin) as server:
        answer = httpx.get(server.base + path, timeout=60, trust_env=False)
        assert answer.status_code == 200, answer.text
        report = answer.json()
    runs, spans = server.runs(), server.spans()
    check_one_tree(report, runs, spans)
    assert standin.requests == []  # LANGSMITH_TRACING unset: not one request to the LangSmith endpoint


def test_fastapi_native_telemetry_one_trace_without_a_header(tmp_path: Path, standin: StandIn) -> None:
    with serve("fastapi", tmp_path, standin) as server:
        report = httpx.get(server.base + "/work", timeout=60, trust_env=False).json()
    runs, spans = server.runs(), server.spans()
    request = check_one_tree(report, runs, spans)
    server_span = next(span for span in spans if span["kind"] == "SERVER" and span["name"].endswith("/work"))
    assert server_span["trace_id"] == request["trace_id"].replace("-", "")
    assert request["parent_span_id"] == server_span["span_id"]  # our request run is under FastAPI's span
    endpoint = [
        span for span in spans if span["name"] == "fastapi.endpoint" and span["trace_id"] == server_span["trace_id"]
    ]
    assert [span["parent_span_id"] for span in endpoint].count(request["span_id"]) == 1  # /work's, under our run
    traces = {span["trace_id"] for span in spans if span["name"] != "GET /echo"} | {
        run["trace_id"].replace("-", "") for run in runs
    }
    assert traces == {server_span["trace_id"]}  # one trace per request (the /echo hop included)


def test_fastapi_native_telemetry_one_trace_with_a_traceparent(tmp_path: Path, standin: StandIn) -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with serve("fastapi", tmp_path, standin) as server:
        report = httpx.get(
            server.base + "/work", headers={"traceparent": traceparent}, timeout=60, trust_env=False
        ).json()
    runs, spans = server.runs(), server.spans()
    request = check_one_tree(report, runs, spans)
    server_span = next(span for span in spans if span["kind"] == "SERVER" and span["name"].endswith("/work"))
    assert server_span["trace_id"] == "0af7651916cd43dd8448eb211c80319c" == request["trace_id"].replace("-", "")
    assert server_span["parent_span_id"] == "b7ad6b7169203331"
    assert request["parent_span_id"] == server_span["span_id"]


def test_fastapi_native_telemetry_one_trace_with_a_langsmith_header(tmp_path: Path, standin: StandIn) -> None:
    from langsmith.run_trees import RunTree as LangSmithRun

    caller = LangSmithRun(name="caller", run_type="chain")
    with serve("fastapi", tmp_path, standin, OTEL_PROPAGATORS="tracecontext,baggage,langsmith") as server:
        report = httpx.get(server.base + "/work", headers=caller.to_headers(), timeout=60, trust_env=False).json()
    runs, spans = server.runs(), server.spans()
    request = check_one_tree(report, runs, spans)
    server_span = next(span for span in spans if span["kind"] == "SERVER" and span["name"].endswith("/work"))
    assert request["trace_id"] == str(caller.trace_id) and request["parent_run_id"] == str(caller.id)
    assert server_span["trace_id"] == request["trace_id"].replace("-", "")
    assert request["parent_span_id"] == server_span["span_id"]


@pytest.mark.parametrize("kind", ["fastapi", "flask"])
def test_with_langsmith_tracing_on_langsmith_shows_one_tree(kind: str, tmp_path: Path, standin: StandIn) -> None:
    # No OpenTelemetry provider here: a request under a span of no LangSmith run hangs under the trace's
    # placeholder root, as for any W3C-only caller (see the README).
    extra = {"LANGSMITH_TRACING": "true", "TM_EXTRA_EXPORTERS": "langsmith", "TM_OTEL_OUT": ""}
    with serve(kind, tmp_path, standin, **extra) as server:
        report = httpx.get(server.base + "/work", timeout=60, trust_env=False).json()
    runs = server.runs()
    request = check_one_tree(report, runs, [])  # our own store holds the whole request too
    assert standin.wait_for(lambda: len(standin.trace_runs(request["trace_id"])) >= len(runs) - 1)
    tree = standin.tree(request["trace_id"])  # one root, every parent ingested
    assert tree["id"] == request["id"]
    top = names(tree)
    assert top[0] == "GET /work"
    children = {child[0] for child in top[1]}
    assert {"ls_step", "RunnableSequence"} <= children
    assert len(standin.by_name("ls_step")) == 1 and len(standin.by_name("FakeListChatModel")) == 1  # sent once
    assert standin.rejections == []


@pytest.mark.parametrize("kind", ["flask", "django-wsgi"])
def test_a_reused_server_thread_sees_only_its_own_request(kind: str, tmp_path: Path, standin: StandIn) -> None:
    with serve(kind, tmp_path, standin) as server, httpx.Client(trust_env=False, timeout=60) as client:
        probes = [client.get(server.base + "/probe").json() for _ in range(16)]
    threads = [probe["thread"] for probe in probes]
    assert len(set(threads)) < len(threads)  # the worker's threads served several requests each
    requests = {run["id"]: run for run in server.runs()}
    for probe in probes:
        request = requests[probe["request_run"]]
        assert probe["ls_current"] == request["id"]  # langsmith's parent is this request, not an earlier one
        assert probe["otel_current"] == {
            "trace_id": request["trace_id"].replace("-", ""),
            "span_id": request["span_id"],
        }
    assert len({probe["request_run"] for probe in probes}) == 16
