"""Demo service 1, FastAPI under uvicorn: ``GET /checkout/{order_id}`` calls the inventory service with httpx.

Started by ``tracing-middleware demo`` with ``INVENTORY_URL`` set; needs the ``demo`` extra.
"""

from __future__ import annotations

import os

try:
    import httpx
    from fastapi import FastAPI
except ImportError as error:  # pragma: no cover - the demo says what to install
    raise ImportError("the demo needs: pip install 'tracing-middleware[demo]'") from error

import tracing_middleware as tm
from tracing_middleware.adapters.fastapi import TracingMiddleware

tm.configure(service_name="gateway")
INVENTORY_URL = os.environ.get("INVENTORY_URL", "http://127.0.0.1:8001")

app = FastAPI()
app.add_middleware(TracingMiddleware, exclude_paths=["/health"])


@tm.traceable(run_type="tool")
def validate(order_id: str) -> bool:
    """Stands for a check before the order goes on."""
    return order_id.isalnum()


@app.get("/health")
async def health() -> dict[str, str]:
    """Readiness probe (not traced)."""
    return {"status": "ok"}


@app.get("/checkout/{order_id}")
async def checkout(order_id: str) -> dict[str, object]:
    """Check an order, then ask the inventory service for it."""
    if not validate(order_id):
        return {"error": "bad order id"}
    async with httpx.AsyncClient() as client:  # patched: the call carries the trace headers by itself
        stock = (await client.get(f"{INVENTORY_URL}/stock/{order_id}")).json()
    return {"order": order_id, **stock}
