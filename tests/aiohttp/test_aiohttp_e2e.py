"""One trace across real processes: httpx → an aiohttp.web service → (aiohttp's client) → FastAPI under uvicorn."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from servers import free_port, serve

from tracing_middleware import InMemoryExporter, instrument, trace
from tracing_middleware.exporters.sqlite import TraceStore

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

HERE = Path(__file__).resolve().parent


def test_httpx_to_aiohttp_to_fastapi_is_one_trace(tmp_path: Path, memory: InMemoryExporter) -> None:
    store = tmp_path / "traces.sqlite3"
    path = os.pathsep.join([str(HERE.parent.parent), os.environ.get("PYTHONPATH", "")])
    env = {
        **os.environ,
        "PYTHONPATH": path,
        "TRACING_MIDDLEWARE_DB": str(store),
        "TRACING_MIDDLEWARE_EXPORTER": "sqlite",
    }
    api_port, web_port = free_port(), free_port()
    uvicorn = [sys.executable, "-m", "uvicorn", "fastapi_served:app", "--host", "127.0.0.1", "--port", str(api_port)]
    aiohttp_service = [sys.executable, str(HERE / "aiohttp_served.py"), str(web_port), f"http://127.0.0.1:{api_port}"]
    with (
        serve(uvicorn, log=tmp_path / "api.log", cwd=HERE, env={**env, "TRACING_MIDDLEWARE_SERVICE": "pricing"},
              port=api_port),
        serve(aiohttp_service, log=tmp_path / "web.log", cwd=HERE, env={**env, "TRACING_MIDDLEWARE_SERVICE": "orders"},
              port=web_port),
    ):  # fmt: skip
        instrument()
        with trace("client") as client:
            response = httpx.get(f"http://127.0.0.1:{web_port}/orders/A1", timeout=30)
    # Both servers have exited on SIGTERM, flushing their runs.
    assert response.json() == {"order": "A1", "stock": 5, "price": 15.75}
    with TraceStore(store) as reader:
        runs = list(reader.iter_runs())
    assert {r.trace_id for r in runs} == {client.trace_id}  # both services, one trace, nothing else
    assert len(runs) == 5
    by_name = {r.name: r for r in runs}
    outbound = next(r for r in memory.runs if r.name == f"GET 127.0.0.1:{web_port}/orders/A1")
    assert outbound.parent_run_id == client.id
    chain = [
        ("GET /orders/{order_id}", outbound.id, "orders"),
        ("check_stock", "GET /orders/{order_id}", "orders"),
        (f"GET 127.0.0.1:{api_port}/price/A1", "GET /orders/{order_id}", "orders"),
        ("GET /price/{sku}", f"GET 127.0.0.1:{api_port}/price/A1", "pricing"),
        ("quote", "GET /price/{sku}", "pricing"),
    ]
    for name, parent, service_name in chain:
        run = by_name[name]
        parent_id = by_name[parent].id if parent in by_name else parent
        assert run.parent_run_id == parent_id, name
        assert run.service == service_name, name
    assert by_name[f"GET 127.0.0.1:{api_port}/price/A1"].metadata["http.status_code"] == 200
