"""Each example server runs with its one command, and the seed client's trace continues into it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import servers
from netutil import free_port

for module in ("fastapi", "uvicorn", "flask", "django", "httpx"):
    pytest.importorskip(module)


from tracing_middleware.exporters.sqlite import TraceStore  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "traces.sqlite3"


@pytest.fixture(params=["fastapi", "flask", "django"])
def server(request: pytest.FixtureRequest, store: Path, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    env = {**os.environ, "TRACING_MIDDLEWARE_DB": str(store), "TRACING_MIDDLEWARE_EXPORTER": "sqlite",
           "PORT": str(port)}  # fmt: skip
    commands = {
        "fastapi": [sys.executable, "-m", "uvicorn", "fastapi_app:app", "--app-dir", str(EXAMPLES),
                    "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        "flask": [sys.executable, str(EXAMPLES / "flask_app.py")],  # PORT from the environment
        "django": [sys.executable, str(EXAMPLES / "django_app.py"), "runserver", f"127.0.0.1:{port}", "--noreload"],
    }  # fmt: skip
    # Stopped with SIGTERM: each server exits cleanly and its runs are flushed.
    with servers.serve(commands[request.param], log=tmp_path / "server.log", env=env, port=port) as served:
        yield served.base, env


def test_the_seed_client_trace_continues_into_each_example(server: tuple[str, dict[str, str]], store: Path) -> None:
    url, env = server
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "seed_client.py")], env={**env, "SERVER_URL": url},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 15
    runs = []
    while time.monotonic() < deadline and not any(r.name == "my_application" for r in runs):
        time.sleep(0.2)
        if store.exists():
            with TraceStore(store) as traces:
                runs = list(traces.iter_runs())
    by_name = {run.name: run for run in runs}
    client, application = by_name["my_client_function"], by_name["my_application"]
    request = next(run for run in runs if run.id == application.parent_run_id)
    assert request.parent_run_id == client.id and request.trace_id == client.trace_id
    assert request.name.startswith("POST ") and "my-route" in request.name
