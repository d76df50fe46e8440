"""examples/celery_app.py with its documented commands: a request hands work to a Celery task, one trace."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery_support import DEADLINE_S, named, wait_for_runs
from netutil import free_port

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_example_request_and_task_share_one_trace(tmp_path: Path) -> None:
    store = tmp_path / "traces.sqlite3"
    folder = tmp_path / "broker"
    env = {**os.environ, "TRACING_MIDDLEWARE_DB": str(store), "TRACING_MIDDLEWARE_EXPORTER": "sqlite",
           "CELERY_FOLDER": str(folder)}  # fmt: skip
    env.pop("CELERY_BROKER_URL", None)
    port = free_port()
    worker_log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--pool=solo", "--without-mingle",
         "--without-gossip", "--without-heartbeat"],
        cwd=EXAMPLES, env=env, stdout=worker_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    web = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "celery_app:api", "--port", str(port), "--log-level", "warning"],
        cwd=EXAMPLES, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        response = None
        for _ in range(int(DEADLINE_S * 10)):
            try:
                response = httpx.post(f"http://127.0.0.1:{port}/reports/7", timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert response is not None and response.status_code == 200
        runs = wait_for_runs(store, lambda rs: bool(named(rs, "render")))
    finally:
        for process in (web, worker):
            process.terminate()
            process.wait(timeout=DEADLINE_S)
        worker_log.close()
    request = next(r for r in runs if r.name == "POST /reports/{report_id}")
    task = next(r for r in runs if r.name == "reports.build")
    render = next(r for r in runs if r.name == "render")
    assert task.trace_id == request.trace_id == render.trace_id
    assert render.parent_run_id == task.id
    assert task.outputs == {"output": "report 7: ok"}
    assert task.metadata["celery.task_id"] == response.json()["task_id"]
