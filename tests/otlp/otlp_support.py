"""Helpers for the OTLP tests: the receiver's client side, bounded polling, uvicorn-served apps."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import servers
from netutil import free_port

HERE = Path(__file__).parent
T = TypeVar("T")


def _call(method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 only: never a proxy
    with opener.open(request, timeout=10) as response:
        return json.loads(response.read())


def wait_for(probe: Callable[[], T | None], what: str, attempts: int = 150, pause_s: float = 0.1) -> T:
    """Poll ``probe`` until it returns something truthy (bounded); fail naming ``what`` otherwise."""
    last: T | None = None
    for _ in range(attempts):
        last = probe()
        if last:
            return last
        time.sleep(pause_s)
    raise AssertionError(f"timed out waiting for {what}; last probe: {last!r}")


class Receiver:
    """Client side of ``otlp_receiver.py``."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.endpoint = f"{self.base}/v1/traces"

    def spans(self) -> list[dict[str, Any]]:
        return list(_call("GET", f"{self.base}/spans"))

    def requests(self) -> list[dict[str, Any]]:
        return list(_call("GET", f"{self.base}/requests"))

    def mode(self, status: int = 200, delay_s: float = 0.0) -> None:
        _call("POST", f"{self.base}/control", {"status": status, "delay_s": delay_s})

    def clear(self) -> None:
        _call("POST", f"{self.base}/clear", {})
        self.mode()

    def trace(self, trace_hex: str) -> list[dict[str, Any]]:
        return [s for s in self.spans() if s["trace_id"] == trace_hex]

    def wait_spans(self, trace_hex: str, count: int) -> list[dict[str, Any]]:
        """At least ``count`` spans of this trace (bounded wait)."""
        return wait_for(lambda: found if len(found := self.trace(trace_hex)) >= count else None, f"{count} spans")


@contextmanager
def receiver_process() -> Iterator[Receiver]:
    """The OTLP receiver (``otlp_receiver.py``), which announces its port and stops when stdin closes."""
    with tempfile.TemporaryDirectory(prefix="otlp-receiver-") as logs:
        command = [sys.executable, str(HERE / "otlp_receiver.py")]
        with servers.serve(command, log=Path(logs) / "receiver.log", cwd=HERE, stop=None) as served:
            yield Receiver(served.port)


@contextmanager
def serve(app: str, env: dict[str, str], log_dir: Path) -> Iterator[str]:
    """Serve ``module:app`` (a file beside this one) with uvicorn on 127.0.0.1; yields its base URL."""
    port = free_port()
    log_path = log_dir / f"{app.split(':')[0]}-{port}.log"
    command = [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "--http", "h11",
    ]  # fmt: skip
    full_env = {**os.environ, **env, "PYTHONPATH": str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with servers.serve(command, log=log_path, cwd=HERE, env=full_env, port=port, health="/health") as served:
        yield served.base
