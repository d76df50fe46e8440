"""Real services for the W3C conformance tests: each stack in its own server process, one capture server.

A test sends a request with crafted headers to a service's ``/call``; the service makes its outbound
call(s) to the capture server, which answers with the headers it received, every repeat kept; the
service answers with those. So a test sees exactly what the service forwarded.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
Headers = list[tuple[str, str]]


class _Capture(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/redirect"):  # a hop on the way, whose traceparent the next one reports
            self.send_response(307)
            self.send_header("Location", "/capture?from=" + quote(self.headers.get("traceparent", ""), safe=""))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = [[":path", self.path], *([name.lower(), value] for name, value in self.headers.items())]
        body = json.dumps({"headers": headers}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="session")
def capture_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/capture"
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command(stack: str, port: int) -> list[str]:
    bind = f"127.0.0.1:{port}"
    if stack == "fastapi+httpx":
        return [
            "-m",
            "uvicorn",
            "svc_fastapi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
    if stack.startswith("aiohttp+"):
        explicit = ["--trace-config"] if stack == "aiohttp+TraceConfig" else []
        return ["-m", "aiohttp.web", "-H", "127.0.0.1", "-P", str(port), "svc_aiohttp:make_app", *explicit]
    target = {"flask+requests": "svc_flask:app", "django+requests": "svc_django:application"}[stack]
    # gunicorn refuses a header line over 8190 bytes by default, short of the 8192 bytes of baggage.
    limit = ["--limit-request-field_size", "16384"]
    return ["-m", "gunicorn", "-b", bind, "-w", "1", "--threads", "4", "--log-level", "warning", *limit, target]


STACKS = ["fastapi+httpx", "flask+requests", "django+requests", "aiohttp+aiohttp", "aiohttp+TraceConfig"]


@pytest.fixture(scope="module", params=STACKS)
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of one stack's service, served by its real server in a subprocess."""
    stack: str = request.param
    pytest.importorskip(stack.split("+")[0])
    port = _free_port()
    log_path = tmp_path_factory.mktemp("w3c") / "server.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(ROOT), env.get("PYTHONPATH", "")])
    for name in ("LANGSMITH_TRACING", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(name, None)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, *_command(stack, port)], env=env, cwd=HERE, stdout=log, stderr=log)
        try:
            _wait_listening(port, proc, log_path)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60  # generous: the machine is shared
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port}:\n{log.read_text(errors='replace')}")


@pytest.fixture
def forwarded(service: str, capture_url: str) -> Any:
    """``forwarded(headers, n=1, path="/capture", outbound=[])``: send ``headers`` (pairs, repeats kept) to
    the service, which calls ``path`` of the capture server ``n`` times with the app's own ``outbound``
    headers set; the headers of each call that reached ``/capture``, as ``{lowercase name: [values]}``,
    with the path it asked for under ``":path"``."""

    def send(
        headers: Headers, n: int = 1, path: str = "/capture", outbound: Headers = ()
    ) -> list[dict[str, list[str]]]:
        to = capture_url.removesuffix("/capture") + path
        own = "".join(f"&h={quote(f'{name}:{value}', safe='')}" for name, value in outbound)
        host, port = service.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            connection.putrequest("GET", f"/call?to={quote(to, safe='')}&n={n}{own}")
            for name, value in headers:
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        assert response.status == 200, body[:2000]
        calls = []
        for call in json.loads(body)["calls"]:
            found: dict[str, list[str]] = {}
            for name, value in call["headers"]:
                found.setdefault(name, []).append(value)
            calls.append(found)
        return calls

    return send
