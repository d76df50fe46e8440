"""500 concurrent outbound calls from distinct runs: each request names its own run's client run."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")
requests = pytest.importorskip("requests")

from outbound_support import last_id, parent_id  # noqa: E402

import tracing_middleware as tm  # noqa: E402
from tracing_middleware.transports.instrument import instrument  # noqa: E402

CALLS = 500


def check(results: list[tuple[Any, dict[str, Any]]], memory: tm.InMemoryExporter) -> None:
    client_runs = {run.id: run for run in memory.runs if run.name.startswith("GET ")}
    assert len(client_runs) == CALLS
    for index, (run, body) in enumerate(results):
        (trace,) = body["headers"]["langsmith-trace"]
        assert body["path"] == f"/c/{index}"
        assert parent_id(trace) == run.id  # the downstream parent's parent is this call's own run
        client = client_runs[last_id(trace)]
        assert client.parent_run_id == run.id and client.name.endswith(f"/c/{index}")


def test_async_gather_with_one_async_client(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()

    async def one(client: Any, index: int) -> tuple[Any, dict[str, Any]]:
        with tm.trace(f"run-{index}") as run:
            response = await client.get(f"{echo}/c/{index}")
        return run, response.json()

    async def main() -> list[tuple[Any, dict[str, Any]]]:
        async with httpx.AsyncClient(timeout=60) as client:
            return list(await asyncio.gather(*(one(client, i) for i in range(CALLS))))

    check(asyncio.run(main()), memory)


def test_thread_pool_with_requests(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()

    def one(index: int) -> tuple[Any, dict[str, Any]]:
        with tm.trace(f"run-{index}") as run:
            response = requests.get(f"{echo}/c/{index}", timeout=60)
        return run, response.json()

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, range(CALLS)))
    check(results, memory)
