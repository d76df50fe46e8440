"""Helpers for the viewer tests: stores written by the real exporter, a real ``serve`` in a subprocess."""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from netutil import free_port
from servers import serve as run_server

from tracing_middleware import RunTree
from tracing_middleware.core.ids import datetime_to_us
from tracing_middleware.exporters.sqlite import SQLiteExporter

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
HOSTILE_NAME = "<img src=x onerror=window.__pwned=1>"
HOSTILE_INPUT = "<script>window.__pwned=2</script>"
T0 = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(microsecond=0)


def at(ms: float, base: datetime = T0) -> datetime:
    return base + timedelta(milliseconds=ms)


def root(name: str, start_ms: float = 0, end_ms: float | None = 100, base: datetime = T0, **kw: object) -> RunTree:
    run = RunTree(name, start_time=at(start_ms, base), **kw)  # type: ignore[arg-type]
    if end_ms is not None:
        run.end(end_time=at(end_ms, base))
    return run


def child(
    parent: RunTree,
    name: str,
    start_ms: float,
    end_ms: float | None,
    run_type: str = "chain",
    error: str | None = None,
    base: datetime = T0,
    **kw: object,
) -> RunTree:
    outputs = kw.pop("outputs", None)
    run = parent.create_child(name, run_type, **kw)  # type: ignore[arg-type]
    run.start_us = datetime_to_us(at(start_ms, base))
    if end_ms is not None:
        run.end(outputs=outputs, error=error, end_time=at(end_ms, base))  # type: ignore[arg-type]
    elif error is not None:
        run.error = error
    return run


def store(path: pathlib.Path, runs: Sequence[RunTree], service: str = "api") -> None:
    """Write ``runs`` with the real exporter, as the service ``service`` would."""
    exporter = SQLiteExporter(path, service_name=service)
    try:
        exporter.export(list(runs))
    finally:
        exporter.shutdown()


@dataclass
class Served:
    """A running ``tracing-middleware serve``: its base URL, token and process."""

    base: str
    token: str | None
    url: str
    process: subprocess.Popen[Any]
    port: int
    log: pathlib.Path

    def get(self, path: str, **kw: object) -> httpx.Response:
        return httpx.get(self.base + path, timeout=10, **kw)  # type: ignore[arg-type]

    def authed(self, path: str) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        return self.get(path, headers=headers)


@contextlib.contextmanager
def serve(db: pathlib.Path, *extra: str, timeout: float = 60, env: dict[str, str] | None = None) -> Iterator[Served]:
    """``python -m tracing_middleware --db DB serve --port P`` (real uvicorn) through ``tests/servers.py``."""
    port = free_port()
    log = pathlib.Path(tempfile.mkdtemp(prefix="tm-viewer-")) / "serve.log"
    command = [sys.executable, "-m", "tracing_middleware", "--db", str(db), "serve", "--port", str(port), *extra]
    with run_server(command, log=log, cwd=ROOT, env=env, port=port, start_timeout=timeout) as process:
        # The socket listens before the URL (with its token) is printed: wait for the line too.
        deadline = time.monotonic() + timeout
        while not (match := re.search(r"^open: (\S+)$", log.read_text(), re.M)):
            assert time.monotonic() < deadline and process.process.poll() is None, log.read_text()
            time.sleep(0.05)
        url = match.group(1)
        token = re.search(r"token=([A-Za-z0-9_\-]+)", url)
        yield Served(f"http://127.0.0.1:{port}", token.group(1) if token else None, url, process.process, port, log)


def ensure_chromium() -> str | None:
    """Install Debian's chromium when it is missing and we may (root with apt-get); the reason if not."""
    if os.path.exists(CHROMIUM):
        return None
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        return "chromium is not installed and cannot be installed here (needs root and apt-get)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([apt, "update", "-q"], [apt, "install", "-y", "-q", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            return f"chromium could not be installed with apt-get: {done.stderr.strip()[-400:]}"
    return None if os.path.exists(CHROMIUM) else "apt-get installed no /usr/bin/chromium"


def build_sample_store(tmp_path: pathlib.Path) -> dict[str, Any]:
    """A store with a cross-service trace (known timings), an error trace, a hostile one and one in progress."""
    db = tmp_path / "traces.sqlite3"
    checkout = root("POST /checkout", 0, 200, inputs={"order": "A1"}, project_name="shop", tags=["prod"],
                    metadata={"customer": "c42"})  # fmt: skip
    verify = child(checkout, "verify_session", 5, 25, "tool")
    client = child(checkout, "POST payments/charge", 40, 190)
    callee = child(client, "POST /charge", 60, 170)  # 20 ms on the wire before the callee starts
    score = child(callee, "fraud_score", 65, 120, "llm", outputs={"score": 0.1})
    fail = child(callee, "gateway.authorize", 125, 165, "tool", error="GatewayTimeout: no answer\nTraceback: ...")
    store(db, [verify, client, checkout], service="shop-api")
    store(db, [score, fail, callee], service="payments")
    health = root("GET /health", 1000, 1002, project_name="default")
    store(db, [health], service="shop-api")
    hostile = root(HOSTILE_NAME, 2000, 2050, inputs={"text": HOSTILE_INPUT}, tags=[HOSTILE_INPUT],
                   metadata={"note": HOSTILE_NAME})  # fmt: skip
    store(db, [hostile], service="<b>svc</b>")
    # In progress: a child stored whose parent has not finished (so is not stored) yet.
    unfinished = root("long job", 3000, None)
    step = child(unfinished, "step one", 3010, 3020)
    store(db, [step], service="worker")
    return {
        "db": db, "checkout": checkout, "client": client, "callee": callee, "fail": fail, "health": health,
        "hostile": hostile, "unfinished": unfinished, "step": step,
    }  # fmt: skip
