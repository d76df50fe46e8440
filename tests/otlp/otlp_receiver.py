"""A small OTLP/HTTP trace receiver, run as a subprocess: ``python otlp_receiver.py`` prints its port.

- ``POST /v1/traces`` (protobuf ``ExportTraceServiceRequest``): decodes and keeps the spans, or, in a
  failure mode, answers with the configured status (after the configured delay) and keeps nothing.
- ``POST /control`` with ``{"status": 503, "delay_s": 0.0}``: sets the mode (``status`` 200 = accept).
- ``GET /spans``: every span kept so far, as JSON; ``GET /requests``: every export request seen
  (path, status answered, headers); ``POST /clear``: forget both.

It stops when its standard input closes (the test process ended) or on SIGTERM.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

MAX_DELAY_S = 10.0
_lock = threading.Lock()
_spans: list[dict[str, Any]] = []
_requests: list[dict[str, Any]] = []
_mode: dict[str, Any] = {"status": 200, "delay_s": 0.0}


def value_of(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [value_of(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: value_of(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, which) if which else None


def attributes_of(items: Any) -> dict[str, Any]:
    return {kv.key: value_of(kv.value) for kv in items}


def span_dict(resource: dict[str, Any], scope: str, span: Span) -> dict[str, Any]:
    return {
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_span_id": span.parent_span_id.hex() or None,
        "name": span.name,
        "kind": Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
        "start_ns": span.start_time_unix_nano,
        "end_ns": span.end_time_unix_nano,
        "attributes": attributes_of(span.attributes),
        "events": [
            {"name": e.name, "time_ns": e.time_unix_nano, "attributes": attributes_of(e.attributes)}
            for e in span.events
        ],
        "links": [
            {"trace_id": ln.trace_id.hex(), "span_id": ln.span_id.hex(), "attributes": attributes_of(ln.attributes)}
            for ln in span.links
        ],
        "status": {"code": Status.StatusCode.Name(span.status.code).removeprefix("STATUS_CODE_"),
                   "message": span.status.message},
        "trace_state": span.trace_state,
        "flags": span.flags,
        "resource": resource,
        "scope": scope,
    }  # fmt: skip


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, value: Any, status: int = 200) -> None:
        self._answer(status, json.dumps(value).encode(), "application/json")

    def do_GET(self) -> None:
        with _lock:
            if self.path == "/spans":
                return self._json(list(_spans))
            if self.path == "/requests":
                return self._json(list(_requests))
        self._json({"error": "not found"}, 404)

    def do_POST(self) -> None:
        body = self._body()
        if self.path == "/control":
            mode = json.loads(body)
            with _lock:
                _mode["status"] = int(mode.get("status", 200))
                _mode["delay_s"] = min(float(mode.get("delay_s", 0.0)), MAX_DELAY_S)
            return self._json({"ok": True})
        if self.path == "/clear":
            with _lock:
                _spans.clear()
                _requests.clear()
            return self._json({"ok": True})
        if self.path != "/v1/traces":
            return self._json({"error": "not found"}, 404)
        seen = {"path": self.path, "status": None, "headers": {k.lower(): v for k, v in self.headers.items()}}
        with _lock:
            status, delay_s = _mode["status"], _mode["delay_s"]
            _requests.append(seen)  # on arrival: a test can see an export that is still waiting for its answer
        if delay_s:
            time.sleep(delay_s)
        seen["status"] = status
        if status != 200:
            return self._answer(status, b"unavailable", "text/plain")
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(body)
        except Exception:
            seen["status"] = 400
            return self._answer(400, b"not an ExportTraceServiceRequest", "text/plain")
        decoded = []
        for resource_spans in request.resource_spans:
            resource = attributes_of(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                decoded.extend(span_dict(resource, scope_spans.scope.name, s) for s in scope_spans.spans)
        with _lock:
            _spans.extend(decoded)
        self._answer(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # returns when the parent closes the pipe or dies
    server.shutdown()


if __name__ == "__main__":
    main()
