"""Per-exporter counters: ``exporter_stats()`` in the process, and the store's copy that ``stats`` prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

import tracing_middleware as tm
from tracing_middleware.core.batch import BatchProcessor, drain
from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.exporters.sqlite import SQLiteExporter

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    tm.configure(exporter="none")


@tm.traceable
def step(i: int) -> int:
    return i


class Failing:
    def export(self, runs: Sequence[RunTree]) -> None:
        raise ConnectionError("backend down")

    def shutdown(self) -> None:
        pass


class Stuck:
    """Blocks every export until released: the backend hangs."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def export(self, runs: Sequence[RunTree]) -> None:
        self.release.wait(30)

    def shutdown(self) -> None:
        self.release.set()

    def make_processor(self) -> BatchProcessor:
        return BatchProcessor(self, max_queue=5, batch_size=1, interval_s=0.01)


def test_exported_failed_dropped_and_lost_at_exit(tmp_path: Path) -> None:
    memory = tm.InMemoryExporter()
    failing = Failing()
    stuck = Stuck()
    failing_processor = BatchProcessor(failing, max_attempts=1)
    tm.configure(exporter=[memory, SQLiteExporter(tmp_path / "t.sqlite3"), failing, stuck])
    settings = tm.get_settings()
    settings.processors = (*settings.processors[:2], failing_processor, settings.processors[3])
    for i in range(20):
        step(i)
    assert not drain(timeout=2.0)  # the stuck exporter cannot finish within it
    stats = {s.exporter: s for s in tm.exporter_stats()}
    assert stats["InMemoryExporter"].exported == 20
    assert stats["SQLiteExporter"].exported == 20 and stats["SQLiteExporter"].failed == 0
    assert stats["Failing"].failed == 20 and stats["Failing"].exported == 0
    held = stats["Stuck"]
    assert held.dropped > 0 and held.lost_at_exit > 0
    assert held.dropped + held.lost_at_exit + held.exported + held.queued >= 20
    stuck.release.set()


SCRIPT = textwrap.dedent(
    """
    import tracing_middleware as tm

    @tm.traceable
    def step(i):
        return i

    for i in range(120):
        step(i)
    """
)


def test_the_stats_command_prints_what_apps_counted(tmp_path: Path) -> None:
    db = tmp_path / "t.sqlite3"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TRACING_MIDDLEWARE_DB": str(db),
        "TRACING_MIDDLEWARE_EXPORTER": "sqlite",
    }
    for _ in range(2):  # two processes of one service: summed
        done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    shown = subprocess.run(
        [sys.executable, "-m", "tracing_middleware", "--db", str(db), "stats", "--json"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    (only,) = json.loads(shown.stdout)["exporters"].values()
    assert only == {"exported": 240, "dropped": 0, "failed": 0, "lost_at_exit": 0, "queued": 0, "processes": 2}
    text = subprocess.run(
        [sys.executable, "-m", "tracing_middleware", "--db", str(db), "--plain", "stats"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    ).stdout  # fmt: skip
    assert "exporters (per service, all processes)" in text and "exported 240, dropped 0, failed 0" in text


def test_a_process_that_wrote_nothing_creates_no_store(tmp_path: Path) -> None:
    db = tmp_path / "never.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRACING_MIDDLEWARE_DB": str(db)}
    code = "import tracing_middleware as tm; tm.get_settings()"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not db.exists()
