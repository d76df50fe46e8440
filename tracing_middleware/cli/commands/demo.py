"""``tracing-middleware demo``: three real services on 127.0.0.1, one traced call across them, shown."""

from __future__ import annotations

import argparse
from typing import Any

from tracing_middleware.cli.args import CLIError, non_negative
from tracing_middleware.cli.output import Printer

HELP = "Start three services (FastAPI, Flask, Django) on 127.0.0.1, trace one call across them, show it."


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add this command's subparser and its arguments."""
    parser: argparse.ArgumentParser = subparsers.add_parser("demo", help=HELP, description=HELP)
    parser.add_argument("--timeout", type=non_negative, default=30.0, help="seconds to wait for the services")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the command; the exit status."""
    try:
        from tracing_middleware.demo.runner import run_demo
    except ImportError as error:
        raise CLIError(f"{error} (the demo needs: pip install 'tracing-middleware[demo]')") from None
    return run_demo(Printer.for_args(args), args.db, args.timeout)
