"""Test support: record runs in memory and assert on their trees.

With the package installed, pytest loads ``tracing_middleware.testing.plugin`` by itself (entry point
``pytest11``), which provides the fixtures ``traces``, ``trace_parent``, ``asgi_traced_client``,
``wsgi_traced_client``, ``django_traced_client`` and ``django_traced_async_client``. What is behind
them works without pytest too::

    with recording() as traces:
        handle_request()
    traces.assert_tree({"GET /items/{item_id}": {"load": {}}})
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tracing_middleware.core import config
from tracing_middleware.core.propagation import codec
from tracing_middleware.exporters.memory import InMemoryExporter
from tracing_middleware.testing.assertions import Shape, TraceParent, TraceRecorder

__all__ = ["Shape", "TraceParent", "TraceRecorder", "recording"]


@contextlib.contextmanager
def recording() -> Iterator[TraceRecorder]:
    """Record every run into a fresh ``TraceRecorder`` for the duration of the ``with`` block.

    Tracing is enabled with a sample rate of 1 whatever the environment says; the project, service and
    W3C settings carry over from the current configuration. The previous configuration (exporters
    included) is set aside untouched, not shut down, and put back afterwards.
    """
    exporter = InMemoryExporter()
    emit_w3c = codec.EMIT_W3C[0]
    # Holding the first-use lock keeps another thread from configuring from the environment meanwhile.
    with config._first_use:
        with config._lock:
            previous, config._settings = config._settings, None  # so configure() below shuts nothing down
        try:
            config.configure(
                exporter=exporter,
                enabled=True,
                sample_rate=1.0,
                project_name=previous.project_name if previous else None,
                service_name=previous.service_name if previous else None,
                w3c=previous.w3c if previous else None,
            )
        except BaseException:
            with config._lock:
                config._settings = previous
            raise
    try:
        yield TraceRecorder(exporter)
    finally:
        with config._lock:
            current, config._settings = config._settings, previous
            codec.EMIT_W3C[0] = emit_w3c
        if current is not None:
            for processor in current.processors:
                processor.shutdown()
