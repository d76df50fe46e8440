"""Real Celery workers on a real broker (see ``celery_support``); a real redis-server for the Redis runs.

Broker: kombu's filesystem transport needs nothing installed, so every test runs on a fresh machine;
the chain test also runs on Redis (Debian's ``redis-server``, started here on 127.0.0.1). Running as root
with apt-get (as CI does), a missing ``redis-server`` is installed first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

pytest.importorskip("celery")

from celery_support import DEADLINE_S
from netutil import free_port


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on 127.0.0.1 (installed with apt-get when missing and running as root, as CI does)."""
    server = shutil.which("redis-server")
    if server is None and shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        subprocess.run(["apt-get", "update", "-qq"], check=False, timeout=300)
        subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=False, timeout=600)
        server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        import redis

        deadline = time.monotonic() + DEADLINE_S
        while True:
            try:
                redis.Redis(host="127.0.0.1", port=port).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=30)
