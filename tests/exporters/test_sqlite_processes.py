"""Several processes writing one store at once (gunicorn workers, a local stack) lose no runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tracing_middleware.exporters.sqlite import TraceStore

WRITER = textwrap.dedent(
    """
    import os, sys, time
    import tracing_middleware as tm
    from tracing_middleware import RunTree
    from tracing_middleware.exporters.sqlite import SQLiteExporter

    path, service, gate = sys.argv[1], sys.argv[2], sys.argv[3]
    batches, per_batch = int(sys.argv[4]), int(sys.argv[5])
    tm.configure(exporter="none", project_name="load")
    exporter = SQLiteExporter(path, service_name=service)
    deadline = time.monotonic() + 60
    while not os.path.exists(gate) and time.monotonic() < deadline:  # start together: the file does not exist yet
        time.sleep(0.005)
    for b in range(batches):
        root = RunTree(f"{service}-trace{b}")
        runs = [root.create_child(f"step{i}") for i in range(per_batch - 1)]
        for run in runs:
            run.end(outputs={"i": b})
        root.end()
        exporter.export([*runs, root])
    exporter.shutdown()
    """
)


def test_concurrent_writer_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"  # created by whichever writer gets there first
    gate = tmp_path / "go"
    writers, batches, per_batch = 4, 30, 50
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), f"w{n}", str(gate), str(batches), str(per_batch)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(writers)
    ]
    time.sleep(0.5)  # let the interpreters start and wait at the gate
    gate.touch()
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    with TraceStore(path) as store:
        assert store.count_runs() == writers * batches * per_batch
        traces = store.list_traces(limit=1000)
        assert len(traces) == writers * batches
        assert all(t.run_count == per_batch for t in traces)
        for n in range(writers):
            mine = store.list_traces(service=f"w{n}", limit=1000)
            assert len(mine) == batches
            assert {t.root_name for t in mine} == {f"w{n}-trace{b}" for b in range(batches)}
        rowids = [run.rowid for run in store.iter_runs()]
    assert len(set(rowids)) == len(rowids) == writers * batches * per_batch
