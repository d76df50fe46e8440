"""Fixtures for the LangSmith export and interop tests: the stand-in, tracing reset, the npm packages."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("langsmith")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")

from ls_procs import node_tools, npm_install
from standin import StandIn

import tracing_middleware as tm


@pytest.fixture
def standin() -> Iterator[StandIn]:
    """A LangSmith stand-in on a free 127.0.0.1 port, stopped after the test."""
    with StandIn() as server:
        yield server


@pytest.fixture
def unused_port() -> int:
    """A 127.0.0.1 port nothing listens on (a LangSmith that is down)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No real LangSmith is reachable from a test, langsmith's own tracing is off, tracing is reset after."""
    for name in [n for n in os.environ if n.startswith(("LANGSMITH_", "LANGCHAIN_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    yield
    tm.configure(exporter="none")


@pytest.fixture(scope="session")
def js_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A folder with langsmith, express and body-parser from npm and the scripts of ``js/``; and node's path."""
    tools = node_tools()
    if tools is None:
        pytest.skip("node and npm are not installed (the LangSmith JS SDK needs them)")
    node, npm = tools
    root = tmp_path_factory.mktemp("langsmith-js-services")
    npm_install(root, npm)
    return root, node
