"""`tracing-middleware show`: the tree, the waterfall column, error marks and the JSON form."""

from __future__ import annotations

import json
import pathlib
import re
import sqlite3
from collections.abc import Callable

from cli_support import Result, child, root, store

from tracing_middleware.cli.render import WATERFALL_WIDTH

Cli = Callable[..., Result]
BAR = "█"


def rows(result: Result) -> list[str]:
    """The run rows and error lines of a plain ``show`` (after the two header lines, a blank and the headings)."""
    assert result.code == 0, result.err
    return result.lines[4:]


def row(result: Result, name: str) -> str:
    [line] = [line for line in rows(result) if re.search(rf"(?:^|[ ─]){re.escape(name)}  ", line)]
    return line


def waterfall_column(result: Result) -> int:
    """Where the waterfall starts: under the ``0`` of the time scale in the headings."""
    match = re.match(r"NAME\s+0", result.lines[3])
    assert match is not None, result.lines[3]
    return match.end() - 1


def test_tree_puts_parents_before_children_and_siblings_by_start(cli: Cli, store_path: pathlib.Path) -> None:
    req = root("req", 0, 100)
    late = child(req, "c-late", 60, 90)
    early = child(req, "c-early", 10, 50)
    g2 = child(early, "g2", 30, 40)
    g1 = child(early, "g1", 20, 25)
    mid = child(req, "c-mid", 50, 55)
    store(store_path, [g2, late, req, g1, mid, early])  # written in no particular order

    result = cli("show", req.trace_id)

    names = [re.sub(r"^[│├└─ ]+", "", line).split()[0] for line in rows(result)]
    assert names == ["req", "c-early", "g1", "g2", "c-mid", "c-late"]
    assert row(result, "req").startswith("req ")
    assert row(result, "c-early").startswith("├─ c-early")
    assert row(result, "g1").startswith("│  ├─ g1")
    assert row(result, "g2").startswith("│  └─ g2")
    assert row(result, "c-mid").startswith("├─ c-mid")
    assert row(result, "c-late").startswith("└─ c-late")
    assert result.lines[0] == f"trace {req.trace_id}  req"
    assert "6 runs" in result.lines[1] and result.lines[1].endswith("ok")


def test_waterfall_bars_sit_at_their_offset_in_one_aligned_column(cli: Cli, store_path: pathlib.Path) -> None:
    req = root("request", 0, 100)
    first = child(req, "first-tenth", 0, 10, "tool")
    second = child(req, "second-half", 50, 100, "llm")
    deep = child(req, "a-deeper-branch", 20, 40)
    deeper = child(deep, "with-a-rather-long-name-that-widens-the-name-column", 25, 30, "retriever")
    tiny = child(deeper, "tiny", 26, 26.001, "parser")
    store(store_path, [req, first, second, deep, deeper, tiny])

    result = cli("show", req.trace_id)
    col = waterfall_column(result)

    assert result.lines[3][col:].startswith("0" + " " * 30)  # the scale: 0 ... 100.0ms over the bar cells
    assert result.lines[3][col : col + WATERFALL_WIDTH].endswith("100.0ms")
    for line in rows(result):
        # Every row has the same columns: two blanks, 40 cells of bar or blank, two blanks, the run type.
        assert line[col - 2 : col] == "  ", line
        assert set(line[col : col + WATERFALL_WIDTH]) <= {" ", BAR}, line
        assert BAR in line[col : col + WATERFALL_WIDTH], line
        assert line[col + WATERFALL_WIDTH : col + WATERFALL_WIDTH + 2] == "  ", line
        assert line[col + WATERFALL_WIDTH + 2] != " ", line
    bars = {name: row(result, name)[col : col + WATERFALL_WIDTH] for name in ("request", "first-tenth", "second-half")}
    assert bars["request"] == BAR * 40
    assert bars["first-tenth"] == BAR * 4 + " " * 36
    assert bars["second-half"] == " " * 20 + BAR * 20  # half the trace in: begins half-way
    assert row(result, "a-deeper-branch")[col : col + WATERFALL_WIDTH] == " " * 8 + BAR * 8 + " " * 24
    # A 1 µs run still gets one cell, at 26% of 40 cells.
    assert row(result, "tiny")[col : col + WATERFALL_WIDTH] == " " * 10 + BAR + " " * 29
    assert re.search(r"llm\s+50\.0ms  api$", row(result, "second-half"))


def test_errors_are_marked_with_the_first_line_of_the_error(cli: Cli, store_path: pathlib.Path) -> None:
    req = root("checkout", 0, 100)
    pay = child(req, "charge", 10, 90, error="TimeoutError: payment gateway timed out\n  at line 2 of the trace")
    fine = child(req, "audit", 90, 95)
    store(store_path, [req, pay, fine])

    result = cli("show", req.trace_id)

    lines = rows(result)
    index = lines.index(row(result, "charge"))
    assert lines[index].startswith("├─ ✗ charge")
    assert lines[index + 1] == "│     ✗ TimeoutError: payment gateway timed out"  # under the name, guides kept
    assert "line 2 of the trace" not in result.out
    assert "✗" not in row(result, "audit")
    assert result.lines[1].endswith("1 error")


def test_running_and_orphaned_runs_still_have_a_place(cli: Cli, store_path: pathlib.Path) -> None:
    req = root("req", 0, 100)
    middle = child(req, "lost-parent", 10, 80)
    orphan = child(middle, "orphan", 20, 30)
    running = child(req, "still-running", 60, None)
    store(store_path, [req, orphan, running])  # "lost-parent" never reached the store

    result = cli("show", req.trace_id)
    col = waterfall_column(result)

    assert row(result, "orphan").startswith("├─ orphan")  # under its nearest stored ancestor
    assert "lost-parent" not in result.out
    line = row(result, "still-running")
    assert line.startswith("└─ still-running") and "running" in line.split("still-running", 1)[1]
    assert line[col : col + WATERFALL_WIDTH] == " " * 24 + BAR * 16  # runs on to the end of the trace


def test_json_lists_every_run_in_dotted_order(cli: Cli, store_path: pathlib.Path) -> None:
    req = root("req", 0, 100, project_name="shop")
    kids = [child(req, f"step-{i}", 10 * i, 10 * i + 5, error="bad" if i == 2 else None) for i in range(4)]
    store(store_path, [req, *kids], service="checkout")

    result = cli("show", "--json", req.trace_id)

    assert result.code == 0
    runs = json.loads(result.out)
    assert [run["id"] for run in runs] == [req.id] + [kid.id for kid in kids]
    assert [run["dotted_order"] for run in runs] == sorted(run["dotted_order"] for run in runs)
    assert {run["service"] for run in runs} == {"checkout"}
    assert runs[3]["error"] == "bad" and runs[0]["session_name"] == "shop"


def test_latest_prefix_and_w3c_ids_name_a_trace(cli: Cli, store_path: pathlib.Path) -> None:
    older = root("older", 0, 10)
    newer = root("newer", 500, 510)
    store(store_path, [older, newer])

    assert cli("show", "latest").lines[0] == f"trace {newer.trace_id}  newer"
    assert cli("show", older.trace_id[:-6]).lines[0] == f"trace {older.trace_id}  older"
    assert cli("show", older.trace_id.replace("-", "").upper()).lines[0] == f"trace {older.trace_id}  older"


def test_unknown_ambiguous_and_empty_give_one_line_and_status_1(cli: Cli, store_path: pathlib.Path) -> None:
    store(store_path, [root("a", id="aaaa0000-0000-7000-8000-000000000001")])
    store(store_path, [root("b", id="aaaa0000-0000-7000-8000-000000000002")])

    for argv, words in (
        (("show", "ffff"), "no trace matches 'ffff'"),
        (("show", "aaaa0000"), "matches several traces"),
        (("show", "--json", "0123"), "no trace matches"),
    ):
        result = cli(*argv)
        assert result.code == 1, argv
        assert result.out == ""
        assert result.err.count("\n") == 1 and words in result.err, result.err
        assert "Traceback" not in result.err


def test_latest_in_an_empty_store_says_so(cli: Cli, store_path: pathlib.Path) -> None:
    store(store_path, [root("gone", 0, 1)])
    with sqlite3.connect(store_path) as conn:
        conn.execute("DELETE FROM runs")
    result = cli("show", "latest")
    assert result.code == 1
    assert "no traces" in result.err


def test_very_deep_traces_keep_names_and_the_waterfall_column(cli: Cli, store_path: pathlib.Path) -> None:
    runs = [root("top", 0, 100)]
    for depth in range(1, 80):
        runs.append(child(runs[-1], f"level-{depth}", depth, 100 - depth / 2))
    store(store_path, runs)

    result = cli("show", runs[0].trace_id)
    col = waterfall_column(result)

    assert len(rows(result)) == 80
    assert col <= 80  # the name column does not grow with depth
    for line in rows(result):
        assert line[col - 2 : col] == "  " and line[col + WATERFALL_WIDTH : col + WATERFALL_WIDTH + 2] == "  ", line
    assert row(result, "level-79").startswith("…")


def test_log_and_retry_events_are_printed_under_their_run(cli: Cli, store_path: pathlib.Path) -> None:
    req = root("checkout", 0, 100)
    req.add_event("log", level="WARNING", logger="shop", message="stock low\nsecond line")
    req.add_event("websocket.close", code=1000)
    req.add_event("log", level="ERROR", logger="shop", message="\x1b[2Jcleared")
    task = child(req, "tasks.charge", 10, 90)
    task.add_event("retry", reason="Retry in 1s: ConnectionError('gateway')")
    store(store_path, [req, task])

    result = cli("show", req.trace_id)

    lines = rows(result)
    assert lines[lines.index(row(result, "checkout")) + 1] == "│  · WARNING shop: stock low"
    under_task = lines[lines.index(row(result, "tasks.charge")) + 1]
    assert under_task == "      · retry: Retry in 1s: ConnectionError('gateway')"
    assert lines[lines.index(row(result, "checkout")) + 2] == "│  · ERROR shop: \\x1b[2Jcleared"  # escaped, not sent
    assert "second line" not in result.out and "websocket" not in result.out
