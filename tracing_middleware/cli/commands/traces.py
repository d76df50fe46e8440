"""``tracing-middleware traces``: list recent traces with their services, run count, timing and status."""

from __future__ import annotations

import argparse
from typing import Any

from tracing_middleware.cli.args import EXIT_OK, open_store, parse_since, positive
from tracing_middleware.cli.output import Printer, warn
from tracing_middleware.cli.render import Line, Segment, render_table, status_segments
from tracing_middleware.cli.text import Glyphs, format_duration, format_local, shown
from tracing_middleware.exporters.sqlite_read import TraceSummary

HELP = "List recent traces: root run, services, run count, start, duration and status."


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add this command's subparser and its arguments."""
    parser: argparse.ArgumentParser = subparsers.add_parser("traces", help=HELP, description=HELP)
    parser.add_argument("--project", help="only traces with a run in this project")
    parser.add_argument("--service", help="only traces with a run from this service")
    parser.add_argument(
        "--name", metavar="TEXT", help="only traces whose root run's name contains TEXT (ASCII letters in any case)"
    )
    parser.add_argument("--errors", action="store_true", help="only traces with at least one failed run")
    parser.add_argument("--since", type=parse_since, metavar="AGE", help="only traces started within AGE (10m, 2h, 1d)")
    parser.add_argument("--limit", type=positive, default=50, help="show at most this many traces (default 50)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the command; the exit status."""
    out = Printer.for_args(args)
    with open_store(args) as store:
        summaries = store.list_traces(
            project=args.project, service=args.service, name_contains=args.name,
            errors_only=args.errors, since_us=args.since, limit=args.limit,
        )  # fmt: skip
        if not summaries:
            warn(f"no traces match in {store.path}")
            return EXIT_OK
    out.lines(trace_table(summaries, out.glyphs))
    return EXIT_OK


def trace_table(summaries: list[TraceSummary], glyphs: Glyphs) -> list[Line]:
    """The listing; a trace whose root run is not stored yet is named ``… <its top stored run>``."""
    with_project = len({s.project for s in summaries}) > 1
    headers = ["TRACE", "NAME", "SERVICES", "RUNS", "START", "DURATION", "STATUS"]
    rows: list[list[Segment]] = []
    for summary in summaries:
        name = shown(summary.root_name) or "-"
        if summary.root_parent_id is not None:
            name = f"{glyphs.ellipsis} {name}"
        status = status_segments(summary.error_count, summary.in_progress)
        row = [
            (shown(summary.trace_id), "cyan"),
            (name, "bold"),
            (",".join(shown(s) for s in summary.services) or "-", ""),
            (str(summary.run_count), ""),
            (format_local(summary.start_us), "dim"),
            (format_duration(summary.duration_us), ""),
            ("".join(text for text, _ in status), status[0][1]),
        ]
        if with_project:
            row.insert(3, (shown(summary.project) or "-", ""))
        rows.append(row)
    if with_project:
        headers.insert(3, "PROJECT")
    return render_table(headers, rows, frozenset({4, 6} if with_project else {3, 5}), glyphs)
