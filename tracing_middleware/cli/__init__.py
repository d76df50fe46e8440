r"""The ``tracing-middleware`` command: list, show, follow, export, measure and prune the SQLite trace store.

Standard library only; with the ``cli`` extra (``rich``) installed the output is colored. Plain text is
forced by ``--plain`` or ``TRACING_MIDDLEWARE_PLAIN=1``; ``NO_COLOR`` is honoured. Text from the store is
printed with control and invisible format characters escaped (``\x1b``, ``\u202e``).

Each subcommand is a module with ``add_parser(subparsers)`` (adds its subparser, with its options) and
``run(args) -> exit status``; ``COMMANDS`` lists them in the order ``--help`` shows. Adding a command is
adding its module to that tuple.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, Protocol

from tracing_middleware.cli.args import EXIT_NOT_FOUND, EXIT_USAGE, CLIError, parse_since
from tracing_middleware.cli.commands import demo, export, prune, show, stats, tail, traces
from tracing_middleware.cli.output import PROG, warn
from tracing_middleware.core.printable import printable
from tracing_middleware.exporters.sqlite_schema import StoreError
from tracing_middleware.viewer import command as serve

__all__ = ["COMMANDS", "CLIError", "Command", "build_parser", "main", "parse_since"]


class Command(Protocol):
    """What a subcommand module provides."""

    def add_parser(self, subparsers: Any, /) -> Any:
        """Add the command's subparser (``subparsers.add_parser(name, ...)``) and its arguments."""

    def run(self, args: argparse.Namespace, /) -> int:
        """Run the command; the exit status. ``CLIError`` and ``StoreError`` are reported as one line."""


COMMANDS: tuple[Command, ...] = (traces, show, tail, export, stats, prune, serve, demo)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse echoes bad arguments back; escape them like any other text this command prints.
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {printable(message)}\n")


def build_parser(commands: Sequence[Command] | None = None) -> argparse.ArgumentParser:
    """The argument parser: global options, then the subparsers each command adds (default: ``COMMANDS``)."""
    from tracing_middleware import __version__

    parser = _Parser(prog=PROG, description="Look at the traces recorded in the SQLite trace store.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--db", metavar="PATH", help="the trace store (default: $TRACING_MIDDLEWARE_DB, else the exporter's default)"
    )
    parser.add_argument("--plain", action="store_true", help="plain text, no colors (also TRACING_MIDDLEWARE_PLAIN=1)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    for command in COMMANDS if commands is None else commands:
        before = set(subparsers.choices)
        command.add_parser(subparsers)
        for name in set(subparsers.choices) - before:  # the command's name and any aliases it gave
            subparsers.choices[name].set_defaults(run_command=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: the process arguments); returns the exit status.

    0: done; 1: not found, unreadable or corrupt store; 2: bad usage.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse exits for --help, --version and usage errors
        return stop.code if isinstance(stop.code, int) else 0 if stop.code is None else EXIT_USAGE
    try:
        status: int = args.run_command(args)
        return status
    except CLIError as error:
        warn(error)
        return error.status
    except (StoreError, sqlite3.Error) as error:
        warn(error)
        return EXIT_NOT_FOUND
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, and keep Python from failing on the final flush.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_NOT_FOUND
