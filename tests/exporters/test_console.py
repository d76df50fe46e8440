"""ConsoleExporter: one readable line per run, indented by depth, with duration and status."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone

import pytest

import tracing_middleware as tm
from tracing_middleware import RunTree
from tracing_middleware.core.pipeline import SimpleProcessor
from tracing_middleware.exporters.console import ConsoleExporter, format_line

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_lines_show_depth_name_type_duration_and_status() -> None:
    root = RunTree("GET /users", start_time=T0)
    child = root.create_child("fetch", "tool")
    child.start_us = root.start_us
    child.end(end_time=T0 + timedelta(microseconds=3250))
    root.end(error=KeyError("id"), end_time=T0 + timedelta(milliseconds=12))
    stream = io.StringIO()
    ConsoleExporter(stream).export([child, root])
    short = root.trace_id[:8]
    assert stream.getvalue().splitlines() == [
        f"{short}   fetch (tool) 3.2 ms ok",
        f"{short} GET /users (chain) 12.0 ms error: KeyError: 'id'",
    ]


def test_hostile_names_and_errors_stay_on_one_line() -> None:
    run = RunTree("evil\nname\x1b[31m" + "n" * 500)
    run.end(error="first line\nsecond line")
    line = format_line(run)
    assert "\n" not in line and "\x1b" not in line
    assert line.endswith("error: first line")
    assert "evil name [31m" in line and "..." in line
    assert len(line) < 250


def test_unfinished_run_says_running() -> None:
    assert format_line(RunTree("slow")).endswith("(chain) running ok")


def test_default_stream_is_stderr_at_write_time(capsys: pytest.CaptureFixture[str]) -> None:
    run = RunTree("x")
    run.end()
    ConsoleExporter().export([run])
    captured = capsys.readouterr()
    assert captured.out == ""
    assert re.fullmatch(r"[0-9a-f]{8} x \(chain\) \d+\.\d ms ok\n", captured.err)


def test_registered_name_prints_as_runs_finish(capsys: pytest.CaptureFixture[str]) -> None:
    settings = tm.configure(exporter="console")
    try:
        assert isinstance(settings.processors[0], SimpleProcessor)

        @tm.traceable
        def inner() -> None:
            raise ValueError("nope")

        with pytest.raises(ValueError), tm.trace("outer"):
            inner()
    finally:
        tm.configure(exporter="none")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert re.search(r"   inner \(chain\) \d+\.\d ms error: ValueError: nope$", lines[0])
    assert re.search(r" outer \(chain\) \d+\.\d ms error: ValueError: nope$", lines[1])


def test_bad_stream_is_rejected() -> None:
    with pytest.raises(TypeError, match="stream must be"):
        ConsoleExporter(stream=42)  # type: ignore[arg-type]
