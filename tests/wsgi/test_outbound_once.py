"""The first concurrent requests of a threaded server all propagate: outbound is on before any of them calls out."""

from __future__ import annotations

import json
import os
import sys
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("requests")
pytest.importorskip("werkzeug")

import servers

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
CONCURRENT = 64


@pytest.mark.parametrize("attempt", range(3))
def test_first_64_concurrent_requests_all_send_headers(attempt: int, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRACING_MIDDLEWARE_EXPORTER": "none"}
    command = [sys.executable, str(HERE / "outbound_served.py")]
    with servers.serve(command, log=tmp_path / "server.log", env=env, stop=None) as served:
        start = threading.Barrier(CONCURRENT)

        def one(_: int) -> bool:
            start.wait(60)  # all at once: the very first requests the server sees
            with _NO_PROXY.open(f"{served.base}/call", timeout=60) as response:
                return bool(json.loads(response.read())["traced"])

        with ThreadPoolExecutor(CONCURRENT) as pool:
            traced = list(pool.map(one, range(CONCURRENT)))
    assert traced.count(True) == CONCURRENT, f"{traced.count(False)} of {CONCURRENT} calls went out without headers"
