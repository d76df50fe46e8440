"""The distributed-tracing client from LangSmith's docs, written against tracing-middleware.

Run a server first (``python examples/fastapi_app.py``), then ``python examples/seed_client.py``.
The explicit ``to_headers()`` call is what the docs show; with ``tracing_middleware.instrument()``
the patched httpx adds the same headers by itself.
"""

from __future__ import annotations

import asyncio
import os

import httpx

import tracing_middleware as tm
from tracing_middleware import get_current_run_tree, traceable

BASE_URL = os.environ.get("SERVER_URL", "http://127.0.0.1:8000")


@traceable
async def my_client_function() -> str:
    headers: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=BASE_URL) as client:
        if run_tree := get_current_run_tree():
            headers.update(run_tree.to_headers())  # langsmith-trace, baggage, traceparent
        response = await client.post("/my-route", headers=headers)
        return response.text


if __name__ == "__main__":
    tm.configure(service_name="seed-client")
    print(asyncio.run(my_client_function()))
    tm.flush()
