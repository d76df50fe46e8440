"""Secrets in query strings and headers never reach the store, through every inbound adapter.

Each adapter runs in a real server with ``capture_headers`` asking for a secret-looking header and a
harmless one, and ``shared_secret`` set. Requests carry secrets in the query string, in headers
(``Authorization``, ``Cookie``, ``X-Api-Key``, the shared-secret header) and in hostile forms (encoded,
repeated, control characters). After SIGTERM the store's raw bytes (database, WAL) are searched.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("flask")
pytest.importorskip("django")

import servers

HERE = Path(__file__).resolve().parent
APPS = HERE.parent / "shutdown"
ROOT = HERE.parent.parent
PY = sys.executable
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

SECRETS = ["Q-APIKEY-7f3a", "Q-PASSWORD-91bd", "Q-TOKEN-55e0", "H-AUTH-c0ffee", "H-COOKIE-beef", "H-APIKEY-d00d",
           "SHARED-SECRET-4242", "Q-ENCODED-SIG-aa11"]  # fmt: skip
OPTIONS = {
    "exclude_paths": ["/health"],
    "capture_headers": ["x-api-key", "user-agent", "x-request-id"],
    "shared_secret": "SHARED-SECRET-4242",
}
SERVERS = {
    "asgi-fastapi": [PY, "-m", "uvicorn", "drain_apps:asgi", "--port", "{port}"],
    "wsgi-flask": [PY, "-m", "gunicorn", "-b", "127.0.0.1:{port}", "drain_apps:wsgi"],
    "wsgi-plain": [PY, "-m", "gunicorn", "-b", "127.0.0.1:{port}", "drain_apps:plain"],
    "django": [PY, "-m", "django", "runserver", "--noreload", "127.0.0.1:{port}"],
}
QUERIES = [
    "i=1&api_key=Q-APIKEY-7f3a&password=Q-PASSWORD-91bd",
    "i=2&access_token=Q-TOKEN-55e0&api_key=Q-APIKEY-7f3a&api_key=Q-APIKEY-7f3a",  # repeated
    "i=3&X-Amz-Signature=Q-ENCODED-SIG-aa11&Password=Q-PASSWORD-91bd",  # any case
    "i=4&client_secret=Q-PASSWORD-91bd%0d%0aInjected:%20x&session=Q-TOKEN-55e0",  # encoded CR LF
]


def _request(base: str, query: str) -> int:
    request = urllib.request.Request(
        f"{base}/work?{query}",
        headers={
            "Authorization": "Bearer H-AUTH-c0ffee",
            "Cookie": "sid=H-COOKIE-beef",
            "X-Api-Key": "H-APIKEY-d00d",
            "X-Tracing-Secret": "SHARED-SECRET-4242",
            "User-Agent": "probe/1.0",
            "X-Request-Id": "req-\u00e9-1",
        },
    )
    with _NO_PROXY.open(request, timeout=30) as response:
        return int(response.status)


@pytest.mark.parametrize("name", list(SERVERS))
def test_no_secret_reaches_the_store(name: str, tmp_path: Path) -> None:
    db = tmp_path / "traces.sqlite3"
    port = servers.free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(APPS)]),
        "TRACING_MIDDLEWARE_DB": str(db),
        "TRACING_MIDDLEWARE_EXPORTER": "sqlite",
        "TM_OPTIONS": json.dumps(OPTIONS),
        "DJANGO_SETTINGS_MODULE": "drain_django",
    }
    argv = [part.replace("{port}", str(port)) for part in SERVERS[name]]
    with servers.serve(argv, log=tmp_path / "server.log", cwd=APPS, env=env, port=port, health="/health") as served:
        assert [_request(served.base, query) for query in QUERIES] == [200] * len(QUERIES)
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(90)
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("traces.sqlite3*"))
    conn = sqlite3.connect(db)
    try:
        stored = [json.loads(text) for (text,) in conn.execute("SELECT inputs FROM runs")]
    finally:
        conn.close()
    assert len(stored) == len(QUERIES), stored
    for secret in SECRETS:
        assert secret.encode() not in raw, f"{secret} is in the store"
    by_query = sorted(stored, key=lambda inputs: inputs["query"])
    assert by_query[0]["query"] == "i=1&api_key=REDACTED&password=REDACTED"
    assert by_query[0]["headers"] == {"x-api-key": "REDACTED", "user-agent": "probe/1.0", "x-request-id": "req-é-1"}


@pytest.mark.parametrize("header", ["x-tracing-secret", "X-Tracing-Secret", "authorization", "cookie"])
def test_the_secret_header_cannot_be_captured(header: str) -> None:
    from tracing_middleware.middleware.options import MiddlewareOptions

    with pytest.raises(ValueError, match="never recorded"):
        MiddlewareOptions(capture_headers=[header], shared_secret="s")
    with pytest.raises(ValueError, match="never recorded: x-custom-secret"):
        MiddlewareOptions(capture_headers=["x-custom-secret"], secret_header="X-Custom-Secret")
