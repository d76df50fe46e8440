"""An exporter that keeps finished runs in a list: for tests and assertions."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from tracing_middleware.core.run_tree import RunTree

__all__ = ["InMemoryExporter"]


class InMemoryExporter:
    """Keeps every finished run, in the order they finished."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: list[RunTree] = []

    def export(self, runs: Sequence[RunTree]) -> None:
        with self._lock:
            self._runs.extend(runs)

    def shutdown(self) -> None:
        pass

    @property
    def runs(self) -> list[RunTree]:
        """A snapshot of the runs recorded so far."""
        with self._lock:
            return list(self._runs)

    def clear(self) -> None:
        """Forget every run recorded so far."""
        with self._lock:
            self._runs.clear()

    def by_name(self, name: str) -> list[RunTree]:
        """The recorded runs with this name."""
        return [run for run in self.runs if run.name == name]

    def traces(self) -> dict[str, list[RunTree]]:
        """Recorded runs grouped by trace id, each group in dotted order (parents before children)."""
        grouped: dict[str, list[RunTree]] = {}
        for run in self.runs:
            grouped.setdefault(run.trace_id, []).append(run)
        for runs in grouped.values():
            runs.sort(key=lambda run: run.dotted_order)
        return grouped
