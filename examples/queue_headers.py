"""Any message queue: the producer puts the trace in the message's headers, the consumer continues it.

``python examples/queue_headers.py`` runs both ends over an in-process queue and prints the consumer's
run, in the producer's trace. The headers are a plain ``dict[str, str]``, the shape of RabbitMQ
(pika/aio-pika) properties, Redis stream fields, NATS headers or SQS string attributes; Kafka's
``[(str, bytes)]`` header list is read by ``extract`` as it is.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import tracing_middleware as tm

# --- README: queue ---
from tracing_middleware import extract, inject, trace


def publish(broker: queue.Queue[dict[str, Any]], body: dict[str, Any]) -> None:
    headers: dict[str, str] = {}
    inject(headers)  # langsmith-trace, baggage, traceparent of the current run (nothing outside a run)
    broker.put({"headers": headers, "body": body})
    # Kafka: producer.send(topic, value, headers=[(k, v.encode()) for k, v in headers.items()])


def consume(message: dict[str, Any]) -> Any:
    parent = extract(message["headers"])  # the producer's run, or None: a bad header never raises
    with trace("handle order", run_type="chain", inputs=message["body"], parent=parent) as run:
        return run


# --- end ---


def main() -> tuple[Any, Any]:
    tm.configure(exporter="memory")
    broker: queue.Queue[dict[str, Any]] = queue.Queue()
    handled: list[Any] = []
    consumer = threading.Thread(target=lambda: handled.append(consume(broker.get())))
    consumer.start()
    with trace("checkout") as producer_run:
        publish(broker, {"order": "A1042"})
    consumer.join(timeout=30)
    (run,) = handled
    print(f"producer trace {producer_run.trace_id} run {producer_run.id}")
    print(f"consumer trace {run.trace_id} parent {run.parent_run_id}")
    return producer_run, run


if __name__ == "__main__":
    main()
