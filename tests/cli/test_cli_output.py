"""Both output paths: rich (colors, when installed) and plain text (forced, or rich missing), same columns."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
from collections.abc import Callable

import pytest
from cli_support import Result, child, cli_env, root, store

import tracing_middleware
from tracing_middleware.cli.text import cell_width, format_duration

Cli = Callable[..., Result]
Spawn = Callable[..., subprocess.Popen[str]]
SGR = re.compile(r"\x1b\[([0-9;]*)m")
COLOR_CODES = {*range(30, 39), *range(40, 49), *range(90, 98), *range(100, 108)}


def strip(text: str) -> str:
    return SGR.sub("", text)


def colors(text: str) -> set[int]:
    """The color codes used by the SGR escapes in ``text`` (bold, dim and resets left out)."""
    found: set[int] = set()
    for params in SGR.findall(text):
        found.update(int(p) for p in params.split(";") if p and int(p) in COLOR_CODES)
    return found


@pytest.fixture
def trace(store_path: pathlib.Path) -> tracing_middleware.RunTree:
    req = root("checkout", 0, 100)
    ok = child(req, "lookup", 5, 20, "retriever")
    bad = child(req, "charge", 30, 90, "tool", error="RuntimeError: declined")
    store(store_path, [req, ok, bad])
    return req


def test_rich_colors_errors_red_and_keeps_the_plain_layout(
    cli: Cli, trace: tracing_middleware.RunTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("rich", reason="the rich path needs rich (the cli extra)")
    plain = cli("show", trace.trace_id)
    monkeypatch.setenv("FORCE_COLOR", "1")
    rich = cli("show", trace.trace_id, plain=False)

    assert rich.code == 0
    assert strip(rich.out) == plain.out
    error_row = next(line for line in rich.out.splitlines() if "charge" in line)
    assert 31 in colors(error_row)  # red
    assert 31 not in colors(next(line for line in rich.out.splitlines() if "lookup" in line))

    table_plain = cli("traces")
    table_rich = cli("traces", plain=False)
    assert strip(table_rich.out) == table_plain.out and 31 in colors(table_rich.out)


def test_no_color_drops_colors_from_rich_output(
    cli: Cli, trace: tracing_middleware.RunTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("rich", reason="the rich path needs rich (the cli extra)")
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    result = cli("show", trace.trace_id, plain=False)
    assert result.code == 0
    assert colors(result.out) == set()
    assert "✗ charge" in result.out  # the marker, not the color, says which run failed


@pytest.mark.parametrize("how", ["option", "env", "rich-missing"])
def test_plain_text_when_forced_or_without_rich(
    cli: Cli, trace: tracing_middleware.RunTree, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # would make rich emit escapes even into a pipe
    if how == "env":
        monkeypatch.setenv("TRACING_MIDDLEWARE_PLAIN", "1")
    if how == "rich-missing":
        for name in [m for m in sys.modules if m == "rich" or m.startswith("rich.")] + ["rich"]:
            monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: "import rich" raises ImportError
    for argv in (("show", trace.trace_id), ("traces",), ("tail", "--once")):
        result = cli(*argv, plain=how == "option")
        assert result.code == 0, result.err
        assert "\x1b" not in result.out, argv
    assert "└─ ✗ charge" in cli("show", trace.trace_id, plain=how == "option").out


def test_ascii_terminal_gets_ascii_guides_and_bars(
    spawn: Spawn, trace: tracing_middleware.RunTree, store_path: pathlib.Path
) -> None:
    proc = spawn("--db", str(store_path), "--plain", "show", "latest", env=cli_env(PYTHONIOENCODING="ascii"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.isascii()
    assert "|- lookup" in out and "`- ! charge" in out and "#" * 40 in out
    assert "! RuntimeError: declined" in out


def test_ascii_terminal_survives_names_it_cannot_show(spawn: Spawn, store_path: pathlib.Path) -> None:
    req = root("注文", 0, 10)
    store(store_path, [req, child(req, "café", 1, 2, error="Fehler: ungültig")])
    for argv, check in (
        (("--plain", "show", "latest"), lambda out: "?? " in out and "caf?" in out and "ung?ltig" in out),
        (("show", "latest"), lambda out: "caf?" in out),
        (("--plain", "tail", "--once"), lambda out: "caf?" in out),
        (("show", "--json", "latest"), lambda out: json.loads(out)[0]["name"] == "注文"),
        (("export",), lambda out: json.loads(out.splitlines()[1])["error"] == "Fehler: ungültig"),
    ):
        proc = spawn("--db", str(store_path), *argv, env=cli_env(PYTHONIOENCODING="ascii"))
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, (argv, err)
        assert out.isascii() and check(out), (argv, out)


def test_wide_characters_keep_the_columns_aligned(cli: Cli, store_path: pathlib.Path) -> None:
    req = root("注文を処理する", 0, 100)
    store(store_path, [req, child(req, "step", 50, 100)])
    lines = cli("show", "latest").lines
    header, rows = lines[3], lines[4:]
    column = cell_width(header[: header.index("0 ")])
    for line in rows:
        assert cell_width(line[: line.index("█")]) in (column, column + 20), line
    assert cell_width(rows[0][: rows[0].index("█")]) == column


@pytest.mark.parametrize(
    ("us", "text"),
    [(None, "running"), (0, "0us"), (999, "999us"), (12_345, "12.3ms"), (1_234_567, "1.23s"), (125_000_000, "2m05s")],
)
def test_durations_read_naturally(us: int | None, text: str) -> None:
    assert format_duration(us) == text
