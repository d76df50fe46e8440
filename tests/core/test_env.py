"""A bad environment value never takes an app down: one warning naming the variable and the value used instead."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tracing_middleware import get_runtime
from tracing_middleware.core import env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_runtime(), "warned_env", set())


def test_each_reader_warns_once_and_falls_back(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "tracing_middleware.config")
    monkeypatch.setenv("TM_TEST_FLAG", "maybe")
    monkeypatch.setenv("TM_TEST_INT", "-1")
    monkeypatch.setenv("TM_TEST_FLOAT", "nan")
    monkeypatch.setenv("TM_TEST_LIST", "memory,nonsense")
    for _ in range(3):
        assert env.env_flag("TM_TEST_FLAG", True) is True
        assert env.env_int("TM_TEST_INT", 7) == 7
        assert env.env_float("TM_TEST_FLOAT", 0.5, maximum=1.0) == 0.5
        assert env.env_list("TM_TEST_LIST", ["sqlite"], ["sqlite", "memory"]) == ["memory"]
    assert caplog.messages == [
        "TM_TEST_FLAG='maybe' is not one of true/false/1/0/yes/no/on/off; using true",
        "TM_TEST_INT='-1' is not a whole number >= 1; using 7",
        "TM_TEST_FLOAT='nan' is not a number from 0 to 1; using 0.5",
        "TM_TEST_LIST='memory,nonsense' is not a comma-separated list of sqlite, memory; using memory",
    ]


def test_good_values_and_fallback_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TM_TEST_B", " OFF ")
    monkeypatch.setenv("TM_TEST_SECOND", "0.25")
    monkeypatch.setenv("TM_TEST_FIRST", "  ")
    assert env.env_flag("TM_TEST_B", True) is False
    assert env.env_float(("TM_TEST_FIRST", "TM_TEST_SECOND"), 1.0) == 0.25  # a blank first name is skipped
    assert env.env_text(("TM_TEST_UNSET", "TM_TEST_B"), "x") == "OFF"
    assert env.env_int("TM_TEST_UNSET", 3) == 3


def test_a_hostile_value_is_shown_escaped_and_short(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "tracing_middleware.config")
    env.warn_bad("TM_X", "bad\nFAKE LOG LINE \x1b[31m" + "y" * 500, "a number", 1)
    (message,) = caplog.messages
    assert "\n" not in message and "\x1b" not in message and len(message) < 200


APP = textwrap.dedent(
    """
    import logging, sys
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from flask import Flask
    import tracing_middleware as tm
    from tracing_middleware.adapters.fastapi import TracingMiddleware
    from tracing_middleware.adapters.flask import TracingFlask

    api = FastAPI()
    api.add_middleware(TracingMiddleware)
    api.get("/x")(lambda: {"ok": True})
    flask_app = Flask("shop")
    TracingFlask(flask_app)
    flask_app.get("/x")(lambda: {"ok": True})

    @tm.traceable
    def step(x):
        return x + 1

    with TestClient(api) as client:
        codes = [client.get("/x").status_code for _ in range(3)]
    codes += [flask_app.test_client().get("/x").status_code for _ in range(3)]
    assert codes == [200] * 6, codes
    assert [step(i) for i in range(3)] == [1, 2, 3]
    print("ok")
    """
)
BAD = [
    ("TRACING_MIDDLEWARE_SAMPLE_RATE", "abc", "using 1.0"),
    ("TRACING_MIDDLEWARE_EXPORTER", "nonsense", "using sqlite"),
    ("TRACING_MIDDLEWARE_ENABLED", "maybe", "using true"),
    ("TRACING_MIDDLEWARE_W3C", "perhaps", "using true"),
    ("TRACING_MIDDLEWARE_QUEUE_SIZE", "-1", "using 50000"),
    ("TRACING_MIDDLEWARE_BATCH_SIZE", "many", "using 1000"),
    ("TRACING_MIDDLEWARE_DB_TIMEOUT", "soon", "using 5.0"),
    ("TRACING_MIDDLEWARE_DRAIN_TIMEOUT", "-3", "using 5.0"),
    ("TRACING_MIDDLEWARE_PROPAGATE_TO", "bad host", "using the other entries"),
    ("TRACING_MIDDLEWARE_OUTBOUND", "sometimes", "using true"),
    ("LANGSMITH_HIDE_INPUTS", "kinda", "using false"),
    ("LANGSMITH_TRACING_SAMPLING_RATE", "2", "using 1.0"),
]


@pytest.mark.parametrize(("name", "value", "used"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_value_keeps_every_app_running(name: str, value: str, used: str, tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("flask")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TRACING_MIDDLEWARE_", "LANGSMITH_"))}
    environ.update(PYTHONPATH=str(ROOT), TRACING_MIDDLEWARE_DB=str(tmp_path / "t.sqlite3"), **{name: value})
    done = subprocess.run([sys.executable, "-c", APP], env=environ, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if name in line]
    assert len(lines) == 1, done.stderr[-3000:]
    assert repr(value) in lines[0] and used in lines[0]
    assert "Traceback" not in done.stderr


def test_the_package_reads_the_environment_only_through_core_env() -> None:
    package = ROOT / "tracing_middleware"
    readers = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if relative == "core/env.py" or relative.startswith("demo/"):  # the demo's services are example apps
            continue
        text = path.read_text(encoding="utf-8")
        if "os.environ" in text or "os.getenv" in text or "from os import environ" in text:
            readers.append(relative)
    assert readers == []
