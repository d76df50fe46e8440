"""A threaded werkzeug server whose handler calls a local echo server with ``requests``: ``python outbound_served.py``.

Announces its port on stdout. ``GET /call`` answers ``{"traced": true}`` when the outbound call carried
a ``langsmith-trace`` header. Nothing calls ``instrument()``: the middleware switches outbound on itself.
"""

from __future__ import annotations

import http.server
import json
import sys
import threading
from collections.abc import Iterable
from typing import Any

import requests
from werkzeug.serving import make_server

from tracing_middleware.middleware.wsgi import WSGITracingMiddleware


class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"traced": bool(self.headers.get("langsmith-trace"))}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


echo = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
threading.Thread(target=echo.serve_forever, daemon=True).start()
ECHO = f"http://127.0.0.1:{echo.server_address[1]}/"
session = requests.Session()
session.trust_env = False  # 127.0.0.1 only, never a proxy


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    body = session.get(ECHO, timeout=30).content if environ["PATH_INFO"] == "/call" else b"{}"
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


if __name__ == "__main__":
    server = make_server("127.0.0.1", 0, WSGITracingMiddleware(app), threaded=True)
    print(server.server_port, flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # serve until the test closes our stdin
    server.shutdown()
