"""A real HTTP server for the outbound tests: it answers with the request headers it received, as JSON.

Run as ``python echo_server.py``; prints the port it listens on (127.0.0.1, a free port) and serves
until stdin closes. Paths: ``/status/<code>`` answers with that status, ``/redirect?to=<url>`` with a
302 to ``url``, ``/stream`` with a chunked body, anything else with 200.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _headers_json(self) -> bytes:
        received: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            received.setdefault(name.lower(), []).append(value)
        return json.dumps({"path": self.path, "headers": received}).encode()

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        parts = urlsplit(self.path)
        body = self._headers_json()
        if parts.path.startswith("/status/"):
            self.send_response(int(parts.path.rsplit("/", 1)[1]))
        elif parts.path.endswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", parse_qs(parts.query)["to"][0])
        elif parts.path == "/stream":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in (body, b"\n" + b"x" * 1000, b"\n" + b"y" * 1000):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
            return
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the concurrency tests open hundreds of connections at once


def main() -> None:
    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # the test process closes stdin (or dies): stop
    server.shutdown()


if __name__ == "__main__":
    main()
