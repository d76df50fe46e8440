"""A framework-free WSGI app for the tests, served by werkzeug's threaded server: ``python wsgi_served.py PORT``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from serving import configure_from_env, whoami

from tracing_middleware import RunTree, trace, tracing_context
from tracing_middleware.middleware.wsgi import WSGITracingMiddleware

LEAKED = RunTree("leaked-parent")


def plain_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    report = whoami()
    if "leak=1" in environ.get("QUERY_STRING", ""):
        # A handler that enters a context and never leaves it: the next request on this thread must not see it.
        tracing_context(parent=LEAKED).__enter__()
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return stream()
    if path == "/boom":
        raise RuntimeError("handler failed")
    if path == "/fail":
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"down"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(report).encode()]


def stream() -> Iterator[bytes]:
    for index in range(3):
        with trace(f"chunk-{index}"):
            chunk = json.dumps(whoami()).encode() + b"\n"
        yield chunk


configure_from_env()
app = WSGITracingMiddleware(plain_app, instrument_outbound=False)

if __name__ == "__main__":
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=True)
