"""examples/celery_app.py with its documented commands: a request hands work to a Celery task, one trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery_support import DEADLINE_S, named, wait_for_runs
from servers import free_port, serve

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_example_request_and_task_share_one_trace(tmp_path: Path) -> None:
    store = tmp_path / "traces.sqlite3"
    env = {**os.environ, "TRACING_MIDDLEWARE_DB": str(store), "TRACING_MIDDLEWARE_EXPORTER": "sqlite",
           "CELERY_FOLDER": str(tmp_path / "broker")}  # fmt: skip
    env.pop("CELERY_BROKER_URL", None)
    port = free_port()
    with (tmp_path / "worker.log").open("wb") as worker_log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--pool=solo", "--without-mingle",
             "--without-gossip", "--without-heartbeat"],
            cwd=EXAMPLES, env=env, stdout=worker_log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        command = [sys.executable, "-m", "uvicorn", "celery_app:api", "--port", str(port)]
        with serve(command, log=tmp_path / "web.log", cwd=EXAMPLES, env=env, port=port):
            response = httpx.post(f"http://127.0.0.1:{port}/reports/7", timeout=30)
            assert response.status_code == 200
            runs = wait_for_runs(store, lambda rs: bool(named(rs, "render")))
    finally:
        worker.terminate()
        worker.wait(timeout=DEADLINE_S)
    request = next(r for r in runs if r.name == "POST /reports/{report_id}")
    task = next(r for r in runs if r.name == "reports.build")
    render = next(r for r in runs if r.name == "render")
    assert task.trace_id == request.trace_id == render.trace_id
    assert render.parent_run_id == task.id
    assert task.outputs == {"output": "report 7: ok"}
    assert task.metadata["celery.task_id"] == response.json()["task_id"]
