from __future__ import annotations

import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import servers

from tracing_middleware import get_runtime, use_runtime
from tracing_middleware.transports.instrument import uninstrument

SERVER = Path(__file__).with_name("echo_server.py")


@pytest.fixture(scope="session")
def echo() -> Iterator[str]:
    """Base URL of a real HTTP server (a subprocess on 127.0.0.1) that echoes the headers it received."""
    with (
        tempfile.TemporaryDirectory(prefix="echo-server-") as logs,
        servers.serve([sys.executable, str(SERVER)], log=Path(logs) / "echo.log", stop=None) as served,
    ):
        yield served.base


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _clean_globals() -> Iterator[None]:
    """Each test's outbound options and excluded URLs in a runtime of its own; patches taken out after."""
    with use_runtime(get_runtime().copy(outbound_options=None, excluded_urls=())):
        yield
    uninstrument()
