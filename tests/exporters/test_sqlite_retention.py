"""The retention setting: the SQLite exporter deletes old traces itself and the file stops growing."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tracing_middleware import get_runtime
from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.exporters.sqlite import SQLiteExporter
from tracing_middleware.exporters.sqlite_prune import file_size

ROUND = 300


def _traces(age: timedelta) -> list[RunTree]:
    start = datetime.now(timezone.utc) - age
    runs = []
    for _ in range(ROUND // 3):
        root = RunTree("root", inputs={"blob": "x" * 2000}, start_time=start)
        child = root.create_child("child", inputs={"blob": "y" * 2000})
        grandchild = child.create_child("grandchild", inputs={"blob": "z" * 2000})
        for run in (grandchild, child, root):
            run.start_us = root.start_us  # the whole trace has that age
            run.end_us = run.start_us + 1_000
            runs.append(run)
    return runs


def _count(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    finally:
        conn.close()


def _long_run(db: Path, retention: str | None) -> list[int]:
    exporter = SQLiteExporter(db, service_name="svc", retention=retention)
    if exporter.retention is not None:
        exporter.retention.every_s = 0.0  # prune after every batch: a long run compressed into a few seconds
    sizes = []
    for _ in range(25):
        exporter.export(_traces(timedelta(hours=2)))  # already past a one-hour retention when written
        sizes.append(file_size(db))
    exporter.export(_traces(timedelta(0)))
    exporter.shutdown()
    return sizes


def test_the_store_stays_bounded_under_a_long_run(tmp_path: Path) -> None:
    kept = _long_run(tmp_path / "kept.sqlite3", "1h")
    grown = _long_run(tmp_path / "all.sqlite3", None)
    assert _count(tmp_path / "kept.sqlite3") == ROUND  # only the fresh traces remain
    assert _count(tmp_path / "all.sqlite3") == 26 * ROUND
    assert max(kept[5:]) <= 2 * kept[4], kept  # stops growing: freed pages are reused
    assert grown[-1] > 8 * kept[-1], (grown[-1], kept[-1])


@pytest.mark.parametrize(("value", "seconds"), [("7d", 604_800.0), ("12h", 43_200.0), (90, 90.0), ("30", 30.0)])
def test_retention_values(value: str | int, seconds: float, tmp_path: Path) -> None:
    exporter = SQLiteExporter(tmp_path / "t.sqlite3", retention=value)
    assert exporter.retention is not None and exporter.retention.seconds == seconds


@pytest.mark.parametrize("value", ["soon", "-1d", 0, -5, True, float("inf")])
def test_bad_retention_argument_names_the_forms(value: object, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="retention must be"):
        SQLiteExporter(tmp_path / "t.sqlite3", retention=value)  # type: ignore[arg-type]


def test_retention_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(get_runtime(), "warned_env", set())
    monkeypatch.setenv("TRACING_MIDDLEWARE_RETENTION", "2w")
    assert SQLiteExporter(tmp_path / "t.sqlite3").retention.seconds == 14 * 86_400  # type: ignore[union-attr]
    monkeypatch.setenv("TRACING_MIDDLEWARE_RETENTION", "forever")
    caplog.set_level(logging.WARNING)
    assert SQLiteExporter(tmp_path / "t.sqlite3").retention is None
    assert "TRACING_MIDDLEWARE_RETENTION='forever' is not a duration like 30m, 12h, 7d or 2w; using none" in caplog.text
