"""``tracing-middleware export``: runs as JSON lines (LangSmith's run schema), to stdout or a file."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tracing_middleware.cli.args import EXIT_OK, CLIError, open_store, parse_since, resolve
from tracing_middleware.cli.output import Printer, warn, write_lines, write_lines_with_progress

HELP = "Write runs as JSON lines (LangSmith's run schema), one run per line."


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add this command's subparser and its arguments."""
    parser: argparse.ArgumentParser = subparsers.add_parser("export", help=HELP, description=HELP)
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    parser.add_argument("--trace", metavar="TRACE_ID", help="only the runs of this trace (id, unique prefix, latest)")
    parser.add_argument("--since", type=parse_since, metavar="AGE", help="only runs started within AGE (10m, 2h, 1d)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the command; the exit status."""
    out = Printer.for_args(args)
    with open_store(args) as store:
        trace = None if args.trace is None else resolve(store, args.trace)
        runs = store.iter_runs(trace_id=trace, since_us=args.since)
        if args.output is None:
            write_lines(runs, out.stream, ensure_ascii=out.ascii)
            return EXIT_OK
        total = store.count_runs() if trace is None and args.since is None else None
        try:
            with open(args.output, "w", encoding="utf-8") as file:
                if out.console is not None and sys.stderr.isatty():
                    count = write_lines_with_progress(runs, file, total)
                else:
                    count = write_lines(runs, file)
        except OSError as error:
            raise CLIError(f"cannot write {args.output}: {error.strerror or error}") from None
    warn(f"wrote {count} runs to {args.output}")
    return EXIT_OK
