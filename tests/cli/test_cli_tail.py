"""`tracing-middleware tail`: the last runs, then runs written after it started; Ctrl-C ends it cleanly."""

from __future__ import annotations

import pathlib
import signal
import subprocess
from collections.abc import Callable

from cli_support import Result, child, root, store

Cli = Callable[..., Result]
Spawn = Callable[..., subprocess.Popen[str]]


def wait_until_following(proc: subprocess.Popen[str]) -> str:
    """Read stderr up to the line saying the store is being followed (tail has taken its starting point)."""
    assert proc.stderr is not None
    line = proc.stderr.readline()  # bounded: tail prints this line or exits, closing the pipe
    assert "following" in line, line
    return line


def test_once_prints_the_last_runs_oldest_first(cli: Cli, store_path: pathlib.Path) -> None:
    req = root("req", 0, 100)
    kids = [child(req, f"step-{i}", 10 * i, 10 * i + 5, "tool") for i in range(5)]
    store(store_path, [*kids, req])

    result = cli("tail", "--once", "-n", "3")

    assert result.code == 0, result.err
    assert [line.split()[-2] for line in result.lines] == ["step-3", "step-4", "req"]
    step = result.lines[0]
    assert req.trace_id in step and "api" in step and "tool" in step and step.endswith("5.0ms")
    assert cli("tail", "--once", "-n", "0").out == ""


def test_errors_show_their_first_line(cli: Cli, store_path: pathlib.Path) -> None:
    store(store_path, [root("fine"), child(root("req"), "boom", 1, 2, error="ValueError: no\nmore")])
    result = cli("tail", "--once")
    assert result.lines[-1].endswith("✗ ValueError: no")
    assert "✗" not in result.lines[0]


def test_stops_after_max_seconds_without_new_runs(cli: Cli, store_path: pathlib.Path) -> None:
    store(store_path, [root("old")])
    result = cli("tail", "-n", "0", "--max-seconds", "0")
    assert result.code == 0
    assert result.out == ""
    assert "following" in result.err


def test_follows_runs_written_after_it_started(spawn: Spawn, store_path: pathlib.Path) -> None:
    store(store_path, [root("before-tail")])
    proc = spawn("--db", str(store_path), "--plain", "tail", "-n", "0", "--max-runs", "3", "--max-seconds", "60")
    wait_until_following(proc)

    req = root("after-tail", 0, 50)
    first = child(req, "first", 5, 10)
    store(store_path, [first])
    store(store_path, [child(req, "second", 20, 30, "llm", error="RateLimited: slow down"), req], service="worker")
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert [line.split()[4] for line in lines] == ["first", "second", "after-tail"]
    assert "before-tail" not in out
    assert "worker" in lines[1] and lines[1].endswith("✗ RateLimited: slow down")


def test_ctrl_c_exits_0_without_a_traceback(spawn: Spawn, store_path: pathlib.Path) -> None:
    store(store_path, [root("only")])
    proc = spawn("--db", str(store_path), "--plain", "tail", "--max-seconds", "60")
    wait_until_following(proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "only" in out  # the backlog printed before following
