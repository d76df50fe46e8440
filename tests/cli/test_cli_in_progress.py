"""Traces whose root run is not stored yet are marked in progress; ``traces --name`` matches substrings."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

from cli_support import Result, child, root, store

from tracing_middleware import RunTree

Cli = Callable[..., Result]


def status(line: str) -> str:
    return line.rsplit("  ", 1)[-1].strip()


def test_children_stored_before_their_root_are_not_shown_as_the_root(cli: Cli, store_path: pathlib.Path) -> None:
    req = root("POST /checkout", 0, 100)
    auth = child(req, "auth", 5, 20, "tool")
    charge = child(req, "charge", 30, 90, "tool")
    store(store_path, [auth, charge])  # the request run is still open: only its children are stored

    listing = cli("traces")
    assert listing.code == 0, listing.err
    row = listing.lines[1]
    assert row.startswith(req.trace_id + "  … auth")  # the top stored run, marked as not the root
    assert status(row) == "in progress"

    shown = cli("show", req.trace_id)
    assert shown.lines[0] == f"trace {req.trace_id}  … auth"
    assert shown.lines[1].endswith("2 runs  in progress")
    assert shown.lines[4] == f"… root not stored yet (parent {req.id})"
    assert shown.lines[5].startswith("├─ auth ")
    assert shown.lines[6].startswith("└─ charge ")
    assert "█" not in shown.lines[4]  # the placeholder has no bar: nothing is known of its timing

    store(store_path, [req])  # the request finished
    assert listing_status(cli) == "ok"
    done = cli("show", req.trace_id)
    assert done.lines[0] == f"trace {req.trace_id}  POST /checkout"
    assert done.lines[1].endswith("3 runs  ok")
    assert "root not stored" not in done.out and done.lines[4].startswith("POST /checkout ")


def listing_status(cli: Cli) -> str:
    result = cli("traces")
    assert result.code == 0, result.err
    return status(result.lines[1])


def test_a_continued_trace_whose_caller_is_not_stored_is_in_progress(cli: Cli, store_path: pathlib.Path) -> None:
    upstream = root("client call", 0, 100)
    remote = RunTree.from_headers({"langsmith-trace": upstream.dotted_order})  # as a service receives it
    assert remote is not None
    served = child(remote, "GET /items", 10, 90)
    store(store_path, [served, child(served, "db", 1, 2, error="OperationalError: locked")])

    row = cli("traces").lines[1]
    assert "… GET /items" in row and status(row) == "1 error, in progress"
    shown = cli("show", "latest")
    assert shown.lines[1].endswith("1 error, in progress")
    assert shown.lines[4] == f"… root not stored yet (parent {upstream.id})"


def test_an_unfinished_run_makes_the_trace_in_progress(cli: Cli, store_path: pathlib.Path) -> None:
    req = root("stream", 0, None)
    store(store_path, [req])
    assert listing_status(cli) == "in progress"
    shown = cli("show", "latest")
    assert shown.lines[0] == f"trace {req.trace_id}  stream"  # the root is stored: no placeholder
    assert shown.lines[1].endswith("in progress") and "root not stored" not in shown.out


def names(result: Result) -> list[str]:
    assert result.code == 0, result.err
    return [line.split("  ")[1].strip() for line in result.lines[1:]]


def test_name_matches_a_part_of_the_root_name_in_any_case(cli: Cli, store_path: pathlib.Path) -> None:
    store(
        store_path,
        [
            root("GET /checkout", 0, 1),
            root("POST /checkout/pay", 10, 11),
            root("GET /health", 20, 21),
            root("report 100%", 30, 31),
            root("axb", 40, 41),
        ],
    )
    cart = root("GET /cart", 50, 60)
    store(store_path, [cart, child(cart, "checkout-step", 51, 52)])  # only a child's name matches: not listed

    assert names(cli("traces", "--name", "checkout")) == ["POST /checkout/pay", "GET /checkout"]
    assert names(cli("traces", "--name", "CHECKOUT")) == ["POST /checkout/pay", "GET /checkout"]
    assert names(cli("traces", "--name", "GET /health")) == ["GET /health"]
    assert names(cli("traces", "--name", "100%")) == ["report 100%"]  # % and _ are plain characters
    no_match = cli("traces", "--name", "a_b")
    assert no_match.code == 0 and no_match.out == "" and "no traces match" in no_match.err
