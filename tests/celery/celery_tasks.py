"""The Celery app of the tests: the worker (``celery -A celery_tasks worker``) and the publishers import it.

The broker comes from the environment: ``TEST_CELERY_BROKER`` (a ``redis://`` URL), else kombu's
filesystem transport in ``TEST_CELERY_DIR``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, chain

from tracing_middleware import get_current_run_tree, trace
from tracing_middleware.adapters.celery import instrument_celery

broker = os.environ.get("TEST_CELERY_BROKER") or "filesystem://"
app = Celery("celery_tasks", broker=broker)
if broker == "filesystem://":
    folder = os.environ["TEST_CELERY_DIR"]
    app.conf.broker_transport_options = {
        "data_folder_in": folder, "data_folder_out": folder, "control_folder": os.path.join(folder, "control"),
    }  # fmt: skip
    os.makedirs(os.path.join(folder, "control"), exist_ok=True)
app.conf.update(task_ignore_result=True, worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)

instrument_celery(
    app,
    shared_secret=os.environ.get("TEST_CELERY_SECRET") or None,
    trust=(lambda info: info.header("x-team") == "trusted") if os.environ.get("TEST_CELERY_TRUST_TEAM") else None,
)
log = logging.getLogger("celery_tasks")


@app.task(name="tasks.add")
def add(x: int, y: int) -> int:
    with trace("add.inner"):
        return x + y


@app.task(name="tasks.double")
def double(x: int) -> dict[str, Any]:
    run = get_current_run_tree()
    return {"value": 2 * x, "run": run.id if run else None}


@app.task(name="tasks.boom")
def boom(order: str) -> None:
    raise LookupError(f"no such order {order}")


@app.task(name="tasks.flaky", bind=True, max_retries=3)
def flaky(self: Any, marker: str) -> str:
    if self.request.retries < 2:
        raise self.retry(exc=ConnectionError(f"attempt {self.request.retries} failed"), countdown=0)
    return f"{marker} ok after {self.request.retries} retries"


def checkout(order: int) -> str:
    """What the web handler does: hand the order to a chain of two tasks."""
    result = chain(add.s(order, 1), double.s()).apply_async()
    return str(result.id)
