"""What the commands share: argument types (ages, counts), the store named by ``--db``, trace ids, errors."""

from __future__ import annotations

import argparse
import re
import time
from datetime import datetime

from tracing_middleware.core.printable import printable
from tracing_middleware.exporters.sqlite_read import TraceStore

__all__ = [
    "CLIError", "EXIT_NOT_FOUND", "EXIT_OK", "EXIT_USAGE", "non_negative", "open_store", "parse_duration",
    "parse_since", "positive", "resolve",
]  # fmt: skip

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE = 0, 1, 2


class CLIError(Exception):
    """A failure reported as one line on stderr, with the exit status to return."""

    def __init__(self, message: str, status: int = EXIT_NOT_FOUND) -> None:
        super().__init__(message)
        self.status = status


_SPAN = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d|w)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_UNITS = "30s, 10m, 12h, 7d, 2w"


def parse_duration(text: str) -> float:
    """Seconds in a ``30s``/``10m``/``12h``/``7d``/``2w``-style span (s, m, h, d, w; decimals allowed)."""
    match = _SPAN.fullmatch(text.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected a duration like {_UNITS}; got {printable(repr(text))}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def parse_since(text: str, now_us: int | None = None) -> int:
    """Epoch microseconds for ``10m``/``2h``/``1d``-style ages (s, m, h, d, w) or an ISO 8601 date/time."""
    now_us = time.time_ns() // 1000 if now_us is None else now_us
    if _SPAN.fullmatch(text.strip().lower()):
        return now_us - int(parse_duration(text) * 1_000_000)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an age like {_UNITS} or an ISO date/time like 2024-05-01T12:00; got {printable(repr(text))}"
        ) from None
    return int(moment.timestamp() * 1_000_000)  # a naive time is local time, as the listings show


def positive(text: str) -> int:
    """A whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number; got {printable(repr(text))}")
    return value


def non_negative(text: str) -> float:
    """A number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, 0 or more; got {printable(repr(text))}")
    return value


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
