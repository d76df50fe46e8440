"""`prune`, `stats`, and how a command is registered; the console script and `python -m` entry points."""

from __future__ import annotations

import argparse
import json
import pathlib
import types
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from importlib import metadata
from typing import Any

import pytest
from cli_support import Result, child, root, store

import tracing_middleware.cli
from tracing_middleware.cli import COMMANDS, main
from tracing_middleware.cli.commands import stats

Cli = Callable[..., Result]
NOW = datetime.now(timezone.utc)


@pytest.fixture
def aged(store_path: pathlib.Path) -> pathlib.Path:
    """Three traces: 10 days old (3 runs, one failed), 2 days old (1 run), 1 minute old (2 runs)."""
    ten_days = NOW - timedelta(days=10)
    old = root("old", 0, 50, base=ten_days)
    store(store_path, [old, child(old, "a", 1, 2, error="boom", base=ten_days), child(old, "b", 3, 4, base=ten_days)])
    store(store_path, [root("middle", 0, 5, base=NOW - timedelta(days=2))], service="worker")
    minute = NOW - timedelta(minutes=1)
    fresh = root("fresh", 0, 5, base=minute)
    store(store_path, [fresh, child(fresh, "c", 1, 2, base=minute)])
    return store_path


def test_prune_deletes_older_traces_and_reports_sizes(cli: Cli, aged: pathlib.Path) -> None:
    dry = cli("prune", "--older-than", "7d", "--dry-run")
    assert dry.code == 0, dry.err
    assert dry.out == f"would delete 1 trace (3 runs) from {aged}\n"

    result = cli("prune", "--older-than", "7d")
    assert result.code == 0, result.err
    assert result.lines[0] == f"deleted 1 trace (3 runs) from {aged}"
    assert result.lines[1].startswith("size: ") and "(vacuumed, " in result.lines[1]
    assert [line.split("  ")[1].strip() for line in cli("traces").lines[1:]] == ["fresh", "middle"]

    again = cli("prune", "--older-than", "36h", "--no-vacuum")
    assert again.lines[0] == f"deleted 1 trace (1 run) from {aged}"
    assert "not vacuumed" in again.lines[1]
    nothing = cli("prune", "--older-than", "30m")
    assert nothing.lines[0] == f"deleted 0 traces (0 runs) from {aged}"


@pytest.mark.parametrize("argv", [["prune"], ["prune", "--older-than", "7 days"], ["prune", "--older-than=-1d"]])
def test_prune_usage_errors_exit_2(cli: Cli, aged: pathlib.Path, argv: list[str]) -> None:
    result = cli(*argv)
    assert result.code == 2 and "usage:" in result.err
    assert "expected a duration like 30s, 10m, 12h, 7d" in result.err or "required" in result.err
    assert cli("stats", "--json").code == 0 and json.loads(cli("stats", "--json").out)["store"]["runs"] == 6


def test_prune_and_stats_on_a_missing_store_exit_1_and_create_nothing(cli: Cli, store_path: pathlib.Path) -> None:
    for argv in (["prune", "--older-than", "1d"], ["stats"]):
        result = cli(*argv)
        assert result.code == 1 and result.out == ""
        assert result.err.count("\n") == 1 and "no trace store at" in result.err
    assert not store_path.exists()


def test_stats_prints_size_counts_and_time_span(cli: Cli, aged: pathlib.Path) -> None:
    result = cli("stats")
    assert result.code == 0, result.err
    lines = result.lines[: result.lines.index("")] if "" in result.lines else result.lines  # the store section
    assert lines[0] == "trace store"
    fields = dict(line.strip().split("  ", 1) for line in lines[1:])
    fields = {key: value.strip() for key, value in fields.items()}
    assert fields["path"] == str(aged)
    assert fields["traces"] == "3" and fields["runs"] == "6" and fields["failed runs"] == "1"
    assert fields["services"] == "2"
    assert fields["size on disk"].endswith("KiB")
    assert fields["oldest run"] == (NOW - timedelta(days=10)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert len({line.index(value) for line, value in zip(lines[1:], fields.values(), strict=True)}) == 1

    numbers = json.loads(cli("stats", "--json").out)["store"]
    assert numbers["traces"] == 3 and numbers["runs"] == 6 and numbers["size_bytes"] >= aged.stat().st_size
    assert numbers["oldest_us"] < numbers["newest_us"]


def test_stats_takes_more_sections_from_one_function_each(
    cli: Cli, aged: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def exporters(args: argparse.Namespace) -> stats.Section:
        return stats.Section("exporters", "exporters", [stats.Stat("sqlite_failed", "sqlite failed", 2)])

    monkeypatch.setattr(stats, "SECTIONS", [*stats.SECTIONS, exporters, lambda args: None])
    text = cli("stats").out
    assert "trace store" in text and text.endswith("\nexporters\n  sqlite failed  2\n")
    assert json.loads(cli("stats", "--json").out)["exporters"] == {"sqlite_failed": 2}


def test_an_extra_command_is_one_module_in_commands(
    cli: Cli, aged: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[argparse.Namespace] = []
    extra = types.ModuleType("hello")

    def add_parser(subparsers: Any) -> None:  # returns nothing: the registry finds the new subparser itself
        parser = subparsers.add_parser("hello", help="Say hello.")
        parser.add_argument("--port", type=int, default=8000)

    def run(args: argparse.Namespace) -> int:
        seen.append(args)
        return 7

    extra.add_parser = add_parser  # type: ignore[attr-defined]
    extra.run = run  # type: ignore[attr-defined]
    monkeypatch.setattr(tracing_middleware.cli, "COMMANDS", (*COMMANDS, extra))

    assert cli("hello", "--port", "0").code == 7
    assert seen[0].port == 0 and seen[0].db == str(aged)  # the global options reach it too
    assert "Say hello." in cli("--help").out
    assert cli("traces").code == 0


def test_the_console_script_runs_main() -> None:
    [script] = [ep for ep in metadata.entry_points(group="console_scripts") if ep.name == "tracing-middleware"]
    assert script.value == "tracing_middleware.cli:main"
    assert script.load() is main
