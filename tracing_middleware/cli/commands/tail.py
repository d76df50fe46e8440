"""``tracing-middleware tail``: the last runs, then every run as it is stored, until Ctrl-C."""

from __future__ import annotations

import argparse
import time
from typing import Any

from tracing_middleware.cli.args import EXIT_OK, non_negative, open_store, positive
from tracing_middleware.cli.output import Printer, warn
from tracing_middleware.cli.render import tail_line
from tracing_middleware.exporters.sqlite_read import TraceStore

HELP = "Print runs as they are stored (every 0.5 s), until Ctrl-C."
POLL_SECONDS = 0.5
BATCH = 500


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add this command's subparser and its arguments."""
    parser: argparse.ArgumentParser = subparsers.add_parser("tail", help=HELP, description=HELP)
    parser.add_argument("-n", "--lines", type=int, default=10, metavar="N", help="first print the last N runs (10)")
    parser.add_argument("--once", action="store_true", help="print the last runs and stop instead of following")
    parser.add_argument("--max-seconds", type=non_negative, metavar="S", help="stop following after S seconds")
    parser.add_argument("--max-runs", type=positive, metavar="N", help="stop after printing N new runs")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the command; the exit status."""
    out = Printer.for_args(args)
    try:
        with open_store(args) as store:
            cursor = store.last_rowid()
            for stored in store.runs_since(max(0, cursor - args.lines)) if args.lines > 0 else []:
                out.line(tail_line(stored, out.glyphs))
            out.flush()
            if not args.once:
                warn(f"following {store.path} (Ctrl-C to stop)")
                _follow(store, cursor, args, out)
    except KeyboardInterrupt:  # the usual way to stop following
        pass
    finally:
        out.flush()
    return EXIT_OK


def _follow(store: TraceStore, cursor: int, args: argparse.Namespace, out: Printer) -> None:
    deadline = None if args.max_seconds is None else time.monotonic() + args.max_seconds
    printed = 0
    while True:
        batch = store.runs_since(cursor, limit=BATCH)
        for stored in batch:
            out.line(tail_line(stored, out.glyphs))
            cursor = stored.rowid
            printed += 1
            if args.max_runs is not None and printed >= args.max_runs:
                return
        out.flush()
        if len(batch) == BATCH:
            continue  # more are waiting: no pause
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return
        time.sleep(POLL_SECONDS if left is None else min(POLL_SECONDS, left))
