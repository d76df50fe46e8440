"""Print one readable line per finished run, for watching a service while developing it.

Each line: the first 8 characters of the trace id, the run name indented two spaces per level
(dotted order depth), the run type, the duration in milliseconds, and ``ok`` or the error's first
line, e.g.::

    0190a1b2   fetch_user (tool) 3.2 ms ok
    0190a1b2 GET /users/{id} (chain) 4.0 ms error: KeyError: 'id'

Runs are printed as they finish, so children come before their parents.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from tracing_middleware.core.run_tree import RunTree

__all__ = ["ConsoleExporter", "format_line"]

_NAME_LIMIT = 120
_ERROR_LIMIT = 200


def _one_line(text: str, limit: int) -> str:
    """``text`` on one line: control characters (a hostile name's newlines, escapes) become spaces."""
    text = text[: limit + 1]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else " " for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_line(run: RunTree) -> str:
    """The console line for ``run`` (no newline)."""
    depth = run.dotted_order.count(".")
    duration = "running" if run.end_us is None else f"{(run.end_us - run.start_us) / 1000:.1f} ms"
    if run.error is None:
        status = "ok"
    else:
        first = str(run.error).strip().split("\n", 1)[0]
        status = "error: " + _one_line(first, _ERROR_LIMIT)
    name = _one_line(str(run.name), _NAME_LIMIT)
    return f"{run.trace_id[:8]} {'  ' * depth}{name} ({run.run_type}) {duration} {status}"


class ConsoleExporter:
    """Writes one line per finished run to ``stream`` (default: the current ``sys.stderr``)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        if stream is not None and not callable(getattr(stream, "write", None)):
            raise TypeError(f"stream must be a text stream with write(), or None; got {type(stream).__name__}")
        self.stream = stream
        self._lock = threading.Lock()

    def export(self, runs: Sequence[RunTree]) -> None:
        """Print the runs; raises what the stream raises (a closed stream)."""
        text = "".join(format_line(run) + "\n" for run in runs)
        stream = self.stream if self.stream is not None else sys.stderr  # looked up late: tests swap it
        with self._lock:
            stream.write(text)
            stream.flush()

    def shutdown(self) -> None:
        """Nothing to release; the stream belongs to the caller."""
