"""A thread pool: work submitted from inside a run stays in its trace.

``python examples/thread_pool.py`` prints the runs of three pool tasks, all children of ``batch``.
Threads do not inherit context variables, so the current run has to be handed over: ``bind_context``
when you submit the function yourself, ``inject``/``extract`` when the work travels as data (a job
queue read by long-lived worker threads, a callback registry).
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import tracing_middleware as tm

# --- README: threads ---
from tracing_middleware import bind_context, extract, inject, trace, traceable


@traceable(run_type="tool")
def resize(image: str) -> str:
    return image.upper()


def submit_all(images: list[str]) -> list[str]:
    with ThreadPoolExecutor(max_workers=3) as pool:
        return list(pool.map(bind_context(resize), images))  # each call runs under the current run


jobs: queue.Queue[tuple[dict[str, str], str]] = queue.Queue()


def enqueue(image: str) -> None:
    headers: dict[str, str] = {}
    inject(headers)
    jobs.put((headers, image))


def worker_thread() -> None:  # a long-lived thread: it never saw the submitter's context
    headers, image = jobs.get()
    with trace("resize job", parent=extract(headers)):
        resize(image)


# --- end ---


def main() -> list[Any]:
    exporter = tm.InMemoryExporter()
    tm.configure(exporter=exporter)
    worker = threading.Thread(target=worker_thread)
    worker.start()
    with trace("batch") as batch:
        submit_all(["a.png", "b.png", "c.png"])
        enqueue("d.png")
    worker.join(timeout=30)
    for run in exporter.runs:
        parent = "batch" if run.parent_run_id == batch.id else run.parent_run_id
        print(f"{run.name:<12} trace {run.trace_id}  parent {parent}")
    return list(exporter.runs)


if __name__ == "__main__":
    main()
