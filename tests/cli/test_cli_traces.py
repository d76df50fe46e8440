"""`tracing-middleware traces`, global options and exit statuses; the `python -m` entry point."""

from __future__ import annotations

import pathlib
import sqlite3
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from cli_support import Result, child, root, store

import tracing_middleware
from tracing_middleware.cli import COMMANDS, parse_since

Cli = Callable[..., Result]
Traces = dict[str, tracing_middleware.RunTree]
NOW = datetime.now(timezone.utc)


def listed(result: Result) -> list[str]:
    """Root names of the listed traces, top to bottom."""
    assert result.code == 0, result.err
    assert result.lines[0].split() == ["TRACE", "NAME", "SERVICES", "RUNS", "START", "DURATION", "STATUS"]
    return [line.split("  ")[1].strip() for line in result.lines[1:]]


@pytest.fixture
def three_traces(store_path: pathlib.Path) -> Traces:
    """checkout (api+payments, 2 errors, 1 day old), health (api, recent), report (worker, 3 days old)."""
    checkout = root("GET /checkout", 0, 120)
    charge = child(checkout, "charge", 60, 115, error="RuntimeError: declined")
    score = child(charge, "score", 65, 110, "llm", error="TimeoutError")
    auth = child(checkout, "auth", 2, 14, "tool")
    store(store_path, [auth, checkout])
    store(store_path, [score, charge], service="payments")
    health = root("GET /health", 0, 1, base=NOW - timedelta(minutes=5))
    store(store_path, [health])
    report = root("nightly-report", 0, 2500, base=NOW - timedelta(days=3))
    store(store_path, [report], service="worker")
    return {"checkout": checkout, "health": health, "report": report}


def test_lists_newest_first_with_services_counts_duration_and_status(
    cli: Cli, three_traces: dict[str, tracing_middleware.RunTree]
) -> None:
    result = cli("traces")
    assert listed(result) == ["GET /health", "GET /checkout", "nightly-report"]
    checkout = result.lines[2]
    assert checkout.startswith(three_traces["checkout"].trace_id + "  GET /checkout")
    cells = checkout.split()
    assert "api,payments" in cells and "4" in cells and "120.0ms" in cells
    assert checkout.endswith("2 errors")
    assert result.lines[1].endswith("  ok") and "1.0ms" in result.lines[1]
    assert "2.50s" in result.lines[3]
    # The start column is local time; all rows keep their columns aligned.
    start = datetime.fromtimestamp(three_traces["checkout"].start_us / 1e6).strftime("%Y-%m-%d %H:%M:%S")
    assert start in checkout
    assert len({line.index(" ok") if " ok" in line else line.index(" 2 errors") for line in result.lines[1:]}) == 1


def test_filters_narrow_the_list(cli: Cli, three_traces: Traces) -> None:
    assert listed(cli("traces", "--errors")) == ["GET /checkout"]
    assert listed(cli("traces", "--service", "payments")) == ["GET /checkout"]
    assert listed(cli("traces", "--service", "worker")) == ["nightly-report"]
    assert listed(cli("traces", "--name", "GET /health")) == ["GET /health"]
    assert listed(cli("traces", "--since", "2h")) == ["GET /health"]
    assert listed(cli("traces", "--since", "2d")) == ["GET /health", "GET /checkout"]
    assert listed(cli("traces", "--limit", "1")) == ["GET /health"]
    assert listed(cli("traces", "--project", "default")) == ["GET /health", "GET /checkout", "nightly-report"]


def test_no_match_says_so_on_stderr_and_succeeds(cli: Cli, three_traces: Traces) -> None:
    result = cli("traces", "--service", "nobody")
    assert result.code == 0
    assert result.out == ""
    assert "no traces match" in result.err


def test_projects_get_a_column_when_there_are_several(cli: Cli, store_path: pathlib.Path) -> None:
    store(store_path, [root("a", 0, 1, project_name="shop"), root("b", 5, 6, project_name="billing")])
    result = cli("traces")
    assert result.lines[0].split() == ["TRACE", "NAME", "SERVICES", "PROJECT", "RUNS", "START", "DURATION", "STATUS"]
    assert "billing" in result.lines[1] and "shop" in result.lines[2]
    assert listed(cli("traces", "--project", "shop")) == ["a"]


def test_long_names_are_cut_so_columns_stay_aligned(cli: Cli, store_path: pathlib.Path) -> None:
    long_name = "GET /api/v2/" + "very-long-segment/" * 6
    store(store_path, [root(long_name, 0, 5), root("short", 10, 11)])
    result = cli("traces")
    assert long_name not in result.out
    assert long_name[:47] + "…" in result.lines[2]
    assert len({line.index("api ") for line in result.lines[1:]}) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["traces", "--since", "5 parsecs"],
        ["traces", "--limit", "0"],
        ["traces", "--bogus"],
        ["show"],
        ["no-such-command"],
        [],
    ],
)
def test_usage_errors_exit_2(cli: Cli, store_path: pathlib.Path, argv: list[str]) -> None:
    store(store_path, [root("a")])
    result = cli(*argv)
    assert result.code == 2
    assert "usage:" in result.err and "Traceback" not in result.err


def test_missing_corrupt_and_foreign_files_exit_1_with_one_line(
    cli: Cli, store_path: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    missing = cli("traces")
    assert missing.code == 1 and missing.out == ""
    assert missing.err.count("\n") == 1 and "no trace store at" in missing.err

    store_path.write_bytes(b"this is not a database, just some bytes " * 200)
    corrupt = cli("show", "latest")
    assert corrupt.code == 1 and corrupt.err.count("\n") == 1 and "Traceback" not in corrupt.err

    foreign = tmp_path / "other.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    for argv in (["traces"], ["tail", "--once"], ["export"], ["show", "latest"]):
        result = cli(*argv, db=foreign)
        assert result.code == 1, argv
        assert result.err.count("\n") == 1 and "not a trace store" in result.err


def test_db_defaults_to_the_environment_variable(
    cli: Cli, store_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(store_path, [root("from-env")])
    monkeypatch.setenv("TRACING_MIDDLEWARE_DB", str(store_path))
    assert listed(cli("traces", db=False)) == ["from-env"]


def test_version(cli: Cli) -> None:
    result = cli("--version", db=False)
    assert result.code == 0
    assert result.out.strip() == f"tracing-middleware {tracing_middleware.__version__}"


def test_help_lists_every_command(cli: Cli) -> None:
    result = cli("--help", db=False)
    assert result.code == 0
    names = ["traces", "show", "tail", "export", "stats", "prune", "serve", "demo"]
    assert len(COMMANDS) == len(names)
    for name in names:
        assert name in result.out


def test_since_accepts_ages_and_iso_times() -> None:
    now = 1_700_000_000_000_000
    assert parse_since("90s", now) == now - 90_000_000
    assert parse_since("10m", now) == now - 600_000_000
    assert parse_since("2h", now) == now - 7_200_000_000
    assert parse_since("1.5d", now) == now - 129_600_000_000
    assert parse_since("1w", now) == now - 604_800_000_000
    assert parse_since("2024-05-01T12:00:00+00:00") == 1_714_564_800_000_000


def test_module_entry_point_lists_traces(spawn: Callable[..., subprocess.Popen[str]], store_path: pathlib.Path) -> None:
    trace = root("via-python-m")
    store(store_path, [trace])
    proc = spawn("--db", str(store_path), "traces")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert trace.trace_id in out and "via-python-m" in out

    missing = spawn("--db", str(store_path.with_name("nope.sqlite3")), "traces")
    out, err = missing.communicate(timeout=60)
    assert missing.returncode == 1 and out == ""
    assert err.count("\n") == 1 and "no trace store" in err
