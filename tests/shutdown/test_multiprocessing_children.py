"""Runs recorded in ``multiprocessing`` children are stored under every start method.

Children started by ``fork`` and ``forkserver`` end with ``os._exit``, which skips ``atexit``; the batch
processor drains through ``multiprocessing``'s own exit finalizers instead.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RUNS = 3000


@pytest.mark.parametrize("method", multiprocessing.get_all_start_methods())
def test_children_keep_their_runs(method: str, tmp_path: Path) -> None:
    db = tmp_path / "traces.sqlite3"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TRACING_MIDDLEWARE_DB": str(db),
        "TRACING_MIDDLEWARE_EXPORTER": "sqlite",
    }
    done = subprocess.run(
        [sys.executable, str(HERE / "mp_children.py"), method, str(RUNS)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.strip()) == 4 * RUNS
    conn = sqlite3.connect(db)
    try:
        stored = conn.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM runs WHERE name = 'step'").fetchone()
    finally:
        conn.close()
    assert stored == (4 * RUNS, 4 * RUNS), done.stderr[-3000:]
