"""Turning the bridges on and off, and what is imported when: ``configure(bridges=...)`` and the environment."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import tracing_middleware as tm
from tracing_middleware import bridges
from tracing_middleware.core.context import registered_bridges

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(autouse=True)
def restored(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(bridges.ENV, raising=False)
    yield
    monkeypatch.delenv(bridges.ENV, raising=False)
    tm.configure(exporter="none")  # back to the default: every installed bridge


def installed() -> set[str]:
    import importlib.util

    return {
        name
        for name, module in (("langsmith", "langsmith"), ("otel", "opentelemetry"))
        if importlib.util.find_spec(module)
    }


def test_by_default_every_installed_peer_is_bridged() -> None:
    tm.configure(exporter="none")
    assert set(bridges.active()) == installed()
    assert len(registered_bridges()) >= len(installed())


@pytest.mark.parametrize("value", ["none", [], False, "off"])
def test_configure_turns_them_off(value: object) -> None:
    settings = tm.configure(exporter="none", bridges=value)  # type: ignore[arg-type]
    assert bridges.active() == () and settings.bridges == ()
    langsmith = pytest.importorskip("langsmith")
    with tm.trace("request"):
        assert langsmith.get_current_run_tree() is None  # as before the bridges existed


def test_configure_picks_some() -> None:
    pytest.importorskip("langsmith")
    assert tm.configure(exporter="none", bridges=["langsmith"]).bridges == ("langsmith",)
    assert bridges.active() == ("langsmith",)
    assert tm.configure(exporter="none", bridges="langsmith,otel").bridges == tuple(
        name for name in bridges.NAMES if name in installed()
    )


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("zipkin", ValueError, "auto, none, langsmith, otel"),
        (["langsmith", "sentry"], ValueError, "'sentry'"),
        (["auto", "otel"], ValueError, "'auto' cannot be combined"),
        (["langsmith", 3], TypeError, "names among auto, none, langsmith, otel"),
        (3.5, TypeError, "one of auto, none, langsmith, otel"),
    ],
)
def test_bad_configure_arguments_name_the_choices(value: object, error: type[Exception], message: str) -> None:
    before = bridges.active()
    with pytest.raises(error, match=message):
        tm.configure(exporter="none", bridges=value)  # type: ignore[arg-type]
    assert bridges.active() == before  # nothing changed


def test_the_environment_variable_turns_them_off_or_picks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(bridges.ENV, "none")
    assert tm.configure(exporter="none").bridges == ()
    pytest.importorskip("langsmith")
    monkeypatch.setenv(bridges.ENV, " LangSmith ")
    assert tm.configure(exporter="none").bridges == ("langsmith",)


def test_a_bad_environment_value_warns_once_and_means_auto(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(bridges.ENV, "langsmith,<script>")
    with caplog.at_level(logging.WARNING, logger="tracing_middleware.bridges"):
        first = tm.configure(exporter="none").bridges
        second = tm.configure(exporter="none").bridges
    assert set(first) == set(second) == installed()
    warnings = [record.getMessage() for record in caplog.records if bridges.ENV in record.getMessage()]
    assert len(warnings) == 1 and "'langsmith,<script>'" in warnings[0] and "auto" in warnings[0]


def run_python(code: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(bridges.ENV, None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


REQUESTS = """
import json, sys
import tracing_middleware as tm
from tracing_middleware import WSGITracingMiddleware
from tracing_middleware.core.context import registered_bridges

tm.configure(exporter="none")

@tm.traceable
def work():
    with tm.trace("block"):
        return tm.get_current_run_tree().id

def app(environ, start_response):
    start_response("200 OK", [])
    return [work().encode()]

wrapped = WSGITracingMiddleware(app)
for _ in range(3):
    list(wrapped({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "t", "SERVER_PORT": "80",
                  "wsgi.url_scheme": "http", "QUERY_STRING": ""}, lambda *a: None))
"""


def test_with_neither_peer_installed_nothing_is_imported_or_registered() -> None:
    hidden = "import sys\nfor name in ('langsmith', 'opentelemetry', 'langchain_core'):\n    sys.modules[name] = None\n"
    report = (
        hidden
        + REQUESTS
        + """
loaded = sorted(m for m, v in sys.modules.items() if v is not None and m.startswith(("langsmith", "opentelemetry")))
print(json.dumps({"loaded": loaded, "bridges": len(registered_bridges()), "active": list(tm.get_settings().bridges)}))
"""
    )
    assert run_python(report) == {"loaded": [], "bridges": 0, "active": []}


def test_the_langsmith_mirror_is_built_only_when_asked_for() -> None:
    pytest.importorskip("langsmith")
    report = (
        REQUESTS
        + """
idle = "langsmith.run_trees" in sys.modules  # a mirror needs langsmith's RunTree: never imported if never asked
import langsmith
with tm.trace("asked") as run:
    mirror = langsmith.get_current_run_tree()
print(json.dumps({"idle_imported": idle, "asked": str(mirror.id) == run.id, "active": list(tm.get_settings().bridges)}))
"""
    )
    result = run_python(report)
    assert result["idle_imported"] is False and result["asked"] is True
    assert "langsmith" in result["active"]  # type: ignore[operator]
