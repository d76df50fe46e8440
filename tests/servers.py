"""Real servers in subprocesses for the end-to-end tests: one way to start them, wait for them, and stop them.

``serve(command, log=...)`` starts ``command`` and returns once the server is ready, by one of:

- ``port=N``: something accepts TCP connections on 127.0.0.1:N;
- ``health="/health"``: ``GET`` on that path answers 200 (with ``port``, or after the port is announced);
- no ``port`` given: the server announces its port as its first stdout line (a number, or JSON with
  ``"port"``); its stdin is a pipe, closed when the block ends.

Leaving the block stops it: closing that stdin, then ``stop`` (SIGTERM by default; SIGINT for uvicorn's
lifespan shutdown; None: stdin closing is enough), then a bounded wait, then SIGKILL. A server that exits or does
not get ready in time fails the test with the end of its log. Every wait is bounded and generous: the
machine running the tests may be loaded.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from netutil import free_port

__all__ = ["Served", "free_port", "serve", "START_TIMEOUT_S", "STOP_TIMEOUT_S"]

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 only, never a proxy


@dataclass
class Served:
    """A started server: its process, port and base URL."""

    process: subprocess.Popen[Any]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def _fail(served: Served, why: str) -> AssertionError:
    return AssertionError(f"{why}:\n{served.log_tail()}")


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _healthy(url: str) -> bool:
    try:
        with _NO_PROXY.open(url, timeout=2.0) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _announced(process: subprocess.Popen[Any], served_log: Path, deadline: float) -> int:
    out = process.stdout
    assert out is not None
    ready, _, _ = select.select([out], [], [], max(0.0, deadline - time.monotonic()))
    line = out.readline() if ready else ""
    if not line.strip():
        raise AssertionError(
            f"server announced no port (exit {process.poll()}):\n{served_log.read_text(errors='replace')[-4000:]}"
        )
    text = line.strip()
    return int(json.loads(text)["port"]) if text.startswith("{") else int(text)


def _wait_ready(served: Served, health: str | None, timeout: float, deadline: float) -> None:
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise _fail(served, f"server exited with {served.process.returncode}")
        if _healthy(served.base + health) if health is not None else _listening(served.port):
            return
        time.sleep(0.1)
    raise _fail(served, f"server not ready within {timeout:.0f} s")


def _stop(process: subprocess.Popen[Any], stop: signal.Signals | None, timeout: float) -> None:
    if process.poll() is None:
        if process.stdin is not None:
            process.stdin.close()  # an announcing server serves until its stdin closes
        if stop is not None:
            process.send_signal(stop)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    for stream in (process.stdin, process.stdout):
        if stream is not None and not stream.closed:
            stream.close()


@contextmanager
def serve(
    command: Sequence[str],
    *,
    log: Path,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    health: str | None = None,
    stop: signal.Signals | None = signal.SIGTERM,
    start_timeout: float = START_TIMEOUT_S,
    stop_timeout: float = STOP_TIMEOUT_S,
    new_session: bool = False,
) -> Iterator[Served]:
    """Run ``command`` until the block ends (see the module docstring); its output goes to ``log``."""
    announce = port is None
    log_file: IO[bytes] = log.open("wb")
    try:
        process: subprocess.Popen[Any] = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env) if env is not None else dict(os.environ),
            stdin=subprocess.PIPE if announce else subprocess.DEVNULL,
            stdout=subprocess.PIPE if announce else log_file,
            stderr=log_file,
            text=announce,
            start_new_session=new_session,  # its own process group, which a test can signal as Ctrl-C does
        )
        try:
            deadline = time.monotonic() + start_timeout
            served = Served(process, port if port is not None else _announced(process, log, deadline), log)
            _wait_ready(served, health, start_timeout, deadline)
            yield served
        finally:
            _stop(process, stop, stop_timeout)
    finally:
        log_file.close()
