"""Processes for the LangSmith interop tests: uvicorn services and node scripts on 127.0.0.1.

Every wait is bounded; every process started here is stopped (SIGTERM, then SIGKILL) when its
``with`` block ends.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import servers
from netutil import free_port

HERE = Path(__file__).parent
JS = HERE / "js"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20
NODE_TIMEOUT_S = 120
NPM_TIMEOUT_S = 600


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without LangSmith, tracing-middleware or proxy settings, plus ``extra``."""
    drop = ("LANGSMITH_", "LANGCHAIN_", "TRACING_MIDDLEWARE_", "NODE_OPTIONS", "OTEL_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) and "proxy" not in k.lower()}
    env.update(npm_config_update_notifier="false", npm_config_fund="false", PYTHONDONTWRITEBYTECODE="1")
    env.update(extra)
    return env


def langsmith_env(endpoint: str, project: str, **extra: str) -> dict[str, str]:
    """A process whose LangSmith SDK (Python or JS) and our exporter send to ``endpoint``."""
    return clean_env(
        LANGSMITH_ENDPOINT=endpoint, LANGSMITH_API_KEY="x", LANGSMITH_TRACING="true", LANGSMITH_PROJECT=project,
        **extra,
    )  # fmt: skip


@contextmanager
def uvicorn_app(app: str, env: dict[str, str], logs: Path) -> Iterator[str]:
    """Serve ``module:attr`` from this folder under uvicorn; yields its base URL."""
    port = free_port()
    log = logs / f"{app.replace(':', '-')}-{port}.log"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with servers.serve(command, log=log, cwd=HERE, env=env, port=port, health="/health") as served:
        yield served.base


def node_tools() -> tuple[str, str] | None:
    node, npm = shutil.which("node"), shutil.which("npm")
    return (node, npm) if node and npm else None


def npm_install(root: Path, npm: str) -> None:
    """``langsmith``, ``express`` and ``body-parser`` from npm into ``root``, with the scripts beside them."""
    (root / "package.json").write_text(json.dumps({"name": "ls-interop", "private": True, "type": "module"}))
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "langsmith", "express", "body-parser"],
        cwd=root, env=clean_env(), capture_output=True, text=True, timeout=NPM_TIMEOUT_S, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise AssertionError(f"npm install failed ({done.returncode}):\n{done.stderr[-4000:]}")
    for script in JS.glob("*.mjs"):  # ESM resolves packages next to the script, so the scripts move in
        shutil.copy(script, root)


def run_script(command: list[str], env: dict[str, str], cwd: Path = HERE) -> dict[str, Any]:
    """Run a client script to completion; its last stdout line is JSON."""
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=NODE_TIMEOUT_S)
    assert done.returncode == 0, f"{command} failed ({done.returncode}):\n{done.stderr[-4000:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@contextmanager
def node_server(root: Path, node: str, env: dict[str, str], logs: Path) -> Iterator[str]:
    """``node server.mjs`` in ``root``; yields its base URL once it printed its port."""
    # It prints {"port": N} first, then serves until stdin closes or SIGTERM.
    with servers.serve([node, "server.mjs"], log=logs / "node-server.log", cwd=root, env=env, health="/health") as s:
        yield s.base
