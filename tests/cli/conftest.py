"""Fixtures for the command line: a real SQLite trace store in tmp_path, and the CLI run in-process."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from cli_support import Result, cli_env

from tracing_middleware.cli import main


@pytest.fixture
def store_path(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """Where the test's trace store lives; the environment cannot point the CLI elsewhere or add colors."""
    for name in ("TRACING_MIDDLEWARE_DB", "TRACING_MIDDLEWARE_PLAIN", "FORCE_COLOR", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "traces.sqlite3"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], store_path: pathlib.Path) -> Callable[..., Result]:
    """Run ``main([--db <store>, *argv])`` in-process (``--plain`` unless ``plain=False``; ``db``: another file)."""

    def run(*argv: str, plain: bool = True, db: bool | pathlib.Path = True) -> Result:
        capsys.readouterr()
        path = store_path if db is True else db
        args = (["--db", str(path)] if path else []) + (["--plain"] if plain else []) + list(argv)
        code = main(args)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``python -m tracing_middleware ...`` subprocesses; any still running at the end are killed."""
    started: list[subprocess.Popen[str]] = []

    def start(*argv: str, **popen: object) -> subprocess.Popen[str]:
        popen.setdefault("stdout", subprocess.PIPE)
        popen.setdefault("stderr", subprocess.PIPE)
        popen.setdefault("env", cli_env())
        proc: subprocess.Popen[str] = subprocess.Popen(  # type: ignore[call-overload]
            [sys.executable, "-m", "tracing_middleware", *argv], text=True, **popen
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
