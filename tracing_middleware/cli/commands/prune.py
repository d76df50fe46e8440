"""``tracing-middleware prune``: delete whole traces older than an age from the SQLite store."""

from __future__ import annotations

import argparse
from typing import Any

from tracing_middleware.cli.args import EXIT_OK, parse_duration
from tracing_middleware.cli.output import Printer
from tracing_middleware.cli.text import format_size
from tracing_middleware.exporters.sqlite_prune import prune
from tracing_middleware.exporters.sqlite_schema import default_path

HELP = "Delete whole traces whose newest run is older than an age (30m, 12h, 7d), then shrink the file."


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add this command's subparser and its arguments."""
    parser: argparse.ArgumentParser = subparsers.add_parser("prune", help=HELP, description=HELP)
    parser.add_argument(
        "--older-than", type=parse_duration, required=True, metavar="AGE", help="30m, 12h, 7d, 2w, ... (required)"
    )
    parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
    parser.add_argument(
        "--no-vacuum", action="store_true", help="keep the freed space in the file for new runs (no VACUUM)"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the command; the exit status."""
    out = Printer.for_args(args)
    path = default_path() if args.db is None else args.db
    result = prune(path, args.older_than, vacuum=not args.no_vacuum, dry_run=args.dry_run)
    runs = f"{result.runs} run{'s' if result.runs != 1 else ''}"
    traces = f"{result.traces} trace{'s' if result.traces != 1 else ''}"
    if args.dry_run:
        out.line([(f"would delete {traces} ({runs}) from {path}", "")])
        return EXIT_OK
    out.line([(f"deleted {traces} ({runs}) from {path}", "bold" if result.traces else "")])
    size = f"size: {format_size(result.size_before)} -> {format_size(result.size_after)}"
    if result.vacuumed:
        size += f" (vacuumed, {format_size(result.freed)} freed)"
    elif result.runs and args.no_vacuum:
        size += " (not vacuumed: the freed pages are reused by new runs)"
    out.line([(size, "dim")])
    return EXIT_OK
