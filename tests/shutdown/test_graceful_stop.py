"""No run of an answered request is lost when a real server is stopped with SIGTERM or Ctrl-C.

Every row starts a real server in a subprocess, sends numbered requests, stops it and then reads the
SQLite store: each answered request's run must be there exactly once. Three ways to stop: after the
traffic, in the middle of it, and while another process holds the store's write lock. SIGTERM goes to
the server's first process only (as ``kill`` or a container runtime sends it); SIGINT goes to its
whole process group, as Ctrl-C in a terminal does, for the servers people stop that way.
"""

from __future__ import annotations

import contextlib
import os
import re
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
    # The default runserver: a watching parent restarts a child that serves from a thread.
    "django-runserver-reload": (
        [PY, "-m", "django", "runserver", "127.0.0.1:{port}"],
        {"DJANGO_SETTINGS_MODULE": "drain_django"}, "drain_django",
    ),
    "werkzeug": ([PY, "-m", "flask", "--app", "drain_apps:wsgi", "run", "--port", "{port}"], {}, "drain_apps"),
    "aiohttp": (
        [PY, "-m", "aiohttp.web", "-H", "127.0.0.1", "-P", "{port}", "drain_aiohttp:make_app"], {}, "drain_aiohttp",
    ),
}  # fmt: skip

# Servers usually stopped with Ctrl-C in a terminal: these are stopped with SIGINT too.
CTRL_C = ["uvicorn", "gunicorn-sync", "hypercorn", "django-runserver", "django-runserver-reload", "werkzeug", "aiohttp"]
CASES = [(name, "SIGTERM") for name in SERVERS] + [(name, "SIGINT") for name in CTRL_C]


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


def _stop(process: subprocess.Popen[bytes], signame: str) -> None:
    """SIGTERM to the server's process; SIGINT to its process group, as a terminal's Ctrl-C."""
    if signame == "SIGINT":
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGTERM)


def _wait(process: subprocess.Popen[bytes], signame: str) -> None:
    try:
        process.wait(EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server did not stop within {EXIT_TIMEOUT_S:.0f} s of {signame}")


def _reap_group(pgid: int) -> None:
    """Kill whatever is left of the server's process group (a child its parent left behind)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _services(db: Path) -> set[str]:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return {service for (service,) in conn.execute("SELECT DISTINCT service FROM runs")}
    finally:
        conn.close()


@pytest.mark.parametrize(("name", "signame"), CASES, ids=[f"{name}-{sig}" for name, sig in CASES])
@pytest.mark.parametrize("when", ["after-traffic", "in-flight", "store-locked"])
def test_stop_keeps_every_answered_run(name: str, signame: str, when: str, tmp_path: Path) -> None:
    command, extra, service = SERVERS[name]
    db = tmp_path / "traces.sqlite3"
    port = servers.free_port()
    argv = [part.replace("{port}", str(port)) for part in command]
    started = time.monotonic()
    with servers.serve(
        argv,
        log=tmp_path / "server.log",
        cwd=HERE,
        env=_env(db, extra),
        port=port,
        health="/health",
        new_session=True,
    ) as served:
        if when == "after-traffic":
            answered = fire(served.base, 0, 200)
            _stop(served.process, signame)
            _wait(served.process, signame)
        elif when == "in-flight":
            traffic = Background(served.base)
            traffic.wait_for(60)
            _stop(served.process, signame)
            _wait(served.process, signame)
            traffic.stop()
            answered = traffic.answered
        else:
            fire(served.base, 0, 5)  # the store exists (its schema written) before another process locks it
            deadline = time.monotonic() + 60
            while len(stored_numbers(db)) < 5 and time.monotonic() < deadline:
                time.sleep(0.1)
            with locked_store(db, seconds=2.0):  # the app's exporter waits on the lock meanwhile
                answered = fire(served.base, 5, 100)
                _stop(served.process, signame)
            _wait(served.process, signame)
            answered |= set(range(5))
        _reap_group(served.process.pid)  # runs stored by a process still exiting would count; wait for all
        log = served.log_tail()
    stored = stored_numbers(db)
    assert answered, f"no request was answered:\n{log}"
    missing = sorted(answered - set(stored))
    assert not missing, f"{len(missing)} of {len(answered)} answered runs lost, e.g. {missing[:10]}:\n{log}"
    assert len(stored) == len(set(stored)), "a run was stored twice"
    assert _services(db) == {service}
    if name == "aiohttp":  # drained by the app's own cleanup hook, before the process began to exit
        at_cleanup = re.search(r"stored at cleanup: (\d+)", log)
        assert at_cleanup is not None and int(at_cleanup.group(1)) >= len(answered), log
    assert time.monotonic() - started < 150
