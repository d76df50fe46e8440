"""One trace across processes: a web request (uvicorn) → a task → a task, on prefork, solo and threads pools,
on the filesystem broker and on Redis; prefork pool processes drain their runs when they exit."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest
from celery_support import DEADLINE_S, HERE, named, start_worker, wait_for_runs, worker_env
from servers import free_port, serve

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


CHAIN = ["POST /checkout/{order}", "publish tasks.add", "tasks.add", "publish tasks.double", "tasks.double"]


@pytest.fixture(params=["filesystem", "redis"])
def broker_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "redis":
        return {"TEST_CELERY_BROKER": request.getfixturevalue("redis_url")}
    folder = tmp_path / "broker"
    folder.mkdir()
    return {"TEST_CELERY_BROKER": "", "TEST_CELERY_DIR": str(folder)}


@pytest.mark.parametrize("pool", ["prefork", "solo", "threads"])
def test_web_request_to_task_to_task_is_one_trace(pool: str, broker_env: dict[str, str], tmp_path: Path) -> None:
    store = tmp_path / "traces.sqlite3"
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "celery_web:app", "--host", "127.0.0.1", "--port", str(port)]
    web_env = worker_env(store, TRACING_MIDDLEWARE_SERVICE="web", **broker_env)
    with serve(command, log=tmp_path / "web.log", cwd=HERE, env=web_env, port=port):
        worker = start_worker(worker_env(store, TRACING_MIDDLEWARE_SERVICE="worker", **broker_env), pool, tmp_path)
        try:
            response = httpx.post(f"http://127.0.0.1:{port}/checkout/20", timeout=30)
            assert response.status_code == 200
            runs = wait_for_runs(store, lambda rs: {r.name for r in rs} >= {*CHAIN, "add.inner"}, worker)
        finally:
            log = worker.stop()
    assert "tracing skipped" not in log
    by_name = {r.name: r for r in runs}
    request = by_name["POST /checkout/{order}"]
    assert {r.trace_id for r in runs} == {request.trace_id}
    assert len(runs) == 6  # nothing else: readiness was checked on the TCP port
    for parent, child in itertools.pairwise(CHAIN):
        assert by_name[child].parent_run_id == by_name[parent].id, (parent, child)
    assert by_name["add.inner"].parent_run_id == by_name["tasks.add"].id
    assert by_name["tasks.add"].inputs == {"args": [20, 1], "kwargs": {}}
    assert by_name["tasks.double"].inputs == {"args": [21], "kwargs": {}}
    assert by_name["tasks.double"].outputs["value"] == 42
    # The task saw its own run as the current one.
    assert by_name["tasks.double"].outputs["run"] == by_name["tasks.double"].id
    assert {by_name[n].service for n in ("POST /checkout/{order}", "publish tasks.add")} == {"web"}
    assert {by_name[n].service for n in ("tasks.add", "publish tasks.double", "tasks.double")} == {"worker"}


def test_prefork_processes_that_exit_after_each_task_drain_their_runs(tmp_path: Path) -> None:
    # Each pool process exits right after its task, through os._exit (no atexit): only the
    # worker_process_shutdown hook gets its runs out.
    store = tmp_path / "traces.sqlite3"
    folder = tmp_path / "broker"
    folder.mkdir()
    env = worker_env(store, TEST_CELERY_BROKER="", TEST_CELERY_DIR=str(folder))
    publish = subprocess.run(
        [sys.executable, "-c", "import celery_tasks as t\nfor i in range(6): t.add.delay(i, 1000)"],
        env=env, cwd=HERE, capture_output=True, text=True, timeout=DEADLINE_S,
    )  # fmt: skip
    assert publish.returncode == 0, publish.stderr
    worker = start_worker(env, "prefork", tmp_path, "--max-tasks-per-child=1")
    try:
        runs = wait_for_runs(store, lambda rs: len(named(rs, "tasks.add")) == 6, worker)
    finally:
        worker.stop()
    assert sorted(r.outputs["output"] for r in named(runs, "tasks.add")) == [1000 + i for i in range(6)]
