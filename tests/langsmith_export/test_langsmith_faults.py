"""Our service while LangSmith fails: answers 500, 429, is down or hangs. The app must not notice.

The service runs under uvicorn with ``LangSmithExporter``; its ``/stats`` route shows the batch
processor's counters from outside. Requests keep succeeding, failed runs are counted, retries are
bounded, and the queue never grows past its bound.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from ls_procs import langsmith_env, uvicorn_app
from standin import StandIn

REQUESTS = 5
RUNS_PER_REQUEST = 2  # the request run and my_application


def _stats(base: str) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(base + "/stats", timeout=10, trust_env=False).json()
    return stats


def _hit(base: str, count: int) -> None:
    with httpx.Client(base_url=base, trust_env=False, timeout=10) as http:
        for _ in range(count):
            response = http.post("/my-route", content="x")
            assert response.status_code == 200 and response.json()["reply"]


@pytest.mark.parametrize("fault", [500, 429, "down"])
def test_failing_langsmith_leaves_the_app_alone(
    standin: StandIn, unused_port: int, tmp_path: Path, fault: int | str
) -> None:
    endpoint = f"http://127.0.0.1:{unused_port}" if fault == "down" else standin.url
    if fault != "down":
        standin.fail_with = int(fault)
    with uvicorn_app("ls_ours_app:app", langsmith_env(endpoint, "faults"), tmp_path) as ours:
        _hit(ours, REQUESTS)
        lost = REQUESTS * RUNS_PER_REQUEST
        assert standin.wait_for(lambda: _stats(ours)["failures"] >= lost, timeout=120), _stats(ours)
        stats = _stats(ours)
        assert stats["exported"] == 0  # /health and /stats are traced too: failures count those runs as well
        # Bounded: each batch is tried max_attempts (3) times, each time up to 3 requests by the client.
        assert 1 <= stats["client_errors"] <= stats["failures"] * 3
        if fault != "down":
            assert 1 <= len(standin.ingest_requests()) <= stats["failures"] * 3 * 3
            standin.fail_with = None  # LangSmith is back: new runs go through, nothing else changed
            _hit(ours, 1)
            assert standin.wait_for(lambda: _stats(ours)["exported"] >= RUNS_PER_REQUEST, timeout=60), _stats(ours)
            assert standin.rejections == []


def test_a_hanging_langsmith_cannot_grow_memory(standin: StandIn, tmp_path: Path) -> None:
    standin.fail_with = 500
    standin.delay_s = 1.0  # each ingest request hangs first: the worker is stuck while requests pile up
    env = langsmith_env(standin.url, "faults", TRACING_MIDDLEWARE_QUEUE_SIZE="6", TRACING_MIDDLEWARE_BATCH_SIZE="2")
    with uvicorn_app("ls_ours_app:app", env, tmp_path) as ours:
        _hit(ours, 20)
        stats = _stats(ours)
        assert stats["max_queue"] == 6 and stats["queued"] <= 6
        assert stats["dropped"] >= 20 * RUNS_PER_REQUEST - 6 - 2 * 3  # beyond queue + batches in flight
        standin.delay_s = 0.0
