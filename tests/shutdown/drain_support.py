"""Traffic and store checks for the shutdown tests: fire numbered requests, read back which runs were stored."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str, timeout: float = 30.0) -> int:
    """Status of ``GET url``; 0 when no response came (connection refused or reset, timeout)."""
    try:
        with _NO_PROXY.open(url, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError, ValueError):
        return 0


def fire(base: str, first: int, count: int, concurrency: int = 16, sleep: float = 0.0) -> set[int]:
    """Send ``GET /work?i=N`` for ``N`` in ``first .. first+count-1``; the numbers answered with 200."""

    def one(i: int) -> int | None:
        suffix = f"&sleep={sleep}" if sleep else ""
        return i if get(f"{base}/work?i={i}{suffix}") == 200 else None

    with ThreadPoolExecutor(concurrency) as pool:
        return {i for i in pool.map(one, range(first, first + count)) if i is not None}


class Background:
    """Requests sent continuously from threads until ``stop()``; ``answered`` holds the numbers that got 200."""

    def __init__(self, base: str, start: int = 100_000, threads: int = 8, sleep: float = 0.05) -> None:
        self.base, self.sleep = base, sleep
        self.answered: set[int] = set()
        self.sent = 0
        self._next = start
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                i, self._next = self._next, self._next + 1
                self.sent += 1
            if get(f"{self.base}/work?i={i}&sleep={self.sleep}", timeout=20.0) == 200:
                with self._lock:
                    self.answered.add(i)
            elif self._stop.wait(0.05):
                return

    def wait_for(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.answered) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60.0)


def stored_numbers(db: Path) -> list[int]:
    """The ``i`` of every stored ``/work`` request run (duplicates kept, so a double write shows)."""
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=30.0)
    try:
        rows = conn.execute("SELECT inputs FROM runs WHERE inputs LIKE '%/work%'").fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" not in str(error):  # the file exists, its schema is being written right now
            raise
        rows = []
    finally:
        conn.close()
    numbers = []
    for (text,) in rows:
        inputs = json.loads(text)
        if inputs.get("path") == "/work":
            numbers.append(int(parse_qs(inputs["query"])["i"][0]))
    return numbers


@contextlib.contextmanager
def locked_store(db: Path, seconds: float) -> Iterator[None]:
    """Hold the store's write lock for ``seconds`` from the start of the block (the app's writers wait).

    The lock is taken before the block runs and let go by a timer, however long the block takes; the
    block's end waits for the release.
    """
    conn = sqlite3.connect(db, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")

    def release() -> None:
        time.sleep(seconds)
        conn.execute("ROLLBACK")
        conn.close()

    timer = threading.Thread(target=release, daemon=True)
    timer.start()
    try:
        yield
    finally:
        timer.join()
