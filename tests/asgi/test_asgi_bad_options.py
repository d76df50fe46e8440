"""A misspelt middleware option stops the server at startup with one line, instead of a 500 per request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from servers import free_port

from tracing_middleware.middleware.asgi import TracingMiddleware

ROOT = Path(__file__).resolve().parents[2]
APP = """
from fastapi import FastAPI
from tracing_middleware.adapters.fastapi import TracingMiddleware
app = FastAPI()
app.add_middleware(TracingMiddleware, exclude_path=["/health"])
"""


def test_uvicorn_refuses_to_start_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "badapp.py").write_text(APP)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    done = subprocess.run(
        [sys.executable, "-m", "uvicorn", "badapp:app", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    errors = [line for line in done.stderr.splitlines() if "tracing_middleware" in line]
    assert len(errors) == 1 and "unknown option(s) ['exclude_path']" in errors[0] and "exclude_paths" in errors[0]
    assert "Traceback" not in done.stderr


def test_direct_construction_still_raises() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    with pytest.raises(TypeError, match="valid options: exclude_paths"):
        TracingMiddleware(app, exclude_path=["/x"])
