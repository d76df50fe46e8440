"""BatchProcessor: finished runs go on a bounded queue; a background thread exports them in batches.

The request path only appends to a deque (no lock, no I/O). When the queue is full the run is
dropped and counted, never waited for. Exports run on the worker thread with tracing suppressed, are
retried with backoff a bounded number of times, then counted as lost. A forked child (a gunicorn
worker) starts with an empty queue and its own thread on first use.

Runs still queued when the process ends are exported within one drain time shared by every processor
(``TRACING_MIDDLEWARE_DRAIN_TIMEOUT`` seconds, default 5): at interpreter exit, when a
``multiprocessing`` child ends (it leaves with ``os._exit``, skipping ``atexit``), when an ASGI
server shuts its app down (``lifespan.shutdown``, see ``middleware.asgi``), and before a default
SIGTERM would kill the process outright. What the drain time did not cover is counted as
``lost_at_exit`` and logged in one line.
"""

from __future__ import annotations

import atexit
import collections
import itertools
import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any

from tracing_middleware.core.context import suppress_tracing
from tracing_middleware.core.env import env_float, env_int
from tracing_middleware.core.pipeline import Exporter, FailureLog
from tracing_middleware.core.printable import get_logger
from tracing_middleware.core.run_tree import RunTree

__all__ = ["BatchProcessor", "drain"]

logger = get_logger("tracing_middleware.export")
_live: weakref.WeakSet[BatchProcessor] = weakref.WeakSet()


class BatchProcessor:
    """Export runs in the background; ``on_end`` costs a deque append.

    ``max_queue`` (``TRACING_MIDDLEWARE_QUEUE_SIZE``, default 50,000) bounds memory; ``batch_size``
    (``TRACING_MIDDLEWARE_BATCH_SIZE``, default 1,000) caps one export call. The worker exports what
    is queued every ``interval_s`` (default 0.2 s), and as soon as ``wake_size`` runs (default 256, at
    most ``batch_size``) are waiting: under load, small batches often rather than large ones seldom,
    because while the worker runs the app's threads wait for the GIL, and runs waiting in the queue
    age into the garbage collector's older generations. An idle process wakes five times a second.
    ``max_attempts`` (default 3) bounds retries of one failing batch.

    ``encode`` and ``write`` let an exporter keep each run as one compact record while it waits:
    ``encode(run)`` runs on the request path when the run ends (None: the run is skipped, and the
    exporter counts it) and ``write(records)`` exports a batch of them. The run's objects are then
    freed at once instead of ageing in the queue, where the garbage collector would walk them again and
    again and promote them into the old generation (whose full collections were the tail latency).
    Without them the queue holds the runs and ``exporter.export`` receives them.
    """

    def __init__(
        self,
        exporter: Exporter,
        *,
        max_queue: int | None = None,
        batch_size: int | None = None,
        interval_s: float = 0.2,
        wake_size: int = 256,
        max_attempts: int = 3,
        backoff_s: float = 0.05,
        encode: Callable[[RunTree], object | None] | None = None,
        write: Callable[[list[Any]], None] | None = None,
    ) -> None:
        if (encode is None) != (write is None):
            raise ValueError("encode and write go together: pass both or neither")
        self.exporter = exporter
        self._encode = encode
        self._write: Callable[[list[Any]], None] = write or exporter.export
        self.max_queue = max_queue or env_int("TRACING_MIDDLEWARE_QUEUE_SIZE", 50_000)
        self.batch_size = batch_size or env_int("TRACING_MIDDLEWARE_BATCH_SIZE", 1_000)
        if interval_s <= 0 or max_attempts < 1 or wake_size < 1:
            raise ValueError("interval_s must be > 0, wake_size and max_attempts >= 1")
        self.interval_s = interval_s
        self.wake_size = min(wake_size, self.batch_size)
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.failures = FailureLog(f"exporter {type(exporter).__name__} failed, runs lost")
        self.dropped = FailureLog("tracing queue full, runs dropped")
        self.exported = 0
        self.lost_at_exit = 0
        self._stopped = False
        self._reset()
        _live.add(self)
        _install_exit_hooks()

    def _reset(self) -> None:
        """Fresh queue, thread state and counters: at start and in a forked child."""
        self._queue: collections.deque[Any] = collections.deque()
        self._wake = threading.Event()
        self._done = threading.Condition()
        self._handed = itertools.count(1)  # next() is atomic: counts runs handed over, dropped ones too
        self._last_handed = 0
        self._settled = 0  # runs exported, lost or dropped
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    # -- request path -------------------------------------------------------------------------------

    def on_end(self, run: RunTree) -> None:
        """Queue a finished run; drops (and counts) it when the queue is full. Never blocks."""
        queue = self._queue
        self._last_handed = next(self._handed)
        if len(queue) >= self.max_queue or self._stopped:
            self.dropped.record(OverflowError(f"queue holds {self.max_queue} runs"))
            self._settle(1)
            return
        if self._encode is None:
            queue.append(run)
        else:
            try:
                record = self._encode(run)
            except Exception as error:  # the exporter's fault must never reach the app
                self.failures.record(error)
                record = None
            except BaseException:
                # Interrupted: a server's signal handler raised SystemExit or KeyboardInterrupt in this
                # thread. The run is queued as it is, for the worker to encode, and the stop goes on.
                queue.append(run)
                raise
            if record is None:
                self._settle(1)
                return
            queue.append(record)
        if self._thread is None:
            self._start()
        if len(queue) >= self.wake_size and not self._wake.is_set():
            self._wake.set()

    def _settle(self, count: int) -> None:
        with self._done:
            self._settled += count
            self._done.notify_all()

    # -- worker ---------------------------------------------------------------------------------------

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._work, name="tracing-middleware-export", daemon=True)
                thread.start()
                self._thread = thread
                _flush_when_child_ends()

    def _work(self) -> None:
        with suppress_tracing():  # an exporter using httpx/requests must not trace itself
            while True:
                self._wake.wait(self.interval_s)
                self._wake.clear()
                self._drain()
                if self._stopped and not self._queue:
                    return

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            batch: list[Any] = []
            try:
                for _ in range(self.batch_size):
                    batch.append(queue.popleft())
            except IndexError:
                pass
            count = len(batch)
            if self._encode is not None:
                batch = self._encoded(batch)
            self._export(batch)
            self._settle(count)

    def _encoded(self, batch: list[Any]) -> list[Any]:
        """The batch with any run left unencoded (see ``on_end``) encoded now."""
        if not any(isinstance(item, RunTree) for item in batch):
            return batch
        records = []
        for item in batch:
            if isinstance(item, RunTree):
                try:
                    item = self._encode(item)  # type: ignore[misc]
                except Exception as error:
                    self.failures.record(error)
                    continue
            if item is not None:
                records.append(item)
        return records

    def _export(self, batch: list[Any]) -> None:
        for attempt in range(1, self.max_attempts + 1):
            try:
                self._write(batch)
            except Exception as error:  # the exporter's fault must never reach the app
                if attempt == self.max_attempts:
                    self.failures.record(error, len(batch))
                    return
                time.sleep(self.backoff_s * (2 ** (attempt - 1)))
            else:
                self.exported += len(batch)
                return

    # -- control ------------------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every run handed over before this call is exported (or lost); False on timeout."""
        target = self._last_handed
        if self._thread is None and self._queue:
            self._start()
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._done:
            while self._settled < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._done.wait(remaining if remaining is not None else 0.5)
                if self._thread is not None and not self._thread.is_alive() and self._queue:
                    self._start_dead_worker()
        return True

    def _start_dead_worker(self) -> None:
        self._thread = None
        self._start()

    def shutdown(self, timeout: float | None = 5.0) -> None:
        """Flush, stop the worker and shut the exporter down. Later runs are dropped."""
        if self._stopped:
            return
        self.flush(timeout)
        self._stopped = True
        self._wake.set()
        try:
            self.exporter.shutdown()
        except Exception as error:
            self.failures.record(error, 0)

    def pending(self) -> int:
        """Runs handed over and neither exported, lost nor dropped yet."""
        return max(0, self._last_handed - self._settled)

    def _after_fork(self) -> None:
        # The parent exports what it queued; the child starts empty, with a thread of its own.
        self._reset()


def _after_fork_in_child() -> None:
    for processor in list(_live):
        processor._after_fork()


def drain(timeout: float | None = None) -> bool:
    """Export what every live processor holds, within ``timeout`` in all (default: the drain time).

    Each processor's ``lost_at_exit`` becomes what it still held when the time ran out (0 when it
    finished; a later drain, at exit after the server's shutdown hook, has the last word). False if any
    runs were left. Never raises.
    """
    total = env_float("TRACING_MIDDLEWARE_DRAIN_TIMEOUT", 5.0) if timeout is None else timeout
    deadline = time.monotonic() + total
    complete = _drain_once(deadline, total)
    # A threaded server keeps answering while we drain (a WSGI run ends after its response went out):
    # drain again until no run has come in for a moment, so the last answers are kept too.
    while complete and time.monotonic() < deadline and _others_running():
        handed = [processor._last_handed for processor in list(_live)]
        time.sleep(min(_QUIET_S, max(0.0, deadline - time.monotonic())))
        if handed == [processor._last_handed for processor in list(_live)]:
            break
        complete = _drain_once(deadline, total)
    for processor in list(_live):  # let exporters that keep counters (the SQLite store) write the final ones
        record = getattr(processor.exporter, "record_stats", None)
        if callable(record):
            try:
                record()
            except Exception:
                continue
    return complete


_QUIET_S = 0.1


def _others_running() -> bool:
    """Whether threads other than this one and the exporters' could still end runs (a script has none)."""
    current = threading.current_thread()
    return any(t is not current and t.name != "tracing-middleware-export" for t in threading.enumerate())


def _drain_once(deadline: float, total: float) -> bool:
    complete = True
    for processor in list(_live):
        try:
            done = processor.flush(max(0.0, deadline - time.monotonic()))
            lost = 0 if done else processor.pending()
            processor.lost_at_exit = lost
            if not lost:
                continue
            complete = False
            logger.warning(
                "%d runs not exported by %s within the %.1f s drain time",
                lost, type(processor.exporter).__name__, total,
            )  # fmt: skip
        except Exception:
            continue
    return complete


def _flush_all() -> None:
    drain()


_child_hooked = 0


def _flush_when_child_ends() -> None:
    """In a ``multiprocessing`` child, drain when it ends: it exits with ``os._exit``, so ``atexit`` never runs."""
    global _child_hooked
    mp = sys.modules.get("multiprocessing")
    pid = os.getpid()
    if mp is None or _child_hooked == pid or mp.parent_process() is None:
        return
    _child_hooked = pid
    from multiprocessing import util

    util.Finalize(None, _flush_all, exitpriority=100)  # run by the child's exit, before it joins its own children


_hooks_installed = False


def _install_exit_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_flush_all)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
    _chain_sigterm()


def _chain_sigterm() -> None:
    """Flush before a default SIGTERM kills the process; a server's own handler is left alone."""
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return  # uvicorn, gunicorn & co. exit cleanly on SIGTERM themselves, and atexit flushes

        def on_sigterm(signum: int, frame: FrameType | None) -> Any:
            _flush_all()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

        signal.signal(signal.SIGTERM, on_sigterm)
    except (ValueError, OSError):  # not allowed here (embedded interpreter): atexit still flushes
        pass
