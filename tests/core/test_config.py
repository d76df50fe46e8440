"""configure(): exporters by name or object, several at once, environment variables, the off switch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tracing_middleware as tm
from tracing_middleware.core import config


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    tm.configure(exporter="none")


@tm.traceable
def step(x: int) -> int:
    return x + 1


def test_several_exporters_each_receive_every_run() -> None:
    first, second = tm.InMemoryExporter(), tm.InMemoryExporter()
    tm.configure(exporter=[first, "none", second])
    step(1)
    assert [r.name for r in first.runs] == [r.name for r in second.runs] == ["step"]


def test_exporters_by_name_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACING_MIDDLEWARE_EXPORTER", "memory, none")
    settings = tm.configure()
    assert [type(e).__name__ for e in settings.exporters] == ["InMemoryExporter"]


def test_unknown_names_and_objects_are_rejected_with_the_choices() -> None:
    with pytest.raises(ValueError, match="sqlite, jsonl, console, otlp, langsmith, memory, none"):
        tm.configure(exporter="nope")
    with pytest.raises(TypeError, match="export"):
        tm.configure(exporter=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="True, False or None"):
        tm.configure(exporter="none", enabled="maybe")  # type: ignore[arg-type]


def test_the_off_switch_makes_no_runs_and_sends_no_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    memory = tm.InMemoryExporter()
    monkeypatch.setenv("TRACING_MIDDLEWARE_ENABLED", "false")
    tm.configure(exporter=memory)
    assert step(1) == 2
    with tm.trace("block") as run:
        headers: dict[str, str] = {}
        tm.inject(headers)
    assert memory.runs == [] and headers == {}
    assert run.name == "block"  # a stand-in, so code that uses the run keeps working


def test_project_and_service_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGSMITH_PROJECT", "from-langsmith")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout")
    memory = tm.InMemoryExporter()
    settings = tm.configure(exporter=memory)
    assert settings.service_name == "checkout"
    step(1)
    assert memory.runs[0].project_name == "from-langsmith"
    monkeypatch.setenv("TRACING_MIDDLEWARE_PROJECT", "ours")
    tm.configure(exporter=memory, service_name="billing")
    assert config.get_settings().project_name == "ours"
    assert config.get_settings().service_name == "billing"


def test_w3c_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACING_MIDDLEWARE_W3C", "false")
    tm.configure(exporter="none")
    with tm.trace("root"):
        headers: dict[str, str] = {}
        tm.inject(headers)
    assert "langsmith-trace" in headers and "traceparent" not in headers


def test_reconfiguring_shuts_the_previous_exporters_down() -> None:
    class Closing(tm.InMemoryExporter):
        closed = False

        def shutdown(self) -> None:
            self.closed = True

    first = Closing()
    tm.configure(exporter=first)
    tm.configure(exporter="none")
    assert first.closed
