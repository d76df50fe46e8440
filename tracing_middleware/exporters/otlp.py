"""``OTLPExporter``: finished runs as OpenTelemetry spans over OTLP/HTTP (protobuf), to any OTLP backend.

Encoding, transport and the standard configuration are OpenTelemetry's own
(``opentelemetry-exporter-otlp-proto-http``): ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (else
``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces``, else ``http://localhost:4318/v1/traces``),
``OTEL_EXPORTER_OTLP_[TRACES_]HEADERS``, ``OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT``, compression and
certificates. Arguments win over the environment. The resource's ``service.name`` is the
``service_name`` argument, else ``OTEL_SERVICE_NAME`` (or ``service.name`` in
``OTEL_RESOURCE_ATTRIBUTES``), else the service name tracing_middleware is configured with. Spans of
runs with a project also carry ``openinference.project.name``, which Phoenix uses to file them.

How a run becomes a span: ``otlp_mapping``. Failures: ``export`` raises ``OTLPExportError`` when the
backend refuses the batch, is down or too slow, so the ``BatchProcessor`` retries (a bounded number
of times, each attempt itself bounded by the exporter's timeout) and then counts the runs as lost.
While we export, OpenTelemetry's own error log lines for the batch are folded into that error
instead of being logged each time, so a dead backend costs one warning a minute, not one per batch.
The exporter's own requests are never traced, by us or by OpenTelemetry instrumentation.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from tracing_middleware.core.batch import BatchProcessor
from tracing_middleware.core.config import get_settings
from tracing_middleware.core.pipeline import FailureLog
from tracing_middleware.core.run_tree import RunTree

try:
    from opentelemetry import context as otel_context
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExportResult
except ImportError as error:  # pragma: no cover - exercised in a subprocess without the packages
    raise ImportError(
        f"the OTLP exporter needs OpenTelemetry ({error.name} is missing): pip install 'tracing-middleware[otlp]'"
    ) from None

from tracing_middleware.exporters.log_fold import LogFold
from tracing_middleware.exporters.otlp_mapping import to_span

__all__ = ["OTLPExporter", "OTLPExportError"]

_MAX_RESOURCES = 64  # one resource per project; past this, spans share the project-less one


class OTLPExportError(RuntimeError):
    """The OTLP backend did not accept a batch (refused, unreachable, too slow or too large)."""


_fold = LogFold("opentelemetry.exporter.otlp.proto.http.trace_exporter")  # its own log lines, folded into ours


def _check_endpoint(endpoint: Any) -> str | None:
    """``endpoint`` checked; a URL without a path gets ``/v1/traces``, as a base endpoint does."""
    if endpoint is None:
        return None
    if not isinstance(endpoint, str):
        raise TypeError(f"endpoint must be a URL such as 'http://127.0.0.1:4318/v1/traces'; got {endpoint!r}")
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"endpoint must be an http:// or https:// URL; got {endpoint!r}")
    if parts.path in ("", "/"):
        return endpoint.strip().rstrip("/") + "/v1/traces"
    return endpoint.strip()


def _check_options(headers: Any, timeout: Any, service_name: Any) -> None:
    if headers is not None and not (
        isinstance(headers, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    ):
        raise TypeError("headers must be a mapping of header names to str values, or None")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ValueError(f"timeout must be a number of seconds > 0, or None; got {timeout!r}")
    if service_name is not None and (not isinstance(service_name, str) or not service_name.strip()):
        raise TypeError(f"service_name must be a non-empty str or None; got {service_name!r}")


def _exclude_from_tracing(url: str) -> None:
    """Our outbound integrations must neither trace nor add headers to the exporter's own requests."""
    try:
        from tracing_middleware.core.destinations import exclude_urls
    except ImportError:  # pragma: no cover - the worker thread suppresses tracing anyway
        return
    try:
        parts = urlsplit(url)
        exclude_urls(f"{parts.scheme}://{parts.netloc}{parts.path}")
    except (TypeError, ValueError):  # an endpoint OpenTelemetry accepts but we cannot normalize
        pass


class OTLPExporter:
    """Sends finished runs to an OTLP/HTTP endpoint as OpenTelemetry spans (see the module docstring).

    ``OTLPExporter()`` follows the ``OTEL_EXPORTER_OTLP_*`` variables; ``endpoint`` is the full traces
    URL (``http://127.0.0.1:6006/v1/traces`` for Phoenix; a URL with no path gets ``/v1/traces``),
    ``headers`` extra request headers (an API key), ``timeout`` seconds per export attempt.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        service_name: str | None = None,
    ) -> None:
        full = _check_endpoint(endpoint)
        _check_options(headers, timeout, service_name)
        self.service_name = service_name.strip() if service_name else None
        self._otlp = OTLPSpanExporter(endpoint=full, headers=dict(headers) if headers else None, timeout=timeout)
        resolved = getattr(self._otlp, "_endpoint", None)
        self.endpoint: str = resolved if isinstance(resolved, str) else (full or "")
        _exclude_from_tracing(self.endpoint)
        _fold.attach()
        self.skipped = FailureLog("otlp exporter: runs that could not be converted skipped")
        self._lock = threading.Lock()
        # Detected now: OpenTelemetry runs its resource detectors on a thread pool, which cannot start
        # once the interpreter is exiting, where a short script's only export happens.
        self._detected = Resource.create({})  # telemetry.sdk.*, OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME
        self._base: Resource | None = None
        self._resources: dict[str, Resource] = {}
        self._closed = False

    def __repr__(self) -> str:  # headers may hold credentials: never shown
        return f"OTLPExporter(endpoint={self.endpoint!r})"

    def make_processor(self) -> BatchProcessor:
        """Exports happen on a background thread, in batches, with bounded retries."""
        return BatchProcessor(self)

    # -- resources ----------------------------------------------------------------------------------

    def _base_resource(self) -> Resource:
        """Built at the first export, not in ``__init__``: ``configure()`` builds exporters before settings exist."""
        with self._lock:
            if self._base is None:
                detected = self._detected
                name = self.service_name
                if name is None:
                    found = detected.attributes.get("service.name")
                    from_env = isinstance(found, str) and not found.startswith("unknown_service")
                    name = str(found) if from_env else get_settings().service_name
                self._base = detected.merge(Resource({"service.name": name}))
            return self._base

    def resource_for(self, project: str | None) -> Resource:
        """The resource of spans of ``project``'s runs: the service, plus the project for Phoenix."""
        base = self._base_resource()
        if not project:
            return base
        resource = self._resources.get(project)
        if resource is None:
            if len(self._resources) >= _MAX_RESOURCES:
                return base
            resource = base.merge(Resource({"openinference.project.name": project}))
            self._resources[project] = resource
        return resource

    # -- export -------------------------------------------------------------------------------------

    def spans(self, runs: Sequence[RunTree]) -> list[ReadableSpan]:
        """The spans for ``runs``; a run that cannot be converted is skipped and counted."""
        spans = []
        for run in runs:
            try:
                spans.append(to_span(run, self.resource_for(run.project_name)))
            except Exception as error:  # one damaged run must not cost the batch its other runs
                self.skipped.record(error)
        return spans

    def export(self, runs: Sequence[RunTree]) -> None:
        """Send ``runs`` as one OTLP request; raises ``OTLPExportError`` when the backend did not take them."""
        if self._closed:
            raise OTLPExportError("the OTLP exporter is shut down")
        spans = self.spans(runs)
        if not spans:
            return
        # OpenTelemetry's own instrumentation (requests, urllib3) must not trace the export itself.
        token = otel_context.attach(otel_context.set_value(otel_context._SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            with _fold.folding():
                result = self._otlp.export(spans)
        finally:
            otel_context.detach(token)
        if result is not SpanExportResult.SUCCESS:
            detail = _fold.message or "the backend did not accept the batch"
            raise OTLPExportError(f"OTLP export of {len(spans)} spans to {self.endpoint} failed: {detail}")

    def shutdown(self) -> None:
        """Close the HTTP session; later exports raise."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._otlp.shutdown()  # type: ignore[no-untyped-call]
