"""The main job: ``tracing-middleware demo`` across three real processes, read back from the store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

for module in ("fastapi", "uvicorn", "flask", "django", "httpx", "requests"):
    pytest.importorskip(module)

from tracing_middleware.exporters.sqlite import TraceStore  # noqa: E402


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    db = tmp_path_factory.mktemp("demo") / "traces.sqlite3"
    result = subprocess.run(
        [sys.executable, "-m", "tracing_middleware", "--plain", "--db", str(db), "demo"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return result, db


def test_the_demo_prints_one_trace_and_where_it_lives(demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, db = demo
    assert result.returncode == 0, result.stderr
    assert f"stored in:  {db}" in result.stdout
    assert "services:   demo-client, gateway, inventory, pricing" in result.stdout
    assert "└─ GET price/<str:order_id>" in result.stdout
    trace_id = next(line.split()[-1] for line in result.stdout.splitlines() if line.startswith("trace id:"))
    assert f"in browser: tracing-middleware --db {db} serve --open --trace {trace_id}" in result.stdout


def test_the_chain_is_one_trace_with_the_expected_parents(demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, db = demo
    trace_id = next(line.split()[-1] for line in result.stdout.splitlines() if line.startswith("trace id:"))
    with TraceStore(db) as store:
        runs = store.get_trace(trace_id)
    assert {run.trace_id for run in runs} == {trace_id}
    by_id = {run.id: run for run in runs}

    def chain(leaf_name: str) -> list[tuple[str | None, str]]:
        run = next(r for r in runs if r.name == leaf_name)
        names = []
        while run is not None:
            names.append((run.service, run.name))
            run = by_id.get(run.parent_run_id or "")
        return names[::-1]

    hops = chain("quote_price")
    assert [service for service, _ in hops] == [
        "demo-client", "demo-client",  # the client function and its httpx (sync) call
        "gateway", "gateway",  # the FastAPI request run and its httpx (async) call
        "inventory", "inventory",  # the Flask request run and its requests call
        "pricing", "pricing",  # the Django request run and the traced function in it
    ]  # fmt: skip
    names = [name for _, name in hops]
    assert names[0] == "place_order" and names[2] == "GET /checkout/{order_id}"
    assert names[4] == "GET /stock/<order_id>" and names[6] == "GET price/<str:order_id>"
    assert names[1].startswith("GET 127.0.0.1:") and names[3].startswith("GET 127.0.0.1:")
    assert all(run.error is None for run in runs)
    for run in runs:  # no child starts before its parent, across processes
        parent = by_id.get(run.parent_run_id or "")
        assert parent is None or run.start_us >= parent.start_us
