"""Redaction before every exporter: secret-named query values, hide_inputs / hide_outputs, the redact hook."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tracing_middleware as tm
from tracing_middleware.core.redaction import redact_query, secret_name
from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.exporters.sqlite import SQLiteExporter


@pytest.fixture(autouse=True)
def _restore(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("LANGSMITH_HIDE_INPUTS", raising=False)
    monkeypatch.delenv("LANGSMITH_HIDE_OUTPUTS", raising=False)
    yield
    tm.configure(exporter="none")


@tm.traceable
def login(user: str, password: str) -> dict[str, str]:
    return {"token": "OUT-TOKEN-1234", "user": user}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ""),
        ("page=2&q=shoes", "page=2&q=shoes"),
        ("api_key=a&page=2", "api_key=REDACTED&page=2"),
        ("Password=a&PASSWORD=b&x", "Password=REDACTED&PASSWORD=REDACTED&x"),
        ("X-Amz-Signature=abc&X-Amz-Credential=d", "X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED"),
        ("code=1&state=2", "code=REDACTED&state=2"),
        ("token", "token"),  # a bare flag carries no value
        ("a%20token=x", "a%20token=REDACTED"),
    ],
)
def test_query_rules(query: str, expected: str) -> None:
    assert redact_query(query) == expected


def test_secret_names() -> None:
    assert secret_name("X-Api-Key") and secret_name("x-session-id") and not secret_name("user-agent")


def test_hide_inputs_and_outputs_before_every_exporter(tmp_path: Path) -> None:
    memory = tm.InMemoryExporter()
    db = tmp_path / "t.sqlite3"
    tm.configure(exporter=[memory, SQLiteExporter(db)], hide_inputs=True, hide_outputs=True)
    login("ann", "IN-PASSWORD-5678")
    tm.flush(30)
    (run,) = memory.runs
    assert run.inputs == {} and run.outputs == {}
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("t.sqlite3*"))
    assert b"IN-PASSWORD-5678" not in raw and b"OUT-TOKEN-1234" not in raw
    assert sqlite3.connect(db).execute("SELECT name FROM runs").fetchall() == [("login",)]


def test_hide_functions_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    memory = tm.InMemoryExporter()
    tm.configure(exporter=memory, hide_inputs=lambda inputs: {k: v for k, v in inputs.items() if k != "password"})
    login("ann", "IN-PASSWORD-5678")
    assert memory.runs[-1].inputs == {"user": "ann"} and memory.runs[-1].outputs["token"] == "OUT-TOKEN-1234"
    monkeypatch.setenv("LANGSMITH_HIDE_OUTPUTS", "true")
    tm.configure(exporter=memory)
    login("bob", "x")
    assert memory.runs[-1].outputs == {} and memory.runs[-1].inputs == {"user": "bob", "password": "x"}


def test_the_redact_hook_sees_each_run_and_a_failing_one_fails_closed(caplog: pytest.LogCaptureFixture) -> None:
    memory = tm.InMemoryExporter()
    seen: list[str] = []

    def hook(run: RunTree) -> None:
        seen.append(run.name)
        run.metadata["redacted"] = True
        if run.inputs.get("user") == "eve":
            raise RuntimeError("cannot redact")

    tm.configure(exporter=memory, redact=hook)
    login("ann", "p1")
    login("eve", "p2")
    assert seen == ["login", "login"]
    assert memory.runs[0].metadata["redacted"] is True and memory.runs[0].inputs["password"] == "p1"
    assert memory.runs[1].inputs == {} and memory.runs[1].outputs == {}
    assert "redaction failed" in caplog.text


@pytest.mark.parametrize(
    "kwargs",
    [{"hide_inputs": "yes"}, {"hide_outputs": 1}, {"redact": "scrub"}],
)
def test_bad_arguments_name_the_choices(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="must be"):
        tm.configure(exporter="none", **kwargs)
