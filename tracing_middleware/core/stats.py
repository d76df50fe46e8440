"""Per-exporter counters in one public place: ``exporter_stats()``.

For each configured exporter: runs ``exported``; ``dropped`` because the queue was full (or the
processor already shut down); ``failed`` (lost after the bounded retries, or refused by the backend);
``lost_at_exit`` (still queued when the drain time ran out); and ``queued`` now. The SQLite exporter
also writes them into its store, so ``tracing-middleware stats`` shows them from outside the process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tracing_middleware.core import config

__all__ = ["ExporterStats", "exporter_stats", "processor_stats"]


@dataclass(frozen=True)
class ExporterStats:
    """One exporter's counters since this process configured it (see the module docstring)."""

    exporter: str
    exported: int = 0
    dropped: int = 0
    failed: int = 0
    lost_at_exit: int = 0
    queued: int = 0


def processor_stats(processor: Any) -> ExporterStats:
    """The counters of one processor (``BatchProcessor``, ``SimpleProcessor`` or any with the same fields)."""
    pending = getattr(processor, "pending", None)
    return ExporterStats(
        exporter=type(processor.exporter).__name__,
        exported=int(getattr(processor, "exported", 0)),
        dropped=int(getattr(getattr(processor, "dropped", None), "count", 0)),
        failed=int(getattr(getattr(processor, "failures", None), "count", 0)),
        lost_at_exit=int(getattr(processor, "lost_at_exit", 0)),
        queued=int(pending()) if callable(pending) else 0,
    )


def exporter_stats() -> list[ExporterStats]:
    """The counters of every configured exporter, in configuration order."""
    return [processor_stats(processor) for processor in config.get_settings().processors]
