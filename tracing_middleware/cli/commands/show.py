"""``tracing-middleware show``: one trace as a tree with a waterfall of its runs' timing, or as JSON."""

from __future__ import annotations

import argparse
from typing import Any

from tracing_middleware.cli.args import EXIT_OK, CLIError, open_store, resolve
from tracing_middleware.cli.output import Printer, dump_json
from tracing_middleware.cli.render import render_trace

HELP = "Show one trace as a tree, with a waterfall of its runs' timing."


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add this command's subparser and its arguments."""
    parser: argparse.ArgumentParser = subparsers.add_parser("show", help=HELP, description=HELP)
    parser.add_argument("trace_id", metavar="TRACE_ID", help="a trace id, a unique prefix of one, or 'latest'")
    parser.add_argument("--json", action="store_true", help="print the runs as a JSON array instead")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the command; the exit status."""
    out = Printer.for_args(args)
    with open_store(args) as store:
        runs = store.get_trace(resolve(store, args.trace_id))
    if not runs:  # deleted between the two reads
        raise CLIError(f"no trace matches {args.trace_id!r}")
    if args.json:
        dump_json([run.to_dict() for run in runs], out.stream, ensure_ascii=out.ascii, indent=2)
    else:
        out.lines(render_trace(runs, out.glyphs))
    return EXIT_OK
