"""A web request hands work to a Celery task, in one trace.

Two processes, from the ``examples`` folder (the broker is Redis when ``CELERY_BROKER_URL`` is set,
else kombu's filesystem transport in a temporary folder, which needs nothing installed)::

    celery -A celery_app worker --pool=solo          # the worker
    uvicorn celery_app:api --port 8003               # the web service
    curl -X POST http://127.0.0.1:8003/reports/7     # then: tracing-middleware show latest

The tree: ``POST /reports/{report_id}`` → ``publish reports.build`` → ``reports.build`` (in the worker)
→ ``render``.
"""

from __future__ import annotations

import os
import tempfile

from celery import Celery
from fastapi import FastAPI

from tracing_middleware import traceable
from tracing_middleware.adapters.celery import instrument_celery
from tracing_middleware.adapters.fastapi import TracingMiddleware

broker = os.environ.get("CELERY_BROKER_URL", "filesystem://")
celery = Celery("celery_app", broker=broker)
if broker == "filesystem://":
    folder = os.environ.get("CELERY_FOLDER") or os.path.join(tempfile.gettempdir(), "tracing-middleware-celery")
    os.makedirs(folder, exist_ok=True)
    celery.conf.broker_transport_options = {"data_folder_in": folder, "data_folder_out": folder}
celery.conf.task_ignore_result = True
instrument_celery(celery)  # the one line: publishers send the trace, workers continue it

api = FastAPI()
api.add_middleware(TracingMiddleware)


@traceable(run_type="tool")
def render(report_id: int) -> str:
    return f"report {report_id}: ok"


@celery.task(name="reports.build")
def build(report_id: int) -> str:
    return render(report_id)


@api.post("/reports/{report_id}")
def request_report(report_id: int) -> dict[str, str]:
    task = build.delay(report_id)  # the trace travels in the task message's headers
    return {"task_id": str(task.id)}
