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
from tracing_middleware.core.runtime import get_runtime, use_runtime
from tracing_middleware.exporters.memory import InMemoryExporter
from tracing_middleware.testing.assertions import Shape, TraceParent, TraceRecorder

__all__ = ["Shape", "TraceParent", "TraceRecorder", "recording"]


@contextlib.contextmanager
def recording() -> Iterator[TraceRecorder]:
    """Record every run into a fresh ``TraceRecorder`` for the duration of the ``with`` block.

    Tracing is enabled with a sample rate of 1 whatever the environment says; the project, service and
    W3C settings carry over from the current configuration. The block runs under its own ``Runtime`` (a
    copy of the active one): the previous configuration, exporters included, is set aside untouched,
    not shut down, and is active again afterwards.
    """
    exporter = InMemoryExporter()
    outer = get_runtime()
    previous = outer.settings
    settings = config.make_settings(
        exporter=exporter,
        enabled=True,
        sample_rate=1.0,
        project_name=previous.project_name if previous else None,
        service_name=previous.service_name if previous else None,
        w3c=previous.w3c if previous else None,
    )
    # A runtime of its own: the outer one's outbound options, exclusions and flags, with these settings and
    # fresh caches and counters. What is changed inside (configure(), exclude_urls()) stays inside.
    inner = outer.copy(settings=settings, emit_w3c=settings.w3c)
    try:
        with use_runtime(inner):
            yield TraceRecorder(exporter)
    finally:
        if inner.settings is not None:  # configure() inside the block may have replaced ours
            for processor in inner.settings.processors:
                processor.shutdown()
