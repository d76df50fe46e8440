"""`tracing-middleware export`: every run as one JSON line, to stdout or a file, with filters."""

from __future__ import annotations

import json
import os
import pathlib
import pty
import select
import subprocess
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cli_support import Result, child, cli_env, root, store

import tracing_middleware

Cli = Callable[..., Result]
Spawn = Callable[..., subprocess.Popen[str]]


def make_traces(path: pathlib.Path) -> tuple[list[tracing_middleware.RunTree], list[tracing_middleware.RunTree]]:
    """A trace a day old (4 runs) and one from five minutes ago (2 runs)."""
    old = root("old", 0, 100)
    old_runs = [old, *(child(old, f"old-{i}", 10 * i, 10 * i + 5) for i in range(3))]
    new = root("new", 0, 10, base=datetime.now(timezone.utc) - timedelta(minutes=5))
    new_runs = [new, new.create_child("new-child")]
    new_runs[1].end()
    store(path, old_runs)
    store(path, new_runs, service="worker")
    return old_runs, new_runs


def parse(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_stdout_gets_every_run_as_one_json_line(cli: Cli, store_path: pathlib.Path) -> None:
    old_runs, new_runs = make_traces(store_path)
    result = cli("export")
    assert result.code == 0, result.err
    runs = parse(result.out)
    assert sorted(run["id"] for run in runs) == sorted(run.id for run in old_runs + new_runs)
    by_id = {run["id"]: run for run in runs}
    assert by_id[new_runs[1].id]["parent_run_id"] == new_runs[0].id
    assert by_id[new_runs[1].id]["service"] == "worker"
    assert by_id[old_runs[0].id]["dotted_order"] == old_runs[0].dotted_order
    assert result.err == ""


def test_file_output_and_filters(cli: Cli, store_path: pathlib.Path, tmp_path: pathlib.Path) -> None:
    old_runs, new_runs = make_traces(store_path)
    target = tmp_path / "out" / "runs.jsonl"
    target.parent.mkdir()

    result = cli("export", "-o", str(target))
    assert result.code == 0 and result.out == ""
    assert f"wrote 6 runs to {target}" in result.err
    assert len(parse(target.read_text(encoding="utf-8"))) == 6

    trace_only = parse(cli("export", "--trace", old_runs[0].trace_id[:-4]).out)
    assert [run["id"] for run in trace_only] == [run.id for run in sorted(old_runs, key=lambda r: r.dotted_order)]
    recent = parse(cli("export", "--since", "1h").out)
    assert sorted(run["id"] for run in recent) == sorted(run.id for run in new_runs)
    assert [run["name"] for run in parse(cli("export", "--trace", "latest").out)] == ["new", "new-child"]


def test_unknown_trace_and_unwritable_file_exit_1(cli: Cli, store_path: pathlib.Path, tmp_path: pathlib.Path) -> None:
    make_traces(store_path)
    unknown = cli("export", "--trace", "ffffffff")
    assert unknown.code == 1 and unknown.out == "" and "no trace matches" in unknown.err

    unwritable = cli("export", "-o", str(tmp_path))  # a folder
    assert unwritable.code == 1 and unwritable.err.count("\n") == 1 and "cannot write" in unwritable.err


def test_progress_bar_on_a_terminal_still_writes_every_run(
    spawn: Spawn, store_path: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    pytest.importorskip("rich", reason="the progress bar needs rich (the cli extra)")
    many = root("bulk", 0, 5000)
    store(store_path, [many, *(child(many, f"item-{i}", i, i + 1) for i in range(3000))])
    target = tmp_path / "bulk.jsonl"
    leader, follower = pty.openpty()
    try:
        proc = spawn(
            "--db", str(store_path), "export", "-o", str(target),
            stderr=follower, env=cli_env(FORCE_COLOR="1", COLUMNS="100"),
        )  # fmt: skip
        os.close(follower)
        follower = -1
        terminal = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the terminal closed: the process is gone
                    break
                if not chunk:
                    break
                terminal += chunk
            elif proc.poll() is not None:
                break
        proc.communicate(timeout=60)
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert proc.returncode == 0
    assert len(target.read_text(encoding="utf-8").splitlines()) == 3001
    text = terminal.decode("utf-8", "replace")
    assert "exporting runs" in text  # rich drew the bar on the terminal
    assert "wrote 3001 runs" in text
