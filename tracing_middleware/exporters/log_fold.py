"""Folding a client library's own log records into our one warning line while we export through it."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

__all__ = ["LogFold"]


class LogFold(logging.Filter):
    """Drops the named loggers' records made on a thread exporting for us, keeping the last message.

    Records from other threads (another user of the same client library) pass untouched.
    """

    def __init__(self, *loggers: str) -> None:
        super().__init__()
        self.loggers = loggers
        self._local = threading.local()

    def attach(self) -> None:
        """Put the filter on the loggers; idempotent, as a logger keeps each filter once."""
        for name in self.loggers:
            logging.getLogger(name).addFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(self._local, "active", False):
            try:
                self._local.message = record.getMessage()
            except Exception:  # a malformed log call must not break the export
                self._local.message = str(record.msg)
            return False
        return True

    @contextlib.contextmanager
    def folding(self) -> Iterator[None]:
        """Fold the records this thread makes inside; ``message`` is then the last one (or None)."""
        self._local.active, self._local.message = True, None
        try:
            yield
        finally:
            self._local.active = False

    @property
    def message(self) -> str | None:
        """The last record folded on this thread by the latest ``folding()``."""
        return getattr(self._local, "message", None)
