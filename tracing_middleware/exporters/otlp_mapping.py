"""One finished run as one OpenTelemetry span (an SDK ``ReadableSpan``), for the OTLP exporter.

Ids (the same mapping as ``traceparent``, so spans link across services both ways): the trace id is
the run's trace UUID as a 128-bit integer; the span id is the last 8 bytes of the run UUID
(``RunTree.span_id``); the parent span id is ``RunTree.parent_span_id`` (the caller's W3C span id
when the caller sent only ``traceparent``). An id that is not hexadecimal (a hand-made run id) is
hashed, the same way on both sides of a parent link, so the tree stays connected.

Attributes follow the OpenInference conventions that Phoenix and other LLM backends read:

- ``openinference.span.kind``: the run type upper-cased (``CHAIN``, ``LLM``, ``TOOL``, ``RETRIEVER``,
  ``EMBEDDING``, ``PROMPT``; ``parser`` becomes ``CHAIN``);
- ``input.value``/``input.mime_type`` and ``output.value``/``output.mime_type``: JSON text
  (``application/json``), made safe and capped as every exporter does (``serialize.safe_json``);
- ``tag.tags``: the tags; ``metadata``: the metadata as one JSON object.

Beside them, the attribute names LangSmith's own OpenTelemetry exporter uses, so a run looks the
same whichever way it reached a backend: ``langsmith.span.kind`` (the run type),
``langsmith.trace.name``, ``langsmith.trace.session_name`` (the project), ``langsmith.span.tags``
(comma-joined) and ``langsmith.metadata.<key>`` per metadata key (scalars as they are, anything
else as JSON). Ours: ``langsmith.span.id``, ``langsmith.trace.id``, ``langsmith.span.parent_id``
(run UUIDs) and ``langsmith.span.dotted_order``, to find the run in other stores.

Span kind: ``SERVER`` for a request run (inputs with ``method`` and ``path``), ``CLIENT`` for an
outbound HTTP run (metadata ``http.method`` and ``http.url``), ``INTERNAL`` otherwise; these also
get the HTTP semantic-convention attributes. A run with an error gets status ``ERROR`` (the error's
first line as description) and an ``exception`` event with type, message and stack trace. Run
events become span events. A request run whose untrusted caller's parent was not followed gets a
span link to that parent (``link.traceparent`` metadata).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tracing_middleware import __version__
from tracing_middleware.core.ids import datetime_to_us
from tracing_middleware.core.propagation.traceparent import parse as parse_traceparent
from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.exporters.serialize import safe_json, safe_text

try:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        f"the OTLP exporter needs the OpenTelemetry SDK ({error.name} is missing): "
        "pip install 'tracing-middleware[otlp]'"
    ) from None

__all__ = ["SPAN_KINDS", "SCOPE", "to_span", "trace_id_int", "span_id_int"]

SPAN_KINDS = {
    "chain": "CHAIN",
    "llm": "LLM",
    "tool": "TOOL",
    "retriever": "RETRIEVER",
    "embedding": "EMBEDDING",
    "prompt": "PROMPT",
    "parser": "CHAIN",  # OpenInference has no parser kind; langsmith.span.kind keeps "parser"
}
SCOPE = InstrumentationScope("tracing_middleware", __version__)
JSON = "application/json"
MAX_METADATA_KEYS = 128  # one attribute per key: a huge metadata dict must not make a huge span
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_HEX = re.compile(r"[0-9a-f]+")
_ERROR_HEAD = re.compile(r"([A-Za-z_][\w.]*): ?(.*)", re.DOTALL)


def _id_int(text: str, bits: int) -> int:
    """``text`` (hex, dashes allowed) as an int of ``bits`` bits; a stable hash when it is not a usable id."""
    digits = text.replace("-", "").lower()
    if len(digits) == bits // 4 and _HEX.fullmatch(digits):
        value = int(digits, 16)
        if value:
            return value
    digest = hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=bits // 8).digest()
    return int.from_bytes(digest, "big") or 1


def trace_id_int(trace_id: str) -> int:
    """The OTLP trace id of a run's trace UUID."""
    return _id_int(trace_id, 128)


def span_id_int(span_id: str) -> int:
    """The OTLP span id of a run's 16-hex span id."""
    return _id_int(span_id, 64)


def attribute_value(value: Any) -> Any:
    """A value OTLP attributes accept: str/bool/int/float as they are, lists of str, anything else as JSON."""
    if isinstance(value, bool) or (isinstance(value, int) and -(2**63) <= value < 2**63):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return [safe_text(v) for v in value]
    return safe_json(value)


def _time_ns(value: Any, fallback: int) -> int:
    """An event's time (ISO 8601 text or a datetime) in epoch nanoseconds; ``fallback`` when unreadable."""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return datetime_to_us(moment) * 1000
    except (TypeError, ValueError, OverflowError, OSError):
        return fallback


def _kind(run: RunTree) -> SpanKind:
    inputs, metadata = run.inputs, run.metadata
    if isinstance(inputs, Mapping) and isinstance(inputs.get("method"), str) and isinstance(inputs.get("path"), str):
        return SpanKind.SERVER
    if isinstance(metadata.get("http.method"), str) and isinstance(metadata.get("http.url"), str):
        return SpanKind.CLIENT
    return SpanKind.INTERNAL


def _status_code(run: RunTree) -> int | None:
    for source in (run.outputs, run.metadata):
        code = source.get("status_code", source.get("http.status_code")) if isinstance(source, Mapping) else None
        if isinstance(code, int) and not isinstance(code, bool):
            return code
    return None


def _http_attributes(run: RunTree, kind: SpanKind, attributes: dict[str, Any]) -> None:
    """HTTP semantic-convention attributes, so generic backends show requests as requests."""
    if kind is SpanKind.SERVER:
        attributes["http.request.method"] = safe_text(run.inputs["method"])
        attributes["url.path"] = safe_text(run.inputs["path"])
        query = run.inputs.get("query")
        if isinstance(query, str) and query:
            attributes["url.query"] = safe_text(query)
    elif kind is SpanKind.CLIENT:
        attributes["http.request.method"] = safe_text(run.metadata["http.method"])
        attributes["url.full"] = safe_text(run.metadata["http.url"])
    else:
        return
    status = _status_code(run)
    if status is not None:
        attributes["http.response.status_code"] = status


def attributes_of(run: RunTree) -> dict[str, Any]:
    """The span attributes of ``run`` (see the module docstring)."""
    attributes: dict[str, Any] = {
        "openinference.span.kind": SPAN_KINDS.get(run.run_type, "CHAIN"),
        "langsmith.span.kind": safe_text(run.run_type),
        "langsmith.trace.name": safe_text(run.name),
        "langsmith.span.id": safe_text(run.id),
        "langsmith.trace.id": safe_text(run.trace_id),
        "langsmith.span.dotted_order": run.dotted_order,
    }
    if run.parent_run_id:
        attributes["langsmith.span.parent_id"] = safe_text(run.parent_run_id)
    if run.project_name:
        attributes["langsmith.trace.session_name"] = safe_text(run.project_name)
    if run.inputs:
        attributes["input.value"] = safe_json(run.inputs)
        attributes["input.mime_type"] = JSON
    if run.outputs is not None:
        attributes["output.value"] = safe_json(run.outputs)
        attributes["output.mime_type"] = JSON
    if run.tags:
        tags = [safe_text(tag) for tag in run.tags]
        attributes["tag.tags"] = tags
        attributes["langsmith.span.tags"] = ", ".join(tags)
    if run.metadata:
        attributes["metadata"] = safe_json(run.metadata)
        for index, (key, value) in enumerate(run.metadata.items()):
            if index >= MAX_METADATA_KEYS:
                break
            if value is not None:
                attributes[f"langsmith.metadata.{safe_text(key, limit=256)}"] = attribute_value(value)
    _http_attributes(run, _kind(run), attributes)
    return attributes


def _events(run: RunTree, end_ns: int) -> list[Event]:
    """The run's events, plus an ``exception`` event (with the stack trace) when the run failed."""
    events: list[Event] = []
    exception_seen = False
    for raw in run.events:
        if not isinstance(raw, Mapping):
            continue
        name = safe_text(raw.get("name", "event"), limit=256)
        kwargs = raw.get("kwargs")
        attributes = (
            {safe_text(k, limit=256): attribute_value(v) for k, v in kwargs.items()}
            if isinstance(kwargs, Mapping)
            else {}
        )
        if name == "exception" and run.error and not exception_seen:
            exception_seen = True
            attributes.setdefault("exception.stacktrace", safe_text(run.error))
        events.append(Event(name, attributes, _time_ns(raw.get("time"), end_ns)))
    if run.error and not exception_seen:
        first = run.error.split("\n", 1)[0]
        head = _ERROR_HEAD.fullmatch(first)
        events.append(
            Event(
                "exception",
                {
                    "exception.type": head.group(1) if head else "Error",
                    "exception.message": safe_text(head.group(2) if head else first),
                    "exception.stacktrace": safe_text(run.error),
                },
                end_ns,
            )
        )
    return events


def _links(run: RunTree) -> list[Link]:
    claimed = run.metadata.get("link.traceparent")
    if not isinstance(claimed, str):
        return []
    context = parse_traceparent(claimed + "-01")
    if context is None:
        return []
    span = SpanContext(int(context.trace_id, 16), int(context.span_id, 16), is_remote=True, trace_flags=_SAMPLED)
    return [Link(span, {"link.reason": "untrusted caller"})]


def _trace_state(run: RunTree) -> TraceState | None:
    if not run.tracestate:
        return None
    try:
        return TraceState.from_header([run.tracestate])
    except Exception:  # a tracestate OpenTelemetry refuses costs only itself
        return None


def to_span(run: RunTree, resource: Resource) -> ReadableSpan:
    """``run`` as an OpenTelemetry span ready for the OTLP encoder."""
    trace_id = trace_id_int(run.trace_id)
    state = _trace_state(run)
    context = SpanContext(trace_id, span_id_int(run.span_id), is_remote=False, trace_flags=_SAMPLED, trace_state=state)
    parent = None
    parent_span = run.parent_span_id
    if parent_span:
        remote = run.otel_parent_span_id is not None  # known remote only when it came as a W3C span id
        parent = SpanContext(trace_id, span_id_int(parent_span), is_remote=remote, trace_flags=_SAMPLED)
    start_ns = run.start_us * 1000
    end_ns = (run.end_us if run.end_us is not None else run.start_us) * 1000
    status = Status(StatusCode.UNSET)
    if run.error:
        status = Status(StatusCode.ERROR, safe_text(run.error.split("\n", 1)[0], limit=1024))
    return ReadableSpan(
        name=safe_text(run.name, limit=1024),
        context=context,
        parent=parent,
        resource=resource,
        attributes=attributes_of(run),
        events=_events(run, end_ns),
        links=_links(run),
        kind=_kind(run),
        status=status,
        start_time=start_ns,
        end_time=end_ns,
        instrumentation_scope=SCOPE,
    )
