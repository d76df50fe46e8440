"""A plain script's first run switches outbound propagation on, as the inbound adapters do; an env var opts out."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("requests")
pytest.importorskip("httpx")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = textwrap.dedent(
    """
    import http.server, json, threading
    import httpx, requests
    import tracing_middleware as tm

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(bool(self.headers.get("langsmith-trace"))).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"

    @tm.traceable
    def main():
        with requests.Session() as session:
            session.trust_env = False
            by_requests = session.get(url, timeout=30).json()
        with httpx.Client(trust_env=False) as client:
            by_httpx = client.get(url, timeout=30).json()
        return [by_requests, by_httpx]

    print(json.dumps(main()))
    """
)


@pytest.mark.parametrize(("setting", "expected"), [(None, [True, True]), ("false", [False, False])])
def test_first_run_of_a_script_propagates_unless_opted_out(setting: str | None, expected: list[bool]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRACING_MIDDLEWARE_EXPORTER": "none"}
    env.pop("TRACING_MIDDLEWARE_OUTBOUND", None)
    if setting is not None:
        env["TRACING_MIDDLEWARE_OUTBOUND"] = setting
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == str(expected).lower().replace("'", '"')
