"""The SQLite store's retention setting: the exporter itself deletes traces older than an age.

``SQLiteExporter(retention="7d")`` (or seconds), else ``TRACING_MIDDLEWARE_RETENTION`` (``30m``, ``12h``,
``7d``, ``2w``); unset keeps everything. After a batch is written, at most once per ``every_s`` (default
60 s, the first time at the first batch), the exporter's worker thread runs ``sqlite_prune.prune`` with
the same rules as ``tracing-middleware prune``: whole traces whose newest run is older than the age go,
in short transactions, without ``VACUUM``. The freed pages are reused by new runs, so under a steady
load the file stops growing at about one retention period of runs. Several processes writing one store
each prune it; that is harmless (a trace is deleted once).
"""

from __future__ import annotations

import math
import pathlib
import time

from tracing_middleware.core.env import env_duration, parse_duration
from tracing_middleware.core.pipeline import FailureLog
from tracing_middleware.exporters.sqlite_prune import prune

__all__ = ["Retention", "retention_seconds"]

ENV_VAR = "TRACING_MIDDLEWARE_RETENTION"


def retention_seconds(value: float | str | None) -> float | None:
    """``value`` checked (seconds, or a duration such as ``"7d"``), else the environment; None keeps all."""
    if value is None:
        return env_duration(ENV_VAR, None)
    seconds = parse_duration(value) if isinstance(value, str) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < math.inf:
        raise ValueError(f"retention must be a number of seconds > 0 or a duration like '12h', '7d'; got {value!r}")
    return float(seconds)


class Retention:
    """Prunes the store at ``path`` now and then (see the module docstring); never raises."""

    def __init__(self, path: pathlib.Path, seconds: float, timeout_s: float, every_s: float = 60.0) -> None:
        self.path = path
        self.seconds = seconds
        self.timeout_s = timeout_s
        self.every_s = every_s
        self.deleted_runs = 0
        self.failures = FailureLog("sqlite exporter: retention prune failed")
        self._next = 0.0

    def maybe_prune(self) -> None:
        """Prune if ``every_s`` passed since the last time."""
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.every_s
        try:
            self.deleted_runs += prune(self.path, self.seconds, vacuum=False, timeout_s=self.timeout_s).runs
        except Exception as error:  # a locked or damaged store: the next attempt may do it
            self.failures.record(error)
