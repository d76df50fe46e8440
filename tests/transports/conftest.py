from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracing_middleware.instrument import uninstrument
from tracing_middleware.transports import client_run, targets

SERVER = Path(__file__).with_name("echo_server.py")


@pytest.fixture(scope="session")
def echo() -> Iterator[str]:
    """Base URL of a real HTTP server (a subprocess on 127.0.0.1) that echoes the headers it received."""
    proc = subprocess.Popen([sys.executable, str(SERVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _clean_globals() -> Iterator[None]:
    yield
    uninstrument()
    targets.include_urls(*targets.excluded_urls())
    client_run.set_global_options(client_run.Options(True, targets.PropagationTargets(None)))
