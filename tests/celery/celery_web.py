"""The web service of the chain test: a request hands an order to a chain of two Celery tasks."""

from __future__ import annotations

from celery_tasks import checkout
from fastapi import FastAPI

from tracing_middleware.adapters.fastapi import TracingMiddleware

app = FastAPI()
app.add_middleware(TracingMiddleware)


@app.post("/checkout/{order}")
def post_checkout(order: int) -> dict[str, str]:
    return {"task": checkout(order)}
