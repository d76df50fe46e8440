"""Warnings recorded as run events, read back from a real SQLite store by ``show`` and by the viewer's API."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tracing_middleware
from tracing_middleware import RunTree, trace
from tracing_middleware.exporters.sqlite import SQLiteExporter
from tracing_middleware.logs import instrument_logging, uninstrument_logging

VIEWER_TESTS = Path(__file__).resolve().parents[1] / "viewer"


def stored_run_with_a_warning(db: Path) -> RunTree:
    exporter = SQLiteExporter(db, service_name="shop")
    tracing_middleware.configure(exporter=exporter)
    instrument_logging(event_level="WARNING")
    try:
        with trace("checkout") as run:
            logging.getLogger("shop.stock").warning("only %d left of %s", 2, "A1042")
        tracing_middleware.flush()
    finally:
        uninstrument_logging()
        tracing_middleware.configure(exporter="none")
    return run


def test_show_prints_the_warning_under_its_run(tmp_path: Path) -> None:
    db = tmp_path / "traces.sqlite3"
    run = stored_run_with_a_warning(db)
    shown = subprocess.run(
        [sys.executable, "-m", "tracing_middleware", "--db", str(db), "show", run.trace_id],
        capture_output=True, text=True, timeout=60, env={**os.environ, "TRACING_MIDDLEWARE_PLAIN": "1"},
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("checkout "))
    assert lines[index + 1].strip() == "· WARNING shop.stock: only 2 left of A1042"


def test_the_viewer_serves_the_warning_with_the_run(tmp_path: Path) -> None:
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    sys.path.insert(0, str(VIEWER_TESTS))
    try:
        from viewer_support import serve
    finally:
        sys.path.remove(str(VIEWER_TESTS))
    db = tmp_path / "traces.sqlite3"
    run = stored_run_with_a_warning(db)
    with serve(db) as served:
        body = served.authed(f"/api/runs/{run.id}").json()
    (event,) = body["events"]
    assert event["name"] == "log"
    assert event["kwargs"] == {"level": "WARNING", "logger": "shop.stock", "message": "only 2 left of A1042"}
