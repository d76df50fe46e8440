"""Stored text reaches the terminal as text: control sequences and bidi overrides are printed escaped.

A store holds terminal escapes (clear screen, set clipboard, OSC 8 hyperlink, C1 CSI, BEL) and invisible
format characters (bidi overrides and isolates, zero-width space, tag characters, line separator) in
run names, errors, tags, metadata, services and projects. Every command, plain and coloured, must print
none of those characters and show their escaped form instead.
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import unicodedata
from collections.abc import Callable

import pytest
from cli_support import Result, child, cli_env, root, store

import tracing_middleware
from tracing_middleware.cli.output import Printer

Cli = Callable[..., Result]
Spawn = Callable[..., subprocess.Popen[str]]

CLEAR = "\x1b[2J"
CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"
LINK = "\x1b]8;;http://evil.example/\x1b\\here\x1b]8;;\x1b\\"
C1_CSI = "\x9b5;45m"
RLO = "\u202e"
ISOLATE = "\u2066x\u2069"
INVISIBLE = "\u200b\U000e0041\u2028\ufeff"
EVIL_SGR = "\x1b[5;45m"  # blink on magenta: not a style this command ever uses

NAME = f"GET /a{CLEAR}b"
CHILD = f"charge{RLO}gpj.exe"
ERROR = f"ValueError: bad id {CLIPBOARD}{C1_CSI}{LINK}"
SERVICE = f"pay{ISOLATE}"
PROJECT = f"shop{INVISIBLE}"
TAGS = [f"t{EVIL_SGR}", f"u{RLO}"]
METADATA = {"user": f"x{CLEAR}", f"k{C1_CSI}": f"v{INVISIBLE}"}
STORED = [NAME, CHILD, ERROR, SERVICE, PROJECT, *TAGS, *METADATA, *METADATA.values()]

SGR = re.compile(r"\x1b\[([0-9;]*)m")
OUR_SGR_CODES = {"", "0", "1", "2", "22", "39", "31", "32", "33", "34", "35", "36", "37", "90", "94"}


def forbidden(text: str) -> set[str]:
    """Control, format and separator characters in ``text`` (line breaks left out)."""
    return {
        char
        for char in text
        if char != "\n" and unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp") and char not in "\u200c\u200d"
    }


def assert_clean(text: str, *, coloured: bool = False) -> None:
    if coloured:
        for params in SGR.findall(text):
            assert set(params.split(";")) <= OUR_SGR_CODES, params  # only our own styles
        text = SGR.sub("", text)
    assert forbidden(text) == set(), sorted(forbidden(text))


@pytest.fixture
def hostile(store_path: pathlib.Path) -> tracing_middleware.RunTree:
    req = root(NAME, 0, 100, project_name=PROJECT, tags=TAGS, metadata=METADATA)
    bad = child(req, CHILD, 10, 90, "tool", error=ERROR)
    bad.tags = list(TAGS)
    store(store_path, [req, bad], service=SERVICE)
    return req


COMMANDS: list[tuple[str, ...]] = [
    ("traces",),
    ("traces", "--name", "GET"),
    ("show", "latest"),
    ("tail", "--once"),
]


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("coloured", [False, True], ids=["plain", "rich"])
def test_text_commands_print_escapes_not_control_sequences(
    cli: Cli,
    hostile: tracing_middleware.RunTree,
    monkeypatch: pytest.MonkeyPatch,
    argv: tuple[str, ...],
    coloured: bool,
) -> None:
    if coloured:
        pytest.importorskip("rich", reason="the coloured path needs rich (the cli extra)")
        monkeypatch.setenv("FORCE_COLOR", "1")
    result = cli(*argv, plain=not coloured)
    assert result.code == 0, result.err
    assert_clean(result.out, coloured=coloured)
    assert_clean(result.err)
    assert bool(SGR.search(result.out)) == coloured  # the coloured run really went through rich
    plain = SGR.sub("", result.out)
    assert r"GET /a\x1b[2Jb" in plain  # the name, escaped, where the name belongs
    if argv[0] != "traces":
        assert r"charge\u202egpj.exe" in plain
        assert r"ValueError: bad id \x1b]52;c;cm0gLXJmIH4=\x07\x9b5;45m\x1b]8;;http" in plain
        assert r"pay\u2066x" in plain  # tail cuts the service column to 12 cells
    else:
        assert r"\u2066x\u2069" in plain and r"shop\u200b\U000e0041\u2028\ufeff" not in plain  # one project only


def test_show_keeps_its_columns_with_escaped_names(cli: Cli, hostile: tracing_middleware.RunTree) -> None:
    lines = cli("show", "latest").lines
    header, rows = lines[3], lines[4:]
    column = header.index("0 ")
    assert rows[0][column:].startswith("█")
    assert rows[1][column - 2 : column] == "  "  # the escaped name was measured, not the raw one


@pytest.mark.parametrize("coloured", [False, True], ids=["plain", "rich"])
def test_json_outputs_escape_c1_and_format_characters_and_parse_back(
    cli: Cli, hostile: tracing_middleware.RunTree, monkeypatch: pytest.MonkeyPatch, coloured: bool
) -> None:
    if coloured:
        monkeypatch.setenv("FORCE_COLOR", "1")
    shown = cli("show", "--json", "latest", plain=not coloured)
    exported = cli("export", plain=not coloured)
    for result in (shown, exported):
        assert result.code == 0, result.err
        assert_clean(result.out)
        assert "\\u009b" in result.out and "\\u202e" in result.out and "\\u001b" in result.out
        assert "\\udb40\\udc41" in result.out  # a tag character, as a JSON surrogate pair
    runs = {run["name"]: run for run in json.loads(shown.out)}
    assert set(runs) == {NAME, CHILD}  # the escapes are JSON's own: the exact values come back
    assert runs[CHILD]["error"] == ERROR and runs[CHILD]["service"] == SERVICE
    assert runs[NAME]["tags"] == TAGS and runs[NAME]["extra"]["metadata"] == METADATA
    assert runs[NAME]["session_name"] == PROJECT
    assert [json.loads(line)["name"] for line in exported.lines] == [NAME, CHILD]


def test_export_to_a_file_is_escaped_the_same_way(
    cli: Cli, hostile: tracing_middleware.RunTree, tmp_path: pathlib.Path
) -> None:
    target = tmp_path / "runs.jsonl"
    result = cli("export", "-o", str(target))
    assert result.code == 0, result.err
    text = target.read_text(encoding="utf-8")
    assert_clean(text)
    assert [json.loads(line)["error"] for line in text.splitlines()] == [None, ERROR]


def test_error_lines_and_paths_are_escaped(
    cli: Cli, hostile: tracing_middleware.RunTree, tmp_path: pathlib.Path
) -> None:
    missing = cli("traces", db=tmp_path / f"no{CLEAR}where.sqlite3")
    assert missing.code == 1 and "no trace store at" in missing.err
    assert_clean(missing.err)
    assert r"no\x1b[2Jwhere" in missing.err

    unknown = cli("show", f"ab{C1_CSI}")
    assert unknown.code == 1
    assert_clean(unknown.err)
    assert r"\x9b" in unknown.err

    usage = cli("traces", f"--bogus{CLEAR}")
    assert usage.code == 2
    assert_clean(usage.err)
    assert r"--bogus\x1b[2J" in usage.err


def test_stats_and_prune_escape_the_store_path(cli: Cli, tmp_path: pathlib.Path) -> None:
    path = tmp_path / f"odd{RLO}name.sqlite3"
    store(path, [root(NAME, 0, 1)], service=SERVICE)
    for argv in (("stats",), ("stats", "--json"), ("prune", "--older-than", "1w", "--dry-run")):
        result = cli(*argv, db=path)
        assert result.code == 0, result.err
        assert_clean(result.out)
        assert "odd\\u202ename" in result.out, result.out


def test_the_installed_command_prints_escapes(
    spawn: Spawn, hostile: tracing_middleware.RunTree, store_path: pathlib.Path
) -> None:
    proc = spawn("--db", str(store_path), "show", "latest", env=cli_env(FORCE_COLOR="1"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert_clean(out, coloured=True)
    assert r"\x1b]52;c;" in SGR.sub("", out)


@pytest.mark.parametrize("coloured", [False, True], ids=["plain", "rich"])
def test_printer_escapes_any_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, coloured: bool
) -> None:
    """The last guard, for lines no layout built (the demo's response line, future commands)."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = Printer(plain=not coloured)
    out.line([("response: ", "bold"), (f"{{'note': '{CLIPBOARD}{RLO}'}}", "")])
    text = capsys.readouterr().out
    assert_clean(text, coloured=coloured)
    assert r"\x1b]52;c;cm0gLXJmIH4=\x07\u202e" in SGR.sub("", text)
