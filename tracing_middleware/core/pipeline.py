"""Where finished runs go: the ``Exporter`` protocol and the processors that feed exporters."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from tracing_middleware.core.printable import get_logger
from tracing_middleware.core.run_tree import RunTree

__all__ = ["Exporter", "Processor", "SimpleProcessor", "FailureLog"]

logger = get_logger("tracing_middleware.export")


@runtime_checkable
class Exporter(Protocol):
    """Receives finished runs. ``export`` may raise; the processor counts and logs the failure."""

    def export(self, runs: Sequence[RunTree]) -> None:
        """Store or send a batch of finished runs."""

    def shutdown(self) -> None:
        """Release resources; no ``export`` follows."""


class Processor(Protocol):
    """Takes each finished run on the request path; must never block or raise."""

    exporter: Exporter

    def on_end(self, run: RunTree) -> None:
        """A run finished."""

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every run handed over so far is exported; False on timeout."""

    def shutdown(self, timeout: float | None = None) -> None:
        """Flush, then stop."""


class FailureLog:
    """Counts failures and logs at most one line per interval, so a broken backend cannot flood logs."""

    def __init__(self, what: str, interval_s: float = 60.0) -> None:
        self.what = what
        self.interval_s = interval_s
        self.count = 0
        self._last = -interval_s

    def record(self, error: BaseException, runs: int = 1) -> None:
        """Count ``runs`` lost (or delayed) to ``error``."""
        self.count += runs
        now = time.monotonic()
        if now - self._last >= self.interval_s:
            self._last = now
            logger.warning("%s (%d runs so far): %s: %s", self.what, self.count, type(error).__name__, error)


class SimpleProcessor:
    """Exports each run at once, on the caller's thread: for in-memory and console exporters."""

    def __init__(self, exporter: Exporter) -> None:
        self.exporter = exporter
        self.failures = FailureLog(f"exporter {type(exporter).__name__} failed")
        self.exported = 0

    def on_end(self, run: RunTree) -> None:
        try:
            self.exporter.export((run,))
        except Exception as error:  # an exporter must never break the traced code
            self.failures.record(error)
        else:
            self.exported += 1

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def shutdown(self, timeout: float | None = None) -> None:
        try:
            self.exporter.shutdown()
        except Exception as error:
            self.failures.record(error, 0)
