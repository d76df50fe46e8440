"""``tracing-middleware demo``: three real services on 127.0.0.1, one traced call, the trace it left.

A ``@traceable`` client calls the gateway (FastAPI under uvicorn) through httpx; the gateway calls the
inventory service (Flask) through httpx, which calls the pricing service (Django) through requests.
No service has a line of propagation code: the middleware reads the headers, the patched clients
write them. Every service records into one SQLite store, which the demo then reads back.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import tracing_middleware as tm
from tracing_middleware.cli.output import Printer
from tracing_middleware.cli.render import render_trace
from tracing_middleware.core.printable import printable
from tracing_middleware.exporters.sqlite import SQLiteExporter, TraceStore, default_path
from tracing_middleware.exporters.sqlite_schema import ensure_private_dir

__all__ = ["run_demo"]

SERVICES = ("pricing", "inventory", "gateway")  # started callee first


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _command(name: str, port: int) -> list[str]:
    if name == "gateway":
        return [sys.executable, "-m", "uvicorn", "tracing_middleware.demo.gateway:app",
                "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]  # fmt: skip
    return [sys.executable, "-m", f"tracing_middleware.demo.{name}", str(port)]


def _wait_ready(url: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    import httpx

    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with status {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in time")


@contextlib.contextmanager
def _services(db: Path, logs: IO[bytes], timeout_s: float) -> Iterator[dict[str, str]]:
    """Start the three services, yield their base URLs, and always stop them (flushing their runs)."""
    urls = {name: f"http://127.0.0.1:{_free_port()}" for name in SERVICES}
    env = {
        **os.environ,
        "TRACING_MIDDLEWARE_DB": str(db),
        "TRACING_MIDDLEWARE_EXPORTER": "sqlite",
        "INVENTORY_URL": urls["inventory"],
        "PRICING_URL": urls["pricing"],
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name in SERVICES:
            port = int(urls[name].rsplit(":", 1)[1])
            processes.append(subprocess.Popen(_command(name, port), env=env, stdout=logs, stderr=logs))
        deadline = time.monotonic() + timeout_s
        for name, process in zip(SERVICES, processes, strict=True):
            _wait_ready(f"{urls[name]}/health", process, deadline)
        yield urls
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)  # a clean exit: each service flushes its runs
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@tm.traceable(name="place_order")
def place_order(gateway_url: str, order_id: str) -> dict[str, object]:
    """The demo's client function: one call to the gateway, inside a run of its own."""
    import httpx

    with httpx.Client() as client:  # no headers set here: the patched client adds them
        response = client.get(f"{gateway_url}/checkout/{order_id}")
    current = tm.get_current_run_tree()
    return {"trace_id": current.trace_id if current else None, "status": response.status_code, **response.json()}


def run_demo(out: Printer, db: str | None = None, timeout_s: float = 30.0) -> int:
    """Run the demo; print the trace as a tree with its waterfall. Returns the exit status."""
    path = Path(db) if db else default_path()
    ensure_private_dir(path.parent)
    tm.configure(service_name="demo-client", exporter=SQLiteExporter(path))
    tm.instrument()
    with tempfile.TemporaryFile() as logs:
        try:
            with _services(path, logs, timeout_s) as urls:
                result = place_order(urls["gateway"], "A1042")
            tm.flush(10)
        except (RuntimeError, OSError) as error:
            logs.seek(0)
            tail = logs.read().decode(errors="replace")[-2000:]
            print(printable(f"demo failed: {error}\n{tail}", keep="\n"), file=sys.stderr)  # services' logs: escaped
            return 1
    trace_id = str(result.pop("trace_id"))
    with TraceStore(path) as store:
        runs = store.get_trace(trace_id)
    out.line([("client → gateway (FastAPI) → inventory (Flask) → pricing (Django), all on 127.0.0.1", "bold")])
    out.line([(f"response: {result}", "")])
    out.line([("", "")])
    out.lines(render_trace(runs, out.glyphs))
    out.line([("", "")])
    out.line([("trace id:   ", "bold"), (trace_id, "")])
    out.line([("services:   ", "bold"), (", ".join(sorted({run.service for run in runs if run.service})), "")])
    out.line([("stored in:  ", "bold"), (str(path), "")])
    out.line([("see again:  ", "bold"), (f"tracing-middleware show {trace_id}", "")])
    serve = "tracing-middleware" + (f" --db {path}" if db else "") + f" serve --open --trace {trace_id}"
    out.line([("in browser: ", "bold"), (serve, "")])
    return 0
