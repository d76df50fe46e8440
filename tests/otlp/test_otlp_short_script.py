"""A short script exporting over OTLP keeps its runs without calling flush(), and a dead backend costs bounded time."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from otlp_support import Receiver, wait_for

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = textwrap.dedent(
    """
    import tracing_middleware as tm

    @tm.traceable
    def step(i):
        return i

    for i in range(40):
        step(i)
    """
)


def _run(endpoint: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TRACING_MIDDLEWARE_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint,
        "TRACING_MIDDLEWARE_DRAIN_TIMEOUT": "4",
    }
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)


def test_a_short_script_exports_every_run_at_exit(otlp_receiver: Receiver) -> None:
    done = _run(otlp_receiver.endpoint)
    assert done.returncode == 0, done.stderr
    assert "atexit" not in done.stderr and done.stderr.strip() == "", done.stderr
    spans = wait_for(lambda: otlp_receiver.spans() if len(otlp_receiver.spans()) >= 40 else None, "40 spans")
    assert sorted(s["name"] for s in spans) == ["step"] * 40


def test_a_dead_backend_costs_the_drain_time_and_one_line(no_tracing_after: None) -> None:
    from servers import free_port

    started = time.monotonic()
    done = _run(f"http://127.0.0.1:{free_port()}/v1/traces")  # nothing listens there
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert elapsed < 60, f"exit took {elapsed:.1f} s"
    assert "40 runs not exported by OTLPExporter within the 4.0 s drain time" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 3, done.stderr
