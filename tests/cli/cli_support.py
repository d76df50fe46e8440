"""Helpers for the command-line tests: runs with chosen timings written to a real SQLite store."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tracing_middleware import RunTree
from tracing_middleware.core.ids import datetime_to_us
from tracing_middleware.exporters.sqlite import SQLiteExporter

# A fixed instant a day ago: old enough for --since filters, recent enough for "latest" ordering.
T0 = (datetime.now(timezone.utc) - timedelta(days=1)).replace(microsecond=0)
ROOT = pathlib.Path(__file__).resolve().parents[2]


def at(ms: float, base: datetime = T0) -> datetime:
    """The instant ``ms`` milliseconds after ``base``."""
    return base + timedelta(milliseconds=ms)


def child(
    parent: RunTree,
    name: str,
    start_ms: float,
    end_ms: float | None,
    run_type: str = "chain",
    error: str | None = None,
    base: datetime = T0,
) -> RunTree:
    """A finished child of ``parent`` spanning [start_ms, end_ms] after ``base`` (``end_ms`` None: still running)."""
    run = parent.create_child(name, run_type)
    run.start_us = datetime_to_us(at(start_ms, base))  # before its dotted order is first read
    if end_ms is not None:
        run.end(error=error, end_time=at(end_ms, base))
    elif error is not None:
        run.error = error
    return run


def root(name: str, start_ms: float = 0, end_ms: float | None = 100, base: datetime = T0, **kw: object) -> RunTree:
    """A root run spanning [start_ms, end_ms] after ``base``."""
    run = RunTree(name, start_time=at(start_ms, base), **kw)  # type: ignore[arg-type]
    if end_ms is not None:
        run.end(end_time=at(end_ms, base))
    return run


def store(path: pathlib.Path, runs: Sequence[RunTree], service: str = "api") -> None:
    """Write ``runs`` with the real exporter, as a service named ``service`` would."""
    exporter = SQLiteExporter(path, service_name=service)
    try:
        exporter.export(list(runs))
    finally:
        exporter.shutdown()


@dataclass
class Result:
    """Exit status and captured output of one CLI run."""

    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess: this interpreter's, with the repository importable."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "TRACING_MIDDLEWARE_DB")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env
