"""Helpers for the Celery tests: real ``celery worker`` subprocesses recording to a real SQLite store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# The test process publishes through the same app module as the workers: its filesystem broker folder
# must be known before the module is imported.
os.environ.setdefault("TEST_CELERY_DIR", tempfile.mkdtemp(prefix="tm-celery-"))
sys.path.insert(0, str(HERE))


from tracing_middleware.exporters.sqlite import TraceStore  # noqa: E402
from tracing_middleware.exporters.sqlite_read import StoredRun  # noqa: E402
from tracing_middleware.exporters.sqlite_schema import StoreError  # noqa: E402

DEADLINE_S = 60.0


def worker_env(store: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker or publisher subprocess: our store, our app module on the path."""
    path = os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")])
    return {
        **os.environ, "PYTHONPATH": path, "TRACING_MIDDLEWARE_DB": str(store),
        "TRACING_MIDDLEWARE_EXPORTER": "sqlite", **extra,
    }  # fmt: skip


class Worker:
    """A running ``celery worker``; ``stop()`` sends SIGTERM (warm shutdown) and waits."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.log.read_text(errors="replace")


def start_worker(env: dict[str, str], pool: str, tmp: Path, *extra: str) -> Worker:
    log = tmp / f"worker-{pool}-{time.monotonic_ns()}.log"
    command = [
        sys.executable, "-m", "celery", "-A", "celery_tasks", "worker", f"--pool={pool}", "--loglevel=INFO",
        "--without-mingle", "--without-gossip", "--without-heartbeat", "-n", f"w{time.monotonic_ns()}@%h",
        *(["--concurrency=2"] if pool == "prefork" else []), *extra,
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=HERE, stdout=out, stderr=subprocess.STDOUT)
    return Worker(process, log)


def wait_for_runs(
    store: Path, ready: Callable[[list[StoredRun]], bool], worker: Worker | None = None
) -> list[StoredRun]:
    """Poll the store until ``ready(runs)``; fail with the worker's log after the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    runs: list[StoredRun] = []
    while time.monotonic() < deadline:
        try:
            with TraceStore(store) as reader:
                runs = list(reader.iter_runs())
        except StoreError:  # not written yet, or its schema is being created right now
            runs = []
        if ready(runs):
            return runs
        if worker is not None and worker.process.poll() is not None:
            break
        time.sleep(0.2)
    log = worker.stop() if worker is not None else ""
    names = sorted(r.name for r in runs)
    raise AssertionError(f"runs never arrived; found {names}\n--- worker log ---\n{log[-4000:]}")


def named(runs: list[StoredRun], name: str, **metadata: Any) -> list[StoredRun]:
    return [r for r in runs if r.name == name and all(r.metadata.get(k) == v for k, v in metadata.items())]
