"""No run of an answered request is lost when a real server is stopped with SIGTERM.

Every row starts a real server in a subprocess, sends numbered requests, stops it with SIGTERM and
then reads the SQLite store: each answered request's run must be there exactly once. Three ways to
stop: after the traffic, in the middle of it, and while another process holds the store's write lock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("flask")

import servers
from drain_support import Background, fire, locked_store, stored_numbers

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PY = sys.executable
EXIT_TIMEOUT_S = 90.0

# name -> (command, extra environment, service name expected on the runs)
SERVERS: dict[str, tuple[list[str], dict[str, str], str]] = {
    "uvicorn": ([PY, "-m", "uvicorn", "drain_apps:asgi", "--port", "{port}"], {}, "drain_apps"),
    "uvicorn-workers": (
        [PY, "-m", "uvicorn", "drain_apps:asgi", "--port", "{port}", "--workers", "2"], {}, "drain_apps",
    ),
    "gunicorn-sync": ([PY, "-m", "gunicorn", "-w", "2", "-b", "127.0.0.1:{port}", "drain_apps:wsgi"], {}, "drain_apps"),
    "gunicorn-gthread": (
        [PY, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4", "-b", "127.0.0.1:{port}",
         "drain_apps:wsgi"], {}, "drain_apps",
    ),
    "gunicorn-uvicorn-worker": (
        [PY, "-m", "gunicorn", "-w", "2", "-k", "uvicorn.workers.UvicornWorker", "-b", "127.0.0.1:{port}",
         "drain_apps:asgi"], {}, "drain_apps",
    ),
    "gunicorn-preload": (
        [PY, "-m", "gunicorn", "-w", "2", "--preload", "-b", "127.0.0.1:{port}", "drain_apps:wsgi"], {}, "drain_apps",
    ),
    "gunicorn-max-requests": (
        [PY, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4", "--max-requests", "40",
         "--max-requests-jitter", "10", "-b", "127.0.0.1:{port}", "drain_apps:wsgi"], {}, "drain_apps",
    ),
    "hypercorn": ([PY, "-m", "hypercorn", "-b", "127.0.0.1:{port}", "drain_apps:asgi"], {}, "drain_apps"),
    "django-runserver": (
        [PY, "-m", "django", "runserver", "--noreload", "127.0.0.1:{port}"],
        {"DJANGO_SETTINGS_MODULE": "drain_django"}, "drain_django",
    ),
    "werkzeug": ([PY, "-m", "flask", "--app", "drain_apps:wsgi", "run", "--port", "{port}"], {}, "drain_apps"),
}  # fmt: skip


def _env(db: Path, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TRACING_MIDDLEWARE_SERVICE", None)
    env.pop("OTEL_SERVICE_NAME", None)
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE)]),
        TRACING_MIDDLEWARE_DB=str(db),
        TRACING_MIDDLEWARE_EXPORTER="sqlite",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def _terminate(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server did not stop within {EXIT_TIMEOUT_S:.0f} s of SIGTERM")


def _services(db: Path) -> set[str]:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return {service for (service,) in conn.execute("SELECT DISTINCT service FROM runs")}
    finally:
        conn.close()


@pytest.mark.parametrize("name", list(SERVERS))
@pytest.mark.parametrize("when", ["after-traffic", "in-flight", "store-locked"])
def test_sigterm_keeps_every_answered_run(name: str, when: str, tmp_path: Path) -> None:
    command, extra, service = SERVERS[name]
    db = tmp_path / "traces.sqlite3"
    port = servers.free_port()
    argv = [part.replace("{port}", str(port)) for part in command]
    started = time.monotonic()
    with servers.serve(
        argv, log=tmp_path / "server.log", cwd=HERE, env=_env(db, extra), port=port, health="/health"
    ) as served:
        if when == "after-traffic":
            answered = fire(served.base, 0, 200)
            _terminate(served.process)
        elif when == "in-flight":
            traffic = Background(served.base)
            traffic.wait_for(60)
            _terminate(served.process)
            traffic.stop()
            answered = traffic.answered
        else:
            fire(served.base, 0, 5)  # the store exists (its schema written) before another process locks it
            deadline = time.monotonic() + 60
            while len(stored_numbers(db)) < 5 and time.monotonic() < deadline:
                time.sleep(0.1)
            with locked_store(db, seconds=2.0):  # the app's exporter waits on the lock meanwhile
                answered = fire(served.base, 5, 100)
                served.process.send_signal(signal.SIGTERM)
            try:
                served.process.wait(EXIT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pytest.fail("the server did not stop after SIGTERM with the store locked")
            answered |= set(range(5))
        log = served.log_tail()
    stored = stored_numbers(db)
    assert answered, f"no request was answered:\n{log}"
    missing = sorted(answered - set(stored))
    assert not missing, f"{len(missing)} of {len(answered)} answered runs lost, e.g. {missing[:10]}:\n{log}"
    assert len(stored) == len(set(stored)), "a run was stored twice"
    assert _services(db) == {service}
    assert time.monotonic() - started < 150
