"""Real servers in subprocesses for the WSGI, Flask and Django tests, and what their runs are checked against.

A served app module configures ``JSONLExporter`` from ``TEST_RUNS_JSONL``; the test stops the server and
reads the file. ``hammer`` sends concurrent requests, most with a parent made by the real ``langsmith``
package, and ``check_isolation`` asserts every request saw exactly its own parent.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import servers
from servers import free_port as free_port  # the port helper the served tests pick ports with

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent


class JSONLExporter:
    """Appends each finished run as one JSON line (written at once, so a stopped server loses nothing)."""

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in shutdown

    def export(self, runs: Sequence[Any]) -> None:
        lines = "".join(json.dumps(run.to_dict(), default=str) + "\n" for run in runs)
        with self._lock:
            self._file.write(lines)
            self._file.flush()

    def shutdown(self) -> None:
        with self._lock:
            self._file.close()


def configure_from_env() -> None:
    """In a served app: record runs to ``$TEST_RUNS_JSONL`` when it is set (in-process tests use memory)."""
    path = os.environ.get("TEST_RUNS_JSONL")
    if path:
        import tracing_middleware

        tracing_middleware.configure(exporter=JSONLExporter(path))


def whoami() -> dict[str, Any]:
    """What a handler reports: the run it executes in."""
    from tracing_middleware import get_current_run_tree

    run = get_current_run_tree()
    if run is None:
        return {"run": None, "parent": None, "trace": None, "name": None}
    return {"run": run.id, "parent": run.parent_run_id, "trace": run.trace_id, "name": run.name}


def environ_for(path: str = "/items/1", headers: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    environ.update(extra)
    return environ


def serve_once(app: Any, environ: dict[str, Any]) -> tuple[str, bytes]:
    """What a WSGI server does: call, iterate, close (PEP 3333)."""
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    body = app(environ, start_response)
    try:
        data = b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return statuses[-1], data


@contextmanager
def served(args: Sequence[str], tmp_path: Path, app_dir: Path, port: int) -> Iterator[dict[str, Any]]:
    """Run ``python <args>`` with the app on ``port``; yields ``{"url", "runs"}``, runs filled in after stop."""
    runs_file = tmp_path / "runs.jsonl"
    env = dict(os.environ)
    env["TEST_RUNS_JSONL"] = str(runs_file)
    env["PYTHONPATH"] = os.pathsep.join([str(app_dir), str(HERE), str(TESTS), env.get("PYTHONPATH", "")])
    env.pop("LANGSMITH_TRACING", None)
    result: dict[str, Any] = {"url": f"http://127.0.0.1:{port}", "runs": []}
    try:
        with servers.serve([sys.executable, *args], log=tmp_path / "server.log", cwd=app_dir, env=env, port=port):
            yield result
    finally:
        if runs_file.exists():
            result["runs"] = [json.loads(line) for line in runs_file.read_text().splitlines() if line.strip()]


def hammer(
    url: str,
    count: int = 1000,
    workers: int = 50,
    headerless_every: int = 10,
    leak_every: int = 7,
    route: str = "items",
) -> list[dict[str, Any]]:
    """``count`` concurrent GETs; every ``headerless_every``-th has no headers, the rest a distinct langsmith parent.

    Every ``leak_every``-th asks the handler (``?leak=1``) to enter a context it never leaves afterwards.
    Returns one record per request: ``sent`` (parent id and trace id, or None) and ``seen`` (the handler's report).
    """
    import requests
    from langsmith.run_trees import RunTree as LangSmithRun

    def one(index: int) -> dict[str, Any]:
        sent = None
        headers: dict[str, str] = {}
        if index % headerless_every:
            parent = LangSmithRun(name=f"caller-{index}", run_type="chain")
            headers = parent.to_headers()
            sent = {"run": str(parent.id), "trace": str(parent.trace_id)}
        query = "?leak=1" if index % leak_every == 0 else ""
        response = session().get(f"{url}/{route}/{index}{query}", headers=headers, timeout=30)
        response.raise_for_status()
        return {"index": index, "sent": sent, "seen": response.json()}

    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return local.session  # type: ignore[no-any-return]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, range(count)))


def check_isolation(results: list[dict[str, Any]], runs: list[dict[str, Any]], name: str) -> None:
    """Each request ran in its own run, under exactly its own parent (or a new root), and was recorded so."""
    seen_runs = [r["seen"]["run"] for r in results]
    assert None not in seen_runs
    assert len(set(seen_runs)) == len(results)
    for record in results:
        seen, sent = record["seen"], record["sent"]
        if sent is None:
            assert seen["parent"] is None, record
            assert seen["trace"] == seen["run"], record
        else:
            assert seen["parent"] == sent["run"], record
            assert seen["trace"] == sent["trace"], record
    recorded: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        recorded.setdefault(run["id"], []).append(run)
    for record in results:
        (run,) = recorded[record["seen"]["run"]]  # recorded exactly once
        expected = record["sent"]["run"] if record["sent"] else None
        assert run["name"] == name
        assert run["parent_run_id"] == expected
        assert run["outputs"] == {"status_code": 200}
        assert run["end_time"] is not None


HOSTILE_HEADERS: list[dict[str, str]] = [
    {"langsmith-trace": "garbage"},
    {"langsmith-trace": "20240101T000000000000Z" + "z" * 36},
    {"langsmith-trace": "." * 5000, "baggage": "langsmith-metadata=%7B%7B%7B"},
    {"langsmith-trace": "20240101T000000000000Zaaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa." * 120},
    {"langsmith-trace": "20240101T000000000000Z01a2139b-c8c3-7a36-b6e5-9069761b4e3\xe9\xff"},
    {"traceparent": "00-00000000000000000000000000000000-0000000000000000-01"},
    {"traceparent": "ff-" + "a" * 32 + "-" + "b" * 16 + "-01", "tracestate": "x" * 7000},
    {"baggage": "langsmith-metadata=" + "%5B" * 2000 + ",langsmith-tags=%ZZ,langsmith-project=%FF%FE"},
]
"""Headers that must never fail a request; each must produce a new root run."""
