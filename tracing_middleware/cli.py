"""The ``tracing-middleware`` command: list, show, follow and export the traces in the SQLite store.

Standard library only; with the ``cli`` extra (``rich``) installed the output is colored. Plain text is
forced by ``--plain`` or ``TRACING_MIDDLEWARE_PLAIN=1``; ``NO_COLOR`` is honoured.

Each subcommand is one entry of ``COMMANDS``: a function that adds its arguments to its parser, and a
handler that runs it and returns the exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from tracing_middleware.cli_output import Printer, write_lines, write_lines_with_progress
from tracing_middleware.cli_render import format_duration, format_local, render_table, render_trace, tail_line
from tracing_middleware.exporters.sqlite_read import StoreError, TraceStore

__all__ = ["COMMANDS", "main", "build_parser", "parse_since"]

PROG = "tracing-middleware"
POLL_SECONDS = 0.5
_TRUE = {"1", "true", "yes", "on"}
EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE = 0, 1, 2


class CLIError(Exception):
    """A failure reported as one line on stderr, with the exit status to return."""

    def __init__(self, message: str, status: int = EXIT_NOT_FOUND) -> None:
        super().__init__(message)
        self.status = status


def _want_plain(args: argparse.Namespace) -> bool:
    return bool(args.plain) or os.environ.get("TRACING_MIDDLEWARE_PLAIN", "").strip().lower() in _TRUE


# -- argument types -----------------------------------------------------------------------------------------

_SPAN = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d|w)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_since(text: str, now_us: int | None = None) -> int:
    """Epoch microseconds for ``10m``/``2h``/``1d``-style ages (s, m, h, d, w) or an ISO 8601 date/time."""
    now_us = time.time_ns() // 1000 if now_us is None else now_us
    match = _SPAN.fullmatch(text.strip().lower())
    if match:
        return now_us - int(float(match.group(1)) * _UNIT_SECONDS[match.group(2)] * 1_000_000)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an age like 30s, 10m, 2h, 1d, 1w or an ISO date/time like 2024-05-01T12:00; got {text!r}"
        ) from None
    return int(moment.timestamp() * 1_000_000)  # a naive time is local time, as the listings show


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number; got {text!r}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, 0 or more; got {text!r}")
    return value


# -- the store ----------------------------------------------------------------------------------------------


def open_store(args: argparse.Namespace) -> TraceStore:
    """The store named by ``--db`` (else the exporter's default path); ``StoreError`` if unreadable."""
    return TraceStore(args.db)


def resolve(store: TraceStore, wanted: str) -> str:
    """The full id of the trace ``wanted`` names: an id, a unique prefix, or ``latest``."""
    if wanted.strip().lower() == "latest":
        newest = store.list_traces(limit=1)
        if not newest:
            raise CLIError(f"no traces in {store.path} yet")
        return newest[0].trace_id
    try:
        full = store.resolve_trace_id(wanted)
    except ValueError as error:
        raise CLIError(str(error), EXIT_USAGE) from None
    if full is None:
        raise CLIError(f"no trace matches {wanted!r} in {store.path}")
    return full


def _status(errors: int) -> tuple[str, str]:
    return (f"{errors} error{'s' if errors != 1 else ''}", "bold red") if errors else ("ok", "green")


# -- traces -------------------------------------------------------------------------------------------------


def setup_traces(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", help="only traces with a run in this project")
    parser.add_argument("--service", help="only traces with a run from this service")
    parser.add_argument("--name", help="only traces whose root run has this name")
    parser.add_argument("--errors", action="store_true", help="only traces with at least one failed run")
    parser.add_argument("--since", type=parse_since, metavar="AGE", help="only traces started within AGE (10m, 2h, 1d)")
    parser.add_argument("--limit", type=_positive, default=50, help="show at most this many traces (default 50)")


def cmd_traces(args: argparse.Namespace, out: Printer) -> int:
    """List recent traces: root run, services, run count, start, duration and status."""
    with open_store(args) as store:
        summaries = store.list_traces(
            project=args.project, service=args.service, root_name=args.name,
            errors_only=args.errors, since_us=args.since, limit=args.limit,
        )  # fmt: skip
        if not summaries:
            print(f"{PROG}: no traces match in {store.path}", file=sys.stderr)
            return EXIT_OK
    with_project = len({s.project for s in summaries}) > 1
    headers = ["TRACE", "NAME", "SERVICES", "RUNS", "START", "DURATION", "STATUS"]
    rows = []
    for summary in summaries:
        row = [
            (summary.trace_id, "cyan"),
            (summary.root_name or "-", "bold"),
            (",".join(summary.services) or "-", ""),
            (str(summary.run_count), ""),
            (format_local(summary.start_us), "dim"),
            (format_duration(summary.duration_us), ""),
            _status(summary.error_count),
        ]
        if with_project:
            row.insert(3, (summary.project or "-", ""))
        rows.append(row)
    if with_project:
        headers.insert(3, "PROJECT")
    out.lines(render_table(headers, rows, frozenset({4, 6} if with_project else {3, 5}), out.glyphs))
    return EXIT_OK


# -- show ---------------------------------------------------------------------------------------------------


def setup_show(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace_id", metavar="TRACE_ID", help="a trace id, a unique prefix of one, or 'latest'")
    parser.add_argument("--json", action="store_true", help="print the runs as a JSON array instead")


def cmd_show(args: argparse.Namespace, out: Printer) -> int:
    """Show one trace as a tree, with a waterfall of its runs' timing."""
    with open_store(args) as store:
        runs = store.get_trace(resolve(store, args.trace_id))
    if not runs:  # deleted between the two reads
        raise CLIError(f"no trace matches {args.trace_id!r}")
    if args.json:
        json.dump([run.to_dict() for run in runs], out.stream, indent=2, ensure_ascii=out.ascii)
        out.stream.write("\n")
    else:
        out.lines(render_trace(runs, out.glyphs))
    return EXIT_OK


# -- tail ---------------------------------------------------------------------------------------------------


def setup_tail(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--lines", type=int, default=10, metavar="N", help="first print the last N runs (10)")
    parser.add_argument("--once", action="store_true", help="print the last runs and stop instead of following")
    parser.add_argument("--max-seconds", type=_non_negative, metavar="S", help="stop following after S seconds")
    parser.add_argument("--max-runs", type=_positive, metavar="N", help="stop after printing N new runs")


def cmd_tail(args: argparse.Namespace, out: Printer) -> int:
    """Print runs as they are stored (every 0.5 s), until Ctrl-C."""
    try:
        with open_store(args) as store:
            cursor = store.last_rowid()
            for run in store.runs_since(max(0, cursor - args.lines)) if args.lines > 0 else []:
                out.line(tail_line(run, out.glyphs))
            out.flush()
            if not args.once:
                print(f"{PROG}: following {store.path} (Ctrl-C to stop)", file=sys.stderr, flush=True)
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
        batch = store.runs_since(cursor, limit=500)
        for run in batch:
            out.line(tail_line(run, out.glyphs))
            cursor = run.rowid
            printed += 1
            if args.max_runs is not None and printed >= args.max_runs:
                return
        out.flush()
        if len(batch) == 500:
            continue  # more are waiting: no pause
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return
        time.sleep(POLL_SECONDS if left is None else min(POLL_SECONDS, left))


# -- export -------------------------------------------------------------------------------------------------


def setup_export(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    parser.add_argument("--trace", metavar="TRACE_ID", help="only the runs of this trace (id, unique prefix, latest)")
    parser.add_argument("--since", type=parse_since, metavar="AGE", help="only runs started within AGE (10m, 2h, 1d)")


def cmd_export(args: argparse.Namespace, out: Printer) -> int:
    """Write runs as JSON lines (LangSmith's run schema), one run per line."""
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
    print(f"{PROG}: wrote {count} runs to {args.output}", file=sys.stderr)
    return EXIT_OK


# -- the command --------------------------------------------------------------------------------------------


def setup_demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=_non_negative, default=30.0, help="seconds to wait for the services")


def cmd_demo(args: argparse.Namespace, out: Printer) -> int:
    """Start three services (FastAPI, Flask, Django) on 127.0.0.1, trace one call across them, show it."""
    try:
        from tracing_middleware.demo.runner import run_demo
    except ImportError as error:
        raise CLIError(f"{error} (the demo needs: pip install 'tracing-middleware[demo]')") from None
    return run_demo(out, args.db, args.timeout)


def setup_serve(parser: argparse.ArgumentParser) -> None:
    from tracing_middleware.viewer.command import setup

    setup(parser)


def cmd_serve(args: argparse.Namespace, out: Printer) -> int:
    """Serve a local web viewer of the trace store (waterfalls, filters, live updates, services)."""
    from tracing_middleware.viewer.command import run

    return run(args)


Setup = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace, Printer], int]

COMMANDS: dict[str, tuple[Setup, Handler]] = {
    "traces": (setup_traces, cmd_traces),
    "show": (setup_show, cmd_show),
    "tail": (setup_tail, cmd_tail),
    "export": (setup_export, cmd_export),
    "demo": (setup_demo, cmd_demo),
    "serve": (setup_serve, cmd_serve),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: global options, then one subparser per entry of ``COMMANDS``."""
    from tracing_middleware import __version__

    parser = argparse.ArgumentParser(prog=PROG, description="Look at the traces recorded in the SQLite trace store.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--db", metavar="PATH", help="the trace store (default: $TRACING_MIDDLEWARE_DB, else the exporter's default)"
    )
    parser.add_argument("--plain", action="store_true", help="plain text, no colors (also TRACING_MIDDLEWARE_PLAIN=1)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (setup, handler) in COMMANDS.items():
        summary = (handler.__doc__ or "").strip().partition("\n")[0]
        sub = commands.add_parser(name, help=summary, description=summary)
        setup(sub)
        sub.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: the process arguments); returns the exit status.

    0: done; 1: not found, unreadable or corrupt store; 2: bad usage.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse exits for --help, --version and usage errors
        return stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 2
    handler: Handler = args.handler
    try:
        return handler(args, Printer(plain=_want_plain(args)))
    except CLIError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return error.status
    except (StoreError, sqlite3.Error) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, and keep Python from failing on the final flush.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_NOT_FOUND
