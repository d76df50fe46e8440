"""A bad middleware option stops a WSGI server at startup with one clear line, not a traceback or a 500 per request.

gunicorn (plain WSGI middleware and Flask), ``flask run`` and Django's ``runserver --noreload`` each load
an app whose options hold a typo (a TypeError) or a header that is never recorded (a ValueError); the
server must exit on its own, printing the reason once, naming the valid choices.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flask")
pytest.importorskip("django")

from flask import Flask

from tracing_middleware.adapters.flask import TracingFlask
from tracing_middleware.middleware.wsgi import WSGITracingMiddleware

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PY = sys.executable
PREFIX = "tracing_middleware: bad middleware option: "

LAUNCHERS: dict[str, tuple[list[str], dict[str, str]]] = {
    "gunicorn-plain-wsgi": ([PY, "-m", "gunicorn", "-b", "127.0.0.1:0", "drain_apps:plain"], {}),
    "gunicorn-flask": ([PY, "-m", "gunicorn", "-b", "127.0.0.1:0", "drain_apps:wsgi"], {}),
    "flask-run": ([PY, "-m", "flask", "--app", "drain_apps:wsgi", "run", "--port", "0"], {}),
    "django-runserver": (
        [PY, "-m", "django", "runserver", "--noreload", "127.0.0.1:0"], {"DJANGO_SETTINGS_MODULE": "drain_django"},
    ),
}  # fmt: skip

# options -> what the one line must say
BAD = {
    "typo": ({"exclude_path": ["/x"]}, ["unknown option(s) ['exclude_path']", "valid options: exclude_paths"]),
    "secret-header": ({"capture_headers": ["authorization"]}, ["never recorded: authorization"]),
}


@pytest.mark.parametrize("launcher", list(LAUNCHERS))
@pytest.mark.parametrize("bad", list(BAD))
def test_server_stops_at_startup_with_one_line(launcher: str, bad: str, tmp_path: Path) -> None:
    command, extra = LAUNCHERS[launcher]
    options, expected = BAD[bad]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)]),
        "TRACING_MIDDLEWARE_DB": str(tmp_path / "traces.sqlite3"),
        "TM_OPTIONS": json.dumps(options),
        **extra,
    }
    done = subprocess.run(
        command, cwd=HERE, env=env, capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    lines = [line for line in output.splitlines() if "tracing_middleware" in line]
    assert len(lines) == 1, output
    assert PREFIX in lines[0] and all(part in lines[0] for part in expected), output
    assert "Traceback" not in output


def test_direct_use_raises_type_and_value_errors() -> None:
    with pytest.raises(TypeError, match="valid options: exclude_paths"):
        TracingFlask(Flask("direct"), exclude_path=["/x"])

    def app(environ: Any, start_response: Any) -> list[bytes]:
        return []

    with pytest.raises(ValueError, match="never recorded: cookie"):
        WSGITracingMiddleware(app, capture_headers=["cookie"])
